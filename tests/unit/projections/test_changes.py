"""The change projector: hand-built histories in, the changes an agency is told out, with
their before and after, in log order, with ids that a second derivation gives again."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, delete, select

from domain.cases import (
    CaseAccepted,
    ObjectionFiled,
    ObjectionResolved,
    RepairApplied,
    RepairApproved,
)
from domain.changes import CHANGE_KINDS, RECORD_PUBLISHED, change_id
from domain.events import ListEntered, ListExited, RecordRevoked
from projections.cases.projector import CaseProjector
from projections.changes.projector import ChangeProjector
from projections.credit_file.projector import CreditFileProjector
from projections.runner import Projector
from projections.tables import changes
from service.store.database import Database
from service.store.read_store import sync_engine
from tests.builders import stored_event
from tests.unit.projections.test_credit_file_projector import (
    BOOK,
    COMMON,
    SUBJECT,
    penalty,
    registered,
)

pytestmark = pytest.mark.projections
ZONE = ZoneInfo("Asia/Shanghai")
LATER = datetime(2026, 11, 21, 2, tzinfo=UTC)
GENERAL, MINOR, ENTRY, EXIT, REVOCATION = (UUID(int=n) for n in (101, 102, 103, 104, 105))
REPAIR_CASE, OBJECTION_CASE = UUID(int=900), UUID(int=901)
AUTHORITY = {"authority_code": COMMON["authority_code"], "authority_name": COMMON["authority_name"]}


@pytest.fixture
def engine(empty_sqlite: Database) -> Any:
    database = empty_sqlite
    engine = sync_engine(database)
    yield engine
    engine.dispose()


def projectors() -> list[Projector]:
    """In the runner's order: the changes read the credit file's records and the cases."""
    return [CreditFileProjector(BOOK), CaseProjector(ZONE), ChangeProjector(BOOK, ZONE)]


def project(engine: Engine, events: list[Any], first: int = 1, last: int | None = None) -> None:
    """One page: the events at log positions `first` to `last` (the log's are 1, 2, ...)."""
    page = list(enumerate(events[first - 1 : last], start=first))
    for projector in projectors():
        with engine.begin() as conn:
            projector.apply(conn, page)


# Told from the status rules: asserted by the tests of those kinds (test_status_changes.py).
STATUS_KINDS = ("grade.changed", "warning.raised")


def told(engine: Engine, *kinds: str) -> list[tuple[int, int, str, UUID, Any, Any]]:
    """The changes in log order; of the given kinds, or of all but the status rules' ones."""
    with engine.connect() as conn:
        found = conn.execute(select(changes).order_by(changes.c.position, changes.c.ordinal))
        return [
            (r["position"], r["ordinal"], r["kind"], r["record_id"], r["before"], r["after"])
            for r in found.mappings()
            if (r["kind"] in kinds if kinds else r["kind"] not in STATUS_KINDS)
        ]


def black_entry(version: int, planned_end: date | None = date(2029, 6, 1)) -> Any:
    return stored_event(
        ListEntered,
        **COMMON,
        originator_version=version,
        record_id=ENTRY,
        decision_date=date(2026, 6, 1),
        source_ref="L-1",
        list_type="black",
        basis="严重超限超载",
        planned_end=planned_end,
        basis_record_id=None,
    )


def follow_up(event_class: type, version: int, record_id: UUID, **fields: Any) -> Any:
    return stored_event(
        event_class,
        **COMMON,
        originator_version=version,
        record_id=record_id,
        decision_date=date(2026, 11, 19),
        source_ref=f"F-{version}",
        **fields,
    )


def case_step(step: type, version: int, case_id: UUID, target: UUID, **fields: Any) -> Any:
    return stored_event(
        step,
        originator_id=SUBJECT,
        originator_version=version,
        timestamp=LATER,
        case_id=case_id,
        target_record_id=target,
        by=COMMON["authority_code"],
        **fields,
    )


def filing(step: type, version: int, case_id: UUID, target: UUID, number: str) -> Any:
    extra: dict[str, Any] = (
        {"grounds": "wrong_content", "statement": "记录有误"}
        if step is ObjectionFiled
        else {"corrections": ["罚款已缴纳"], "commitment_signed": True}
    )
    return case_step(
        step,
        version,
        case_id,
        target,
        case_number=number,
        query_code_hash="h",
        evidence=[],
        applicant="申请人",
        **extra,
    )


def test_a_published_penalty_is_told_and_a_minor_one_is_not(engine):
    project(engine, [registered(), penalty(2, GENERAL), penalty(3, MINOR, severity="minor")])
    # General: published from its decision day for a year (令第36号); minor: not published.
    assert told(engine) == [
        (
            2,
            0,
            "record.published",
            GENERAL,
            None,
            {
                "family": "penalty",
                "severity": "general",
                "decision_date": "2026-05-01",
                "publish_from": "2026-05-01",
                "publish_until": "2027-05-01",
                **AUTHORITY,
            },
        )
    ]


def test_a_black_list_entry_is_published_and_entered_and_its_exit_is_told(engine):
    exit_ = follow_up(ListExited, 3, EXIT, entry_record_id=ENTRY, reason="期满")
    project(engine, [registered(), black_entry(2)], 1, 2)
    project(engine, [registered(), black_entry(2), exit_], 3)  # a later page: a stored entry
    [published, entered, left] = told(engine)
    assert published[:4] == (2, 0, "record.published", ENTRY)
    assert (published[5]["publish_from"], published[5]["publish_until"]) == (
        "2026-06-01",
        "2029-06-01",
    )
    assert entered == (
        2,
        1,
        "list.entered",
        ENTRY,
        None,
        {"list_type": "black", "decision_date": "2026-06-01", "planned_end": "2029-06-01"}
        | AUTHORITY,
    )
    assert left == (
        3,
        0,
        "list.left",
        ENTRY,
        {"list_type": "black"},
        {"ended_on": "2026-11-19", "ended_by": str(EXIT)},
    )


def test_a_repair_approved_is_told_as_the_record_repaired(engine):
    events = [
        registered(),
        penalty(2, GENERAL),
        filing(RepairApplied, 3, REPAIR_CASE, GENERAL, "XF000001"),
        case_step(CaseAccepted, 4, REPAIR_CASE, GENERAL),
        case_step(RepairApproved, 5, REPAIR_CASE, GENERAL, reasons="已整改"),
    ]
    project(engine, events)
    # Filing and accepting a repair tell nothing yet: the record stands until it is approved.
    kinds = [(position, kind, record) for position, _, kind, record, _, _ in told(engine)]
    assert kinds == [(2, "record.published", GENERAL), (5, "record.repaired", GENERAL)]
    [*_, repaired] = told(engine)
    assert (repaired[4], repaired[5]) == (
        {"state": "active"},
        {"state": "repaired", "repaired_at": LATER.isoformat()},
    )


def test_an_objection_opened_then_resolved_by_revoking_the_record(engine):
    events = [
        registered(),
        penalty(2, GENERAL),
        filing(ObjectionFiled, 3, OBJECTION_CASE, GENERAL, "YY000001"),
        case_step(
            ObjectionResolved,
            4,
            OBJECTION_CASE,
            GENERAL,
            outcome="revoked",
            reasons="处罚决定已被撤销",
            changes=None,
        ),
    ]
    project(engine, events, 1, 3)
    project(engine, events, 4)  # the case number is read from the cases read model
    flag = {"case_number": "YY000001", "label": "异议处理中"}
    assert [row[1:] for row in told(engine)[1:]] == [
        (0, "objection.opened", GENERAL, {"objection": None}, {"objection": flag}),
        (
            0,
            "objection.resolved",
            GENERAL,
            {"objection": flag},
            {"objection": None, "outcome": "revoked"},
        ),
        (
            1,
            "record.revoked",
            GENERAL,
            None,
            {"state": "revoked", "revoked_by": str(OBJECTION_CASE)},
        ),
    ]


def test_a_revocation_is_told_and_a_change_keeps_its_id_when_derived_again(engine):
    events = [
        registered(),
        penalty(2, GENERAL),
        follow_up(RecordRevoked, 3, REVOCATION, target_record_id=GENERAL, reason="复议撤销"),
    ]
    project(engine, events, 1, 2)
    project(engine, events, 3)
    with engine.connect() as conn:
        live = conn.execute(select(changes).order_by(changes.c.position)).mappings().all()
    assert [(r["kind"], r["after"]) for r in live] == [
        ("record.published", live[0]["after"]),
        ("record.revoked", {"state": "revoked", "revoked_by": str(REVOCATION)}),
    ]
    assert live[0]["change_id"] == change_id(2, RECORD_PUBLISHED, GENERAL)
    with engine.begin() as conn:  # a rebuild: the whole log in one page
        for projector in projectors():
            for table in projector.tables:
                conn.execute(delete(table))
    project(engine, events)
    with engine.connect() as conn:
        rebuilt = conn.execute(select(changes).order_by(changes.c.position)).mappings().all()
    assert [dict(r) for r in rebuilt] == [dict(r) for r in live]


def test_every_kind_has_a_stable_dotted_name_and_a_chinese_title():
    assert list(CHANGE_KINDS) == [
        "grade.changed",
        "list.entered",
        "list.left",
        "record.published",
        "record.repaired",
        "record.revoked",
        "record.reinstated",
        "objection.opened",
        "objection.resolved",
        "warning.raised",
    ]
    assert all(kind.title and kind.description for kind in CHANGE_KINDS.values())
    # Two changes of one kind from one event, to two records, have two ids.
    assert change_id(7, RECORD_PUBLISHED, UUID(int=1)) != change_id(
        7, RECORD_PUBLISHED, UUID(int=2)
    )
