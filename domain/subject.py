"""The credit subject aggregate: one 一户式 credit file, append-only, guarding its own rules."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal
from functools import cache, singledispatch
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.cases import (
    OBJECTION_GROUNDS,
    OBJECTION_OUTCOMES,
    OPEN_STATUSES,
    TRANSITIONS,
    CaseEvent,
    CaseMaterialsSupplied,
    ObjectionFiled,
    ObjectionResolved,
    RepairApplied,
    RepairApproved,
    RepairDenied,
    RepairEligibility,
    RepairRevoked,
    decision_number_key,
)
from domain.codes import SUBJECT_KIND_KNOWN
from domain.credit_status import RecordFact, red_list_obstacles
from domain.errors import (
    CaseNotFound,
    DuplicateRecordConflict,
    IdempotencyKeyReused,
    InvalidInput,
    NotInPolicy,
    NotRecordOwner,
    RecordNotFound,
    Rule,
    RuleViolated,
)
from domain.events import (
    AMENDMENT_TYPES,
    CONDUCT_TYPES,
    IDENTITY_FIELDS,
    LIST_TYPES,
    RECORD_EVENT_TYPES,
    RULE_INPUT_TYPES,
    SUBJECT_KINDS,
    LicenceGranted,
    ListEntered,
    ListExited,
    RecordCorrected,
    RecordEvent,
    RecordRevoked,
    SubjectRegistered,
)
from domain.policy import SEVERITIES, PolicyBook
from domain.publication import (
    conduct_fields,
    earliest_repair_date,
    record_window,
    window_when_ended,
)

# The values of a record that its own rules read (decision date, validity), kept in the
# aggregate so that a correction is checked as the corrected record would be.
RULED_DATES = ("decision_date", "valid_from", "valid_until")
# A rating's scheme, grade and score are ruled too: the policy in force on its decision date
# names the scheme and its grades, and its bands say which grade a score has.
RULED_FIELDS = (*RULED_DATES, "scheme", "grade", "score")
# What a conduct record's publication window follows besides its decision date, kept beside the
# ruled values so that a repair application is checked against the window the record has now
# (corrections included), from the stream alone.
WINDOW_FIELDS = (
    "severity",
    "procedure",
    "declared_publication_end",
    "penalty_categories",
    "licence_action",
)
# What a list entry's membership follows, kept beside them so that the red-list criteria are
# judged from the stream alone (is the subject on the black list that day?); the basis it rests
# on is kept by its RestsOn trait.
LIST_FIELDS = ("list_type", "planned_end")


class RecordOutcome(NamedTuple):
    """What `Subject.record` did: a new record, or the existing one it matched. A named tuple,
    made at every record (a frozen dataclass's constructor costs twice as much)."""

    record_id: UUID
    version: int
    created: bool
    replayed_request: bool  # the same Idempotency-Key and request were seen before


# Who sent a record and how it is stored, as opposed to what it says.
PROVENANCE_FIELDS = frozenset(
    {"originator_id", "originator_version", "timestamp", "record_id", "recorded_by", "request_key"}
)


# Which records' digests a rebuild of a subject computes: every record's (None), or only those
# whose natural key is among these (`digests_only_for`).
_DIGESTS_FOR: ContextVar[Collection[str] | None] = ContextVar("digests_for", default=None)


@contextmanager
def digests_only_for(keys: Collection[str]) -> Iterator[None]:
    """Within this block, a subject rebuilt from its events computes the content digest only of
    its records whose natural key is among `keys` (and of those recorded under a request's
    Idempotency-Key); the others' digest is None. So does a record recorded in the block. A
    digest tells a repeat of a decision number from a different record under it, so a batch of
    rows needs only the digests of the decision numbers its rows carry (to rebuild), or carry
    twice (to record), and the digests were two fifths of the instructions of rebuilding a
    subject and a twelfth of an import's. Such a subject decides those rows; `lacks_digest`
    says whether it can decide another, and `record` refuses to compare against a missing
    digest. Snapshots are taken of subjects read whole."""
    token = _DIGESTS_FOR.set(keys)
    try:
        yield
    finally:
        _DIGESTS_FOR.reset(token)


def content_digest(fields: dict[str, Any]) -> str:
    """A digest of a record's content, to tell a retry from a different record. A record
    without a sector digests as records did before sectors existed (subjects' snapshots keep
    those digests)."""
    content = {
        k: v
        for k, v in fields.items()
        if k not in PROVENANCE_FIELDS and not (k == "sector" and v is None)
    }
    encoded = json.dumps(content, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(encoded.encode()).hexdigest()


def natural_key(record_type: str, authority_code: str, source_ref: str) -> str:
    """The same decision number from the same authority is the same record."""
    return f"{record_type}|{authority_code}|{source_ref.strip()}"


def _decision_number_of(key: str) -> str:
    """The decision number (source_ref) a natural key ends with: neither a record type nor an
    authority code holds a "|"."""
    return key.split("|", 2)[2]


# The rules a subject's commands are refused under, by their stable names (docs/api.md).
SUBJECT_NAMED = Rule("subject-has-name")
IDEMPOTENCY_KEY_ONE_REQUEST = Rule("idempotency-key-one-request")
ONE_RECORD_PER_DECISION = Rule("one-record-per-decision-number")
CLOSED_ONCE = Rule("record-closed-once")
ONE_OPEN_ENTRY_PER_LIST = Rule("one-open-entry-per-list")
BASIS_STANDS = Rule("basis-record-stands")
RED_LIST_CRITERIA_MET = Rule("red-list-criteria-met")  # 守信激励: no serious dishonesty
REVOCATION_FINAL = Rule("revocation-is-final")
CORRECTIONS_NOT_CORRECTED = Rule("corrections-are-not-corrected")
OWNER_ACTS = Rule("owner-acts-on-record")  # 谁认定、谁修复
CASE_OF_SUBJECT = Rule("case-of-this-subject")
CASE_KNOWN_BY_NUMBER = Rule("case-known-by-number")
RECORD_OF_SUBJECT = Rule("record-of-this-subject")
RECORD_SECTOR_OF_SUBJECT = Rule("record-sector-of-subject")
APPLICANT_NAMES_DECISION = Rule("applicant-names-a-decision-on-file")
# One refusal for a decision number on no record of the file and for a subject the service does
# not know, so that an applicant's answer never tells whether a code is on file.
APPLICANT_NOT_VERIFIED = "no record of this subject has this decision number"
REFERENCED_TYPE = Rule("referenced-record-type")
CORRECTION_CHANGES_SOMETHING = Rule("correction-changes-something")
CORRECTION_CHANGES_CHANGEABLE = Rule("correction-changes-changeable-fields")
REPAIRED_ONCE = Rule("record-repaired-once")
REPAIR_OF_PUBLISHED = Rule("repair-of-published-record")
REPAIR_AFTER_MINIMUM_PERIOD = Rule("repair-after-minimum-period")
REPAIR_STATES_CORRECTIONS = Rule("repair-states-corrections")
REPAIR_COMMITMENT_SIGNED = Rule("repair-commitment-signed")
OBJECTION_TO_STANDING_RECORD = Rule("objection-to-standing-record")
OBJECTION_GROUNDS_KNOWN = Rule("objection-grounds-known")
OBJECTION_STATES_WHAT_IS_WRONG = Rule("objection-states-what-is-wrong")
OBJECTION_OUTCOME_KNOWN = Rule("objection-outcome-known")
CASE_STEP_IN_ORDER = Rule("case-step-in-order")
ONE_OPEN_CASE_PER_RECORD = Rule("one-open-case-per-record")


class Subject(Aggregate):
    """信用主体: an enterprise, practitioner, vehicle or public body, and its credit file."""

    # No explicit TOPIC here: the library would then demand one on every nested class. The
    # events carry stable topics; if this class ever moves, register its old topic.
    INITIAL_VERSION = 1
    # The version of the state snapshots hold. v2: each record keeps its authority code and
    # its ruled values (RULED_FIELDS). v3: a rating's scheme and grade among them, each
    # record's WINDOW_FIELDS, each case's query code hash. v4: a rating's score among them, a
    # penalty's categories and licence action among its WINDOW_FIELDS, each list entry's
    # LIST_FIELDS and the record it rests on (its basis), and the day each closed record ended.
    class_version = 4

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """A v1 snapshot lacks what only the stream knows (each record's ruled values): it is
        marked, and the ledger rebuilds such a subject from its events instead."""
        state[INCOMPLETE] = True

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        """A v2 snapshot lacks its ratings' scheme and grade among their ruled values, each
        record's window fields and each case's query code hash: rebuilt from the events, as a
        v1 one is."""
        state[INCOMPLETE] = True

    @staticmethod
    def upcast_v3_v4(state: dict[str, Any]) -> None:
        """A v3 snapshot lacks its ratings' scores, its penalties' categories and licence
        actions, its list entries' list fields and bases and its records' end days, which a
        window, a correction of a rating, a red-list entry and a lapsed list entry now follow:
        rebuilt from the events, as a v1 one is."""
        state[INCOMPLETE] = True

    # State is kept JSON-friendly (str keys, plain dicts) so snapshots encode as they are.
    def __init__(
        self,
        kind: str,
        code: str,
        code_masked: str,
        name: str,
        region_code: str,
        sectors: list[str],
        recorded_by: str,
        phone: str | None = None,
        address: str | None = None,
    ):
        self.kind = kind
        self.code = code  # sealed for individuals: the service holds the key, not the domain
        self.code_masked = code_masked
        self.phone = phone
        self.address = address
        self.name = name
        self.region_code = region_code
        self.sectors = list(sectors)
        self.records: dict[str, dict[str, Any]] = {}
        self.natural_keys: dict[str, str] = {}
        self.request_keys: dict[str, str] = {}
        self.open_lists: dict[str, str] = {}
        self.cases: dict[str, dict[str, Any]] = {}

    @classmethod
    def register(
        cls,
        *,
        subject_id: UUID,
        kind: str,
        code: str,
        code_masked: str,
        name: str,
        region_code: str,
        sectors: list[str],
        recorded_by: str,
        recorded_at: datetime,
        phone: str | None = None,
        address: str | None = None,
    ) -> Subject:
        if kind not in SUBJECT_KINDS:
            raise InvalidInput(f"unknown subject kind {kind!r}", rule=SUBJECT_KIND_KNOWN)
        if not name.strip():
            raise InvalidInput("a subject needs a name", rule=SUBJECT_NAMED)
        return cls._create(
            SubjectRegistered,
            id=subject_id,
            kind=kind,
            code=code,
            code_masked=code_masked,
            phone=phone,
            address=address,
            name=name.strip(),
            region_code=region_code,
            sectors=sorted(set(sectors)),
            recorded_by=recorded_by,
            timestamp=recorded_at,
        )

    def record(
        self,
        record_type: type[RecordEvent],
        fields: dict[str, Any],
        *,
        record_id: UUID,
        recorded_by: str,
        request_key: str | None,
        today: date,
        recorded_at: datetime,
        policy: PolicyBook,
    ) -> RecordOutcome:
        """Record one fact, unless it is already here. Checks the named rules first, those of
        `policy` among them (a rating's scheme and grade)."""
        self._require_complete_state()
        fields = _complete(
            record_type, {**fields, "recorded_by": recorded_by, "request_key": request_key}
        )
        scoped_request = f"{recorded_by}|{request_key}" if request_key else None
        key = natural_key(record_type.__name__, fields["authority_code"], fields["source_ref"])
        # The digest compares this record with one it may repeat; a new record keeps it for
        # later ones, unless recorded under `digests_only_for` without its key among them.
        wanted = _DIGESTS_FOR.get()
        digest = (
            content_digest(fields)
            if scoped_request or wanted is None or key in wanted or key in self.natural_keys
            else None
        )

        if scoped_request and scoped_request in self.request_keys:
            existing = self.records[self.request_keys[scoped_request]]
            if existing["digest"] != digest or existing["type"] != record_type.__name__:
                raise IdempotencyKeyReused(
                    "this Idempotency-Key was used before with a different request",
                    rule=IDEMPOTENCY_KEY_ONE_REQUEST,
                )
            return RecordOutcome(UUID(existing["id"]), existing["version"], False, True)

        if key in self.natural_keys:
            existing = self.records[self.natural_keys[key]]
            if existing["digest"] is None:  # never a conflict by default: a caller's mistake
                raise RuntimeError(
                    f"record {existing['id']} was rebuilt without its digest; rebuild the "
                    f"subject with it (digests_only_for) before deciding {key!r}"
                )
            if existing["digest"] != digest:
                raise DuplicateRecordConflict(
                    f"{record_type.__name__} {fields['source_ref']!r} from authority "
                    f"{fields['authority_code']} is already recorded with different content; "
                    "record a RecordCorrected to change it",
                    rule=ONE_RECORD_PER_DECISION,
                )
            return RecordOutcome(UUID(existing["id"]), existing["version"], False, False)

        self._check_rules(record_type, fields, today, policy)
        self._digest_of_next_record = digest  # the mutator would compute the same again
        try:
            self._trigger_record(record_type, record_id, recorded_at, fields)
        finally:
            self.__dict__.pop("_digest_of_next_record", None)
        return RecordOutcome(record_id, self.version, True, False)

    def _trigger_record(
        self,
        record_type: type[RecordEvent],
        record_id: UUID,
        recorded_at: datetime,
        fields: dict[str, Any],
    ) -> None:
        """What the library's `trigger_event` does, for a record whose fields `_complete` has
        already checked and put in the event's order: the event is made as the library makes
        one it reads from the store (its state set at once, not field by field through the
        frozen dataclass's constructor), applied, and left pending. Its state is the same,
        key for key and in the same order (tests/unit/domain/test_record_events.py)."""
        event = record_type.__new__(record_type)
        event.__dict__.update(
            originator_id=self.id,
            originator_version=self.version + 1,
            timestamp=recorded_at if recorded_at is not None else record_type.create_timestamp(),
            record_id=record_id,
        )
        event.__dict__.update(fields)
        self.on_record(event)
        self.version = event.originator_version
        self.modified_on = event.timestamp
        self._pending_events.append(event)

    def _check_rules(
        self,
        record_type: type[RecordEvent],
        fields: dict[str, Any],
        today: date,
        policy: PolicyBook,
    ) -> None:
        _check_content(record_type, fields, today, policy)
        if fields.get("sector") is not None and fields["sector"] not in self.sectors:
            raise InvalidInput(
                f"sector {fields['sector']} is not one of the subject's sectors "
                f"({', '.join(self.sectors) or 'none'})",
                rule=RECORD_SECTOR_OF_SUBJECT,
            )
        acts_on = record_type.TRAITS.acts_on
        if acts_on is not None and fields.get(acts_on.field) is not None:
            field = acts_on.field
            target = self._target(fields[field], acts_on.types, field)
            self._check_owner(target, fields["authority_code"], acts_on.action)
            if acts_on.effect == "ends" and target["closed"]:
                raise RuleViolated(f"record {fields[field]} is already closed", rule=CLOSED_ONCE)
            if acts_on.effect != "ends" and target["revoked"]:
                raise RuleViolated(
                    f"record {fields[field]} is already revoked", rule=REVOCATION_FINAL
                )
            if acts_on.effect != "ends" and target["type"] in AMENDMENT_TYPES:
                raise RuleViolated(
                    "a correction or revocation cannot itself be corrected",
                    rule=CORRECTIONS_NOT_CORRECTED,
                )
        rests_on = record_type.TRAITS.rests_on
        if rests_on is not None and fields.get(rests_on.field) is not None:
            self._check_basis(fields[rests_on.field], rests_on.field)
        if record_type is ListEntered:
            open_entry = self.open_lists.get(fields["list_type"])
            # an entry that lapsed with its basis no longer holds the subject on the list
            if open_entry is not None and not self._lapsed(self.records[open_entry]):
                raise RuleViolated(
                    f"the subject is already on the {fields['list_type']} list "
                    f"(entry {open_entry})",
                    rule=ONE_OPEN_ENTRY_PER_LIST,
                )
            if fields["list_type"] == "red":
                self._check_red_list_criteria(fields["decision_date"], policy)
        if record_type is RecordCorrected:
            self._check_changes(fields["target_record_id"], fields["changes"])
            self._check_corrected(fields["target_record_id"], fields["changes"], today, policy)

    @staticmethod
    def _check_owner(target: dict[str, Any], authority_code: str, action: str) -> None:
        """谁认定、谁修复: a record acting on another carries the other's authority code (the
        caller's permit to record for that code is checked by the service)."""
        if authority_code != target["authority_code"]:
            raise NotRecordOwner(
                target["id"], target["type"], target["authority_code"], action, rule=OWNER_ACTS
            )

    def case_target(self, case_id: UUID) -> UUID:
        """The record a case concerns."""
        case = self.cases.get(str(case_id))
        if case is None:
            raise RecordNotFound(f"this subject has no case {case_id}", rule=CASE_OF_SUBJECT)
        return UUID(case["target"])

    def case_numbered(self, case_number: str) -> UUID:
        """The case with this number (案件编号) in this subject's stream."""
        for case_id, case in self.cases.items():
            if case["number"] == case_number:
                return UUID(case_id)
        raise CaseNotFound(f"no case {case_number}", rule=CASE_KNOWN_BY_NUMBER)

    def applicant_case(self, case_number: str, query_code_hash: str) -> UUID:
        """The case with this number, for its applicant: only if the hash of the 查询码 they
        give is the one the case was filed with. A wrong code is refused as no case is."""
        refusal = CaseNotFound("no case with this number and query code", rule=CASE_KNOWN_BY_NUMBER)
        try:
            case_id = self.case_numbered(case_number)
        except CaseNotFound:
            raise refusal from None
        if not hmac.compare_digest(self.cases[str(case_id)]["query_code_hash"], query_code_hash):
            raise refusal
        return case_id

    def deciding_authority(self, case_id: UUID, acting_for: Collection[str]) -> str:
        """The authority that decides on a case: the one that made the record it concerns
        (谁认定、谁修复), if the caller acts for it (`acting_for`: its authority codes)."""
        target = self.records[str(self.case_target(case_id))]
        owner: str = target["authority_code"]
        if owner not in acting_for:
            raise NotRecordOwner(target["id"], target["type"], owner, "decide on", rule=OWNER_ACTS)
        return owner

    def _target(
        self, record_id: UUID, allowed_types: tuple[str, ...] | None, field: str
    ) -> dict[str, Any]:
        target = self.records.get(str(record_id))
        if target is None:
            raise RecordNotFound(
                f"{field}: this subject has no record {record_id}", rule=RECORD_OF_SUBJECT
            )
        if allowed_types and target["type"] not in allowed_types:
            raise RuleViolated(
                f"{field}: record {record_id} is a {target['type']}, "
                f"not a {' or '.join(allowed_types)}",
                rule=REFERENCED_TYPE,
            )
        return target

    def _check_basis(self, basis_id: Any, field: str) -> None:
        """A record rests on a conduct record of this file that stands: a repaired or revoked
        record is no longer used (信用修复管理办法 art. 3), so nothing new may rest on it."""
        self._target(basis_id, CONDUCT_TYPES, field)
        if not self._stands(str(basis_id)):
            raise RuleViolated(
                f"{field}: record {basis_id} is repaired or revoked: no record can rest on it",
                rule=BASIS_STANDS,
            )

    def _stands(self, record_id: str) -> bool:
        """Whether a record of this file stands: neither revoked nor repaired."""
        record = self.records.get(record_id)
        return record is not None and not record["revoked"] and not record.get("repaired")

    def _lapsed(self, record: dict[str, Any]) -> bool:
        """Whether a record has lapsed with the record it rests on (RecordTraits.rests_on)."""
        rests_on = RECORD_EVENT_TYPES[record["type"]].TRAITS.rests_on
        basis = record["ruled"].get(rests_on.field) if rests_on is not None else None
        return basis is not None and not self._stands(basis)

    def _check_changes(self, target_id: UUID, changes: dict[str, Any]) -> None:
        target_type = RECORD_EVENT_TYPES[self.records[str(target_id)]["type"]]
        changeable = {f.name for f in dataclasses.fields(target_type)} - (
            IDENTITY_FIELDS | {"originator_id", "originator_version", "timestamp"}
        )
        if not changes:
            raise InvalidInput(
                "a correction must change at least one field", rule=CORRECTION_CHANGES_SOMETHING
            )
        unknown = sorted(set(changes) - changeable)
        if unknown:
            raise InvalidInput(
                f"a {target_type.__name__} has no changeable field(s) {', '.join(unknown)}; "
                f"changeable: {', '.join(sorted(changeable))}",
                rule=CORRECTION_CHANGES_CHANGEABLE,
            )
        if "severity" in changes and changes["severity"] not in SEVERITIES:
            raise InvalidInput(
                f"severity must be one of {', '.join(SEVERITIES)}", rule=SEVERITY_KNOWN
            )

    def _check_corrected(
        self, target_id: UUID, changes: dict[str, Any], today: date, policy: PolicyBook
    ) -> None:
        """The record as the correction leaves it must pass the rules a new one would: a
        correction is no way round them (a decision date in the future, an empty validity, a
        grade its scheme does not have)."""
        target = self.records[str(target_id)]
        target_type = RECORD_EVENT_TYPES[target["type"]]
        corrected = {name: _ruled(value, name) for name, value in target["ruled"].items()}
        for name, value in changes.items():
            corrected[name] = _ruled(value, name)
        whose = f"the corrected {target_type.__name__}: "
        _check_content(target_type, corrected, today, policy, whose)
        rests_on = target_type.TRAITS.rests_on
        if rests_on is not None and changes.get(rests_on.field) is not None:
            self._check_basis(changes[rests_on.field], rests_on.field)
        if (
            target_type is ListEntered
            and corrected.get("list_type") == "red"
            and {"list_type", "decision_date"} & changes.keys()
        ):
            # made a red-list entry, or one on another day: judged as a new one would be
            self._check_red_list_criteria(
                corrected["decision_date"], policy, leaving_out=target["id"], whose=whose
            )

    def _check_red_list_criteria(
        self, decided: date, policy: PolicyBook, *, leaving_out: str | None = None, whose: str = ""
    ) -> None:
        """守信激励 presupposes no serious dishonesty (国发〔2016〕33号): a red-list entry is judged
        on its decision date, under the red-list criteria of the policy in force then, against
        the subject's records as they now stand (`leaving_out`: the entry being corrected)."""
        obstacles = red_list_obstacles(self._standing_facts(policy, leaving_out), policy, decided)
        if obstacles:
            raise RuleViolated(
                f"{whose}the subject does not meet the red-list criteria on {decided} (policy "
                f"{policy.for_day(decided).id}): {'; '.join(obstacles)}",
                rule=RED_LIST_CRITERIA_MET,
            )

    def _standing_facts(self, book: PolicyBook, leaving_out: str | None) -> list[RecordFact]:
        """The records the status rules read, as they now stand (corrected, revoked, ended on
        their closing record's date), from the stream alone. A repaired record is left out
        whatever the day: repair ends its use for grades and lists (令第36号), and judging a
        new decision by it would be using it."""
        facts = []
        for record in self.records.values():
            if (
                record["type"] not in RULE_INPUT_TYPES
                or record.get("repaired")
                or record["id"] == leaving_out
            ):
                continue
            content = _content(record)
            window = record_window(record["type"], content, book=book)
            ended_on = _as_date(record["ended_on"], "ended_on")
            if window is not None and ended_on is not None:
                window = window_when_ended(record["type"], window, ended_on)
            score = content.get("score")
            facts.append(
                RecordFact(
                    record_id=record["id"],
                    type=record["type"],
                    decision_date=content["decision_date"],
                    state="revoked" if record["revoked"] else "active",
                    severity=content.get("severity"),
                    procedure=content.get("procedure"),
                    scheme=content.get("scheme"),
                    grade=content.get("grade"),
                    score=None if score is None else Decimal(score),
                    valid_from=content.get("valid_from"),
                    valid_until=content.get("valid_until"),
                    list_type=content.get("list_type"),
                    planned_end=content.get("planned_end"),
                    basis_record_id=content.get("basis_record_id"),
                    ended_on=ended_on,
                    publish_from=window.start if window else None,
                    publish_until=window.end if window else None,
                )
            )
        return facts

    # Cases (信用修复, 异议) ------------------------------------------------------------------
    def record_by_decision_number(self, decision_number: str) -> UUID:
        """The record of this file whose decision number (决定书文号) the applicant gives: how
        an applicant without an account shows that it holds a decision served on the subject.
        Any record counts (a penalty, a finding, a licence, a rating), typed with any brackets
        or spaces (`decision_number_key`). A number on no record of this file is refused as the
        service refuses a subject it does not know (`APPLICANT_NOT_VERIFIED`)."""
        wanted = decision_number_key(decision_number)
        if wanted:
            for key, record_id in self.natural_keys.items():
                if decision_number_key(_decision_number_of(key)) == wanted:
                    return UUID(record_id)
        raise RecordNotFound(APPLICANT_NOT_VERIFIED, rule=APPLICANT_NAMES_DECISION)

    def published_conduct(self, today: date, book: PolicyBook) -> dict[UUID, RepairEligibility]:
        """The conduct records published today, each with its repair eligibility (from when
        repair may be applied for): what an applicant may file a repair or an objection on."""
        found = {}
        for record_id, record in self.records.items():
            if record["type"] in CONDUCT_TYPES:
                eligibility = self.repair_eligibility(UUID(record_id), today, book)
                if eligibility.published:
                    found[UUID(record_id)] = eligibility
        return found

    def repair_eligibility(
        self, record_id: UUID, today: date, book: PolicyBook
    ) -> RepairEligibility:
        """What the stream says of a conduct record on the day, for a repair application:
        whether it is published (its window under the policy in force on its decision date, as
        corrected since, and neither revoked nor repaired) and from when repair may be applied
        for (the minimum publication period)."""
        self._require_complete_state()
        target = self._target(record_id, CONDUCT_TYPES, "record_id")
        content = _content(target)
        window = record_window(target["type"], content, book=book)
        published = (
            not target["revoked"]
            and not target.get("repaired")
            and window is not None
            and window.state_on(today) == "published"
        )
        earliest = earliest_repair_date(
            content["severity"],
            content["decision_date"],
            book,
            **conduct_fields(target["type"], content),
        )
        return RepairEligibility(target["type"], published, earliest)

    def apply_for_repair(
        self,
        *,
        case_id: UUID,
        case_number: str,
        query_code_hash: str,
        target_record_id: UUID,
        corrections: list[str],
        commitment_signed: bool,
        evidence: list[str],
        applicant: str,
        eligibility: RepairEligibility,
        today: date,
        recorded_at: datetime,
    ) -> None:
        self._require_complete_state()
        target = self._target(target_record_id, CONDUCT_TYPES, "record_id")
        self._no_open_case(target_record_id)
        if target.get("repaired"):
            raise RuleViolated(f"record {target_record_id} is already repaired", rule=REPAIRED_ONCE)
        if target["revoked"] or not eligibility.published:
            raise RuleViolated(
                f"record {target_record_id} is not published: only a published record can be "
                "repaired",
                rule=REPAIR_OF_PUBLISHED,
            )
        if eligibility.earliest_repair is not None and today < eligibility.earliest_repair:
            raise RuleViolated(
                f"the minimum publication period runs until {eligibility.earliest_repair}: "
                f"repair can be applied for from then",
                rule=REPAIR_AFTER_MINIMUM_PERIOD,
            )
        if not any(c.strip() for c in corrections):
            raise InvalidInput(
                "say what was corrected (fine paid, rectification, training ...)",
                rule=REPAIR_STATES_CORRECTIONS,
            )
        if not commitment_signed:
            raise InvalidInput(
                "a signed repair commitment (信用修复承诺) is required",
                rule=REPAIR_COMMITMENT_SIGNED,
            )
        self.trigger_event(
            RepairApplied,
            case_id=case_id,
            by="applicant",
            case_number=case_number,
            query_code_hash=query_code_hash,
            target_record_id=target_record_id,
            corrections=list(corrections),
            commitment_signed=True,
            evidence=list(evidence),
            applicant=applicant,
            timestamp=recorded_at,
        )

    def file_objection(
        self,
        *,
        case_id: UUID,
        case_number: str,
        query_code_hash: str,
        target_record_id: UUID,
        grounds: str,
        statement: str,
        evidence: list[str],
        applicant: str,
        recorded_at: datetime,
    ) -> None:
        self._require_complete_state()
        target = self._target(target_record_id, None, "record_id")
        if target["type"] in AMENDMENT_TYPES or target["revoked"]:
            raise RuleViolated(
                f"record {target_record_id} cannot be objected to",
                rule=OBJECTION_TO_STANDING_RECORD,
            )
        self._no_open_case(target_record_id)
        if grounds not in OBJECTION_GROUNDS:
            raise InvalidInput(
                f"grounds must be one of {', '.join(OBJECTION_GROUNDS)}",
                rule=OBJECTION_GROUNDS_KNOWN,
            )
        if not statement.strip():
            raise InvalidInput(
                "say what is wrong with the record", rule=OBJECTION_STATES_WHAT_IS_WRONG
            )
        self.trigger_event(
            ObjectionFiled,
            case_id=case_id,
            by="applicant",
            case_number=case_number,
            query_code_hash=query_code_hash,
            target_record_id=target_record_id,
            grounds=grounds,
            statement=statement,
            evidence=list(evidence),
            applicant=applicant,
            timestamp=recorded_at,
        )

    def take_case_step(
        self,
        case_id: UUID,
        step: type[CaseEvent],
        *,
        by: str,
        recorded_at: datetime,
        today: date | None = None,
        policy: PolicyBook | None = None,
        **fields: Any,
    ) -> None:
        """Move a case on, if its current status allows this step. `by` is the authority
        code of the agency taking it ("applicant" for the applicant's own step); `today` and
        `policy` are needed to check an objection resolved `corrected`."""
        self._require_complete_state()
        case = self.cases.get(str(case_id))
        if case is None:
            raise RecordNotFound(f"this subject has no case {case_id}", rule=CASE_OF_SUBJECT)
        allowed = TRANSITIONS.get(case["status"], {})
        repair_only = (RepairApproved, RepairDenied, RepairRevoked)
        wrong_kind = (step in repair_only and case["kind"] != "repair") or (
            step is ObjectionResolved and case["kind"] != "objection"
        )
        if step is not CaseMaterialsSupplied:
            # 谁认定、谁修复: the authority that made the record decides on repair and objection.
            self._check_owner(self.records[case["target"]], by, "decide on")
        if step not in allowed or wrong_kind:
            raise RuleViolated(
                f"case {case['number']} is {case['status']}: {step.__name__} is not possible now",
                rule=CASE_STEP_IN_ORDER,
            )
        if step is ObjectionResolved:
            if fields["outcome"] not in OBJECTION_OUTCOMES:
                raise InvalidInput(
                    f"outcome must be one of {', '.join(OBJECTION_OUTCOMES)}",
                    rule=OBJECTION_OUTCOME_KNOWN,
                )
            if fields["outcome"] == "corrected":
                if today is None or policy is None:
                    raise TypeError(
                        "resolving an objection as corrected needs today's date and the policy"
                    )
                changes = fields.get("changes") or {}
                self._check_changes(UUID(case["target"]), changes)
                self._check_corrected(UUID(case["target"]), changes, today, policy)
            else:
                fields["changes"] = None
        self.trigger_event(
            step,
            case_id=case_id,
            target_record_id=UUID(case["target"]),
            by=by,
            timestamp=recorded_at,
            **fields,
        )

    def _require_complete_state(self) -> None:
        if self.__dict__.get(INCOMPLETE):
            raise RuntimeError(
                f"subject {self.id} was read from an older snapshot: rebuild it from its events "
                "(CreditLedger.subject) before deciding on it"
            )

    def _no_open_case(self, target_record_id: UUID) -> None:
        for case in self.cases.values():
            if case["target"] == str(target_record_id) and case["status"] in OPEN_STATUSES:
                raise RuleViolated(
                    f"case {case['number']} is already open for record {target_record_id}",
                    rule=ONE_OPEN_CASE_PER_RECORD,
                )

    def on_case(self, event: CaseEvent) -> None:
        cases = self.__dict__.setdefault("cases", {})  # snapshots older than cases lack it
        if isinstance(event, RepairApplied | ObjectionFiled):
            cases[str(event.case_id)] = {
                "number": event.case_number,
                "query_code_hash": event.query_code_hash,
                "target": str(event.target_record_id),
                "kind": "repair" if isinstance(event, RepairApplied) else "objection",
                "status": "filed",
            }
            return
        case = cases[str(event.case_id)]
        case["status"] = TRANSITIONS[case["status"]][type(event)]
        target = self.records[case["target"]]
        if isinstance(event, RepairApproved):
            target["repaired"] = True
        elif isinstance(event, RepairRevoked):
            target["repaired"] = False
        elif isinstance(event, ObjectionResolved) and event.outcome == "revoked":
            target["revoked"] = True
        elif isinstance(event, ObjectionResolved) and event.outcome == "corrected":
            _apply_ruled_changes(target, event.changes or {})

    def lacks_digest(self, key: str) -> bool:
        """Whether the record with this natural key was rebuilt without its content digest
        (`digests_only_for`): this subject cannot tell a repeat of it from a conflict."""
        record_id = self.natural_keys.get(key)
        return record_id is not None and self.records[record_id]["digest"] is None

    def complete_digests(self, events: Iterable[Any]) -> None:
        """Compute the content digests a rebuild under `digests_only_for` left out, from the
        events the subject was rebuilt from (a record's digest is its own event's)."""
        for event in events:
            if isinstance(event, RecordEvent):
                record = self.records[str(event.record_id)]
                if record["digest"] is None:
                    record["digest"] = content_digest(_event_fields(event))

    # Mutators: called when an event is applied, both on recording and on replay.
    def on_record(self, event: RecordEvent) -> None:
        record_id = str(event.record_id)
        key = natural_key(type(event).__name__, event.authority_code, event.source_ref)
        # `record` computed it already; on replay there is none, and it is computed here (for
        # a replay told which decision numbers it is for, only for those, and a request's).
        digest = self.__dict__.get("_digest_of_next_record")
        if digest is None:
            wanted = _DIGESTS_FOR.get()
            if wanted is None or key in wanted or event.request_key:
                digest = content_digest(_event_fields(event))
        self.records[record_id] = {
            "id": record_id,
            "type": type(event).__name__,
            "version": event.originator_version,
            "digest": digest,
            "closed": False,
            "ended_on": None,  # the decision date of the record that closed it
            "revoked": False,
            "authority_code": event.authority_code,
            "sector": event.sector,
            "ruled": {
                name: _kept(value)
                for name in _kept_field_names(type(event))
                if (value := getattr(event, name, _ABSENT)) is not _ABSENT
            },
        }
        self.natural_keys[key] = record_id
        if event.request_key:
            self.request_keys[f"{event.recorded_by}|{event.request_key}"] = record_id
        acts_on = event.TRAITS.acts_on
        if acts_on is not None and acts_on.effect == "ends":
            target = getattr(event, acts_on.field)
            if target is not None:
                self.records[str(target)]["closed"] = True
                self.records[str(target)]["ended_on"] = _kept(event.decision_date)
        _on_record_of_type(event, self)


@singledispatch
def _on_record_of_type(event: RecordEvent, subject: Subject) -> None:
    """What a record of some types changes in the rest of the file (most change nothing)."""


@_on_record_of_type.register
def _(event: ListEntered, subject: Subject) -> None:
    subject.open_lists[event.list_type] = str(event.record_id)


@_on_record_of_type.register
def _(event: ListExited, subject: Subject) -> None:
    subject.open_lists = {
        k: v for k, v in subject.open_lists.items() if v != str(event.entry_record_id)
    }


@_on_record_of_type.register
def _(event: RecordCorrected, subject: Subject) -> None:
    _apply_ruled_changes(subject.records[str(event.target_record_id)], event.changes)


@_on_record_of_type.register
def _(event: RecordRevoked, subject: Subject) -> None:
    target = subject.records[str(event.target_record_id)]
    target["revoked"] = True
    if target["type"] == "ListEntered":
        subject.open_lists = {k: v for k, v in subject.open_lists.items() if v != target["id"]}


# Marks a subject read from a snapshot of an older state version (see Subject.upcast_v1_v2).
INCOMPLETE = "incomplete_snapshot_state"
# The kept values that are dates (held as ISO text, as the events store them).
DATED_FIELDS = frozenset({*RULED_DATES, "declared_publication_end", "planned_end"})

# The rules on a record's own values (a new record's, and a corrected one's).
DATES_ARE_DATES = Rule("date-fields-hold-dates")
DECISION_DATE_NOT_IN_FUTURE = Rule("decision-date-not-in-future")
SEVERITY_KNOWN = Rule("severity-known")
LIST_TYPE_KNOWN = Rule("list-type-known")
RATING_SCHEME_KNOWN = Rule("rating-scheme-known")  # in force on the rating's decision date
RATING_GRADE_OF_SCHEME = Rule("rating-grade-of-scheme")
RATING_SCORE_IN_GRADE_BAND = Rule("rating-score-in-grade-band")
VALIDITY_ENDS_AFTER_START = Rule("validity-ends-after-start")
RECORD_FIELDS_KNOWN = Rule("record-fields-known")
RECORD_FIELDS_COMPLETE = Rule("record-fields-complete")


def _check_content(
    record_type: type[RecordEvent],
    fields: dict[str, Any],
    today: date,
    policy: PolicyBook,
    whose: str = "",
) -> None:
    """The rules on a record's own values, for a new record and for a corrected one."""
    decided = fields.get("decision_date")
    if not isinstance(decided, date):
        raise InvalidInput(f"{whose}decision_date must be a date", rule=DATES_ARE_DATES)
    if decided > today:
        raise InvalidInput(
            f"{whose}decision_date {decided} is in the future (today is {today})",
            rule=DECISION_DATE_NOT_IN_FUTURE,
        )
    if "severity" in fields and fields["severity"] not in SEVERITIES:
        raise InvalidInput(
            f"{whose}severity must be one of {', '.join(SEVERITIES)}", rule=SEVERITY_KNOWN
        )
    if "list_type" in fields and fields["list_type"] not in LIST_TYPES:
        raise InvalidInput(
            f"{whose}list_type must be one of {', '.join(LIST_TYPES)}", rule=LIST_TYPE_KNOWN
        )
    if record_type.__name__ == "RatingIssued":
        _check_rating_vocabulary(fields, policy, whose)
        _check_rating_score(fields, policy, whose)
        if fields["valid_until"] is None or fields["valid_until"] <= fields["valid_from"]:
            raise InvalidInput(
                f"{whose}a rating's valid_until must be after its valid_from",
                rule=VALIDITY_ENDS_AFTER_START,
            )
    licence_until = fields.get("valid_until") if record_type is LicenceGranted else None
    if licence_until is not None and licence_until <= fields["valid_from"]:
        raise InvalidInput(
            f"{whose}a licence's valid_until must be after its valid_from",
            rule=VALIDITY_ENDS_AFTER_START,
        )


def _check_rating_vocabulary(fields: dict[str, Any], policy: PolicyBook, whose: str) -> None:
    """A rating's scheme is one in force under the policy on its decision date, and its grade
    one of that scheme's grades."""
    decided, name, grade = fields["decision_date"], fields["scheme"], fields["grade"]
    version = policy.for_day(decided)
    scheme = version.schemes.get(name)
    if scheme is None:
        in_force = ", ".join(version.schemes) or "none"
        raise NotInPolicy(
            f"{whose}scheme {name!r} is not in force on {decided} (policy {version.id}; "
            f"schemes in force: {in_force})",
            rule=RATING_SCHEME_KNOWN,
        )
    if grade not in scheme.grades:
        raise NotInPolicy(
            f"{whose}grade {grade!r} is not a grade of {name} (policy {version.id}; grades: "
            f"{', '.join(scheme.grades)})",
            rule=RATING_GRADE_OF_SCHEME,
        )


def _check_rating_score(fields: dict[str, Any], policy: PolicyBook, whose: str) -> None:
    """A rating's score, when it has one, is one its grade's band holds under the scheme's bands
    in force on its decision date: 733号 gives AA for 95-100, so an AA with 94.9 contradicts
    itself. A rating without a score (a grade-only scheme) is taken at its grade."""
    score = fields.get("score")
    if score is None:
        return
    decided, name, grade = fields["decision_date"], fields["scheme"], fields["grade"]
    version = policy.for_day(decided)
    try:
        banded = version.schemes[name].grade_for(score)
    except (ValueError, ArithmeticError) as outside:  # off the scale, or no number at all
        raise InvalidInput(
            f"{whose}score {score} has no grade under {name} (policy {version.id}): {outside}",
            rule=RATING_SCORE_IN_GRADE_BAND,
        ) from None
    if banded != grade:
        raise InvalidInput(
            f"{whose}grade {grade!r} contradicts score {score}: under {name} (policy "
            f"{version.id}) a score of {score} is {banded!r}",
            rule=RATING_SCORE_IN_GRADE_BAND,
        )


def _content(record: dict[str, Any]) -> dict[str, Any]:
    """A record's kept values as its rules read them: dates as dates."""
    return {
        name: _as_date(value, name) if name in DATED_FIELDS else value
        for name, value in record["ruled"].items()
    }


def _ruled(value: Any, name: str) -> Any:
    """A ruled value as the rules compare it: dates as dates (corrections hold them as text)."""
    return _as_date(value, name) if name in RULED_DATES else value


def _as_date(value: Any, name: str) -> date | None:
    """A ruled value as a date: corrections hold dates as ISO text (as the event stores them)."""
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise InvalidInput(f"{name} must be a date (YYYY-MM-DD)", rule=DATES_ARE_DATES)


def _kept(value: Any) -> Any:
    """A ruled value as the state keeps it, JSON-friendly as the events store it: a date as ISO
    text, a score as decimal text, a record id as text."""
    if isinstance(value, date):
        return value.isoformat()
    return str(value) if isinstance(value, Decimal | UUID) else value


@cache
def _kept_field_names(record_type: type[RecordEvent]) -> tuple[str, ...]:
    """The names a record of this type may keep among its ruled values: the ruled, window and
    list fields, and the field naming the record it rests on, so that a correction of that is
    followed. Whether the event has each is asked of the event (one stored before a field
    existed may lack it)."""
    rests_on = record_type.TRAITS.rests_on
    resting = (rests_on.field,) if rests_on is not None else ()
    return (*RULED_FIELDS, *WINDOW_FIELDS, *LIST_FIELDS, *resting)


_ABSENT = object()  # what getattr gives for a field an event does not have


def _apply_ruled_changes(target: dict[str, Any], changes: dict[str, Any]) -> None:
    for name, value in changes.items():
        if name in target["ruled"]:
            target["ruled"][name] = _kept(value)


@cache
def _record_fields(record_type: type[RecordEvent]) -> tuple[frozenset[str], tuple[Any, ...]]:
    """A record type's field names, and (name, default or MISSING) of those a record's content
    gives, in the event's order: read once per type instead of once per record."""
    fields = dataclasses.fields(record_type)
    given = tuple(
        (f.name, f.default)
        for f in fields
        if f.name not in ("originator_id", "originator_version", "timestamp", "record_id")
    )
    return frozenset(f.name for f in fields), given


def _complete(record_type: type[RecordEvent], fields: dict[str, Any]) -> dict[str, Any]:
    """The fields as the event will hold them: optional ones defaulted, unknown ones refused."""
    known, given = _record_fields(record_type)
    unknown = sorted(set(fields) - known)
    if unknown:
        raise InvalidInput(
            f"{record_type.__name__} has no field(s) {', '.join(unknown)}",
            rule=RECORD_FIELDS_KNOWN,
        )
    complete = {}
    for name, default in given:
        if name in fields:
            complete[name] = fields[name]
        elif default is not dataclasses.MISSING:
            complete[name] = default
        else:
            raise InvalidInput(
                f"{record_type.__name__} needs the field {name}", rule=RECORD_FIELDS_COMPLETE
            )
    return complete


def _event_fields(event: RecordEvent) -> dict[str, Any]:
    """A record event's content, the fields `content_digest` reads, by the names found once per
    type (not by `dataclasses.fields` for every event a subject is rebuilt from)."""
    return {name: getattr(event, name) for name, _ in _record_fields(type(event))[1]}
