"""A repair application is weighed on the subject's stream, no longer on the credit file's read
model: for any conduct record, whatever corrections (direct or through an objection),
revocations and repairs follow, and on any day, the stream's answer is the one the read model's
row gave for the same events."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypedDict
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, select
from sqlalchemy.pool import StaticPool

from domain.cases import (
    CaseAccepted,
    ObjectionResolved,
    RepairApproved,
    RepairEligibility,
    RepairRevoked,
)
from domain.errors import DomainError
from domain.events import DishonestConductRecorded, PenaltyDecided, RecordCorrected, RecordRevoked
from domain.policy import SEVERITIES
from domain.publication import earliest_repair_date
from projections.credit_file.projector import CreditFileProjector
from projections.tables import metadata, records
from service.policy.loader import load_policy
from tests.builders import AUTHORITY, registered_enterprise

pytestmark = pytest.mark.projections
BOOK = load_policy()
TODAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, 4, tzinfo=UTC)
BY = AUTHORITY["authority_code"]


class CaseFiling(TypedDict):
    """What a repair application and an objection both name."""

    case_id: UUID
    case_number: str
    query_code_hash: str
    target_record_id: UUID
    evidence: list[str]
    applicant: str
    recorded_at: datetime


decided = st.dates(date(2019, 1, 1), TODAY)  # every policy era, up to today
declared = st.one_of(st.none(), st.dates(date(2019, 1, 1), date(2031, 1, 1)))


def read_model_eligibility(row: dict[str, Any], day: date) -> RepairEligibility:
    """How a repair application was weighed on the credit file's row."""
    published = (
        row["state"] == "active"
        and row["publish_from"] is not None
        and row["publish_from"] <= day
        and (row["publish_until"] is None or day < row["publish_until"])
    )
    details = row["details"]
    earliest = (
        earliest_repair_date(
            row["severity"],
            row["decision_date"],
            BOOK,
            procedure=details.get("procedure"),
            categories=details.get("penalty_categories") or (),
            licence_action=details.get("licence_action"),
        )
        if row["severity"]
        else None
    )
    return RepairEligibility(row["type"], published, earliest)


@st.composite
def conduct_records(draw) -> tuple[type, dict[str, Any]]:
    if draw(st.booleans()):
        return PenaltyDecided, {
            "decision_date": draw(decided),
            "severity": draw(st.sampled_from(SEVERITIES)),
            "procedure": draw(st.sampled_from(["general", "simplified"])),
            "declared_publication_end": draw(declared),
            "violation_type": "超限运输",
            "facts": "超限",
            "legal_basis": "条例",
            "penalty_categories": draw(
                st.sampled_from([["罚款"], ["警告"], ["罚款", "吊销许可证件"]])
            ),
            "licence_action": draw(st.sampled_from([None, "吊销道路运输经营许可证"])),
            "content": "罚款",
            "fine_amount": Decimal("2.0"),
        }
    return DishonestConductRecorded, {
        "decision_date": draw(decided),
        "severity": draw(st.sampled_from(SEVERITIES)),
        "conduct_type": "拒载",
        "description": "拒载乘客",
    }


def changes_of(record_type: type) -> st.SearchStrategy[dict[str, Any]]:
    """New values as a correction stores them (JSON: dates as ISO text)."""
    optional: dict[str, st.SearchStrategy[Any]] = {
        "decision_date": decided.map(date.isoformat),
        "severity": st.sampled_from(SEVERITIES),
    }
    if record_type is PenaltyDecided:
        optional["procedure"] = st.sampled_from(["general", "simplified"])
        optional["declared_publication_end"] = declared.map(lambda d: d and d.isoformat())
        optional["penalty_categories"] = st.sampled_from([["罚款"], ["通报批评"], ["责令停产停业"]])
        optional["licence_action"] = st.sampled_from([None, "暂扣道路运输证", "吊销许可证"])
    return st.fixed_dictionaries({}, optional=optional).filter(bool)


ACTIONS = ["correct", "object and correct", "object and revoke", "revoke", "repair", "unrepair"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(record=conduct_records(), data=st.data())
def test_the_stream_weighs_a_repair_as_the_read_model_did(record, data):
    record_type, fields = record
    engine = create_engine("sqlite://", poolclass=StaticPool)
    metadata.create_all(engine)
    projector = CreditFileProjector(BOOK)
    subject = registered_enterprise(uuid4(), recorded_at=NOW)
    record_id = UUID(int=1)
    subject.record(
        record_type,
        {**AUTHORITY, "source_ref": "文号", **fields},
        record_id=record_id,
        recorded_by="t",
        request_key=None,
        today=TODAY,
        recorded_at=NOW,
        policy=BOOK,
    )
    position = 0
    cases: list[UUID] = []

    def project() -> None:
        nonlocal position
        events = subject.collect_events()
        with engine.begin() as conn:
            projector.apply(conn, [(position + 1 + i, e) for i, e in enumerate(events)])
        position += len(events)

    def file(kind: str) -> UUID:
        case_id, number = uuid4(), f"XF{len(cases):06d}"
        common: CaseFiling = {
            "case_id": case_id,
            "case_number": number,
            "query_code_hash": "h",
            "target_record_id": record_id,
            "evidence": [],
            "applicant": "申请人",
            "recorded_at": NOW,
        }
        if kind == "repair":  # eligibility is what is under test: here the filing just happens
            subject.apply_for_repair(
                **common,
                corrections=["罚款已缴纳"],
                commitment_signed=True,
                eligibility=RepairEligibility(record_type.__name__, True, None),
                today=TODAY,
            )
        else:
            subject.file_objection(**common, grounds="wrong_content", statement="有误")
        cases.append(case_id)
        return case_id

    def step(case_id: UUID, event: type, **fields: Any) -> None:
        subject.take_case_step(
            case_id, event, by=BY, recorded_at=NOW, today=TODAY, policy=BOOK, **fields
        )

    def act(action: str) -> None:
        if action == "correct":
            subject.record(
                RecordCorrected,
                {
                    **AUTHORITY,
                    "source_ref": f"更正{uuid4().hex[:8]}",
                    "decision_date": TODAY,
                    "target_record_id": record_id,
                    "changes": data.draw(changes_of(record_type), label="changes"),
                    "reason": "更正",
                },
                record_id=uuid4(),
                recorded_by="t",
                request_key=None,
                today=TODAY,
                recorded_at=NOW,
                policy=BOOK,
            )
        elif action.startswith("object"):
            case_id = file("objection")
            outcome = "corrected" if action.endswith("correct") else "revoked"
            changes = data.draw(changes_of(record_type), label="changes")
            step(case_id, ObjectionResolved, outcome=outcome, reasons="核查", changes=changes)
        elif action == "revoke":
            subject.record(
                RecordRevoked,
                {
                    **AUTHORITY,
                    "source_ref": f"撤销{uuid4().hex[:8]}",
                    "decision_date": TODAY,
                    "target_record_id": record_id,
                    "reason": "复议撤销",
                },
                record_id=uuid4(),
                recorded_by="t",
                request_key=None,
                today=TODAY,
                recorded_at=NOW,
                policy=BOOK,
            )
        elif action == "repair":
            case_id = file("repair")
            step(case_id, CaseAccepted)
            step(case_id, RepairApproved, reasons="整改到位")
        else:
            approved = [c for c in cases if subject.cases[str(c)]["status"] == "approved"]
            if approved:
                step(approved[-1], RepairRevoked, reasons="材料虚假")

    def agree(after: str) -> None:
        project()
        with engine.connect() as conn:
            found = conn.execute(select(records).where(records.c.record_id == record_id))
            row = dict(found.mappings().one())
        for day in (TODAY, data.draw(st.dates(date(2019, 1, 1), date(2031, 1, 1)), label="day")):
            assert subject.repair_eligibility(record_id, day, BOOK) == (
                read_model_eligibility(row, day)
            ), (after, day, row)

    try:
        agree("recorded")
        for action in data.draw(st.lists(st.sampled_from(ACTIONS), max_size=4), label="then"):
            with contextlib.suppress(DomainError):  # refused: nothing more is recorded
                act(action)
            agree(action)
    finally:
        engine.dispose()
