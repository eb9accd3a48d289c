"""Repair and objection cases: applications from subjects, steps by the deciding agency
(谁认定、谁修复), deadlines in working days, and the applicant's view by case number and 查询码."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any
from uuid import UUID, uuid4

from pydantic import ConfigDict, Field
from sqlalchemy import Engine, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from domain.cases import (
    CONDUCT_RECORD_TYPES,
    CaseAccepted,
    CaseMaterialsReturned,
    CaseMaterialsSupplied,
    ObjectionResolved,
    RepairApproved,
    RepairDenied,
    RepairEligibility,
    RepairRevoked,
)
from domain.errors import CaseNotFound, CaseNumbersExhausted, InvalidInput, RecordNotFound
from domain.policy import PolicyBook
from domain.publication import earliest_repair_date
from domain.subject import Subject
from domain.working_days import WorkingDayCalendar
from projections.tables import cases, records
from service.access.permissions import RecordingPermit
from service.access.tables import case_number_series
from service.clock import local_today
from service.commanding.commands import Input, Name, plain
from service.commanding.credit_files import CreditFiles, coerced_changes

CASE_NUMBER = re.compile(r"[A-Za-z0-9]{6,40}")
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read over the phone
Line = Annotated[str, Field(min_length=1, max_length=500)]


class CaseCommand(Input):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class RepairApplication(CaseCommand):
    subject_code: Annotated[str, Field(min_length=5, max_length=32), plain(32)]
    record_id: UUID
    corrections: Annotated[list[Line], Field(min_length=1, max_length=20)]
    commitment_signed: bool
    evidence: Annotated[list[Line], Field(max_length=50)] = Field(default_factory=list)
    applicant: Name


class ObjectionApplication(CaseCommand):
    subject_code: Annotated[str, Field(min_length=5, max_length=32), plain(32)]
    record_id: UUID
    grounds: str
    statement: Annotated[str, Field(min_length=1, max_length=5000)]
    evidence: Annotated[list[Line], Field(max_length=50)] = Field(default_factory=list)
    applicant: Name


STEPS = {
    "accept": CaseAccepted,
    "return": CaseMaterialsReturned,
    "approve": RepairApproved,
    "deny": RepairDenied,
    "revoke-repair": RepairRevoked,
    "resolve": ObjectionResolved,
}


@dataclass(frozen=True)
class FiledCase:
    case_number: str
    query_code: str  # shown once; only its hash is kept
    position: int


class CaseNumbers:
    """案件编号: a kind's prefix, the service-local day and a six-digit serial, e.g.
    XF20261120000042. The serial comes from the day's counter row, incremented and read back in
    one statement, in a transaction of its own (`INSERT ... ON CONFLICT DO UPDATE ... RETURNING`
    on SQLite and PostgreSQL alike): the row lock makes concurrent filings, in any process, wait
    their turn, so no two are ever given one number. A serial whose filing then fails is a gap.

    Serials are sequential, so a number tells roughly how many cases of its kind were filed that
    day; it opens nothing by itself: an applicant's view needs the case's 查询码 as well."""

    SERIAL_DIGITS = 6

    def __init__(self, engine: Engine):
        self.engine = engine

    def allocate(self, prefix: str, day: date) -> str:
        series = f"{prefix}{day:%Y%m%d}"
        upsert = postgresql_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        statement = (
            upsert(case_number_series)
            .values(series=series, last_serial=1)
            .on_conflict_do_update(
                index_elements=["series"],
                set_={"last_serial": case_number_series.c.last_serial + 1},
            )
            .returning(case_number_series.c.last_serial)
        )
        with self.engine.begin() as conn:
            serial = conn.execute(statement).scalar_one()
        if serial >= 10**self.SERIAL_DIGITS:
            raise CaseNumbersExhausted(
                f"every {prefix} case number of {day.isoformat()} has been handed out; "
                "file again tomorrow"
            )
        return f"{series}{serial:0{self.SERIAL_DIGITS}d}"


def code_hash(case_number: str, query_code: str) -> str:
    return hashlib.sha256(f"{case_number}:{query_code.strip().upper()}".encode()).hexdigest()


class CaseDesk:
    def __init__(
        self, files: CreditFiles, engine: Engine, policy: PolicyBook, calendar: WorkingDayCalendar
    ):
        self.files = files
        self.engine = engine
        self.policy = policy
        self.calendar = calendar
        self.numbers = CaseNumbers(engine)

    # Applications ---------------------------------------------------------------------------
    def apply_for_repair(self, command: RepairApplication) -> FiledCase:
        subject_id, row = self._record(command.subject_code, command.record_id)
        today = self._today()
        published = (
            row.state == "active"
            and row.publish_from is not None
            and (
                row.publish_from <= today
                and (row.publish_until is None or today < row.publish_until)
            )
        )
        earliest = (
            earliest_repair_date(row.severity, row.decision_date, self.policy)
            if row.type in CONDUCT_RECORD_TYPES and row.severity
            else None
        )
        number, code = self._new_number("XF"), _new_code()
        ack = self.files.act(
            subject_id,
            lambda subject: subject.apply_for_repair(
                case_id=uuid4(),
                case_number=number,
                query_code_hash=code_hash(number, code),
                target_record_id=command.record_id,
                corrections=list(command.corrections),
                commitment_signed=command.commitment_signed,
                evidence=list(command.evidence),
                applicant=command.applicant,
                eligibility=RepairEligibility(row.type, published, earliest),
                today=today,
                recorded_at=self.files.clock.now(),
            ),
        )
        return FiledCase(number, code, ack.position)

    def file_objection(self, command: ObjectionApplication) -> FiledCase:
        subject_id, _ = self._record(command.subject_code, command.record_id)
        number, code = self._new_number("YY"), _new_code()
        ack = self.files.act(
            subject_id,
            lambda subject: subject.file_objection(
                case_id=uuid4(),
                case_number=number,
                query_code_hash=code_hash(number, code),
                target_record_id=command.record_id,
                grounds=command.grounds,
                statement=command.statement,
                evidence=list(command.evidence),
                applicant=command.applicant,
                recorded_at=self.files.clock.now(),
            ),
        )
        return FiledCase(number, code, ack.position)

    # Steps ----------------------------------------------------------------------------------
    def take_step(
        self, case_number: str, action: str, *, permit: RecordingPermit, fields: dict[str, Any]
    ) -> int:
        """A step by the deciding agency: only the authority that made the record the case
        concerns may take it (谁认定、谁修复), as the subject's stream says, not the read model
        that found the case."""
        case = self.find(case_number)
        if case is None:
            raise CaseNotFound(f"no case {case_number}")
        step = STEPS[action]

        def decide(subject: Subject) -> None:
            by = subject.deciding_authority(case["case_id"], permit.authority_codes)
            step_fields = dict(fields)
            changes = step_fields.get("changes")
            if step_fields.get("outcome") == "corrected" and isinstance(changes, dict):
                # Validated as a RecordCorrected's changes are, and stored as JSON values.
                target = subject.records[str(subject.case_target(case["case_id"]))]
                step_fields["changes"] = coerced_changes(target["type"], changes)
            subject.take_case_step(
                case["case_id"],
                step,
                by=by,
                recorded_at=self.files.clock.now(),
                today=self._today(),
                **step_fields,
            )

        return self.files.act(case["subject_id"], decide).position

    def supply_materials(self, case_number: str, query_code: str, evidence: list[str]) -> int:
        case = self.for_applicant(case_number, query_code)
        if case is None:
            raise CaseNotFound("no case with this number and query code")
        ack = self.files.act(
            case["subject_id"],
            lambda subject: subject.take_case_step(
                case["case_id"],
                CaseMaterialsSupplied,
                by="applicant",
                recorded_at=self.files.clock.now(),
                evidence=list(evidence),
            ),
        )
        return ack.position

    # Reading --------------------------------------------------------------------------------
    def find(self, case_number: str) -> dict[str, Any] | None:
        if not CASE_NUMBER.fullmatch(case_number.strip()):
            return None  # not one this service hands out (and nothing a database should see)
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    select(cases).where(cases.c.case_number == case_number.strip().upper())
                )
                .mappings()
                .first()
            )
        return dict(row) if row else None

    def for_applicant(self, case_number: str, query_code: str) -> dict[str, Any] | None:
        """The case if the query code matches; a wrong code looks exactly like no case."""
        case = self.find(case_number)
        expected = case["query_code_hash"] if case else code_hash("decoy", "decoy")
        matches = hmac.compare_digest(expected, code_hash(case_number.strip().upper(), query_code))
        return case if case and matches else None

    def view(self, case: dict[str, Any], today: date | None = None) -> dict[str, Any]:
        """The case with its current deadline (working days, Chinese holidays counted)."""
        today = today or self._today()
        deadlines = self.policy.for_day(case["filed_on"]).deadlines
        due, provisional, basis = None, False, ""
        if case["kind"] == "objection":
            due = case["filed_on"] + timedelta(days=deadlines.objection.days)
        elif case["status"] == "accepted":
            complete = _last_complete(case)
            deadline = self.calendar.add_working_days(complete, deadlines.repair_decision.days)
            case_end = self.calendar.add_working_days(case["filed_on"], deadlines.repair_case.days)
            chosen = min((deadline, case_end), key=lambda d: d.due)
            due, provisional, basis = chosen.due, chosen.provisional, chosen.basis
        elif case["status"] == "filed":
            chosen = self.calendar.add_working_days(case["filed_on"], deadlines.repair_case.days)
            due, provisional, basis = chosen.due, chosen.provisional, chosen.basis
        open_case = case["status"] in ("filed", "accepted")
        overdue_days = 0
        if open_case and due is not None and today > due:
            overdue_days = (
                self.calendar.working_days_between(due, today)[0]
                if case["kind"] == "repair"
                else (today - due).days
            )
        return {
            "case_number": case["case_number"],
            "kind": case["kind"],
            "status": case["status"],
            "record_id": case["target_record_id"],
            "filed_on": case["filed_on"],
            "accepted_on": case["accepted_on"],
            "closed_on": case["closed_on"],
            "outcome": case["outcome"],
            "missing": case["missing"],
            "steps": case["steps"],
            "due": due if open_case else None,
            "due_provisional": provisional and open_case,
            "due_basis": basis if open_case else "",
            "overdue": overdue_days > 0,
            "overdue_days": overdue_days,
        }

    def listing(
        self, *, overdue_only: bool, authority_codes: list[str] | None, limit: int = 500
    ) -> list[dict[str, Any]]:
        query = select(cases).where(cases.c.status.in_(("filed", "accepted", "returned")))
        if authority_codes is not None:
            query = query.where(cases.c.authority_code.in_(authority_codes))
        with self.engine.connect() as conn:
            rows = [
                dict(r)
                for r in conn.execute(query.order_by(cases.c.filed_on).limit(limit)).mappings()
            ]
        views = [self.view(row) for row in rows]
        return [v for v in views if v["overdue"] or not overdue_only]

    def _record(self, subject_code: str, record_id: UUID):
        subject_id = self.files.subject_id_for_any_code(subject_code)
        if subject_id is None:
            raise InvalidInput("subject_code is not a valid USCC, resident ID or plate")
        with self.engine.connect() as conn:
            row = conn.execute(
                select(records).where(
                    records.c.record_id == record_id, records.c.subject_id == subject_id
                )
            ).first()
        if row is None:
            raise RecordNotFound("this subject has no such record")
        return subject_id, row

    def _new_number(self, prefix: str) -> str:
        return self.numbers.allocate(prefix, self._today())

    def _today(self) -> date:
        return local_today(self.files.clock, self.files.zone)


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))


def _last_complete(case: dict[str, Any]) -> date:
    """The day the application was last complete: filed, or materials last supplied."""
    supplied = [
        s["on"] for s in case["steps"] if s["step"] in ("RepairApplied", "CaseMaterialsSupplied")
    ]
    return date.fromisoformat(supplied[-1]) if supplied else case["filed_on"]
