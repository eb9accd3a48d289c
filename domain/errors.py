"""Domain errors: what a command can be refused for, free of any transport or storage."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every refusal the domain makes; `code` is stable, `detail` says why."""

    code = "domain-error"

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class InvalidInput(DomainError):
    """The command is malformed in a way only the domain can tell (e.g. a future decision date)."""

    code = "invalid-input"


class SubjectNotFound(DomainError):
    code = "subject-not-found"


class SubjectKindMismatch(DomainError):
    """A code is already registered as a different kind of subject."""

    code = "subject-kind-mismatch"


class RecordNotFound(DomainError):
    """A correction, revocation or follow-up names a record the subject does not have."""

    code = "record-not-found"


class CaseNotFound(DomainError):
    code = "case-not-found"


class RuleViolated(DomainError):
    """The command is well-formed but a business rule forbids it now."""

    code = "rule-violated"


class DuplicateRecordConflict(DomainError):
    """The same record (type, authority, source reference) exists with different content."""

    code = "duplicate-record-conflict"


class IdempotencyKeyReused(DomainError):
    """An Idempotency-Key was sent again with a different request."""

    code = "idempotency-key-reused"


class VersionMismatch(DomainError):
    """Optimistic concurrency: the stream is not at the version the caller expected."""

    code = "version-mismatch"

    def __init__(self, expected: int, actual: int):
        super().__init__(f"the subject's stream is at version {actual}, not {expected}")
        self.expected = expected
        self.actual = actual


class CaseNumbersExhausted(DomainError):
    """Every serial of today's case numbers of this kind (案件编号) has been handed out."""

    code = "case-numbers-exhausted"
