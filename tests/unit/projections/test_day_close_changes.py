"""What time alone changes, told at the day's close of the day it changes: a rating's validity
over, a commitment falling due, a black-list entry at its planned end. Only the subjects whose
next time change has come are evaluated; the changes are the same, with the same ids, however
the log is paged and when derived again. Hand-built histories in, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import Engine, delete, select

from domain.changes import GRADE_CHANGED, LIST_LEFT, WARNING_RAISED, change_id
from domain.day_close import DAY_CLOSE_STREAM, DayClosed
from domain.events import CommitmentMade, LicenceGranted, ListEntered
from projections.cases.projector import CaseProjector
from projections.changes.projector import ChangeProjector, _due_by_time
from projections.credit_file.projector import CreditFileProjector
from projections.runner import Projector
from projections.tables import changes, subject_versions, told_statuses
from service.store.database import Database
from service.store.read_store import sync_engine
from tests.builders import stored_event
from tests.unit.projections.test_changes import ZONE
from tests.unit.projections.test_credit_file_projector import BOOK, COMMON, SUBJECT, registered
from tests.unit.projections.test_status_changes import RATING, at, penalty_on, rating

pytestmark = pytest.mark.projections
ENTRY, COMMITMENT, LICENCE, CONDUCT = (UUID(int=n) for n in (302, 303, 304, 305))
OTHER = UUID(int=2)


@pytest.fixture
def engine(database_url: str) -> Any:
    engine = sync_engine(Database.from_url(database_url))
    yield engine
    engine.dispose()


class Log:
    """A log being written: subject events and day closes, at positions 1, 2, ..."""

    def __init__(self, *events: Any):
        self.events = list(events)
        self.closes = 0

    def close(self, day: date) -> int:
        """A day's close, recorded a minute after the day began; returns its position."""
        self.closes += 1
        began = datetime.combine(day, time(0, 1), tzinfo=ZONE).astimezone(UTC)
        self.events.append(
            stored_event(
                DayClosed,
                originator_id=DAY_CLOSE_STREAM,
                originator_version=self.closes,
                timestamp=began,
                day=day,
            )
        )
        return len(self.events)

    def add(self, event: Any) -> int:
        self.events.append(event)
        return len(self.events)


class Projection:
    """The read models the changes need, applied page by page as the runner does."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.changes = ChangeProjector(BOOK, ZONE)
        self.projectors: list[Projector] = [
            CreditFileProjector(BOOK),
            CaseProjector(ZONE),
            self.changes,
        ]
        self.position = 0

    def follow(self, log: Log) -> None:
        """Apply what the log holds beyond the last page, as one page."""
        page = list(enumerate(log.events[self.position :], start=self.position + 1))
        for projector in self.projectors:
            with self.engine.begin() as conn:
                projector.apply(conn, page)
        self.position = len(log.events)


def told(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        query = select(changes).order_by(changes.c.position, changes.c.ordinal)
        return [dict(row) for row in conn.execute(query).mappings()]


def statuses(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        query = select(told_statuses).order_by(told_statuses.c.subject_id)
        return [dict(row) for row in conn.execute(query).mappings()]


def at_position(engine: Engine, position: int) -> list[tuple[str, UUID, Any, Any]]:
    return [
        (r["kind"], r["record_id"], r["before"], r["after"])
        for r in told(engine)
        if r["position"] == position
    ]


def commitment(version: int, due: date) -> Any:
    return stored_event(
        CommitmentMade,
        **at(0),
        originator_version=version,
        record_id=COMMITMENT,
        decision_date=date(2026, 11, 1),
        source_ref="C-1",
        commitment_type="申请承诺",
        content="按期整改",
        due_date=due,
    )


def black_entry(version: int, planned_end: date) -> Any:
    return stored_event(
        ListEntered,
        **at(0),
        originator_version=version,
        record_id=ENTRY,
        decision_date=date(2026, 11, 1),
        source_ref="L-1",
        list_type="black",
        basis="严重失信",
        planned_end=planned_end,
        basis_record_id=None,
    )


def licence_of(subject_id: UUID) -> Any:
    return stored_event(
        LicenceGranted,
        **{**COMMON, "originator_id": subject_id},
        originator_version=2,
        record_id=LICENCE,
        decision_date=date(2026, 11, 1),
        source_ref="XK-1",
        licence_type="普通",
        document_name="道路运输经营许可证",
        content="道路普通货物运输",
        valid_from=date(2026, 11, 1),
        valid_until=None,
    )


def test_a_ratings_validity_ending_is_told_by_the_close_of_its_day_and_not_before(engine):
    log = Log(registered(), rating(2, "90", valid_until=date(2026, 12, 1)))
    projection = Projection(engine)
    eve = log.close(date(2026, 11, 30))
    projection.follow(log)
    assert at_position(engine, eve) == []  # still valid on 30 November
    closed = log.close(date(2026, 12, 1))
    projection.follow(log)
    [(kind, record_id, before, after)] = at_position(engine, closed)
    assert (kind, record_id, before["grade"], after["grade"], after["cause"]) == (
        "grade.changed",
        RATING,
        "A",
        None,
        "time",
    )
    [row] = [r for r in told(engine) if r["position"] == closed]
    # The subject's change, at the close's position, with an id derived as every change's is.
    assert (row["subject_id"], row["record_type"]) == (SUBJECT, "RatingIssued")
    assert row["change_id"] == change_id(closed, GRADE_CHANGED, RATING)
    recorded_at = row["recorded_at"].replace(tzinfo=None)  # SQLite keeps UTC without a zone
    assert recorded_at == datetime(2026, 11, 30, 16, 1)  # 00:01 on 1 December in Beijing
    # The subject's next event does not tell it again.
    later = log.add(penalty_on(3, CONDUCT, "minor", date(2026, 12, 5), days=20))
    projection.follow(log)
    assert [kind for kind, *_ in at_position(engine, later)] == []


def test_a_commitment_falling_due_then_overdue_is_warned_on_each_day(engine):
    due = date(2027, 1, 20)
    window = BOOK.for_day(due).warnings.commitment_due_days
    log = Log(registered(), commitment(2, due))
    projection = Projection(engine)
    projection.follow(log)
    assert [r["kind"] for r in told(engine) if r["kind"] == "warning.raised"] == []
    before_due = log.close(due - timedelta(days=window + 1))
    falls_due = log.close(due - timedelta(days=window))
    on_due_day = log.close(due)
    overdue = log.close(due + timedelta(days=1))
    projection.follow(log)
    assert at_position(engine, before_due) == []
    [(kind, record_id, _, after)] = at_position(engine, falls_due)
    assert (kind, record_id, after["warning"]) == ("warning.raised", COMMITMENT, "commitment_due")
    assert after["detail"] == f"due {due}, in {window} days"
    assert at_position(engine, on_due_day) == []  # the same warning holds
    [(kind, record_id, _, after)] = at_position(engine, overdue)
    overdue_warning = ("warning.raised", COMMITMENT, "commitment_overdue")
    assert (kind, record_id, after["warning"]) == overdue_warning
    [row] = [r for r in told(engine) if r["position"] == overdue]
    assert row["change_id"] == change_id(overdue, WARNING_RAISED, COMMITMENT)


def test_a_black_list_entry_leaves_its_list_on_its_planned_end(engine):
    end = date(2026, 12, 15)
    log = Log(registered(), rating(2, "90"), black_entry(3, end))
    projection = Projection(engine)
    eve = log.close(end - timedelta(days=1))
    ended = log.close(end)
    projection.follow(log)
    assert at_position(engine, eve) == []
    left, grade = at_position(engine, ended)
    assert left == (
        "list.left",
        ENTRY,
        {"list_type": "black", "state": "active"},
        {"state": "ended", "ended_on": "2026-12-15", "cause": "time"},
    )
    assert (grade[0], grade[2]["grade"], grade[3]["grade"], grade[3]["cause"]) == (
        "grade.changed",
        "D",  # forced by the entry
        "A",
        "time",
    )
    [row] = [r for r in told(engine) if r["position"] == ended and r["kind"] == "list.left"]
    assert (row["record_type"], row["change_id"]) == (
        "ListEntered",
        change_id(ended, LIST_LEFT, ENTRY),
    )
    # Told once: neither a later close nor the subject's next event tells it again.
    after_end = log.close(end + timedelta(days=1))
    later = log.add(penalty_on(4, CONDUCT, "minor", date(2026, 12, 20), days=40))
    projection.follow(log)
    assert at_position(engine, after_end) == []
    assert "list.left" not in [kind for kind, *_ in at_position(engine, later)]


def test_a_planned_end_with_no_close_between_is_told_at_the_next_event(engine):
    """Days before the first close (a log older than the closes): the next event tells it."""
    log = Log(registered(), rating(2, "90"), black_entry(3, date(2026, 12, 1)))
    later = log.add(penalty_on(4, CONDUCT, "minor", date(2026, 12, 5), days=20))
    Projection(engine).follow(log)
    assert [kind for kind, *_ in at_position(engine, later)] == ["list.left", "grade.changed"]


def test_a_close_evaluates_only_the_subjects_whose_status_time_may_change(engine):
    """A subject with a licence only has nothing time may change: no day selects it."""
    licensed = [dataclasses.replace(registered(), originator_id=OTHER), licence_of(OTHER)]
    log = Log(registered(), rating(2, "90", valid_until=date(2026, 12, 1)), *licensed)
    projection = Projection(engine)
    projection.follow(log)
    rows = {row["subject_id"]: row for row in statuses(engine)}
    assert rows[OTHER]["next_time_change"] is None
    assert rows[SUBJECT]["next_time_change"] == date(2026, 12, 1)
    with engine.connect() as conn:
        assert set(_due_by_time(conn, date(2026, 11, 30))) == set()
        assert set(_due_by_time(conn, date(2026, 12, 1))) == {SUBJECT}
    log.close(date(2026, 11, 30))
    projection.follow(log)
    assert projection.changes.evaluated_by_time == 0
    log.close(date(2026, 12, 1))
    log.close(date(2026, 12, 2))
    projection.follow(log)
    # The rated subject once, on the day its rating ran out; then nothing is left to change.
    assert projection.changes.evaluated_by_time == 1
    assert {row["subject_id"]: row["next_time_change"] for row in statuses(engine)} == {
        SUBJECT: None,
        OTHER: None,
    }


def test_a_close_is_no_subjects_event_in_the_credit_file(engine):
    log = Log(registered())
    log.close(date(2026, 11, 21))
    Projection(engine).follow(log)
    with engine.connect() as conn:
        streams = {row[0] for row in conn.execute(select(subject_versions.c.subject_id))}
    assert streams == {SUBJECT}


def test_time_changes_are_the_same_page_by_page_and_when_derived_again(engine):
    log = Log(registered(), rating(2, "96", valid_until=date(2027, 1, 10)))
    log.add(black_entry(3, date(2026, 12, 3)))
    log.add(commitment(4, date(2027, 1, 5)))
    day = date(2026, 11, 21)
    while day <= date(2027, 1, 12):
        log.close(day)
        if day == date(2026, 12, 20):
            log.add(penalty_on(5, CONDUCT, "serious", day, days=30))
        day += timedelta(days=1)
    projection = Projection(engine)
    for position in range(1, len(log.events) + 1):  # one event a page
        projection.follow(Log(*log.events[:position]))
    live, live_told = told(engine), statuses(engine)
    kinds = {(r["kind"], (r["after"] or {}).get("cause")) for r in live}
    assert {("grade.changed", "time"), ("list.left", "time"), ("warning.raised", None)} <= kinds
    with engine.begin() as conn:
        for projector in projection.projectors:
            for table in projector.tables:
                conn.execute(delete(table))
    Projection(engine).follow(log)  # the whole log in one page
    assert told(engine) == live
    assert statuses(engine) == live_told
