"""The subject aggregate under random command sequences: records of every kind, duplicates,
retries with Idempotency-Keys, follow-ups, corrections and revocations (some by an authority
that does not own the record), checked after every step against a small model of the rules,
and reloaded from its stored events."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from domain.errors import (
    DomainError,
    DuplicateRecordConflict,
    IdempotencyKeyReused,
    NotRecordOwner,
    RecordNotFound,
    RuleViolated,
)
from domain.events import RECORD_EVENT_TYPES, RecordEvent
from domain.subject import Subject
from service.policy import load_policy
from service.store.ledger import CreditLedger
from tests.builders import AUTHORITY, registered_enterprise

pytestmark = pytest.mark.domain
TODAY = date(2026, 11, 20)
BOOK = load_policy()
NOW = datetime(2026, 11, 20, 4, tzinfo=UTC)
OTHER_AUTHORITY = {"authority_name": "河南省交通运输厅", "authority_code": "11410000MB00000000"}
CLOSED_BY = {  # follow-up type -> (its reference field, the record type it must point at)
    "CommitmentFulfilled": ("commitment_record_id", "CommitmentMade"),
    "CommitmentBreached": ("commitment_record_id", "CommitmentMade"),
    "ListExited": ("entry_record_id", "ListEntered"),
    "LicenceRevoked": ("licence_record_id", "LicenceGranted"),
}
AMENDMENTS = ("RecordCorrected", "RecordRevoked")
RECORD_TYPES = (
    "PenaltyDecided",
    "DishonestConductRecorded",
    "CommitmentMade",
    "CommitmentFulfilled",
    "CommitmentBreached",
    "LicenceGranted",
    "LicenceRevoked",
    "ListEntered",
    "ListExited",
    "InterviewHeld",
    *AMENDMENTS,
)


def content(record_type: str, variant: int) -> dict[str, Any]:
    """Each type's own fields; `variant` changes the content without changing the record's
    identity (type, authority, decision number)."""
    text = f"内容{variant}"
    fields_by_type: dict[str, dict[str, Any]] = {
        "PenaltyDecided": {
            "severity": "general",
            "procedure": "general",
            "violation_type": "超限运输",
            "facts": text,
            "legal_basis": "条例",
            "penalty_categories": ["罚款"],
            "content": "罚款",
            "fine_amount": Decimal("2.0") + variant,
        },
        "DishonestConductRecorded": {
            "severity": "serious",
            "conduct_type": "拒载",
            "description": text,
        },
        "CommitmentMade": {"commitment_type": "repair", "content": text},
        "CommitmentFulfilled": {"note": text},
        "CommitmentBreached": {"severity": "general", "description": text},
        "LicenceGranted": {
            "licence_type": "普通",
            "document_name": "许可决定书",
            "content": text,
            "valid_from": date(2025, 1, 1),
        },
        "LicenceRevoked": {"reason": text},
        "ListEntered": {"list_type": ("black", "watch")[variant], "basis": "严重失信"},
        "ListExited": {"reason": text},
        "InterviewHeld": {"interview_type": "prompt", "matter": text},
        "RecordCorrected": {
            "changes": {"authority_name": f"更正后的机关{variant}"},
            "reason": "更正",
        },
        "RecordRevoked": {"reason": text},
    }
    return fields_by_type[record_type]


@dataclass
class Known:
    """The model's view of one record."""

    type: str
    authority_code: str
    revoked: bool = False
    closed: bool = False


@dataclass
class Request:
    record_type: str
    fields: dict[str, Any]
    by: str
    key: str | None
    record_id: UUID


@dataclass
class Model:
    records: dict[str, Known] = field(default_factory=dict)
    by_natural_key: dict[tuple[str, str, str], tuple[dict[str, Any], UUID]] = field(
        default_factory=dict
    )
    by_request_key: dict[tuple[str, str], Request] = field(default_factory=dict)
    open_lists: dict[str, str] = field(default_factory=dict)  # list type -> entry record id

    def expect(self, record_type: str, fields: dict[str, Any], by: str, key: str | None):
        """What the rules say a request does: ("replay"|"existing", record id), ("new", None),
        or the error it is refused with."""
        if key is not None and (by, key) in self.by_request_key:
            first = self.by_request_key[(by, key)]
            if (first.record_type, first.fields) == (record_type, fields):
                return ("replay", first.record_id)
            return IdempotencyKeyReused
        natural = (record_type, fields["authority_code"], fields["source_ref"])
        if natural in self.by_natural_key:
            same_fields, record_id = self.by_natural_key[natural]
            return ("existing", record_id) if same_fields == fields else DuplicateRecordConflict
        if record_type in CLOSED_BY:
            reference, target_type = CLOSED_BY[record_type]
            target_id = fields.get(reference)
            if target_id is not None:
                target = self.records.get(str(target_id))
                if target is None:
                    return RecordNotFound
                if target.type != target_type:
                    return RuleViolated
                if target.authority_code != fields["authority_code"]:
                    return NotRecordOwner
                if target.closed:
                    return RuleViolated
        if record_type == "ListEntered" and fields["list_type"] in self.open_lists:
            return RuleViolated
        if record_type in AMENDMENTS:
            target = self.records.get(str(fields["target_record_id"]))
            if target is None:
                return RecordNotFound
            if target.authority_code != fields["authority_code"]:
                return NotRecordOwner
            if target.revoked or target.type in AMENDMENTS:
                return RuleViolated
        return ("new", None)

    def recorded(self, record_type: str, fields: dict[str, Any], record_id: UUID) -> None:
        rid = str(record_id)
        self.records[rid] = Known(record_type, fields["authority_code"])
        natural = (record_type, fields["authority_code"], fields["source_ref"])
        self.by_natural_key[natural] = (fields, record_id)
        if record_type in CLOSED_BY and fields.get(CLOSED_BY[record_type][0]) is not None:
            target_id = str(fields[CLOSED_BY[record_type][0]])
            self.records[target_id].closed = True
            if record_type == "ListExited":
                self.open_lists = {k: v for k, v in self.open_lists.items() if v != target_id}
        if record_type == "ListEntered":
            self.open_lists[fields["list_type"]] = rid
        if record_type == "RecordRevoked":
            target_id = str(fields["target_record_id"])
            self.records[target_id].revoked = True
            self.open_lists = {k: v for k, v in self.open_lists.items() if v != target_id}


class SubjectMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        # An in-memory store with the service's own transcoder: "reloaded" means decoded.
        self.ledger = CreditLedger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        self.subject = registered_enterprise(uuid4(), recorded_at=NOW)
        self.stored_versions = [e.originator_version for e in self._save()]
        self.model = Model()
        self.requests: list[tuple[str, dict[str, Any], str, str | None]] = []

    def _save(self) -> list[Any]:
        return [recording.domain_event for recording in self.ledger.save(self.subject)]

    def _send(self, record_type: str, fields: dict[str, Any], by: str, key: str | None) -> None:
        expected = self.model.expect(record_type, fields, by, key)
        before = copy.deepcopy(self.subject.__dict__)
        try:
            outcome = self.subject.record(
                RECORD_EVENT_TYPES[record_type],
                dict(fields),
                record_id=UUID(int=self.subject.version + 1),  # deterministic: drawn from later
                recorded_by=by,
                request_key=key,
                today=TODAY,
                recorded_at=NOW,
                policy=BOOK,
            )
        except DomainError as error:
            assert isinstance(expected, type), f"refused ({error!r}); the rules expect {expected}"
            assert type(error) is expected, f"{error!r}, expected {expected.__name__}"
            assert self.subject.__dict__ == before, "a refused command changed the aggregate"
            assert not self._save(), "a refused command left an event to store"
            return
        assert not isinstance(expected, type), f"accepted; the rules expect {expected.__name__}"
        saved = self._save()
        kind, record_id = expected
        if kind == "new":
            assert outcome.created and not outcome.replayed_request
            [event] = saved
            assert isinstance(event, RecordEvent) and event.record_id == outcome.record_id
            self.model.recorded(record_type, fields, outcome.record_id)
            if key is not None:
                self.model.by_request_key[(by, key)] = Request(
                    record_type, fields, by, key, outcome.record_id
                )
        else:
            assert not saved, "a retried or repeated request recorded again"
            assert not outcome.created
            assert outcome.record_id == record_id
            assert outcome.replayed_request == (kind == "replay")
        self.stored_versions += [e.originator_version for e in saved]
        self.requests.append((record_type, fields, by, key))

    # Few decision numbers, two contents, two clients, few keys: so that duplicates, conflicts,
    # retries and reused keys happen often.
    @rule(
        data=st.data(),
        record_type=st.sampled_from(RECORD_TYPES),
        source_ref=st.sampled_from(["文号1", "文号2", "文号3"]),
        variant=st.sampled_from([0, 1]),
        by=st.sampled_from(["client-a", "client-b"]),
        key=st.none() | st.sampled_from(["k1", "k2", "k3"]),
    )
    def record(self, data, record_type, source_ref, variant, by, key):
        self._record(data, record_type, source_ref, variant, by, key)

    # Follow-ups, corrections and revocations with fresh decision numbers, so that the rules
    # on what they point at (not the duplicate check) decide; now and then by another
    # authority than the one that made the record pointed at (谁认定、谁修复).
    @rule(
        data=st.data(),
        record_type=st.sampled_from([*CLOSED_BY, *AMENDMENTS]),
        number=st.integers(min_value=4, max_value=10_000),
        authority=st.sampled_from([AUTHORITY, AUTHORITY, OTHER_AUTHORITY]),
    )
    def follow_up(self, data, record_type, number, authority):
        self._record(data, record_type, f"文号{number}", 0, "client-a", None, authority)

    def _record(self, data, record_type, source_ref, variant, by, key, authority=AUTHORITY):
        fields = {
            **authority,
            "source_ref": source_ref,
            "decision_date": date(2026, 10, 1),
            **content(record_type, variant),
        }
        reference, wanted = CLOSED_BY.get(record_type, ("target_record_id", None))
        if record_type in CLOSED_BY or record_type in AMENDMENTS:
            # Mostly a record of the right type, often one already closed or revoked (which the
            # rules refuse), sometimes any record, or one that is not there.
            records = self.model.records
            known = sorted(records)
            fitting = [
                rid
                for rid in known
                if records[rid].type == wanted
                or (wanted is None and records[rid].type not in AMENDMENTS)
            ]
            spent = [rid for rid in fitting if records[rid].closed or records[rid].revoked]
            chosen = data.draw(
                st.one_of(
                    *(st.sampled_from(ids).map(UUID) for ids in (fitting, spent, known) if ids),
                    st.uuids(version=4),
                ),
                label=reference,
            )
            if record_type == "LicenceRevoked":
                chosen = data.draw(st.sampled_from([chosen, None]), label="licence named")
            fields[reference] = chosen
        self._send(record_type, fields, by, key)

    @rule(data=st.data())
    def retry_an_earlier_request(self, data):
        """A client that lost the answer sends exactly the same request again."""
        if self.requests:
            self._send(*data.draw(st.sampled_from(self.requests), label="request"))

    @invariant()
    def versions_are_contiguous(self):
        assert self.stored_versions == list(range(1, len(self.stored_versions) + 1))
        assert self.subject.version == len(self.stored_versions)

    @invariant()
    def each_record_is_in_the_state_the_rules_give_it(self):
        actual = {
            rid: Known(r["type"], r["authority_code"], r["revoked"], r["closed"])
            for rid, r in self.subject.records.items()
        }
        assert actual == self.model.records
        assert self.subject.open_lists == self.model.open_lists

    @invariant()
    def reloading_the_stored_events_gives_the_live_aggregate(self):
        reloaded: Subject = self.ledger.repository.get(self.subject.id)
        assert reloaded.__dict__ == self.subject.__dict__


SubjectMachine.TestCase.settings = settings(
    max_examples=30,
    stateful_step_count=25,
    derandomize=True,  # the same sequences on every run
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_subject_under_random_commands = SubjectMachine.TestCase
