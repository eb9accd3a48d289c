"""The change projector's status carried from one stream version to the next
(`_Standing`) against the status found again over all the subject's revisions at each version,
as it was: random histories of revisions in, the same told grades and warnings, the same next
time change and the same standing records out, at every version and on days around the
conduct windows; and a subject of thousands of penalties, projected in far less than the
square of its events."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from domain.changes import told_from, told_of
from domain.credit_status import evaluate, grades_and_warnings, next_time_change
from domain.events import RECORD_EVENT_TYPES, RULE_INPUT_TYPES
from domain.publication import ACTIVE, LAPSED, REPAIRED, REVOKED
from projections.changes.projector import FACT_WIDTH, _at, _Standing, _stands, _Statuses
from projections.credit_file.as_of import end_of_day, revision_fact
from projections.tables import changes, told_statuses
from service.policy.loader import load_policy
from service.settings import DEFAULT_TIMEZONE
from service.store.database import Database
from service.store.read_store import sync_engine
from tests.builders import ADMINISTRATIVE_CONTENT, stored_event
from tests.unit.projections.test_changes import black_entry, project, projectors
from tests.unit.projections.test_credit_file_projector import COMMON, registered
from tests.unit.projections.test_status_changes import penalty_on, rating

pytestmark = pytest.mark.projections
BOOK = load_policy()
ZONE = ZoneInfo(DEFAULT_TIMEZONE)
START = date(2024, 1, 1)
SCHEMES = list(BOOK.versions[-1].schemes)
CONDUCT = ("PenaltyDecided", "DishonestConductRecorded", "CommitmentBreached")


@pytest.fixture
def engine(empty_sqlite: Database) -> Any:
    engine = sync_engine(empty_sqlite)
    yield engine
    engine.dispose()


def days(low: int = 0, high: int = 1300) -> st.SearchStrategy[date]:
    return st.integers(low, high).map(lambda n: START + timedelta(days=n))


@st.composite
def record(draw: st.DrawFn, conduct_ids: list[str]) -> list[Any]:
    """The FACT_COLUMNS of one record (its state and versions added by `history`)."""
    kind = draw(
        st.sampled_from(
            [*CONDUCT, *CONDUCT, "RatingIssued", "ListEntered", "CommitmentMade", "Licence"]
        )
    )
    decided = draw(days())
    fields: dict[str, Any] = {}
    if kind in CONDUCT:
        fields["severity"] = draw(st.sampled_from(["minor", "general", "serious", None]))
    elif kind == "RatingIssued":
        scheme = draw(st.sampled_from(SCHEMES))
        grades = BOOK.versions[-1].schemes[scheme].grades
        fields |= {
            "scheme": scheme,
            "grade": draw(st.sampled_from(grades)),
            "score": draw(st.one_of(st.none(), st.integers(0, 1000).map(Decimal))),
            "valid_from": decided,
            "valid_until": decided + timedelta(days=draw(st.integers(30, 900))),
        }
    elif kind == "ListEntered":
        fields |= {
            "list_type": draw(st.sampled_from(["black", "red", "watch"])),
            "basis": "b",
            "planned_end": draw(st.one_of(st.none(), days(200, 1500))),
            "basis_record_id": draw(st.sampled_from([None, *conduct_ids])),
            "ended_on": draw(st.one_of(st.none(), days(100, 1500))),
        }
    elif kind == "CommitmentMade":
        fields |= {
            "due_date": draw(days(100, 1500)),
            "ended_on": draw(st.one_of(st.none(), days(100, 1500))),
        }
    return [
        str(uuid4()),
        kind,
        decided,
        fields.get("severity"),
        "general",
        fields.get("scheme"),
        fields.get("grade"),
        fields.get("score"),
        fields.get("valid_from"),
        fields.get("valid_until"),
        fields.get("list_type"),
        fields.get("basis"),
        fields.get("planned_end"),
        fields.get("basis_record_id"),
        fields.get("ended_on"),
        fields.get("due_date"),
        None,
        None,
        "authority",
    ]


@st.composite
def history(draw: st.DrawFn) -> list[tuple[Any, ...]]:
    """Revision rows as the projector loads them: each record from the version that recorded
    it, its state moved by later versions (repaired, lapsed, revoked, standing again), in an
    order of the database's choosing."""
    rows: list[tuple[Any, ...]] = []
    conduct_ids: list[str] = []
    version = 0
    for _ in range(draw(st.integers(1, 25))):
        version += draw(st.integers(1, 3))
        facts = draw(record(conduct_ids))
        if facts[1] in CONDUCT:
            conduct_ids.append(facts[0])
        start = version
        for _ in range(draw(st.integers(0, 3))):
            state = draw(st.sampled_from([ACTIVE, REPAIRED, LAPSED, REVOKED]))
            end = start + draw(st.integers(1, 8))
            rows.append((*facts, state, None, start, end))
            start = end
        state = draw(st.sampled_from([ACTIVE, ACTIVE, REPAIRED, LAPSED, REVOKED]))
        repaired = draw(
            st.one_of(
                st.none(),
                days(300, 1300).map(lambda d: datetime.combine(d, datetime.min.time(), UTC)),
            )
        )
        rows.append((*facts, state, repaired if state != ACTIVE else None, start, None))
    return draw(st.permutations(rows))


def fact_of(row: Any) -> Any:
    return revision_fact(row[:FACT_WIDTH])


def full(rows: list[Any], version: int, day: date) -> list[Any]:
    """The facts the status was evaluated over before: every rule input standing."""
    day_ends = end_of_day(day, ZONE)
    return [
        fact_of(row)
        for row in _at(rows, version)
        if row[1] in RULE_INPUT_TYPES and _stands(row, day_ends)
    ]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=history(),
    visits=st.lists(st.tuples(st.integers(0, 80), days(300, 1400)), min_size=1, max_size=30),
)
def test_the_carried_status_tells_what_the_full_evaluation_tells(
    rows: list[Any], visits: list[tuple[int, date]]
) -> None:
    standing = _Standing()
    for row in rows:
        standing.add(row)
    for version, day in visits:
        assert standing.move(version)
        fast = standing.weighing(fact_of, end_of_day(day, ZONE), BOOK, day)
        slow = full(rows, version, day)
        assert told_from(*grades_and_warnings(fast, BOOK, day)) == told_of(
            evaluate(slow, BOOK, day)
        )
        assert next_time_change(fast, BOOK, day) == next_time_change(slow, BOOK, day)
        assert sorted(map(id, standing.standing(version))) == sorted(
            id(row) for row in _at(rows, version) if row[1] in RULE_INPUT_TYPES
        )
        # the versions an event visits: its own and the one before, in either order
        assert standing.move(version - 1)
        assert sorted(map(id, standing.standing(version - 1))) == sorted(
            id(row) for row in _at(rows, version - 1) if row[1] in RULE_INPUT_TYPES
        )


def test_two_revisions_of_one_record_standing_at_once_are_left_to_the_full_scan() -> None:
    facts = [str(UUID(int=1)), "PenaltyDecided", START, "minor", *([None] * 15)]
    standing = _Standing()
    standing.add((*facts, ACTIVE, None, 1, None))
    standing.add((*facts, ACTIVE, None, 2, None))
    assert standing.move(1)
    assert not standing.move(2)
    assert len(standing.standing(2)) == 2  # as `_at` finds them


def penalties(count: int, recent: int) -> list[Any]:
    """`count` penalties of one subject, a version each, decided over 600 days of 2024-2025
    but for the last `recent`, decided within the year before they were recorded (NOW)."""
    return [
        penalty_on(
            n + 1,
            UUID(int=10_000 + n),
            ("minor", "general", "serious")[n % 3],
            date(2024, 1, 1) + timedelta(days=n % 600)
            if n < count - recent
            else date(2026, 1, 1) + timedelta(days=n % 300),
        )
        for n in range(count)
    ]


def projected(engine: Any, events: list[Any], page: int) -> list[Any]:
    for first in range(1, len(events) + 1, page):
        project(engine, events, first, first + page - 1)
    with engine.connect() as conn:
        found = conn.execute(select(changes).order_by(changes.c.position, changes.c.ordinal))
        rows = [dict(row) for row in found.mappings()]
        return [rows, [dict(row) for row in conn.execute(select(told_statuses)).mappings()]]


def test_a_subject_of_many_events_is_told_the_same_as_by_the_full_scan(
    engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rating, then 600 penalties of one subject, the last 40 recent, in pages of 70: the same
    changes and the same last told status when the standing is carried as when it is found
    among all the revisions at each event (the way before)."""
    events = [rating(1, "98"), *penalties(600, 40)[1:]]
    carried = projected(engine, events, 70)
    assert any(row["kind"] == "warning.raised" for row in carried[0])
    assert any(row["kind"] == "grade.changed" for row in carried[0])
    _empty_read_models(engine)
    monkeypatch.setattr(_Standing, "move", lambda self, version: False)
    assert projected(engine, events, 70) == carried


def test_a_subject_of_thousands_of_penalties_is_evaluated_over_its_recent_ones(
    engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """3,000 penalties of one subject: the status at each event looked at every record the
    subject had then (3,000 events took 22 s, growing with their square); now at those decided
    within the windows of its rules (here the last 50) and no other, and not at all where the
    event brought none of those."""
    sizes: list[int] = []

    def counted(facts: list[Any], book: Any, on: date) -> Any:
        sizes.append(len(facts))
        return grades_and_warnings(facts, book, on)

    monkeypatch.setattr("projections.changes.projector.grades_and_warnings", counted)
    projected(engine, penalties(3000, 50), 500)
    # the first event of the subject, and each recent penalty: an old one weighs on nothing told
    assert len(sizes) == 51
    assert max(sizes) <= 50


def test_a_new_records_publication_read_from_its_revision_is_the_one_worked_out_again(
    engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The change projector reads a new record's publication window and severity from the
    revision the credit file made of it; worked out from the event instead (as before), the
    changes are the same, for every kind of window: by severity (a minor penalty's none), by
    the policy's period for the further administrative kinds (some none), a list entry's."""
    events = [registered(kind="enterprise", code="91410105MA00000016")]
    for record_type, content in ADMINISTRATIVE_CONTENT.items():
        events.append(
            stored_event(
                RECORD_EVENT_TYPES[record_type],
                **COMMON,
                originator_version=len(events) + 1,
                record_id=uuid4(),
                decision_date=date(2026, 5, 6),
                source_ref=f"A-{len(events)}",
                **content,
            )
        )
    for n, severity in enumerate(("minor", "general", "serious", "general")):
        events.append(penalty_on(len(events) + 1, UUID(int=500 + n), severity, date(2026, 3, 1)))
    events.append(black_entry(len(events) + 1))
    events.append(rating(len(events) + 1, "96"))
    read = projected(engine, events, 4)
    assert sum(row["kind"] == "record.published" for row in read[0]) >= 6
    _empty_read_models(engine)
    monkeypatch.setattr(_Statuses, "started_by", lambda self, event: None)
    assert projected(engine, events, 4) == read


def _empty_read_models(engine):
    """Every projector's rows gone, for the same events to be projected again another way."""
    with engine.begin() as conn:
        for projector in projectors():
            for table in projector.tables:
                conn.execute(delete(table))
