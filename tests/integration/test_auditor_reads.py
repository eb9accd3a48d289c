"""What the auditor's desk reads, on SQLite and PostgreSQL: a stored checkpoint checked against
the published keys and the tree as stored now (and what a superuser's edit of either breaks),
and a subject's access log by period, newest first, paged."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from service.access.access_log import AccessEntry
from service.access.tables import access_log
from service.integrity.tables import event_seals, merkle_nodes
from tests.integration.test_tamper_evidence import fill
from tests.tampering import as_superuser

pytestmark = pytest.mark.integration
SUBJECT, OTHER = UUID(int=5), UUID(int=6)


def test_a_fresh_checkpoint_verifies_and_counts_the_events_after_it(services):
    fill(services, subjects=2)
    checkpoint = services.checkpoints.make()
    fill(services, subjects=1, first=2)
    check = services.checkpoints.verify(checkpoint)
    assert (check.key_published, check.key_retired, check.signature_valid, check.root_holds) == (
        True,
        False,
        True,
        True,
    )
    assert check.ok and (check.log_size, check.events_since) == (9, 3)


def test_a_checkpoint_of_a_retired_key_still_verifies(services):
    fill(services, subjects=1)
    checkpoint = services.checkpoints.make()
    services.checkpoints.rotate_key()
    check = services.checkpoints.verify(checkpoint)
    assert check.ok and check.key_retired


def test_a_changed_signature_an_unknown_key_or_a_changed_seal_does_not_verify(services):
    fill(services, subjects=3)
    checkpoint = services.checkpoints.make()
    forged = dataclasses.replace(checkpoint, signature=bytes(64))
    assert not services.checkpoints.verify(forged).signature_valid
    stranger = dataclasses.replace(checkpoint, key_id="0" * 32)
    unknown = services.checkpoints.verify(stranger)
    assert (unknown.key_published, unknown.signature_valid, unknown.ok) == (False, False, False)
    larger = dataclasses.replace(checkpoint, tree_size=checkpoint.tree_size + 1)
    assert not services.checkpoints.verify(larger).root_holds  # no such tree yet
    last = checkpoint.tree_size - 1  # a leaf outside every stored subtree: read from its seal
    with as_superuser(services) as conn:
        conn.execute(
            update(event_seals).where(event_seals.c.leaf_index == last).values(event_hash=bytes(32))
        )
    resealed = services.checkpoints.verify(checkpoint)
    assert (resealed.signature_valid, resealed.root_holds, resealed.ok) == (True, False, False)


def test_rewritten_subtrees_do_not_verify(services):
    fill(services, subjects=3)
    checkpoint = services.checkpoints.make()
    with as_superuser(services) as conn:
        conn.execute(update(merkle_nodes).values(hash=bytes(32)))
    rewritten = services.checkpoints.verify(checkpoint)
    assert (rewritten.signature_valid, rewritten.root_holds, rewritten.ok) == (True, False, False)


def read(n: int, subject: UUID = SUBJECT) -> AccessEntry:
    return AccessEntry("test-agency", "agency", "11410100MB00000018", subject, "status", f"{n}", {})


def test_a_subjects_reads_by_period_newest_first_and_paged(services):
    log = services.access_log
    log.append([read(n) for n in range(5)] + [read(99, OTHER)])
    now = log.for_subject(SUBJECT, after_seq=None, limit=1)[0]["at"]
    with as_superuser(services) as conn:  # the two oldest reads, as if made days ago
        for purpose, days in (("0", 3), ("1", 2)):
            conn.execute(
                update(access_log)
                .where(access_log.c.purpose == purpose)
                .values(at=now - timedelta(days=days))
            )
    everything = log.for_subject(SUBJECT, after_seq=None, limit=10)
    assert [r["purpose"] for r in everything] == ["0", "1", "2", "3", "4"]
    newest = log.for_subject(SUBJECT, after_seq=None, limit=2, newest_first=True)
    assert [r["purpose"] for r in newest] == ["4", "3"]
    older = log.for_subject(
        SUBJECT, after_seq=None, limit=2, newest_first=True, before_seq=newest[-1]["seq"]
    )
    assert [r["purpose"] for r in older] == ["2", "1"]

    def within(since: datetime | None, before: datetime | None) -> list[str]:
        rows = log.for_subject(SUBJECT, after_seq=None, limit=10, since=since, before=before)
        return [r["purpose"] for r in rows]

    assert within(now - timedelta(days=2, hours=1), None) == ["1", "2", "3", "4"]
    assert within(None, now - timedelta(days=1)) == ["0", "1"]
    assert within(now - timedelta(days=4), now - timedelta(days=2, hours=1)) == ["0"]
    # Bounds in another zone name the same instants (SQLite keeps UTC, without the zone).
    beijing = ZoneInfo("Asia/Shanghai")
    assert within((now - timedelta(days=2, hours=1)).astimezone(beijing), None) == [
        "1",
        "2",
        "3",
        "4",
    ]
    assert within(now + timedelta(minutes=1), None) == []
