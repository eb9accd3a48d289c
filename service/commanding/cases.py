"""Repair and objection cases, the command side: applications from subjects and steps by the
deciding agency (谁认定、谁修复), each decided on the subject's stream, never on a read model
(the applicant's view and the case lists are queries: projections/cases/queries.py)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any
from uuid import UUID, uuid4

from pydantic import ConfigDict, Field
from sqlalchemy import Engine, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from domain.cases import (
    CASE_NUMBER,
    CaseAccepted,
    CaseMaterialsReturned,
    CaseMaterialsSupplied,
    ObjectionResolved,
    RepairApproved,
    RepairDenied,
    RepairEligibility,
    RepairRevoked,
    code_hash,
)
from domain.errors import (
    CaseNotFound,
    CaseNumbersExhausted,
    InvalidInput,
    RecordNotFound,
    SubjectNotFound,
)
from domain.events import CONDUCT_TYPES
from domain.policy import PolicyBook
from domain.subject import APPLICANT_NAMES_DECISION, APPLICANT_NOT_VERIFIED, Subject
from service.access.permissions import RecordingPermit
from service.access.tables import case_number_series, case_streams
from service.commanding.commands import Input, Name, plain
from service.commanding.credit_files import CreditFiles, coerced_changes

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read over the phone
# How much an application takes: what the applicant pages let a person type, too.
LINE_CHARS = 500  # one correction, one material's name
MAX_CORRECTIONS, MAX_EVIDENCE, STATEMENT_CHARS, SUBJECT_CODE_CHARS = 20, 50, 5000, 32
Line = Annotated[str, Field(min_length=1, max_length=LINE_CHARS)]


class CaseCommand(Input):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


SUBJECT_CODE = "the subject's code (USCC, resident ID or plate), as the applicant knows it"
APPLIED_RECORD = "the record_id of the record concerned, as listSubjectRecords shows it"
EVIDENCE = "the materials handed in, by name (the files go to the deciding agency)"
APPLICANT = "who applies: the subject's name, or the person acting for it"


class RepairApplication(CaseCommand):
    """信用修复: a subject asks that a published record stop being published."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "subject_code": "91410105MA00000016",
                    "record_id": "9b2f7c1e-5d4a-4e8b-8c3f-2a1d0e9f8b7c",
                    "corrections": ["罚款已缴纳", "已完成整改"],
                    "commitment_signed": True,
                    "evidence": ["缴款凭证.pdf", "整改报告.pdf"],
                    "applicant": "郑州宏达道路运输有限公司",
                }
            ]
        }
    )
    subject_code: Annotated[
        str,
        Field(min_length=5, max_length=SUBJECT_CODE_CHARS),
        plain(SUBJECT_CODE_CHARS),
    ] = Field(description=SUBJECT_CODE)
    record_id: UUID = Field(description=APPLIED_RECORD)
    corrections: Annotated[list[Line], Field(min_length=1, max_length=MAX_CORRECTIONS)] = Field(
        description="what the subject did to correct the conduct and meet its obligations "
        "(fine paid, rectification done)"
    )
    commitment_signed: bool = Field(
        description="the repair commitment (信用修复承诺书) is signed: required"
    )
    evidence: Annotated[list[Line], Field(max_length=MAX_EVIDENCE)] = Field(
        default_factory=list, description=EVIDENCE
    )
    applicant: Name = Field(description=APPLICANT)


class ObjectionApplication(CaseCommand):
    """异议: a subject disputes a record, which shows 异议处理中 at once until it is resolved."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "subject_code": "91410105MA00000016",
                    "record_id": "9b2f7c1e-5d4a-4e8b-8c3f-2a1d0e9f8b7c",
                    "grounds": "wrong_content",
                    "statement": "罚款金额应为五千元，公示为两万元",
                    "evidence": ["处罚决定书.pdf"],
                    "applicant": "郑州宏达道路运输有限公司",
                }
            ]
        }
    )
    subject_code: Annotated[
        str,
        Field(min_length=5, max_length=SUBJECT_CODE_CHARS),
        plain(SUBJECT_CODE_CHARS),
    ] = Field(description=SUBJECT_CODE)
    record_id: UUID = Field(description=APPLIED_RECORD)
    grounds: str = Field(
        description="wrong_content (the record's content is wrong), wrong_period (its "
        "publication period is wrong) or wrong_repair (a repair decision on it is wrong)"
    )
    statement: Annotated[str, Field(min_length=1, max_length=STATEMENT_CHARS)] = Field(
        description="what is wrong, in the applicant's words"
    )
    evidence: Annotated[list[Line], Field(max_length=MAX_EVIDENCE)] = Field(
        default_factory=list, description=EVIDENCE
    )
    applicant: Name = Field(description=APPLICANT)


STEPS = {
    "accept": CaseAccepted,
    "return": CaseMaterialsReturned,
    "approve": RepairApproved,
    "deny": RepairDenied,
    "revoke-repair": RepairRevoked,
    "resolve": ObjectionResolved,
}


@dataclass(frozen=True)
class ApplicantFile:
    """What an applicant who named a decision on the subject's file may file on: the subject
    (its name and masked code, to confirm it is theirs) and its conduct records published today,
    each with its repair eligibility (from when repair may be applied for)."""

    subject_id: UUID
    name: str
    code_masked: str
    records: dict[UUID, RepairEligibility]


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


class CaseStreams:
    """Which subject's stream holds a case number (the `case_streams` table): how a step finds
    the stream to decide on. The number is noted before its filing is appended, so a step right
    after a filing finds it; a number whose filing failed names a stream without that case."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def note(self, case_number: str, subject_id: UUID) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                case_streams.insert().values(case_number=case_number, subject_id=subject_id)
            )

    def subject_of(self, case_number: str) -> UUID | None:
        """The subject whose stream may hold this case; None for a number never handed out."""
        if not CASE_NUMBER.fullmatch(case_number):
            return None  # not one this service hands out (and nothing a database should see)
        with self.engine.connect() as conn:
            return conn.scalar(
                select(case_streams.c.subject_id).where(case_streams.c.case_number == case_number)
            )


class CaseDesk:
    def __init__(self, files: CreditFiles, engine: Engine, policy: PolicyBook):
        self.files = files
        self.policy = policy
        self.numbers = CaseNumbers(engine)
        self.streams = CaseStreams(engine)

    # Applications ---------------------------------------------------------------------------
    def applicant_file(self, subject_code: str, decision_number: str) -> ApplicantFile:
        """The applicant's side of filing without an account (the applicant pages): the
        subject's code and the decision number (决定书文号) of a record on its file, as the
        decision served on the subject bears it. A number on none of its records, and a code
        the service does not know, are refused alike (`applicant-names-a-decision-on-file`),
        so the answer never tells whether a subject is on file."""
        subject_id = self._subject_id(subject_code)
        try:
            subject = self.files.subject(subject_id)
        except SubjectNotFound:
            raise _not_verified() from None
        subject.record_by_decision_number(decision_number)
        return ApplicantFile(
            subject_id,
            subject.name,
            subject.code_masked,
            subject.published_conduct(self._today(), self.policy),
        )

    def apply_for_repair(
        self, command: RepairApplication, *, decision_number: str | None = None
    ) -> FiledCase:
        """Eligibility (published today, the minimum publication period over) is the record's as
        the subject's stream has it, corrections included. With `decision_number` (the
        applicant pages), the stream must also hold a record with that number, as
        `applicant_file` checks it."""
        today = self._today()

        def file(subject: Subject, number: str, code: str) -> None:
            subject.apply_for_repair(
                case_id=uuid4(),
                case_number=number,
                query_code_hash=code_hash(number, code),
                target_record_id=command.record_id,
                corrections=list(command.corrections),
                commitment_signed=command.commitment_signed,
                evidence=list(command.evidence),
                applicant=command.applicant,
                eligibility=subject.repair_eligibility(command.record_id, today, self.policy),
                today=today,
                recorded_at=self.files.clock.now(),
            )

        return self._file("XF", command.subject_code, command.record_id, file, decision_number)

    def file_objection(
        self, command: ObjectionApplication, *, decision_number: str | None = None
    ) -> FiledCase:
        def file(subject: Subject, number: str, code: str) -> None:
            subject.file_objection(
                case_id=uuid4(),
                case_number=number,
                query_code_hash=code_hash(number, code),
                target_record_id=command.record_id,
                grounds=command.grounds,
                statement=command.statement,
                evidence=list(command.evidence),
                applicant=command.applicant,
                recorded_at=self.files.clock.now(),
            )

        return self._file("YY", command.subject_code, command.record_id, file, decision_number)

    def _file(
        self,
        prefix: str,
        subject_code: str,
        record_id: UUID,
        file: Callable[[Subject, str, str], None],
        decision_number: str | None,
    ) -> FiledCase:
        """Number a filing and let the subject decide on it. The number is handed out (and its
        stream noted) once the stream shows the record, and kept if a lost race re-runs the
        decision on the fresh stream."""
        subject_id = self._subject_id(subject_code)
        numbered: list[tuple[str, str]] = []

        def decide(subject: Subject) -> None:
            if decision_number is not None:
                subject.record_by_decision_number(decision_number)
            if str(record_id) not in subject.records:
                raise RecordNotFound("this subject has no such record")
            if not numbered:
                number = self.numbers.allocate(prefix, self._today())
                self.streams.note(number, subject_id)
                numbered.append((number, _new_code()))
            file(subject, *numbered[0])

        try:
            ack = self.files.act(subject_id, decide)
        except SubjectNotFound:
            if decision_number is not None:
                raise _not_verified() from None
            raise RecordNotFound("this subject has no such record") from None
        number, code = numbered[0]
        return FiledCase(number, code, ack.position)

    def _subject_id(self, subject_code: str) -> UUID:
        subject_id = self.files.subject_id_for_any_code(subject_code)
        if subject_id is None:
            raise InvalidInput("subject_code is not a valid USCC, resident ID or plate")
        return subject_id

    # Steps ----------------------------------------------------------------------------------
    def take_step(
        self, case_number: str, action: str, *, permit: RecordingPermit, fields: dict[str, Any]
    ) -> int:
        """A step by the deciding agency: only the authority that made the record the case
        concerns may take it (谁认定、谁修复). The case, its status and the record's authority
        are the subject's stream's: a step right after the one before it needs no read model."""
        number = case_number.strip().upper()
        subject_id = self.streams.subject_of(number)
        if subject_id is None:
            raise CaseNotFound(f"no case {case_number}")
        step = STEPS[action]

        def decide(subject: Subject) -> None:
            try:
                case_id = subject.case_numbered(number)
            except CaseNotFound:
                raise CaseNotFound(f"no case {case_number}") from None
            by = subject.deciding_authority(case_id, permit.authority_codes)
            step_fields = dict(fields)
            changes = step_fields.get("changes")
            if step_fields.get("outcome") == "corrected" and isinstance(changes, dict):
                # Validated as a RecordCorrected's changes are, and stored as JSON values.
                target = subject.records[str(subject.case_target(case_id))]
                step_fields["changes"] = coerced_changes(target["type"], changes)
            subject.take_case_step(
                case_id,
                step,
                by=by,
                recorded_at=self.files.clock.now(),
                today=self._today(),
                policy=self.policy,
                **step_fields,
            )

        return self.files.act(subject_id, decide).position

    def supply_materials(self, case_number: str, query_code: str, evidence: list[str]) -> int:
        """The applicant's own step: the case must hold the hash of the query code given, as its
        stream says. A wrong code is refused exactly as an unknown case is."""
        number = case_number.strip().upper()
        subject_id = self.streams.subject_of(number)
        if subject_id is None:
            raise CaseNotFound("no case with this number and query code")
        ack = self.files.act(
            subject_id,
            lambda subject: subject.take_case_step(
                subject.applicant_case(number, code_hash(number, query_code)),
                CaseMaterialsSupplied,
                by="applicant",
                recorded_at=self.files.clock.now(),
                evidence=list(evidence),
            ),
        )
        return ack.position

    def case_repair_eligibility(
        self, case_number: str, query_code: str
    ) -> RepairEligibility | None:
        """For the applicant's progress page: the repair eligibility of the record a case
        concerns, as its stream has it today (when repair may first be applied for); None if
        that record is no conduct record (nothing to repair). Opens only with the case's 查询码,
        and a wrong one is refused as an unknown case is."""
        number = case_number.strip().upper()
        subject_id = self.streams.subject_of(number)
        if subject_id is None:
            raise CaseNotFound("no case with this number and query code")
        subject = self.files.subject(subject_id)
        target = subject.case_target(subject.applicant_case(number, code_hash(number, query_code)))
        if subject.records[str(target)]["type"] not in CONDUCT_TYPES:
            return None
        return subject.repair_eligibility(target, self._today(), self.policy)

    def _today(self) -> date:
        return self.files.clock.today()


def _not_verified() -> RecordNotFound:
    """The refusal of an unknown subject: the one `Subject.record_by_decision_number` gives."""
    return RecordNotFound(APPLICANT_NOT_VERIFIED, rule=APPLICANT_NAMES_DECISION)


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
