"""The notices projector: a repair or a revocation in, one notice out per API client whose reads
of the subject fell between the record's recording and the decision; on SQLite and PostgreSQL,
with the same ids when derived again."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, delete, insert, select

from domain.cases import (
    CaseAccepted,
    ObjectionFiled,
    ObjectionResolved,
    RepairApplied,
    RepairApproved,
)
from domain.changes import RECORD_REPAIRED, RECORD_REVOKED, change_id, notice_id
from domain.events import RecordRevoked
from projections.credit_file.projector import CreditFileProjector
from service.access.tables import access_log, api_clients
from service.notifications.notices import NoticeProjector
from service.notifications.tables import notices
from service.store.database import Database
from service.store.read_store import sync_engine
from tests.builders import stored_event
from tests.unit.projections.test_changes import (
    GENERAL,
    LATER,
    OBJECTION_CASE,
    REPAIR_CASE,
    REVOCATION,
    case_step,
    filing,
)
from tests.unit.projections.test_credit_file_projector import (
    BOOK,
    COMMON,
    NOW,
    SUBJECT,
    penalty,
    registered,
)

pytestmark = pytest.mark.projections
SEQ = iter(range(1, 10_000))


@pytest.fixture
def engine(database_url: str) -> Any:
    engine = sync_engine(Database.from_url(database_url))
    with engine.begin() as conn:
        for client_id in ("agency-read", "agency-late", "agency-early", "agency-other"):
            conn.execute(
                insert(api_clients).values(
                    client_id=client_id,
                    role="agency",
                    agency_name="郑州市交通运输局",
                    agency_code="11410100MB00000018",
                    authority_codes=[],
                    sectors=[],
                    secret_hash="x",
                    created_at=NOW,
                )
            )
    yield engine
    engine.dispose()


def read(engine: Engine, client_id: str, at: datetime, subject: Any = SUBJECT) -> None:
    """An access-log row (the chain's hashes are not what the projector reads)."""
    with engine.begin() as conn:
        conn.execute(
            insert(access_log).values(
                seq=next(SEQ),
                at=at,
                client_id=client_id,
                role="agency",
                agency_code="11410100MB00000018",
                subject_id=subject,
                action="status",
                purpose="行政许可",
                returned={},
                prev_hash="0" * 64,
                hash="0" * 64,
            )
        )


def project(engine: Engine, events: list[Any]) -> list[dict[str, Any]]:
    page = list(enumerate(events, start=1))
    for projector in (CreditFileProjector(BOOK), NoticeProjector()):
        with engine.begin() as conn:
            projector.apply(conn, page)
    with engine.connect() as conn:
        query = select(notices).order_by(notices.c.position, notices.c.client_id)
        return [dict(r) for r in conn.execute(query).mappings()]


def test_the_clients_that_read_the_file_while_the_record_was_on_it_are_told(engine):
    read(engine, "agency-early", NOW - timedelta(hours=1))  # before the record: not told
    read(engine, "agency-read", NOW + timedelta(hours=1))
    read(engine, "agency-read", NOW + timedelta(hours=2))  # its last read is kept
    read(engine, "staff-zhang", NOW + timedelta(hours=1))  # no API client: not sent notices
    read(engine, "agency-other", NOW + timedelta(hours=1), subject=REVOCATION)  # another subject
    read(engine, "agency-late", LATER + timedelta(hours=1))  # after the decision: not told
    events = [
        registered(),
        penalty(2, GENERAL),
        filing(RepairApplied, 3, REPAIR_CASE, GENERAL, "XF000001"),
        case_step(CaseAccepted, 4, REPAIR_CASE, GENERAL),
        case_step(RepairApproved, 5, REPAIR_CASE, GENERAL, reasons="已整改"),
    ]
    [notice] = project(engine, events)
    change = change_id(5, RECORD_REPAIRED, GENERAL)
    assert notice["notice_id"] == notice_id(change, "agency-read")
    assert (notice["client_id"], notice["kind"], notice["record_id"], notice["case_id"]) == (
        "agency-read",
        "record.repaired",
        GENERAL,
        REPAIR_CASE,
    )
    last_read = notice["last_read_at"]
    assert last_read.replace(tzinfo=last_read.tzinfo or UTC) == NOW + timedelta(hours=2)
    # Derived again from the start: the same notice, with its id.
    with engine.begin() as conn:
        conn.execute(delete(notices))
    with engine.begin() as conn:
        NoticeProjector().apply(conn, list(enumerate(events, start=1)))
        again = [dict(r) for r in conn.execute(select(notices)).mappings()]
    assert [n["notice_id"] for n in again] == [notice["notice_id"]]


def test_a_revocation_and_an_objection_revoking_the_record_tell_the_readers(engine):
    read(engine, "agency-read", NOW + timedelta(hours=1))
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
            reasons="r",
            changes={},
        ),
    ]
    [by_objection] = project(engine, events)
    assert (by_objection["kind"], by_objection["case_id"], by_objection["change_id"]) == (
        "record.revoked",
        OBJECTION_CASE,
        change_id(4, RECORD_REVOKED, GENERAL),
    )


def test_a_revocation_record_tells_without_a_case(engine):
    read(engine, "agency-read", NOW + timedelta(minutes=1))
    revocation = stored_event(
        RecordRevoked,
        **{**COMMON, "timestamp": LATER},
        originator_version=3,
        record_id=REVOCATION,
        decision_date=date(2026, 11, 19),
        source_ref="F-3",
        target_record_id=GENERAL,
        reason="复议撤销",
    )
    [notice] = project(engine, [registered(), penalty(2, GENERAL), revocation])
    assert (notice["kind"], notice["case_id"]) == ("record.revoked", None)
