"""Concurrent reads share access-log transactions, and each still waits for its own commit."""

from __future__ import annotations

import asyncio
import json
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


def test_on_postgresql_rows_are_stored_as_sqlalchemys_insert_stores_them(services):
    """PostgreSQL's append hands its statements to the driver as they are (one insert for the
    batch): the same contents appended through SQLAlchemy's insert, as on SQLite, are stored
    with the same values, the JSON column's text included, and the chain holds across both."""
    from sqlalchemy import insert, text

    chain = services.access_log.chain
    if services.write_engine.dialect.name != "postgresql":
        pytest.skip("the driver's statements are PostgreSQL's")
    contents = [
        dict(entry(n).__dict__) | {"returned": {"n": n, "名": "行政许可", "x": [1.5, None, True]}}
        for n in (1, 2, 3)
    ]
    with services.write_engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": chain.name})
        through_sqlalchemy = chain._chained(contents, chain.head(conn))
        conn.execute(insert(chain.table), through_sqlalchemy)
    as_is = chain.append(contents)
    assert [row["seq"] for row in as_is] == [4, 5, 6]
    columns = ", ".join(c for c in chain.columns if c not in ("seq", "at", "prev_hash", "hash"))
    with services.write_engine.connect() as conn:
        stored = conn.execute(
            text(
                f"SELECT {columns}, returned::text AS raw, pg_typeof(at)::text AS at_type "
                "FROM access_log ORDER BY seq"
            )
        ).all()
    assert [tuple(row) for row in stored[:3]] == [tuple(row) for row in stored[3:]]
    assert stored[0].raw == json.dumps(contents[0]["returned"])  # as psycopg's Json writes it
    assert services.access_log.verify() is None
