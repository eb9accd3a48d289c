"""Concurrent reads share access-log transactions, and each still waits for its own commit."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from service.access.access_log import AccessEntry
from service.access.group_commit import AccessLogWriter

pytestmark = pytest.mark.integration


def entry(n: int) -> AccessEntry:
    return AccessEntry("c", "agency", "A", uuid.UUID(int=n), "status", "p", {"n": n})


async def test_concurrent_reads_share_commits_and_all_entries_chain(services):
    commits = []
    writer = AccessLogWriter(services.access_log)
    original = services.access_log.append

    def counting_append(entries):
        commits.append(len(entries))
        original(entries)

    services.access_log.append = counting_append
    await asyncio.gather(*(writer.append([entry(n)]) for n in range(60)))
    assert sum(commits) == 60
    assert len(commits) < 60  # reads that arrived during a commit shared the next one
    assert services.access_log.verify() is None
    logged = services.access_log.for_subject(uuid.UUID(int=7), after_seq=None, limit=10)
    assert [row["returned"] for row in logged] == [{"n": 7}]


async def test_a_failed_commit_fails_every_read_in_it_and_the_next_batch_goes_on(services):
    writer = AccessLogWriter(services.access_log)
    original = services.access_log.append
    failing = {"left": 1}

    def flaky_append(entries):
        if failing["left"]:
            failing["left"] -= 1
            raise OSError("disk full")
        original(entries)

    services.access_log.append = flaky_append
    results = await asyncio.gather(
        *(writer.append([entry(n)]) for n in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, OSError) for r in results)
    await writer.append([entry(99)])
    assert [
        r["seq"]
        for r in services.access_log.for_subject(uuid.UUID(int=99), after_seq=None, limit=5)
    ] == [1]
