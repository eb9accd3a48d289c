"""Replay verification: the live read models against a rebuild from the log, field by field."""

from __future__ import annotations

import sqlite3
import time

import pytest
from sqlalchemy import delete, update

from projections.tables import changes, records, report_records
from service.commanding.commands import RegisterSubject, record_command_adapter
from service.replay.check import verify_read_models
from tests.builders import enterprise, penalty, rating

pytestmark = pytest.mark.integration


def fill(services) -> list:
    record_ids = []
    for n in range(4):
        subject = services.files.register(RegisterSubject(**enterprise(900 + n)), recorded_by="t")
        for body in (rating(f"RC-R-{n}"), penalty(f"RC-P-{n}")):
            ack = services.files.append(
                subject.subject_id, record_command_adapter.validate_python(body), recorded_by="t"
            )
            record_ids.append(ack.record_id)
    services.runner.catch_up()
    return record_ids


def test_untouched_read_models_equal_their_replay(services):
    fill(services)
    seen = []
    report = verify_read_models(services, lambda done, total: seen.append((done, total)))
    assert report.ok, report.differences
    # 4 subjects, 8 records, 8 record revisions, 8 subject versions (registration, last event),
    # 4 report rows (the penalties; ratings count in no figure) and their 4 sectors, 16 changes
    # (each rating and each penalty published; each rating's grade A given, and lowered to B by
    # the penalty's deduction) and the 4 statuses they were told from
    assert (report.events, report.rows_compared) == (12, 56)
    assert seen[0] == (0, 12) and seen[-1] == (12, 12)


def test_an_altered_or_missing_row_is_named_by_subject_and_field(services):
    ids = fill(services)
    with services.write_engine.begin() as conn:
        conn.execute(update(records).where(records.c.record_id == ids[1]).values(severity="minor"))
        conn.execute(delete(records).where(records.c.record_id == ids[2]))
    report = verify_read_models(services)
    found = {(d.table, d.key, d.field, d.live, d.replayed) for d in report.differences}
    ids = [str(i) for i in ids]
    assert ("records", ids[1], "severity", "minor", "general") in found
    assert ("records", ids[2], "(row)", "missing", "present") in found
    assert len(report.differences) == 2
    assert all(d.subject_id for d in report.differences)


def test_an_altered_report_row_is_named_by_subject_and_field(services):
    ids = fill(services)
    with services.write_engine.begin() as conn:
        conn.execute(
            update(report_records)
            .where(report_records.c.record_id == ids[1])
            .values(on_time=True, days_late=0)
        )
    report = verify_read_models(services)
    found = {(d.table, d.key, d.field, d.live, d.replayed) for d in report.differences}
    # Decided 2026-10-15, due 10-26, recorded 11-20 (the tests' today): 19 working days late.
    assert found == {
        ("report_records", str(ids[1]), "on_time", True, False),
        ("report_records", str(ids[1]), "days_late", 0, 19),
    }
    assert all(d.subject_id for d in report.differences)


def test_an_altered_change_is_named_by_subject_and_field(services):
    ids = fill(services)
    with services.write_engine.begin() as conn:
        conn.execute(update(changes).where(changes.c.record_id == ids[1]).values(kind="list.left"))
    report = verify_read_models(services)
    [difference] = report.differences
    assert (difference.table, difference.field, difference.live, difference.replayed) == (
        "changes",
        "kind",
        "list.left",
        "record.published",
    )
    assert difference.subject_id


def test_the_live_side_is_read_while_a_writer_holds_the_store(services):
    """The snapshot takes no write lock: a write transaction left open on the live store (or
    the runner's page) does not hold the check up, nor does the check hold it up."""
    fill(services)
    if services.database.is_sqlite:
        writer = sqlite3.connect(services.database.sqlite_path(), isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")
        release = writer.rollback
    else:
        writer = services.write_engine.connect()
        writer.begin()
        writer.execute(update(records).values(severity="serious"))  # row locks, uncommitted
        release = writer.close
    try:
        started = time.monotonic()
        report = verify_read_models(services)
        assert report.ok, report.differences
        assert time.monotonic() - started < 20  # a wait for the lock would last 30 s
    finally:
        release()


def test_many_differences_are_all_counted_and_the_first_kept(services, monkeypatch):
    import service.replay.check

    monkeypatch.setattr(service.replay.check, "SUSPECTS_PER_QUERY", 3)  # several batches
    monkeypatch.setattr(service.replay.check, "KEPT_DIFFERENCES", 5)
    fill(services)
    with services.write_engine.begin() as conn:
        conn.execute(update(records).values(summary="改", recorded_by="someone"))
    report = verify_read_models(services)
    assert report.difference_count == 16  # two fields of each of the 8 records
    assert len(report.differences) == 5
    keys = [d.key for d in report.differences]
    assert keys == sorted(keys)
    assert {d.field for d in report.differences} == {"summary", "recorded_by"}
