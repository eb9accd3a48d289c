"""Issuing, keeping, verifying and recomputing credit reports.

A report reflects a signed checkpoint: the subject's events whose leaves that checkpoint's tree
holds (a prefix of its stream, since a stream's events are sealed in order). Issuing signs a
checkpoint first when the newest one does not hold the subject's latest event yet, so a report
asked for right after a record is written shows it. The contents are computed from those events
(known before the cut-off) with the as-of fold; the PDF is rendered by the renderer handed in;
the row keeps the SHA-256 of the exact bytes, so the same number always verifies against the same
bytes and never against a copy changed by one byte. Nothing here is ever updated or deleted.

Issuing and verifying are logged by the caller (the API's and the pages' access log), as every
read of a subject is."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Engine, func, insert, select

from domain.cases import code_hash
from domain.errors import InvalidInput, SubjectNotFound
from domain.integrity import signature_valid
from domain.policy import PolicyBook
from projections.credit_file.as_of import end_of_day
from service.clock import Clock
from service.commanding.cases import CODE_ALPHABET, CaseNumbers
from service.credit_reports import contents as report_contents
from service.credit_reports.contents import ReportRequest
from service.credit_reports.sealing import contents_digest, statement_message
from service.credit_reports.tables import credit_reports
from service.integrity.checkpoints import Checkpoint, Checkpoints
from service.integrity.tables import checkpoint_keys, event_seals
from service.store.ledger import CreditLedger

NUMBER_PREFIX = "XYBG"  # 信用报告; the day and a six-digit serial follow
NUMBER_CHARS = 24  # what the number column holds
CODE_LENGTH = 12  # 31**12 codes, about 2**59: not guessed within any rate limit
STREAM_PAGE = 1000


@dataclass(frozen=True)
class Issuance:
    """Everything printed beside the contents: what makes a report checkable."""

    number: str
    code: str  # the verification code: printed once, only its hash is kept
    issued_at: datetime
    checkpoint: Checkpoint
    stream_version: int
    position: int
    contents_sha256: str
    key_id: str
    signature: bytes
    verify_url: str


Renderer = Callable[[dict[str, Any], Issuance], bytes]
VerifyUrl = Callable[[str, str], str]  # (number, code) -> the verification page's address


@dataclass(frozen=True)
class IssuedReport:
    issuance: Issuance
    contents: dict[str, Any]
    pdf: bytes

    @property
    def number(self) -> str:
        return self.issuance.number


@dataclass(frozen=True)
class StoredReport:
    number: str
    kind: str
    subject_id: UUID
    issued_at: datetime
    pdf_sha256: str
    contents: dict[str, Any]
    contents_sha256: str
    request: ReportRequest
    stream_version: int
    position: int
    tree_size: int
    root: bytes
    checkpoint_issued_at: datetime
    key_id: str
    signature: bytes

    @property
    def summary(self) -> dict[str, Any]:
        return report_contents.summary(self.contents)


@dataclass(frozen=True)
class Verification:
    """A report found by its number and code, and whether the file handed in (if any) is the
    one issued, byte for byte."""

    report: StoredReport
    file_matches: bool | None  # None: no file handed in


@dataclass(frozen=True)
class Recomputation:
    """A stored report against its contents computed again from the log at its checkpoint."""

    report: StoredReport
    contents: dict[str, Any]
    contents_sha256: str
    differences: list[dict[str, Any]]
    signature_valid: bool
    checkpoint_holds: bool  # the signed checkpoint verifies and the tree still has its root
    inclusion: list[dict[str, Any]]  # each event of the subject the report reflects

    @property
    def ok(self) -> bool:
        return (
            not self.differences
            and self.contents_sha256 == self.report.contents_sha256
            and self.signature_valid
            and self.checkpoint_holds
        )


class CreditReports:
    def __init__(
        self,
        engine: Engine,
        ledger: CreditLedger,
        checkpoints: Checkpoints,
        policy: PolicyBook,
        clock: Clock,
    ):
        self.engine = engine
        self.ledger = ledger
        self.checkpoints = checkpoints
        self.policy = policy
        self.clock = clock
        self.numbers = CaseNumbers(engine)  # the same serial counter, in a series of its own

    # Issuing ---------------------------------------------------------------------------------
    def issue(
        self, subject_id: UUID, request: ReportRequest, render: Renderer, verify_url: VerifyUrl
    ) -> IssuedReport:
        """Compute, render, sign and keep a report. Raises SubjectNotFound for a subject with
        no events (or none known by the as-of day), InvalidInput for a day in the future."""
        issued_at = self.clock.now().astimezone(UTC).replace(microsecond=0)
        today = self.clock.date_of(issued_at)
        if request.as_of is not None and request.as_of > today:
            raise InvalidInput(f"as_of {request.as_of} is in the future (today is {today})")
        on = request.as_of or today
        try:
            report_contents.Period.years_to(on, request.years)
        except ValueError as wrong:  # a period reaching before the calendar's first year
            raise InvalidInput(f"no report of {request.years} years to {on}: {wrong}") from None
        checkpoint, version = self._basis(subject_id)
        # A report as of now reflects every event its checkpoint holds; one as of a past day,
        # those recorded by the end of that day.
        known_before = end_of_day(request.as_of, self.clock.zone) if request.as_of else None
        try:
            contents = self.compute(subject_id, request, version, on=on, known_before=known_before)
        except ValueError as wrong:  # a sector asked of a special report the subject is not in
            raise InvalidInput(str(wrong)) from None
        digest = contents_digest(contents)
        number = self.numbers.allocate(NUMBER_PREFIX, today)
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        key_id, signature = self.checkpoints.sign(
            statement_message(
                number=number,
                issued_at=issued_at,
                contents_sha256=digest,
                origin=checkpoint.origin,
                tree_size=checkpoint.tree_size,
                root=checkpoint.root,
            )
        )
        issuance = Issuance(
            number,
            code,
            issued_at,
            checkpoint,
            contents["basis"]["version"],
            contents["basis"]["position"],
            digest,
            key_id,
            signature,
            verify_url(number, code),
        )
        pdf = render(contents, issuance)
        with self.engine.begin() as conn:
            conn.execute(
                insert(credit_reports).values(
                    number=number,
                    kind=request.kind,
                    subject_id=subject_id,
                    issued_at=issued_at,
                    pdf_sha256=hashlib.sha256(pdf).hexdigest(),
                    code_hash=code_hash(number, code),
                    contents=contents,
                    contents_sha256=digest,
                    request=request.as_json(),
                    requested_by=request.requested_by[:100],
                    purpose=request.purpose,
                    stream_version=issuance.stream_version,
                    position=issuance.position,
                    tree_size=checkpoint.tree_size,
                    root=checkpoint.root,
                    checkpoint_issued_at=checkpoint.issued_at,
                    key_id=key_id,
                    signature=signature,
                )
            )
        return IssuedReport(issuance, contents, pdf)

    def compute(
        self,
        subject_id: UUID,
        request: ReportRequest,
        version: int,
        *,
        on: date,
        known_before: datetime | None,
    ) -> dict[str, Any]:
        """The contents from the subject's events up to `version` known before the cut-off
        (None: all of them)."""
        try:
            return report_contents.from_events(
                self._stream(subject_id, version),
                request,
                self.policy,
                on=on,
                known_before=known_before,
                zone=self.clock.zone,
            )
        except SubjectNotFound:
            raise SubjectNotFound(f"no subject {subject_id} was known by {on}") from None

    def _basis(self, subject_id: UUID) -> tuple[Checkpoint, int]:
        """The newest signed checkpoint holding the subject's latest event (signed now if none
        does yet), and the subject's last version within its tree."""
        seals = event_seals.c
        with self.engine.connect() as conn:
            last_leaf = conn.scalar(
                select(func.max(seals.leaf_index)).where(seals.stream_id == subject_id)
            )
        if last_leaf is None:
            raise SubjectNotFound(f"no subject {subject_id}")
        checkpoint = self.checkpoints.latest()
        if checkpoint is None or checkpoint.tree_size <= last_leaf:
            checkpoint = self.checkpoints.make()
        with self.engine.connect() as conn:
            version = conn.scalar(
                select(func.max(seals.version)).where(
                    seals.stream_id == subject_id, seals.leaf_index < checkpoint.tree_size
                )
            )
        return checkpoint, int(version)

    def _stream(self, subject_id: UUID, version: int) -> Iterator[tuple[int, Any]]:
        after = 0
        while after < version:
            page = self.ledger.stream_page(
                subject_id, after_version=after, limit=min(STREAM_PAGE, version - after)
            )
            if not page:
                return
            yield from page
            after = page[-1][1].originator_version

    # Reading and verifying ------------------------------------------------------------------
    def find(self, number: str) -> StoredReport | None:
        if len(number) > NUMBER_CHARS:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(
                select(credit_reports).where(credit_reports.c.number == number)
            ).first()
        return _stored(row) if row else None

    def verify(self, number: str, code: str, pdf: bytes | None = None) -> Verification | None:
        """The report, if the number and code belong together (None otherwise: an unknown number
        reads exactly like a wrong code), and whether `pdf` is its exact bytes."""
        number, code = number.strip().upper(), code.strip().upper()
        with self.engine.connect() as conn:
            row = conn.execute(
                select(credit_reports).where(credit_reports.c.number == number[:NUMBER_CHARS])
            ).first()
        if row is None or not hmac.compare_digest(row.code_hash, code_hash(number, code)):
            return None
        report = _stored(row)
        matches = None
        if pdf is not None:
            matches = hmac.compare_digest(hashlib.sha256(pdf).hexdigest(), report.pdf_sha256)
        return Verification(report, matches)

    def recompute(self, number: str) -> Recomputation | None:
        """The report's contents computed again from the log at its checkpoint and compared
        with what was issued; its signature and checkpoint checked; and the inclusion proof of
        each event it reflects in that checkpoint's tree."""
        report = self.find(number)
        if report is None:
            return None
        contents = self.compute(
            report.subject_id,
            report.request,
            report.stream_version,
            on=date.fromisoformat(report.contents["report_day"]),
            known_before=(
                datetime.fromisoformat(report.contents["known_before"])
                if report.contents["known_before"]
                else None
            ),
        )
        checkpoint = Checkpoint(
            self.checkpoints.origin,
            report.tree_size,
            report.root,
            report.checkpoint_issued_at,
            "",
            b"",
        )
        stored = self.checkpoints.at_size(report.tree_size)
        holds = (
            stored is not None and stored.root == report.root and self.checkpoints.verify(stored).ok
        )
        if stored is not None:
            checkpoint = stored
        message = statement_message(
            number=report.number,
            issued_at=report.issued_at,
            contents_sha256=report.contents_sha256,
            origin=checkpoint.origin,
            tree_size=report.tree_size,
            root=report.root,
        )
        with self.engine.connect() as conn:
            public_key = conn.scalar(
                select(checkpoint_keys.c.public_key).where(
                    checkpoint_keys.c.key_id == report.key_id
                )
            )
            seals = list(
                conn.execute(
                    select(
                        event_seals.c.position,
                        event_seals.c.leaf_index,
                        event_seals.c.version,
                        event_seals.c.event_hash,
                    )
                    .where(
                        event_seals.c.stream_id == report.subject_id,
                        event_seals.c.version <= report.stream_version,
                    )
                    .order_by(event_seals.c.version)
                )
            )
            proofs = self.checkpoints.log.inclusion_proofs(
                conn, [int(s.leaf_index) for s in seals], report.tree_size
            )
        signed = public_key is not None and signature_valid(
            bytes(public_key), report.signature, message
        )
        return Recomputation(
            report,
            contents,
            contents_digest(contents),
            differences(report.contents, contents),
            signed,
            holds,
            [
                {
                    "version": int(s.version),
                    "position": int(s.position),
                    "leaf_index": int(s.leaf_index),
                    "event_hash": bytes(s.event_hash).hex(),
                    "proof": [node.hex() for node in proofs[int(s.leaf_index)]],
                }
                for s in seals
            ],
        )

    def for_subject(self, subject_id: UUID, limit: int = 50) -> list[StoredReport]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(credit_reports)
                .where(credit_reports.c.subject_id == subject_id)
                .order_by(credit_reports.c.issued_at.desc())
                .limit(limit)
            )
            return [_stored(row) for row in rows]


def differences(issued: Any, recomputed: Any, path: str = "") -> list[dict[str, Any]]:
    """Where two contents differ: each leaf by its path (`penalties[0].summary`)."""
    if isinstance(issued, dict) and isinstance(recomputed, dict):
        found = []
        for key in sorted(set(issued) | set(recomputed)):
            found += differences(
                issued.get(key), recomputed.get(key), f"{path}.{key}" if path else key
            )
        return found
    if isinstance(issued, list) and isinstance(recomputed, list) and len(issued) == len(recomputed):
        found = []
        for index, (a, b) in enumerate(zip(issued, recomputed, strict=True)):
            found += differences(a, b, f"{path}[{index}]")
        return found
    if issued != recomputed:
        return [{"path": path, "issued": issued, "recomputed": recomputed}]
    return []


def _utc(moment: datetime) -> datetime:
    """SQLite hands timestamps back naive; they were written in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _stored(row: Any) -> StoredReport:
    return StoredReport(
        row.number,
        row.kind,
        row.subject_id,
        _utc(row.issued_at),
        row.pdf_sha256,
        row.contents,
        row.contents_sha256,
        ReportRequest.from_json(row.request),
        int(row.stream_version),
        int(row.position),
        int(row.tree_size),
        bytes(row.root),
        _utc(row.checkpoint_issued_at),
        row.key_id,
        bytes(row.signature),
    )
