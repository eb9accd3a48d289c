"""Response and request bodies of the HTTP API (commands' bodies: service.commanding.commands)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from service.commanding.commands import Input, plain


class Acknowledged(BaseModel):
    subject_id: UUID
    version: int = Field(description="the subject's stream version after the write")
    position: int = Field(description="global log position; pass as min_position to read it")
    created: bool


class RecordAcknowledged(Acknowledged):
    record_id: UUID
    event_id: UUID = Field(description="the id of the recorded event (same as record_id)")


class Adjustment(BaseModel):
    record_id: UUID
    amount: Decimal = Field(description="subtracted from a score, added to deducted points")
    rule: str = Field(description="the policy entry that set the amount")


class Grade(BaseModel):
    scheme: str
    grade: str
    score: Decimal | None = Field(description="the adjusted score (or deducted points)")
    valid_from: date
    valid_until: date
    record_id: UUID = Field(description="the official rating the grade starts from")
    authority_name: str
    base_grade: str
    base_score: Decimal | None
    adjustments: list[Adjustment]
    capped_by: str | None = Field(description="a limit that held the grade down, if any")
    forced_by: str | None = Field(description="a rule that forced the grade, if any")


class ListMembership(BaseModel):
    list_type: str
    entered_on: date
    basis: str
    planned_end: date | None
    record_id: UUID | None = Field(description="the list decision; null when derived by a rule")
    authority_name: str | None
    derived: bool


class Supervision(BaseModel):
    tier: str
    sampling_ratio: Decimal


class CreditWarning(BaseModel):
    kind: str
    detail: str
    record_id: UUID | None


class PublishedCounts(BaseModel):
    total: int
    by_family: dict[str, int]


class Status(BaseModel):
    subject_id: UUID
    kind: str
    name: str
    code_masked: str
    region_code: str
    sectors: list[str]
    grades: list[Grade]
    lists: list[ListMembership]
    supervision: Supervision
    warnings: list[CreditWarning]
    policy_version: str = Field(description="the policy version the rules were applied under")
    published_records: PublishedCounts
    version: int = Field(description="the subject's stream version this answer reflects")
    last_position: int = Field(description="log position of the subject's latest event")
    position: int = Field(
        description="log position the answer reflects: the read models' for a status now, the "
        "subject's latest known event's for one as of a past day"
    )
    known_as_of: date = Field(
        description="knowledge axis: the answer is built from what was recorded by the end of "
        "this day (today: everything recorded so far)"
    )
    evaluated_on: date = Field(
        description="valid axis: the day the rules were applied for, under the policy in "
        "force that day"
    )


class Publication(BaseModel):
    state: str = Field(
        description="published, scheduled, expired, not_published, revoked or repaired"
    )
    from_: date | None = Field(alias="from")
    until: date | None

    model_config = ConfigDict(populate_by_name=True)


class Authority(BaseModel):
    name: str
    code: str


class Record(BaseModel):
    record_id: UUID
    type: str
    family: str
    severity: str | None
    summary: str
    decision_date: date
    recorded_at: datetime
    authority: Authority
    source_ref: str
    publication: Publication
    corrected: bool
    objection: dict[str, str] | None = Field(
        description="an open objection case: the record is shown as 异议处理中"
    )
    ended_on: date | None
    details: dict[str, Any]
    position: int


class RecordPage(BaseModel):
    subject_id: UUID
    records: list[Record]
    next_cursor: str | None
    position: int


class CodeLookup(Input):
    model_config = ConfigDict(extra="forbid")
    code: Annotated[str, Field(min_length=5, max_length=32), plain(32)]


class BatchStatusRequest(Input):
    model_config = ConfigDict(extra="forbid")
    codes: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=32), plain(32)]],
        Field(min_length=1, max_length=200),
    ]


class BatchStatusItem(BaseModel):
    index: int
    code_masked: str
    found: bool
    reason: str | None = None
    status: Status | None = None


class BatchStatusResponse(BaseModel):
    results: list[BatchStatusItem]
    position: int
    evaluated_on: date


class ImportRejection(BaseModel):
    line: int
    reason: str


class ImportReportBody(BaseModel):
    kind: str
    rows_read: int
    accepted: int
    already_present: int
    rejected_count: int = Field(description="every rejected row, listed or not")
    rejected: list[ImportRejection] = Field(
        description="line and reason of each rejected row, by line (the first 10,000 at most)"
    )


class ProblemDetails(BaseModel):
    """RFC 9457 problem details: every error answer (`application/problem+json`)."""

    model_config = ConfigDict(extra="allow", title="Problem")
    type: str = Field(description="a stable URI naming the kind of problem")
    title: str
    status: int
    detail: str = Field(description="what went wrong with this request")
    instance: str = Field(description="the request path")
    rule: str | None = Field(
        default=None,
        description="the business rule the request was refused under, by its stable name "
        "(docs/api.md, Rule names); only on a refusal under a rule",
    )


class OAuthError(BaseModel):
    """RFC 6749 §5.2: the token endpoint's own error format, which OAuth clients expect."""

    error: str
    error_description: str


class TokenIssued(BaseModel):
    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    scope: str


class HistoryEvent(BaseModel):
    version: int
    position: int
    type: str
    schema_version: int
    recorded_at: datetime
    valid_time: date | None
    recorded_by: str | None
    record_id: UUID | None
    data: dict[str, Any]


class HistoryPage(BaseModel):
    subject_id: UUID
    events: list[HistoryEvent]
    next_after_version: int | None


# Cases ------------------------------------------------------------------------------------------
class CaseFiled(BaseModel):
    case_number: str
    query_code: str = Field(description="shown only in this answer; only its hash is kept")
    position: int
    note: str


class CaseStepTaken(BaseModel):
    case_number: str
    action: str
    position: int


class Written(BaseModel):
    position: int = Field(description="global log position; pass as min_position to read it")


class CaseStep(BaseModel):
    """One step of a case's timeline; the details (`missing`, `evidence`, `reasons`,
    `outcome`, `grounds`) depend on the step."""

    model_config = ConfigDict(extra="allow")
    step: str
    on: date = Field(description="the date of the step in the service's time zone")
    at: datetime
    by: str = Field(description="the deciding authority's code, or applicant")


class CaseView(BaseModel):
    case_number: str
    kind: Literal["repair", "objection"]
    status: Literal["filed", "returned", "accepted", "approved", "denied", "revoked", "resolved"]
    record_id: UUID
    filed_on: date
    accepted_on: date | None
    closed_on: date | None
    outcome: str | None
    missing: list[str]
    steps: list[CaseStep]
    due: date | None
    due_provisional: bool
    due_basis: str
    overdue: bool
    overdue_days: int


class CaseList(BaseModel):
    cases: list[CaseView]


# Auditing ---------------------------------------------------------------------------------------
class AccessLogEntry(BaseModel):
    seq: int
    at: datetime
    client_id: str
    role: str
    agency_code: str
    subject_id: UUID
    action: str
    purpose: str
    returned: dict[str, Any]
    prev_hash: str
    hash: str


class AccessLogPage(BaseModel):
    subject_id: UUID
    entries: list[AccessLogEntry]
    next_after: int | None


class RevealedCode(BaseModel):
    subject_id: UUID
    code: str


class ChainHead(BaseModel):
    seq: int = Field(description="the last row's seq (0: the log was empty)")
    hash: str = Field(description="that row's hash (64 zeros if empty)")


class CheckpointBody(BaseModel):
    model_config = ConfigDict(title="Checkpoint")
    origin: str
    tree_size: int
    root: str = Field(description="hex")
    issued_at: str = Field(
        description="ISO 8601 with offset, exactly as signed: verify over this string"
    )
    key_id: str
    algorithm: Literal["Ed25519"]
    signature: str = Field(description="base64")
    format: Literal["credit-checkpoint/2"] | None = Field(
        default=None,
        description="null: format 1 (signed before the chained logs were anchored); format 2 "
        "signs `format` and `logs` too",
    )
    logs: dict[str, ChainHead] | None = Field(
        default=None,
        description="format 2: the head of each chained log (access_log, admin_log) at signing",
    )


class CheckpointPage(BaseModel):
    checkpoints: list[CheckpointBody]
    next_before_size: int | None


class CheckpointKey(BaseModel):
    key_id: str
    algorithm: Literal["Ed25519"]
    public_key: str = Field(description="raw Ed25519, base64")
    created_at: datetime
    retired_at: datetime | None


class CheckpointKeys(BaseModel):
    keys: list[CheckpointKey]


class InclusionProof(BaseModel):
    position: int
    leaf_index: int
    stream: UUID
    version: int
    event_hash: str
    tree_size: int
    proof: list[str] = Field(description="hex hashes, leaf to root (RFC 6962)")


class ConsistencyProof(BaseModel):
    old_size: int
    new_size: int
    proof: list[str] = Field(description="hex hashes (RFC 6962)")


# Administration ---------------------------------------------------------------------------------
class ClientView(BaseModel):
    client_id: str
    role: Literal["recorder", "agency", "auditor", "admin", "credit_office"]
    agency_name: str
    agency_code: str
    authority_codes: list[str]
    sectors: list[str]
    scopes: list[str]
    disabled: bool


class ClientCreated(ClientView):
    client_secret: str = Field(description="shown only in this answer")


class SecretReset(BaseModel):
    client_id: str
    client_secret: str = Field(description="shown only in this answer")


class ApprovalView(BaseModel):
    model_config = ConfigDict(title="Approval")
    approval_id: UUID
    state: Literal["pending", "approved"]
    action: Literal["create-client", "reset-secret", "erase-personal-data"]
    target: str
    requested_by: str
    approve_at: str = Field(description="where a different administrator approves it")


class ApprovalDone(BaseModel):
    approval_id: UUID
    state: Literal["approved"]
    action: str
    target: str
    requested_by: str
    approved_by: str
    result: dict[str, Any] = Field(
        description="the created client with its secret, the new secret, a staff account with "
        "its new password, or the erasure"
    )


class AdminLogEntry(BaseModel):
    seq: int
    at: datetime
    actor: str = Field(description='"client:<id>" (API), "cli:<os user>", "demo-bootstrap"')
    action: str
    target: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


class AdminLogPage(BaseModel):
    entries: list[AdminLogEntry]
    next_after: int | None


class ChainVerification(BaseModel):
    ok: bool
    rows: int
    head: dict[str, Any]
    anchored: dict[str, Any] | None = Field(
        description="the furthest head a signed checkpoint anchored"
    )
    first_bad_seq: int | None = Field(description="a changed, removed or reordered row")
    cut_after_seq: int | None = Field(description="the log ends here, before the anchor")
    detail: str


class ChainedLogsVerification(BaseModel):
    ok: bool
    access_log: ChainVerification
    admin_log: ChainVerification


class KeyRotated(BaseModel):
    kid: str


class SupervisionTier(BaseModel):
    tier: str
    sampling_ratio: str


class PolicyVersion(BaseModel):
    id: str
    effective_from: date
    title: str
    schemes: list[str]
    supervision: list[SupervisionTier]
