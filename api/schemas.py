"""Response and request bodies of the HTTP API (commands' bodies live in service.commands)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from service.commands import Input


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
    position: int = Field(description="log position the read models had reached")
    evaluated_on: date


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
    code: Annotated[str, Field(min_length=5, max_length=32)]


class BatchStatusRequest(Input):
    model_config = ConfigDict(extra="forbid")
    codes: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=32)]],
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
    rejected: list[ImportRejection]
