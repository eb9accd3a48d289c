"""Domain errors: what a command can be refused for, free of any transport or storage."""

from __future__ import annotations

import re

_KEBAB_CASE = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


class Rule(str):
    """The stable name of one business rule (python-ddd's `BusinessRule`), kebab-case, declared
    once beside the check that enforces it. A refusal carries it, so that a client can tell
    which rule it ran into without parsing the detail; docs/api.md lists them all."""

    __slots__ = ()

    def __new__(cls, name: str) -> Rule:
        if not _KEBAB_CASE.fullmatch(name):
            raise ValueError(f"a rule name is kebab-case: {name!r}")
        return super().__new__(cls, name)


class DomainError(Exception):
    """Base of every refusal the domain makes; `code` is stable, `detail` says why, and `rule`
    names the business rule refused under, where one is."""

    code = "domain-error"
    rule: Rule | None = None

    def __init__(self, detail: str, *, rule: Rule | None = None):
        super().__init__(detail)
        self.detail = detail
        self.rule = rule


class InvalidInput(DomainError):
    """The command is malformed in a way only the domain can tell (e.g. a future decision date)."""

    code = "invalid-input"


class NotInPolicy(InvalidInput):
    """A value outside the vocabulary of the policy in force: a rating scheme not in force on
    the rating's decision date, a grade its scheme does not have. The vocabulary lives in the
    policy rather than in the request's schema, so the answer is that of any value the schema
    refuses."""

    code = "validation-error"


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


class NotRecordOwner(DomainError):
    """谁认定、谁修复: a record is revoked, corrected, closed or decided on only by the authority
    that made it. Names that authority, so the caller knows whom to turn to."""

    code = "not-record-owner"

    def __init__(
        self,
        record_id: object,
        record_type: str,
        owner: str,
        action: str,
        *,
        rule: Rule | None = None,
    ):
        super().__init__(
            f"record {record_id} ({record_type}) belongs to authority {owner}; "
            f"only {owner} may {action} it",
            rule=rule,
        )
        self.record_id = record_id
        self.owner = owner


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


class ApprovalNotFound(DomainError):
    """No pending or past four-eyes approval has this id."""

    code = "approval-not-found"


class SelfApproval(DomainError):
    """Four eyes (四眼原则): the administrator who asked for an act may not approve it."""

    code = "self-approval"


class ApprovalNotPending(DomainError):
    """The approval was given already; an act is done once."""

    code = "approval-not-pending"


class ChainedLogCut(DomainError):
    """A chained log (access log, admin log) no longer holds the head a signed checkpoint
    anchored: its tail was cut or rewritten. Nothing is signed over it."""

    code = "chained-log-cut"


class SealNoLongerHolds(DomainError):
    """An event no longer matches the SHA-256 seal written when it was stored (or is missing
    or moved), found while extending the 国密 suite's SM3 chain: it is not sealed again, and
    no checkpoint is signed over it."""

    code = "seal-no-longer-holds"


class CaseNumbersExhausted(DomainError):
    """Every serial of today's case numbers of this kind (案件编号) has been handed out."""

    code = "case-numbers-exhausted"


class CheckpointNotFound(DomainError):
    """No checkpoint of the tamper-evident log was signed (at the tree size asked for)."""

    code = "no-checkpoint"


class EventNotSealed(DomainError):
    """No event at this log position is sealed into the tamper-evident log."""

    code = "no-such-event"


class NotYetCheckpointed(DomainError):
    """The event is sealed after the checkpointed tree asked for: a newer checkpoint holds it."""

    code = "not-yet-checkpointed"
