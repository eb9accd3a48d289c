"""Changes told from the status rules: grades, early warnings, list entries lapsing with their
basis and a repair withdrawn. Hand-built histories in, on SQLite and PostgreSQL; the same
changes, with the same ids, however the log is paged and when derived again."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import Engine, delete, select

from domain.cases import CaseAccepted, RepairApplied, RepairApproved, RepairRevoked
from domain.changes import GRADE_CHANGED, WARNING_RAISED, change_id
from domain.events import (
    CommitmentMade,
    ListEntered,
    PenaltyDecided,
    RatingIssued,
    RecordRevoked,
)
from projections.tables import changes, told_statuses
from service.store.database import Database
from service.store.read_store import sync_engine
from tests.builders import stored_event
from tests.unit.projections.test_changes import (
    AUTHORITY,
    REPAIR_CASE,
    case_step,
    filing,
    follow_up,
    project,
    projectors,
    told,
)
from tests.unit.projections.test_credit_file_projector import COMMON, NOW, registered

pytestmark = pytest.mark.projections
RATING, FIRST, SECOND, THIRD, ENTRY, COMMITMENT, REVOCATION = (
    UUID(int=n) for n in (201, 202, 203, 204, 205, 206, 207)
)


@pytest.fixture
def engine(database_url: str) -> Any:
    engine = sync_engine(Database.from_url(database_url))
    yield engine
    engine.dispose()


def at(days: int) -> dict[str, Any]:
    """The common fields of an event recorded `days` after NOW."""
    return {**COMMON, "timestamp": NOW + timedelta(days=days)}


def rating(version: int, score: str, *, valid_until: date = date(2027, 6, 1), days: int = 0) -> Any:
    return stored_event(
        RatingIssued,
        **at(days),
        originator_version=version,
        record_id=RATING,
        decision_date=date(2026, 6, 1),
        source_ref="R-1",
        scheme="highway_construction",
        grade="AA",
        valid_from=date(2026, 6, 1),
        valid_until=valid_until,
        score=Decimal(score),
    )


def penalty_on(version: int, record_id: UUID, severity: str, decided: date, days: int = 0) -> Any:
    return stored_event(
        PenaltyDecided,
        **at(days),
        originator_version=version,
        record_id=record_id,
        decision_date=decided,
        source_ref=f"P-{version}",
        severity=severity,
        procedure="general",
        violation_type="拒载",
        facts="f",
        legal_basis="l",
        penalty_categories=["罚款"],
        content="c",
        fine_amount=Decimal("0.2"),
    )


def grades(engine: Engine) -> list[tuple[int, Any, Any]]:
    return [(p, b, a) for p, _, _, _, b, a in told(engine, "grade.changed")]


def test_a_rating_and_the_deductions_after_it_are_told_as_grade_changes(engine):
    events = [
        registered(),
        rating(2, "96"),  # AA: 95 and over
        penalty_on(3, FIRST, "minor", date(2026, 7, 1)),  # 95: still AA, told nothing
        penalty_on(4, SECOND, "serious", date(2026, 8, 1)),  # 80: B
    ]
    project(engine, events)
    [(position, before, after), (position_2, before_2, after_2)] = grades(engine)
    assert (position, before) == (2, None)
    assert (after["scheme"], after["grade"], after["score"], after["cause"]) == (
        "highway_construction",
        "AA",
        "96.00",
        "event",
    )
    assert after["rating_record_id"] == str(RATING) and after["adjusted_by"] == []
    assert (position_2, before_2["grade"], after_2["grade"], after_2["score"]) == (
        4,
        "AA",
        "B",
        "80.00",
    )
    assert after_2["adjusted_by"] == [str(FIRST), str(SECOND)]
    # The change concerns the rating behind the grade, and keeps an id a rebuild gives again.
    [change] = [r for r in _rows(engine) if r["position"] == 4 and r["kind"] == "grade.changed"]
    assert (change["record_id"], change["record_type"]) == (RATING, "RatingIssued")
    assert change["change_id"] == change_id(4, GRADE_CHANGED, RATING)


def test_a_grade_ended_with_its_ratings_validity_is_told_at_the_next_event_as_time(engine):
    """The rating is valid until 2026-12-01; the next event is recorded on 2026-12-10."""
    events = [
        registered(),
        rating(2, "90", valid_until=date(2026, 12, 1)),
        penalty_on(3, FIRST, "minor", date(2026, 12, 5), days=20),
    ]
    project(engine, events)
    [_, (position, before, after)] = grades(engine)
    assert (position, before["grade"], after["grade"], after["cause"]) == (3, "A", None, "time")


def test_a_black_list_entry_forces_the_lowest_grade_and_its_planned_end_lifts_it(engine):
    entry = stored_event(
        ListEntered,
        **at(0),
        originator_version=3,
        record_id=ENTRY,
        decision_date=date(2026, 11, 1),
        source_ref="L-1",
        list_type="black",
        basis="严重失信",
        planned_end=date(2026, 12, 1),
        basis_record_id=None,
    )
    events = [
        registered(),
        rating(2, "90"),
        entry,
        penalty_on(4, FIRST, "minor", date(2026, 12, 5), days=20),
    ]
    project(engine, events)
    assert [(p, (b or {}).get("grade"), a["grade"], a["cause"]) for p, b, a in grades(engine)] == [
        (2, None, "A", "event"),
        (3, "A", "D", "event"),
        # 90 less a minor conduct's 1: A again, the entry over by its planned end
        (4, "D", "A", "time"),
    ]
    forced = "highway_construction.adjustments.black_list_forces_lowest_grade"
    assert grades(engine)[1][2]["forced_by"] == forced


def test_repeated_conduct_is_warned_once_while_it_holds_addressed_to_the_recording_authority(
    engine,
):
    events = [
        registered(),
        penalty_on(2, FIRST, "general", date(2026, 9, 1)),
        penalty_on(3, SECOND, "general", date(2026, 10, 1)),  # two within 12 months: warned
        penalty_on(4, THIRD, "general", date(2026, 11, 1)),  # three: the same warning holds
    ]
    project(engine, events)
    [(position, _, _, record_id, before, after)] = told(engine, "warning.raised")
    assert (position, record_id, before) == (3, SECOND, None)
    assert after == {
        "warning": "repeated_conduct",
        "detail": "2 conducts within 12 months",
        "record_id": None,
        "scheme": None,
        **AUTHORITY,
    }


def test_a_grade_close_to_the_next_lower_one_and_a_commitment_falling_due_are_warned(engine):
    commitment = stored_event(
        CommitmentMade,
        **at(0),
        originator_version=3,
        record_id=COMMITMENT,
        decision_date=date(2026, 11, 1),
        source_ref="C-1",
        commitment_type="申请承诺",
        content="按期整改",
        due_date=date(2026, 12, 10),  # 20 days after NOW: within 30
    )
    project(engine, [registered(), rating(2, "86"), commitment])  # 86: within 3 of B's 85
    warned = told(engine, "warning.raised")
    assert [(p, r, a["warning"]) for p, _, _, r, _, a in warned] == [
        (2, RATING, "close_to_lower_grade"),
        (3, COMMITMENT, "commitment_due"),
    ]
    assert warned[0][5]["scheme"] == "highway_construction"
    assert warned[1][5]["record_id"] == str(COMMITMENT)


def resting_entry(version: int) -> Any:
    return stored_event(
        ListEntered,
        **at(0),
        originator_version=version,
        record_id=ENTRY,
        decision_date=date(2026, 6, 1),
        source_ref="L-1",
        list_type="black",
        basis="严重超限超载",
        planned_end=date(2029, 6, 1),
        basis_record_id=FIRST,
    )


def test_an_entry_lapsing_with_its_repaired_basis_leaves_and_a_withdrawn_repair_brings_both_back(
    engine,
):
    events = [
        registered(),
        penalty_on(2, FIRST, "serious", date(2026, 5, 1)),
        resting_entry(3),
        filing(RepairApplied, 4, REPAIR_CASE, FIRST, "XF000001"),
        case_step(CaseAccepted, 5, REPAIR_CASE, FIRST),
        case_step(RepairApproved, 6, REPAIR_CASE, FIRST, reasons="已整改"),
        case_step(RepairRevoked, 7, REPAIR_CASE, FIRST, reasons="材料虚假"),
    ]
    project(engine, events)
    moved = [
        (p, kind, r, b, a)
        for p, _, kind, r, b, a in told(engine)
        if p >= 6 and kind != "record.repaired"
    ]
    assert moved == [
        (
            6,
            "list.left",
            ENTRY,
            {"list_type": "black", "state": "active"},
            {"state": "lapsed", "ended_on": "2026-11-21", "lapsed_with": str(FIRST)},
        ),
        (
            7,
            "record.reinstated",
            FIRST,
            {"state": "repaired"},
            {"state": "active", "reinstated_by": str(REPAIR_CASE)},
        ),
        (
            7,
            "list.entered",
            ENTRY,
            {"state": "lapsed"},
            {"list_type": "black", "state": "active", "stands_with": str(FIRST)},
        ),
    ]


def test_an_entry_lapsing_with_its_revoked_basis_leaves_its_list(engine):
    events = [
        registered(),
        penalty_on(2, FIRST, "serious", date(2026, 5, 1)),
        resting_entry(3),
        follow_up(RecordRevoked, 4, REVOCATION, target_record_id=FIRST, reason="复议撤销"),
    ]
    project(engine, events)
    assert [(p, kind, r) for p, _, kind, r, _, _ in told(engine) if p == 4] == [
        (4, "record.revoked", FIRST),
        (4, "list.left", ENTRY),
    ]


def test_status_changes_are_the_same_page_by_page_and_when_derived_again(engine):
    events = [
        registered(),
        rating(2, "96"),
        penalty_on(3, FIRST, "serious", date(2026, 7, 1)),
        resting_entry(4),
        penalty_on(5, SECOND, "general", date(2026, 8, 1), days=3),
        filing(RepairApplied, 6, REPAIR_CASE, FIRST, "XF000001"),
        case_step(CaseAccepted, 7, REPAIR_CASE, FIRST),
        case_step(RepairApproved, 8, REPAIR_CASE, FIRST, reasons="已整改"),
        penalty_on(9, THIRD, "minor", date(2026, 9, 1), days=300),
    ]
    for position in range(1, len(events) + 1):  # one event a page
        project(engine, events, position, position)
    live = _rows(engine)
    with engine.connect() as conn:
        live_told = [dict(r) for r in conn.execute(select(told_statuses)).mappings()]
    assert {r["kind"] for r in live} >= {"grade.changed", "warning.raised", "list.left"}
    with engine.begin() as conn:
        for projector in projectors():
            for table in projector.tables:
                conn.execute(delete(table))
    project(engine, events)  # the whole log in one page
    assert _rows(engine) == live
    with engine.connect() as conn:
        assert [dict(r) for r in conn.execute(select(told_statuses)).mappings()] == live_told
    warned = [r for r in live if r["kind"] == "warning.raised"]
    assert all(
        r["change_id"] == change_id(r["position"], WARNING_RAISED, r["record_id"]) for r in warned
    )
    # A warning is addressed to the authority its `after` names, derived again the same (the
    # rows compared above include the column); no other change is addressed to anyone.
    assert warned and all(r["addressed_to"] == AUTHORITY["authority_code"] for r in warned)
    assert {r["addressed_to"] for r in live if r["kind"] != "warning.raised"} == {None}


def _rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        query = select(changes).order_by(changes.c.position, changes.c.ordinal)
        return [dict(r) for r in conn.execute(query).mappings()]
