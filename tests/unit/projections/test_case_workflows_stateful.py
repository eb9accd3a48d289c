"""Repair (信用修复) and objection (异议) cases under random sequences of filings and steps, in
and out of order: the subject aggregate decides, its events go through the credit-file and case
projectors as the runner would apply them, and after every step the aggregate, the rows and a
small model of the documented workflow must agree."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from sqlalchemy import create_engine, select
from sqlalchemy.pool import StaticPool

from domain.cases import (
    CaseAccepted,
    CaseMaterialsReturned,
    CaseMaterialsSupplied,
    ObjectionResolved,
    RepairApproved,
    RepairDenied,
    RepairEligibility,
    RepairRevoked,
)
from domain.errors import DomainError, RecordNotFound, RuleViolated
from domain.events import DishonestConductRecorded, PenaltyDecided, RatingIssued, RecordRevoked
from domain.publication import earliest_repair_date
from projections.cases.projector import CaseProjector
from projections.credit_file.projector import CreditFileProjector
from projections.credit_file.queries import publication_state
from projections.runner import Projector
from projections.tables import cases, metadata, records
from service.policy.loader import load_policy
from service.settings import DEFAULT_TIMEZONE
from tests.builders import AUTHORITY, registered_enterprise

pytestmark = pytest.mark.projections
BOOK = load_policy()
TODAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, 4, tzinfo=UTC)
ZONE = ZoneInfo(DEFAULT_TIMEZONE)

# The documented workflow (docs/api.md, Cases): (kind, status) -> {step: the status after it}.
WORKFLOW = {
    ("repair", "filed"): {"return": "returned", "accept": "accepted"},
    ("repair", "returned"): {"supply": "filed"},
    ("repair", "accepted"): {"approve": "approved", "deny": "denied"},
    ("repair", "approved"): {"revoke-repair": "revoked"},
    ("objection", "filed"): {"return": "returned", "accept": "accepted", "resolve": "resolved"},
    ("objection", "returned"): {"supply": "filed"},
    ("objection", "accepted"): {"resolve": "resolved"},
}
OPEN = ("filed", "returned", "accepted")
FINAL = ("approved", "denied", "revoked", "resolved")
STEPS = {
    "return": (CaseMaterialsReturned, "CaseMaterialsReturned"),
    "supply": (CaseMaterialsSupplied, "CaseMaterialsSupplied"),
    "accept": (CaseAccepted, "CaseAccepted"),
    "approve": (RepairApproved, "RepairApproved"),
    "deny": (RepairDenied, "RepairDenied"),
    "revoke-repair": (RepairRevoked, "RepairRevoked"),
    "resolve": (ObjectionResolved, "ObjectionResolved"),
}
# A correction through an objection changes one field the record's type has.
CORRECTIONS = {
    "PenaltyDecided": {"facts": "更正后的事实"},
    "DishonestConductRecorded": {"description": "更正后的描述"},
    "RatingIssued": {"grade": "B"},
}


@dataclass
class Case:
    number: str
    kind: str
    target: str
    status: str = "filed"
    steps: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    accepted: bool = False
    outcome: str | None = None


@dataclass
class Record:
    type: str
    repaired: bool = False
    revoked: bool = False


class CaseWorkflowMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.engine = create_engine("sqlite://", poolclass=StaticPool)
        metadata.create_all(self.engine)  # the metadata the migrations are written from
        self.projectors: list[Projector] = [CreditFileProjector(BOOK), CaseProjector(ZONE)]
        self.position = 0
        self.subject = registered_enterprise(uuid4(), recorded_at=NOW)
        self.records: dict[str, Record] = {}
        for n, (event_type, fields) in enumerate(
            [
                (PenaltyDecided, _penalty()),
                (DishonestConductRecorded, _conduct()),
                (RatingIssued, _rating()),
            ]
        ):
            outcome = self.subject.record(
                event_type,
                {**AUTHORITY, "source_ref": f"文号{n}", **fields},
                record_id=UUID(int=n + 1),
                recorded_by="t",
                request_key=None,
                today=TODAY,
                recorded_at=NOW,
                policy=BOOK,
            )
            self.records[str(outcome.record_id)] = Record(event_type.__name__)
        self._project()
        self.cases: dict[str, Case] = {}  # by case id
        self.case_ids: list[str] = []

    def teardown(self):
        self.engine.dispose()

    # The runner's part: pending events, with the next positions, through both projectors.
    def _project(self) -> int:
        events = self.subject.collect_events()
        batch = [(self.position + 1 + i, event) for i, event in enumerate(events)]
        self.position += len(batch)
        if batch:
            with self.engine.begin() as conn:
                for projector in self.projectors:
                    projector.apply(conn, batch)
        return len(batch)

    def _row(self, record_id: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            found = conn.execute(select(records).where(records.c.record_id == UUID(record_id)))
            return dict(found.mappings().one())

    def _refused_without_a_trace(self, act, expected: type[DomainError]) -> None:
        before = copy.deepcopy(self.subject.__dict__)
        with pytest.raises(expected):
            act()
        assert self.subject.__dict__ == before, "a refused command changed the aggregate"
        assert not self._project(), "a refused command left an event to store"

    def _open_case_on(self, record_id: str) -> Case | None:
        found = [c for c in self.cases.values() if c.target == record_id and c.status in OPEN]
        assert len(found) <= 1, "two open cases for one record"
        return found[0] if found else None

    def _filed(self, case_id: UUID, kind: str, record_id: str, number: str, first: str) -> None:
        assert self._project() == 1
        self.cases[str(case_id)] = Case(number, kind, record_id, steps=[first])
        self.case_ids.append(str(case_id))

    # Filing ---------------------------------------------------------------------------------
    # One rule that draws what happens next: Hypothesis switches a random subset of a machine's
    # rules off in each run, which here would leave most runs filing cases and never deciding.
    @rule(data=st.data())
    def something_happens(self, data):
        what = data.draw(
            st.sampled_from(["apply for repair", "object", "step", "step", "step", "revoke"]),
            label="what happens",
        )
        if what == "step":
            self._take_a_step(data)
            return
        record_id = data.draw(st.sampled_from(sorted(self.records)), label="record")
        if what == "apply for repair":
            self._apply_for_repair(record_id)
        elif what == "object":
            self._file_objection(record_id)
        else:
            self._the_deciding_agency_revokes_the_record(record_id)

    def _apply_for_repair(self, record_id: str) -> None:
        record = self.records[record_id]
        row = self._row(record_id)
        published = row["state"] == "active" and publication_state(row, TODAY) == "published"
        eligibility = RepairEligibility(
            record.type,
            published,
            earliest_repair_date(row["severity"], row["decision_date"], BOOK)
            if row["severity"]
            else None,
        )
        case_id, number = UUID(int=1000 + len(self.case_ids)), f"XF{len(self.case_ids):06d}"

        def act():
            self.subject.apply_for_repair(
                case_id=case_id,
                case_number=number,
                query_code_hash="h",
                target_record_id=UUID(record_id),
                corrections=["罚款已缴纳"],
                commitment_signed=True,
                evidence=[],
                applicant="申请人",
                eligibility=eligibility,
                today=TODAY,
                recorded_at=NOW,
            )

        if (
            record.type == "RatingIssued"
            or self._open_case_on(record_id)
            or record.repaired
            or record.revoked
        ):
            self._refused_without_a_trace(act, RuleViolated)
        else:
            act()
            self._filed(case_id, "repair", record_id, number, "RepairApplied")

    def _file_objection(self, record_id: str) -> None:
        case_id, number = UUID(int=1000 + len(self.case_ids)), f"YY{len(self.case_ids):06d}"

        def act():
            self.subject.file_objection(
                case_id=case_id,
                case_number=number,
                query_code_hash="h",
                target_record_id=UUID(record_id),
                grounds="wrong_content",
                statement="记录有误",
                evidence=[],
                applicant="申请人",
                recorded_at=NOW,
            )

        if self._open_case_on(record_id) or self.records[record_id].revoked:
            self._refused_without_a_trace(act, RuleViolated)
        else:
            act()
            self._filed(case_id, "objection", record_id, number, "ObjectionFiled")

    # Steps, in and out of order ---------------------------------------------------------------
    def _take_a_step(self, data) -> None:
        outcome = data.draw(st.sampled_from(["corrected", "revoked", "upheld"]), label="outcome")
        known = st.sampled_from(self.case_ids) if self.case_ids else st.nothing()
        case_id = data.draw(st.one_of(known, known, known, st.none()), label="case")
        if case_id is None:  # a case this subject does not have
            self._refused_without_a_trace(
                lambda: self.subject.take_case_step(
                    uuid4(), CaseAccepted, by=AUTHORITY["authority_code"], recorded_at=NOW
                ),
                RecordNotFound,
            )
            return
        case = self.cases[case_id]
        # Mostly a step the workflow allows now (so cases run their whole course), else any.
        allowed = sorted(WORKFLOW.get((case.kind, case.status), {}))
        steps = st.sampled_from(sorted(STEPS))
        action = data.draw(
            st.one_of(st.sampled_from(allowed), st.sampled_from(allowed), steps)
            if allowed
            else steps,
            label="step",
        )
        step, name = STEPS[action]
        fields: dict[str, Any] = {
            "return": {"missing": [f"材料{len(case.steps)}"]},
            "supply": {"evidence": ["补正.pdf"]},
            "resolve": {
                "outcome": outcome,
                "reasons": "经核查",
                "changes": CORRECTIONS[self.records[case.target].type],
            },
        }.get(action, {"reasons": "经审核"} if action != "accept" else {})

        def act():
            by = "applicant" if action == "supply" else AUTHORITY["authority_code"]
            self.subject.take_case_step(
                UUID(case_id),
                step,
                by=by,
                recorded_at=NOW,
                today=TODAY,
                policy=BOOK,
                **copy.deepcopy(fields),
            )

        after = WORKFLOW.get((case.kind, case.status), {}).get(action)
        event(f"{case.kind} {case.status}: {action} {'refused' if after is None else 'taken'}")
        if after is None:
            self._refused_without_a_trace(act, RuleViolated)
            return
        act()
        assert self._project() == 1
        case.status, case.steps = after, [*case.steps, name]
        target = self.records[case.target]
        if action == "return":
            case.missing = fields["missing"]
        elif action == "supply":
            case.missing = []
        elif action == "accept":
            case.accepted = True
        elif action == "approve":
            target.repaired = True
        elif action == "revoke-repair":
            target.repaired = False
        elif action == "resolve" and outcome == "revoked":
            target.revoked = True
        if after in FINAL:
            case.outcome = outcome if action == "resolve" else after

    def _the_deciding_agency_revokes_the_record(self, record_id: str) -> None:
        """A revocation by the authority itself (e.g. on administrative review), whatever
        case may be open for the record."""

        def act():
            self.subject.record(
                RecordRevoked,
                {
                    **AUTHORITY,
                    "source_ref": f"撤销决定{uuid4().hex[:8]}",
                    "decision_date": TODAY,
                    "target_record_id": UUID(record_id),
                    "reason": "复议撤销",
                },
                record_id=uuid4(),
                recorded_by="t",
                request_key=None,
                today=TODAY,
                recorded_at=NOW,
                policy=BOOK,
            )

        if self.records[record_id].revoked:
            self._refused_without_a_trace(act, RuleViolated)
        else:
            act()
            assert self._project() == 1
            self.records[record_id].revoked = True

    # What must hold after every step --------------------------------------------------------
    @invariant()
    def the_aggregate_agrees_with_the_workflow(self):
        open_targets = [c["target"] for c in self.subject.cases.values() if c["status"] in OPEN]
        assert len(open_targets) == len(set(open_targets)), "two open cases for one record"
        assert {cid: c["status"] for cid, c in self.subject.cases.items()} == {
            cid: c.status for cid, c in self.cases.items()
        }
        for record_id, record in self.records.items():
            held = self.subject.records[record_id]
            assert (held.get("repaired", False), held["revoked"]) == (
                record.repaired,
                record.revoked,
            )
            self._open_case_on(record_id)

    @invariant()
    def the_case_rows_are_a_fold_of_the_events(self):
        with self.engine.connect() as conn:
            rows = {str(r["case_id"]): r for r in conn.execute(select(cases)).mappings()}
        assert set(rows) == set(self.cases)
        for case_id, case in self.cases.items():
            row = rows[case_id]
            assert (row["case_number"], row["kind"], str(row["target_record_id"])) == (
                case.number,
                case.kind,
                case.target,
            )
            assert (row["status"], row["outcome"], row["missing"]) == (
                case.status,
                case.outcome,
                case.missing,
            )
            assert [s["step"] for s in row["steps"]] == case.steps
            assert (row["accepted_on"] is not None) == case.accepted
            assert (row["closed_on"] is not None) == (case.status in FINAL)

    @invariant()
    def a_repaired_record_is_not_published_and_a_restored_one_is(self):
        for record_id, record in self.records.items():
            row = self._row(record_id)
            expected = "revoked" if record.revoked else "repaired" if record.repaired else "active"
            assert row["state"] == expected, (record_id, record)
            published = publication_state(row, TODAY) == "published"
            assert published == (expected == "active"), (record_id, row["state"])
            objection = [
                c.number
                for c in self.cases.values()
                if c.target == record_id and c.kind == "objection" and c.status in OPEN
            ]
            assert row["objection_case"] == (objection[0] if objection else None)


def _penalty() -> dict[str, Any]:
    return {
        "decision_date": date(2026, 6, 1),
        "severity": "general",
        "procedure": "general",
        "violation_type": "超限运输",
        "facts": "超限",
        "legal_basis": "条例",
        "penalty_categories": ["罚款"],
        "content": "罚款",
        "fine_amount": Decimal("2.0"),
    }


def _conduct() -> dict[str, Any]:
    return {
        "decision_date": date(2026, 5, 1),
        "severity": "general",
        "conduct_type": "拒载",
        "description": "拒载乘客",
    }


def _rating() -> dict[str, Any]:
    return {
        "decision_date": date(2026, 3, 1),
        "scheme": "road_transport_quality",
        "grade": "AA",
        "valid_from": date(2026, 3, 1),
        "valid_until": date(2027, 3, 1),
    }


CaseWorkflowMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=40,
    derandomize=True,  # the same sequences on every run
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_cases_under_random_steps = CaseWorkflowMachine.TestCase
