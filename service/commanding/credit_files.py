"""Command handling: load a subject's stream, let the aggregate decide, append, acknowledge.

Writes are safe under retries and races: record ids are derived from the record's natural key,
the aggregate recognises a repeat, and a lost optimistic-concurrency race is retried against the
fresh stream (or reported, when the caller pinned a version with If-Match)."""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, project_aggregate
from eventsourcing.persistence import IntegrityError

from domain import codes
from domain.errors import (
    DomainError,
    InvalidInput,
    SubjectKindMismatch,
    SubjectNotFound,
    VersionMismatch,
)
from domain.events import RECORD_EVENT_TYPES
from domain.policy import PolicyBook
from domain.subject import RecordOutcome, Subject, digests_only_for, natural_key
from service.access.permissions import RecordingPermit
from service.access.personal_data import PersonalDataErased, PersonalDataVault
from service.clock import Clock
from service.commanding.commands import RecordCommand, RegisterSubject, coerce_changes
from service.commanding.identity import SubjectIds, record_id_for
from service.integrity.sealing import SealingError
from service.store.database import turn
from service.store.ledger import CreditLedger

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 30


class ConcurrencyConflict(DomainError):
    """Other writers kept winning the race for this stream; the caller may retry."""

    code = "concurrency-conflict"


class StreamCache:
    """Subjects as this process last saved or read them: reused across the batches of one
    import, and by the next write to a subject over HTTP (brought up to date first). A stale
    entry (another writer appended meanwhile) fails the save's optimistic concurrency check,
    and the write is then decided again on the stream read fresh. The capacity bounds the
    memory: at most `capacity` subjects, and (if given) at most `max_records` of their records
    together, since a subject's memory grows with its records (some 1.6 KB each, with its
    digest, keys and ruled values) and a file of a million rows touches hundreds of thousands
    of subjects of several records each. The least recently kept go first. Writers of several
    threads share one cache; an entry taken is theirs alone until kept again."""

    def __init__(self, capacity: int = 20_000, max_records: int | None = None):
        self.capacity = capacity
        self.max_records = max_records
        # Each subject with the records it held when kept (its weight against max_records).
        self._subjects: OrderedDict[UUID, tuple[Subject, int]] = OrderedDict()
        self._records = 0
        self._lock = threading.Lock()

    def take(self, subject_ids: set[UUID]) -> dict[UUID, Subject]:
        with self._lock:
            taken = {}
            for sid in subject_ids:
                entry = self._subjects.pop(sid, None)
                if entry is not None:
                    taken[sid] = entry[0]
                    self._records -= entry[1]
            return taken

    def take_one(self, subject_id: UUID) -> Subject | None:
        with self._lock:
            entry = self._subjects.pop(subject_id, None)
            if entry is None:
                return None
            self._records -= entry[1]
            return entry[0]

    def keep(self, subjects: Sequence[Subject]) -> None:
        with self._lock:
            for subject in subjects:
                records = len(subject.records)
                replaced = self._subjects.pop(subject.id, None)
                if replaced is not None:
                    self._records -= replaced[1]
                self._subjects[subject.id] = (subject, records)
                self._records += records
            limit = self.max_records
            while len(self._subjects) > self.capacity or (
                limit is not None and self._records > limit
            ):
                _, (_, records) = self._subjects.popitem(last=False)
                self._records -= records

    def __len__(self) -> int:
        return len(self._subjects)


# Subjects a process keeps as it last wrote them, for its next write to each (CreditFiles.act).
# An API process's writes go to the subjects its agencies are working on; a subject of five
# records takes about 8 KB (tracemalloc, a subject read from its stream), so these hold some
# 40 MB at most.
WRITTEN_SUBJECTS_KEPT = 5_000


@dataclass(frozen=True)
class Acknowledgement:
    subject_id: UUID
    version: int
    position: int
    created: bool
    record_id: UUID | None = None
    replayed: bool = False  # the same Idempotency-Key and request were answered before


# A batch's rows and their outcomes are named tuples, not frozen dataclasses: an import makes
# one of each a row, and a frozen dataclass's constructor sets each field through
# object.__setattr__ (2.4 µs for an outcome against 1.0).
class BatchItem(NamedTuple):
    line: int
    subject: RegisterSubject
    record: RecordCommand


class BatchOutcome(NamedTuple):
    line: int
    status: str  # "accepted" | "already_present" | "rejected"
    reason: str | None = None
    refusal: DomainError | None = None  # why a row was rejected, for its reason in Chinese
    subject_id: UUID | None = None
    record_id: UUID | None = None


class CreditFiles:
    """The application service every write goes through (HTTP, import, demo data)."""

    def __init__(
        self,
        ledger: CreditLedger,
        ids: SubjectIds,
        clock: Clock,
        policy: PolicyBook,
        *,
        on_appended: Callable[[int], None] | None = None,
        vault: PersonalDataVault | None = None,
    ):
        self.ledger = ledger
        self.ids = ids
        self.clock = clock
        self.policy = policy  # its rules on a record's values (a rating's scheme and grade)
        self.on_appended = on_appended or (lambda position: None)
        # Seals individuals' personal fields; the composition root always provides one.
        self.vault = vault
        self._locks = [threading.Lock() for _ in range(256)]
        self._written = StreamCache(WRITTEN_SUBJECTS_KEPT)

    # Registration -----------------------------------------------------------------------
    def normalise(self, command: RegisterSubject, today: date | None = None) -> str:
        try:
            return codes.normalise_code(
                command.kind, command.code, today=today if today is not None else self._today()
            )
        except codes.InvalidCode as error:
            raise InvalidInput(str(error), rule=error.rule) from None

    def subject_id_for_code(self, code: str) -> UUID:
        return self.ids.for_code(code)

    def subject_id_for_any_code(self, code: str) -> UUID | None:
        """The stream id for a bare code of any kind (look-ups); None if it is no valid code."""
        kind = codes.guess_kind(code)
        if kind is None:
            return None
        return self.ids.for_code(codes.normalise_code(kind, code, today=self._today()))

    def register(
        self, command: RegisterSubject, *, recorded_by: str, permit: RecordingPermit | None = None
    ) -> Acknowledgement:
        if permit is not None:
            permit.check_sectors(command.sectors)
        code = self.normalise(command)
        subject_id = self.ids.for_code(code)
        existing = self._existing(subject_id, command.kind)
        if existing is not None:
            return existing
        subject = self._new_subject(subject_id, command, code, recorded_by)
        try:
            recordings = self.ledger.save(subject)
        except IntegrityError:  # registered concurrently by someone else: that one stands
            existing = self._existing(subject_id, command.kind)
            assert existing is not None
            return existing
        position = recordings[-1].notification.id
        self.on_appended(position)
        return Acknowledgement(subject_id, subject.version, position, created=True)

    def _existing(self, subject_id: UUID, kind: str) -> Acknowledgement | None:
        try:
            subject = self.ledger.subject(subject_id)
        except AggregateNotFoundError:
            return None
        if subject.kind != kind:
            raise SubjectKindMismatch(f"this code is already registered as a {subject.kind}")
        return Acknowledgement(
            subject_id, subject.version, self.ledger.position_of(subject_id, 1), created=False
        )

    def _new_subject(
        self, subject_id: UUID, command: RegisterSubject, code: str, recorded_by: str
    ) -> Subject:
        # code is a str, phone and address may be None: sealed alike, passed by name below
        personal: dict[str, Any] = {
            "code": code,
            "phone": command.phone,
            "address": command.address,
        }
        if command.kind == "individual" and self.vault is not None:
            personal = {
                field: self.vault.seal(subject_id, value) if value is not None else None
                for field, value in personal.items()
            }
        return Subject.register(
            subject_id=subject_id,
            kind=command.kind,
            code_masked=codes.mask_code(command.kind, code),
            **personal,
            name=command.name,
            region_code=command.region_code,
            sectors=list(command.sectors),
            recorded_by=recorded_by,
            recorded_at=self.clock.now(),
        )

    def personal_code(self, subject_id: UUID) -> str | None:
        """The subject's full code, unsealed; None once its personal data was erased."""
        subject = self._load(subject_id)
        if self.vault is None:
            return subject.code
        try:
            return self.vault.open(subject_id, subject.code)
        except PersonalDataErased:
            return None

    # Appending records ------------------------------------------------------------------
    def append(
        self,
        subject_id: UUID,
        command: RecordCommand,
        *,
        recorded_by: str,
        request_key: str | None = None,
        expected_version: int | None = None,
        permit: RecordingPermit | None = None,
    ) -> Acknowledgement:
        if permit is not None:
            permit.check_authority(command.authority_code)

        def decide(subject: Subject) -> RecordOutcome:
            if permit is not None:
                permit.check_sectors(subject.sectors)
            return self._record(subject, command, recorded_by, request_key, permit)

        return self.act(subject_id, decide, expected_version=expected_version)

    def _stream_lock(self, subject_id: UUID) -> threading.Lock:
        """Writers in this process queue per subject instead of racing; writers in other
        processes are still caught by the store's optimistic concurrency and retried."""
        return self._locks[subject_id.int % len(self._locks)]

    def act(
        self,
        subject_id: UUID,
        decide: Callable[[Subject], RecordOutcome | None],
        *,
        expected_version: int | None = None,
    ) -> Acknowledgement:
        """Load the subject, let `decide` record events on it, append them. A lost race re-runs
        `decide` on the fresh stream, unless the caller pinned `expected_version` (If-Match). A
        record `decide` finds already there is acknowledged without writing anything.

        The subject as this process last wrote it is tried first, brought up to date with the
        events its stream gained since (another process's writes: one query, where reading the
        stream afresh is two and a replay of every event). Its write is committed only if the
        store accepts it as the stream's next version (the optimistic concurrency check) and
        its seals as following the stream's last (so that a database restored to an earlier
        point is caught too). Anything else (a refusal, a repeat, a version If-Match does not
        pin, a conflict) is decided again, as before, on the stream read fresh."""
        with turn(self._stream_lock(subject_id), "the writers ahead on this stream"):
            kept = self._written.take_one(subject_id)
            if kept is not None:
                gained = self.ledger.events_after(subject_id, kept.version)
                caught_up = project_aggregate(kept, gained)
                if caught_up is not None:
                    acknowledged = self._act_on_kept(caught_up, decide, expected_version)
                    if acknowledged is not None:
                        return acknowledged
            for attempt in range(MAX_ATTEMPTS):
                subject = self._load(subject_id)
                if expected_version is not None and subject.version != expected_version:
                    raise VersionMismatch(expected_version, subject.version)
                outcome = decide(subject)
                if outcome is not None and not outcome.created:
                    return Acknowledgement(
                        subject_id,
                        outcome.version,
                        self.ledger.position_of(subject_id, outcome.version),
                        created=False,
                        record_id=outcome.record_id,
                        replayed=outcome.replayed_request,
                    )
                try:
                    recordings = self.ledger.save(subject)
                except IntegrityError:
                    if expected_version is not None:
                        raise VersionMismatch(expected_version, expected_version + 1) from None
                    _back_off(attempt)
                    continue
                return self._appended(subject, outcome, recordings[-1].notification.id)
        raise ConcurrencyConflict("too many concurrent writers on this subject; retry")

    def _act_on_kept(
        self,
        subject: Subject,
        decide: Callable[[Subject], RecordOutcome | None],
        expected_version: int | None,
    ) -> Acknowledgement | None:
        """A write decided on the subject as this process last saved it, or None where it must
        be decided on the stream read fresh. The subject is dropped either way until saved."""
        if expected_version is not None and subject.version != expected_version:
            return None
        try:
            outcome = decide(subject)
        except DomainError:
            return None
        if outcome is not None and not outcome.created:
            return None
        try:
            recordings = self.ledger.save(subject)
        except (IntegrityError, SealingError):
            return None
        return self._appended(subject, outcome, recordings[-1].notification.id)

    def _appended(
        self, subject: Subject, outcome: RecordOutcome | None, position: int
    ) -> Acknowledgement:
        self._written.keep([subject])
        self.on_appended(position)
        return Acknowledgement(
            subject.id,
            subject.version,
            position,
            created=True,
            record_id=outcome.record_id if outcome is not None else None,
        )

    def subject(self, subject_id: UUID) -> Subject:
        """The subject as its stream has it now, for an answer that writes nothing (what an
        applicant may file on); raises SubjectNotFound."""
        return self._load(subject_id)

    def _load(self, subject_id: UUID) -> Subject:
        try:
            return self.ledger.subject(subject_id)
        except AggregateNotFoundError:
            raise SubjectNotFound(f"no subject {subject_id}") from None

    def _record(
        self,
        subject: Subject,
        command: RecordCommand,
        recorded_by: str,
        request_key: str | None,
        permit: RecordingPermit | None = None,
        *,
        told: bool = True,
        today: date | None = None,
    ):
        """Record a command on the subject. `told`: a record that names no sector is filed in
        the one the permit and the subject share; an import leaves it in none, as its file
        said none."""
        fields = command.event_fields()
        if "changes" in fields:
            target = subject.records.get(str(fields["target_record_id"]))
            if target is not None:
                fields["changes"] = coerced_changes(target["type"], fields["changes"])
        key = _natural_key_of(command)
        fields["sector"] = _sector_of(subject, key, fields.get("sector"), permit, told=told)
        return subject.record(
            RECORD_EVENT_TYPES[command.type],
            fields,
            record_id=record_id_for(subject.id, key),
            recorded_by=recorded_by,
            request_key=request_key,
            today=today if today is not None else self._today(),
            recorded_at=self.clock.now(),
            policy=self.policy,
        )

    # Batches (imports, demo data) -------------------------------------------------------
    def append_batch(
        self,
        items: Sequence[BatchItem],
        *,
        recorded_by: str,
        cache: StreamCache | None = None,
        permit: RecordingPermit | None = None,
    ) -> list[BatchOutcome]:
        """Register unknown subjects and append records in one transaction per batch.
        A rejected row changes nothing; a lost race re-runs the batch on fresh streams."""
        for attempt in range(MAX_ATTEMPTS):
            outcomes, subjects, touched = self._decide_batch(items, recorded_by, cache, permit)
            if not touched:
                if cache is not None:
                    cache.keep(subjects)
                return outcomes
            try:
                position = self.ledger.save_subjects(touched)
            except IntegrityError:
                cache = None  # the cached streams were stale; read them fresh from now on
                _back_off(attempt)
                continue
            if cache is not None:
                cache.keep(subjects)
            assert position is not None  # a touched subject has an accepted row's event
            self.on_appended(position)
            return outcomes
        raise ConcurrencyConflict("too many concurrent writers on these subjects; retry")

    def _decide_batch(
        self,
        items: Sequence[BatchItem],
        recorded_by: str,
        cache: StreamCache | None,
        permit: RecordingPermit | None,
    ) -> tuple[list[BatchOutcome], list[Subject], list[Subject]]:
        subjects: dict[UUID, Subject] = {}
        accepted_on: dict[UUID, int] = {}
        codes_by_line: dict[int, tuple[str, UUID]] = {}
        ids_by_code: dict[str, UUID] = {}  # each code's keyed hash once per batch
        today = self._today()  # the clock read once per batch, not twice per row
        for item in items:
            with contextlib.suppress(DomainError):  # refused again, with its reason, below
                code = self.normalise(item.subject, today)
                if code not in ids_by_code:
                    ids_by_code[code] = self.ids.for_code(code)
                codes_by_line[item.line] = (code, ids_by_code[code])
        wanted = set(ids_by_code.values())
        stored = cache.take(wanted) if cache is not None else {}
        # A subject is rebuilt with the content digests of the decision numbers the batch's rows
        # carry, the only ones it compares (the digests were two fifths of rebuilding one). One
        # kept from an earlier batch that lacks a digest this batch needs is rebuilt with the
        # others: it holds a record the rows repeat, so it is rebuilt with every digest.
        keys = {item.line: _natural_key_of(item.record) for item in items}
        for line, (_, kept_id) in codes_by_line.items():
            kept = stored.get(kept_id)
            if kept is not None and kept.lacks_digest(keys[line]):
                del stored[kept_id]
        # One query for the whole batch's streams instead of two per subject.
        stored |= self.ledger.load_many(wanted - set(stored), digests_for=set(keys.values()))
        # A new record's digest is needed only by a later row that repeats its decision number:
        # in this batch, or in a later one, which rebuilds the subject for it as above.
        carried = Counter(keys.values())
        with digests_only_for({key for key, rows in carried.items() if rows > 1}):
            outcomes = []
            for item in items:
                subject_id = None
                try:
                    if item.line in codes_by_line:
                        code, subject_id = codes_by_line[item.line]
                    else:
                        code = self.normalise(item.subject, today)
                        subject_id = self.ids.for_code(code)
                    subject = subjects.get(subject_id)
                    if subject is None:
                        subject = stored.get(subject_id) or self._new_subject(
                            subject_id, item.subject, code, recorded_by
                        )
                        subjects[subject_id] = subject
                        accepted_on[subject_id] = 0
                    if subject.kind != item.subject.kind:
                        raise SubjectKindMismatch(
                            f"this code is already registered as a {subject.kind}"
                        )
                    if permit is not None:
                        permit.check_authority(item.record.authority_code)
                        permit.check_sectors(subject.sectors)
                    outcome = self._record(
                        subject, item.record, recorded_by, None, permit, told=False, today=today
                    )
                except DomainError as error:
                    if (
                        subject_id in subjects
                        and subject_id not in stored
                        and accepted_on[subject_id] == 0
                    ):
                        # A new subject takes its name from the first row that is accepted.
                        del subjects[subject_id]
                    outcomes.append(BatchOutcome(item.line, "rejected", error.detail, error))
                    continue
                if outcome.created:
                    accepted_on[subject_id] += 1
                outcomes.append(
                    BatchOutcome(
                        item.line,
                        "accepted" if outcome.created else "already_present",
                        subject_id=subject_id,
                        record_id=outcome.record_id,
                    )
                )
        # A subject is registered only when at least one of its rows was accepted.
        touched = [s for sid, s in subjects.items() if accepted_on[sid] > 0]
        return outcomes, list(subjects.values()), touched

    def _today(self):
        return self.clock.today()


def _natural_key_of(command: RecordCommand) -> str:
    return natural_key(command.type, command.authority_code, command.source_ref)


def _sector_of(
    subject: Subject, key: str, given: str | None, permit: RecordingPermit | None, *, told: bool
) -> str | None:
    """The sector a record is filed in: the one named, which a recording client must hold
    (the subject must have it too: the domain checks that), or the one it is told by
    (`RecordingPermit.sector_for`). A record sent again without one is the record it repeats,
    filed where that one was (or in none, if it was recorded before records had sectors)."""
    if given is None:
        existing = subject.records.get(subject.natural_keys.get(key, ""))
        if existing is not None:
            return existing.get("sector")  # snapshots older than sectors hold none
    if permit is None or (given is None and not told):
        return given
    return permit.sector_for(given, subject.sectors)


# The back-off's own generator: a retry draws without moving the process's shared random state,
# which seeded work in the same process (a demo seed, a property test's examples) relies on.
_JITTER = random.Random()


def _back_off(attempt: int) -> None:
    """Jittered exponential back-off after losing a race, capped at 50 ms."""
    time.sleep(_JITTER.uniform(0, min(0.05, 0.001 * 2**attempt)))


def coerced_changes(target_type: str, changes: dict) -> dict:
    """A correction's changes validated as the target type's command validates its fields."""
    try:
        return coerce_changes(target_type, changes)
    except ValueError as error:  # pydantic's ValidationError is a ValueError
        raise InvalidInput(f"changes: {error}") from None
