"""Response and request bodies of the HTTP API (commands' bodies: service.commanding.commands).
Every field says what it holds, and each body an answer can be has an example: the OpenAPI
document, and so `/docs`, shows both (tests/api/test_openapi_document.py)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, cast
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from service.commanding.commands import Input, Severity, plain
from service.querying.status import BATCH_LIMIT

# The values the examples share: one enterprise with a rating, a penalty and a black-list entry.
SUBJECT_ID = "1bf34057-079e-8ec3-9b57-11287f766007"
RATING_ID = "c0b46874-3a67-5958-b5c9-f75e4f76866b"
PENALTY_ID = "0a300d45-2e25-5090-b8a4-31d1490a2651"
LIST_ENTRY_ID = "c73ba0b7-2c73-5cb2-9acd-7d423541a7fe"
COMPANY_CODE = "91410105MA00000016"
AUTHORITY_NAME = "郑州市交通运输综合执法支队"
AUTHORITY_CODE = "11410100MB00000018"
CASE_NUMBER = "XF20261120000001"
HASH = "6f6d9a2c0edc05c43f3bb21203339ea8ab54a48f546a516b1a17dfa153e73cec"
ZERO_HASH = "0" * 64
POSITION = "global log position; pass it as min_position to read what it wrote"
SUBJECT = "the subject's id"
NEXT_AFTER = "pass as `after` for the next page; null: this was the last"


def example(*values: dict[str, Any], **config: Any) -> ConfigDict:
    """A model's configuration with the examples the OpenAPI document shows for it."""
    return cast(ConfigDict, {"json_schema_extra": {"examples": list(values)}, **config})


# Writing -----------------------------------------------------------------------------------------
class Acknowledged(BaseModel):
    model_config = example({"subject_id": SUBJECT_ID, "version": 1, "position": 1, "created": True})
    subject_id: UUID = Field(description=SUBJECT)
    version: int = Field(description="the subject's stream version after the write")
    position: int = Field(description=POSITION)
    created: bool = Field(
        description="true: written now; false: it was there already (nothing was written)"
    )


class RecordAcknowledged(Acknowledged):
    model_config = example(
        {
            "subject_id": SUBJECT_ID,
            "version": 2,
            "position": 2,
            "created": True,
            "record_id": PENALTY_ID,
            "event_id": PENALTY_ID,
        }
    )
    record_id: UUID = Field(description="the record's id, for follow-ups and case filings")
    event_id: UUID = Field(description="the id of the recorded event (same as record_id)")


# Credit status -------------------------------------------------------------------------------
class Adjustment(BaseModel):
    record_id: UUID = Field(description="the record that adjusted the grade")
    amount: Decimal = Field(description="subtracted from a score, added to deducted points")
    rule: str = Field(description="the policy entry that set the amount")


class Grade(BaseModel):
    scheme: str = Field(description="the rating scheme, as the credit policy names it")
    grade: str = Field(description="the grade now, after adjustments, caps and forcing rules")
    score: Decimal | None = Field(description="the adjusted score (or deducted points)")
    valid_from: date = Field(description="first day of the rating's validity")
    valid_until: date = Field(description="last day of the rating's validity")
    record_id: UUID = Field(description="the official rating the grade starts from")
    authority_name: str = Field(description="the authority that issued the rating")
    base_grade: str = Field(description="the grade as issued, before adjustments")
    base_score: Decimal | None = Field(description="the score as issued")
    adjustments: list[Adjustment] = Field(
        description="what later records changed, under which policy entries"
    )
    capped_by: str | None = Field(description="a limit that held the grade down, if any")
    forced_by: str | None = Field(description="a rule that forced the grade, if any")


class ListMembership(BaseModel):
    list_type: str = Field(description="red (守信激励), black (严重失信主体) or watch (重点关注)")
    entered_on: date = Field(description="the day the subject entered the list")
    basis: str = Field(description="why it is listed")
    planned_end: date | None = Field(description="when it is to leave the list, if set")
    record_id: UUID | None = Field(description="the list decision; null when derived by a rule")
    authority_name: str | None = Field(description="the listing authority; null when derived")
    derived: bool = Field(description="listed by a rule of the policy rather than a decision")


class Supervision(BaseModel):
    tier: str = Field(description="the supervision tier (分级分类监管) the policy puts it in")
    sampling_ratio: Decimal = Field(description="the share of random inspections it draws")


class CreditWarning(BaseModel):
    kind: str = Field(description="what to watch, e.g. a grade near a lower band's margin")
    detail: str = Field(description="the warning in words")
    record_id: UUID | None = Field(description="the record it is about, if one")


class PublishedCounts(BaseModel):
    total: int = Field(description="records published today")
    by_family: dict[str, int] = Field(
        description="the same by family: licence, penalty, conduct, rating, list ..."
    )


STATUS_EXAMPLE: dict[str, Any] = {
    "subject_id": SUBJECT_ID,
    "kind": "enterprise",
    "name": "郑州宏达道路运输有限公司",
    "code_masked": COMPANY_CODE,
    "region_code": "410105",
    "sectors": ["road_transport"],
    "grades": [
        {
            "scheme": "highway_construction",
            "grade": "D",
            "score": "83.00",
            "valid_from": "2026-03-01",
            "valid_until": "2027-03-01",
            "record_id": RATING_ID,
            "authority_name": AUTHORITY_NAME,
            "base_grade": "A",
            "base_score": "88.00",
            "adjustments": [
                {
                    "record_id": PENALTY_ID,
                    "amount": "5",
                    "rule": "highway_construction.adjustments.deduction.general",
                }
            ],
            "capped_by": None,
            "forced_by": "highway_construction.adjustments.black_list_forces_lowest_grade",
        }
    ],
    "lists": [
        {
            "list_type": "black",
            "entered_on": "2026-06-01",
            "basis": "一年内三次严重超限超载",
            "planned_end": "2029-06-01",
            "record_id": LIST_ENTRY_ID,
            "authority_name": AUTHORITY_NAME,
            "derived": False,
        }
    ],
    "supervision": {"tier": "seriously_dishonest", "sampling_ratio": "0.8"},
    "warnings": [],
    "policy_version": "2026-36",
    "published_records": {"total": 3, "by_family": {"rating": 1, "penalty": 1, "list": 1}},
    "version": 4,
    "last_position": 4,
    "position": 4,
    "known_as_of": "2026-11-20",
    "evaluated_on": "2026-11-20",
}


class Status(BaseModel):
    model_config = example(STATUS_EXAMPLE)
    subject_id: UUID = Field(description=SUBJECT)
    kind: str = Field(description="enterprise, individual, vehicle or public_body")
    name: str = Field(description="the subject's name")
    code_masked: str = Field(
        description="its code; a resident ID masked (410105********1234) unless revealed"
    )
    region_code: str = Field(description="its administrative division code")
    sectors: list[str] = Field(description="the transport sectors it works in")
    grades: list[Grade] = Field(description="the current grade under each rating scheme")
    lists: list[ListMembership] = Field(description="the lists it is on")
    supervision: Supervision = Field(description="its supervision tier")
    warnings: list[CreditWarning] = Field(description="what a querying agency should watch")
    policy_version: str = Field(description="the policy version the rules were applied under")
    published_records: PublishedCounts = Field(description="its records published that day")
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


# Records -----------------------------------------------------------------------------------------
class Publication(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    state: str = Field(
        description="published, scheduled, expired, not_published, revoked, repaired, or "
        "lapsed (the record it rests on, a list entry's basis, was repaired or revoked)"
    )
    from_: date | None = Field(alias="from", description="first day it is published")
    until: date | None = Field(description="last day it is published")


class Authority(BaseModel):
    name: str = Field(description="the deciding authority's name")
    code: str = Field(description="its unified social credit code")


RECORD_EXAMPLE: dict[str, Any] = {
    "record_id": PENALTY_ID,
    "type": "PenaltyDecided",
    "family": "penalty",
    "severity": "general",
    "summary": "超限运输 · 罚款人民币贰万元",
    "decision_date": "2026-06-01",
    "recorded_at": "2026-11-20T04:00:00Z",
    "authority": {"name": AUTHORITY_NAME, "code": AUTHORITY_CODE},
    "source_ref": "郑交执罚〔2026〕0001号",
    "publication": {"state": "published", "from": "2026-06-01", "until": "2027-06-01"},
    "corrected": False,
    "objection": None,
    "ended_on": None,
    "details": {"violation_type": "超限运输", "fine_amount": "2.0", "penalty_categories": ["罚款"]},
    "position": 3,
}


class Record(BaseModel):
    model_config = example(RECORD_EXAMPLE)
    record_id: UUID = Field(description="the record's id")
    type: str = Field(description="the record type (PenaltyDecided, RatingIssued ...)")
    family: str = Field(description="its family: licence, penalty, conduct, rating, list ...")
    severity: str | None = Field(description="minor, general or serious, where it has one")
    summary: str = Field(description="one line on what it is")
    decision_date: date = Field(description="valid time: the day it was decided")
    recorded_at: datetime = Field(description="when the service recorded it")
    authority: Authority = Field(description="the authority that decided it")
    source_ref: str = Field(description="its document number (文号)")
    publication: Publication = Field(description="its publication window and state today")
    corrected: bool = Field(description="a later record corrected it (details are as corrected)")
    objection: dict[str, str] | None = Field(
        description="an open objection case: the record is shown as 异议处理中"
    )
    ended_on: date | None = Field(
        description="the day a later record ended it (a licence revoked, a list exited)"
    )
    details: dict[str, Any] = Field(description="its own fields, as its record type has them")
    position: int = Field(description="the log position that recorded it")


class RecordPage(BaseModel):
    model_config = example(
        {
            "subject_id": SUBJECT_ID,
            "records": [RECORD_EXAMPLE],
            "next_cursor": "eyJwIjogM30",
            "position": 4,
        }
    )
    subject_id: UUID = Field(description=SUBJECT)
    records: list[Record] = Field(description="this page's records, newest first")
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null: this was the last"
    )
    position: int = Field(description="the log position the read model had reached")


# Look-ups ----------------------------------------------------------------------------------------
class CodeLookup(Input):
    model_config = example({"code": COMPANY_CODE}, extra="forbid")
    code: Annotated[str, Field(min_length=5, max_length=32), plain(32)] = Field(
        description="a USCC, resident ID or plate number (sent in the body: never in a URL)"
    )


class BatchStatusRequest(Input):
    model_config = example({"codes": [COMPANY_CODE, "91410105MA00000024"]}, extra="forbid")
    codes: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=32), plain(32)]],
        Field(min_length=1, max_length=BATCH_LIMIT),
    ] = Field(
        description=f"1 to {BATCH_LIMIT} codes (USCC, resident ID or plate), e.g. a tender's "
        "bidders"
    )


class BatchStatusItem(BaseModel):
    index: int = Field(description="the code's place in the request, from 0")
    code_masked: str = Field(description="the code as sent, an ID number masked")
    found: bool = Field(description="a subject is registered with this code")
    reason: str | None = Field(default=None, description="why not found: invalid or unknown")
    status: Status | None = Field(default=None, description="its credit status, if found")


class BatchStatusResponse(BaseModel):
    model_config = example(
        {
            "results": [
                {
                    "index": 0,
                    "code_masked": COMPANY_CODE,
                    "found": True,
                    "reason": None,
                    "status": STATUS_EXAMPLE,
                },
                {
                    "index": 1,
                    "code_masked": "91410105MA00000024",
                    "found": False,
                    "reason": "no subject is registered with this code",
                    "status": None,
                },
            ],
            "position": 4,
            "evaluated_on": "2026-11-20",
        }
    )
    results: list[BatchStatusItem] = Field(description="one per code, in the request's order")
    position: int = Field(description="the log position the read model had reached")
    evaluated_on: date = Field(description="the day the rules were applied for (today)")


# Imports -----------------------------------------------------------------------------------------
class ImportRejection(BaseModel):
    line: int = Field(description="the row's line in the file (the header is line 1)")
    reason: str = Field(description="why, naming the national column at fault")


class ImportedSeverity(BaseModel):
    line: int = Field(description="the row's line in the file (the header is line 1)")
    severity: Severity = Field(description="the severity the record was stored with")
    rule: str = Field(
        description="what decided it: the row's severity column, a policy entry (with its "
        "version), or the service default"
    )


class ImportFlag(BaseModel):
    line: int = Field(description="the row's line in the file (the header is line 1)")
    flag: str = Field(description="what to look at again, naming the national column")


class ImportReportBody(BaseModel):
    model_config = example(
        {
            "kind": "penalty",
            "rows_read": 3,
            "accepted": 1,
            "already_present": 1,
            "rejected_count": 1,
            "rejected": [{"line": 4, "reason": "CF_JDRQ: not a date; use YYYY-MM-DD"}],
            "severity_rules": {"policy 2026-36: serious_when_any (吊销许可证件)": 1},
            "severities": [
                {
                    "line": 2,
                    "severity": "serious",
                    "rule": "policy 2026-36: serious_when_any (吊销许可证件)",
                }
            ],
            "flagged_count": 0,
            "flagged": [],
        }
    )
    kind: str = Field(description="penalty (CF_* columns) or licence (XK_* columns)")
    rows_read: int = Field(description="data rows in the file")
    accepted: int = Field(description="rows recorded now")
    already_present: int = Field(description="rows recorded before (re-sent): nothing written")
    rejected_count: int = Field(description="every rejected row, listed or not")
    rejected: list[ImportRejection] = Field(
        description="line and reason of each rejected row, by line (the first 10,000 at most)"
    )
    severity_rules: dict[str, int] = Field(
        description="accepted penalty rows by the rule that decided their severity"
    )
    severities: list[ImportedSeverity] = Field(
        description="severity of each accepted penalty row and the rule that decided it, by line "
        "(the first 10,000 at most)"
    )
    flagged_count: int = Field(description="every accepted row flagged for a second look")
    flagged: list[ImportFlag] = Field(
        description="accepted rows to look at again, by line (the first 10,000 at most): e.g. a "
        "declared end (CF_GSJZQ) the law does not allow, and the end the record is published "
        "until instead"
    )


# Errors ------------------------------------------------------------------------------------------
class ProblemDetails(BaseModel):
    """RFC 9457 problem details: every error answer (`application/problem+json`)."""

    model_config = example(
        {
            "type": "https://credit-transport.example/problems/rule-violated",
            "title": "Conflict",
            "status": 409,
            "detail": "repair is possible from 2026-09-01, when the minimum publication period "
            "of this general penalty ends",
            "instance": "/v1/cases/repair",
            "rule": "repair-after-minimum-period",
        },
        extra="allow",
        title="Problem",
    )
    type: str = Field(description="a stable URI naming the kind of problem, in every language")
    title: str = Field(
        description="the HTTP status in words; in Chinese if the request's Accept-Language "
        "prefers it (zh-CN)"
    )
    status: int = Field(description="the HTTP status code")
    detail: str = Field(
        description="what went wrong with this request; a refusal under a rule is told in "
        "Chinese if Accept-Language prefers it"
    )
    instance: str = Field(description="the request path")
    rule: str | None = Field(
        default=None,
        description="the business rule the request was refused under, by its stable name "
        "(docs/api.md, Rule names); only on a refusal under a rule",
    )
    detail_en: str | None = Field(
        default=None,
        description="the English detail, with the values at fault, when `detail` is told in "
        "Chinese",
    )


class OAuthError(BaseModel):
    """RFC 6749 §5.2: the token endpoint's own error format, which OAuth clients expect."""

    model_config = example(
        {"error": "invalid_client", "error_description": "unknown client, wrong secret or disabled"}
    )
    error: str = Field(
        description="invalid_request, invalid_client, unsupported_grant_type, invalid_scope or "
        "slow_down"
    )
    error_description: str = Field(description="the error in words")


class TokenIssued(BaseModel):
    model_config = example(
        {
            "access_token": "eyJhbGciOiJFZERTQSIsImtpZCI6IjM5NDkyY2I5IiwidHlwIjoiYXQrand0In0...",
            "token_type": "Bearer",
            "expires_in": 600,
            "scope": "credit:read",
        }
    )
    access_token: str = Field(description="send as `Authorization: Bearer <access_token>`")
    token_type: Literal["Bearer"] = Field(description="always Bearer")
    expires_in: int = Field(description="seconds until it expires")
    scope: str = Field(description="the scopes it carries, space-separated")


# History -----------------------------------------------------------------------------------------
class HistoryEvent(BaseModel):
    version: int = Field(description="its version in the subject's stream")
    position: int = Field(description="its global log position")
    type: str = Field(description="the event type")
    schema_version: int = Field(description="the version of the event's stored schema")
    recorded_at: datetime = Field(description="when it was recorded (recorded time)")
    valid_time: date | None = Field(description="the decision date, for a record")
    recorded_by: str | None = Field(description="the client that recorded it")
    record_id: UUID | None = Field(description="the record's id, for a record")
    data: dict[str, Any] = Field(description="its fields; sealed personal fields as (sealed)")


HISTORY_EVENT_EXAMPLE: dict[str, Any] = {
    "version": 2,
    "position": 2,
    "type": "RatingIssued",
    "schema_version": 1,
    "recorded_at": "2026-11-20T04:00:00+00:00",
    "valid_time": "2026-03-01",
    "recorded_by": "zz-zhifa-01",
    "record_id": RATING_ID,
    "data": {
        "record_id": RATING_ID,
        "decision_date": "2026-03-01",
        "authority_name": AUTHORITY_NAME,
        "authority_code": AUTHORITY_CODE,
        "source_ref": "豫交评〔2026〕0001号",
        "scheme": "highway_construction",
        "grade": "A",
        "valid_from": "2026-03-01",
        "valid_until": "2027-03-01",
        "score": "88",
    },
}


class HistoryPage(BaseModel):
    model_config = example(
        {"subject_id": SUBJECT_ID, "events": [HISTORY_EVENT_EXAMPLE], "next_after_version": 2}
    )
    subject_id: UUID = Field(description=SUBJECT)
    events: list[HistoryEvent] = Field(description="this page's events, oldest first")
    next_after_version: int | None = Field(
        description="pass as `after_version` for the next page; null: this was the last"
    )


# Cases ------------------------------------------------------------------------------------------
class CaseFiled(BaseModel):
    model_config = example(
        {
            "case_number": CASE_NUMBER,
            "query_code": "B77VF7EB",
            "position": 5,
            "note": "keep the query code (查询码): it is shown only now",
        }
    )
    case_number: str = Field(description="the case number (案件编号): XF repair, YY objection")
    query_code: str = Field(description="shown only in this answer; only its hash is kept")
    position: int = Field(description=POSITION)
    note: str = Field(description="a reminder for the applicant")


class CaseStepTaken(BaseModel):
    model_config = example({"case_number": CASE_NUMBER, "action": "accept", "position": 6})
    case_number: str = Field(description="the case")
    action: str = Field(description="the step taken")
    position: int = Field(description=POSITION)


class Written(BaseModel):
    model_config = example({"position": 7})
    position: int = Field(description=POSITION)


class CaseStep(BaseModel):
    """One step of a case's timeline; the details (`missing`, `evidence`, `reasons`,
    `outcome`, `grounds`) depend on the step."""

    model_config = ConfigDict(extra="allow")
    step: str = Field(description="the step's event: RepairApplied, CaseAccepted ...")
    on: date = Field(description="the date of the step in the service's time zone")
    at: datetime = Field(description="when it was recorded")
    by: str = Field(description="the deciding authority's code, or applicant")


CASE_EXAMPLE: dict[str, Any] = {
    "case_number": CASE_NUMBER,
    "kind": "repair",
    "status": "accepted",
    "record_id": PENALTY_ID,
    "filed_on": "2026-11-20",
    "accepted_on": "2026-11-20",
    "closed_on": None,
    "outcome": None,
    "missing": [],
    "steps": [
        {
            "step": "RepairApplied",
            "on": "2026-11-20",
            "at": "2026-11-20T04:00:00Z",
            "by": "applicant",
            "evidence": ["缴款凭证.pdf"],
        },
        {
            "step": "CaseAccepted",
            "on": "2026-11-20",
            "at": "2026-11-20T06:12:00Z",
            "by": "11410100MB00000018",
        },
    ],
    "due": "2026-11-25",
    "due_provisional": False,
    "due_basis": "chinese-calendar 1.11.0",
    "overdue": False,
    "overdue_days": 0,
}


class CasePropagation(BaseModel):
    model_config = example({"told": 3, "acknowledged": 1})
    told: int = Field(description="agencies told to stop using the record (停止使用通知)")
    acknowledged: int = Field(description="of them, those that confirmed they stopped")


class CaseView(BaseModel):
    model_config = example(CASE_EXAMPLE)
    case_number: str = Field(description="the case number (案件编号)")
    kind: Literal["repair", "objection"] = Field(description="信用修复 or 异议")
    status: Literal[
        "filed", "returned", "accepted", "approved", "denied", "revoked", "resolved"
    ] = Field(description="where the case stands")
    record_id: UUID = Field(description="the record concerned")
    filed_on: date = Field(description="the day it was filed")
    accepted_on: date | None = Field(description="the day the agency accepted it")
    closed_on: date | None = Field(description="the day it was decided or resolved")
    outcome: str | None = Field(
        description="approved or denied (repair); corrected, revoked or upheld (objection)"
    )
    missing: list[str] = Field(description="materials the agency asked for and has not had")
    steps: list[CaseStep] = Field(description="the timeline, oldest first")
    due: date | None = Field(description="the current deadline; null once closed")
    due_provisional: bool = Field(
        description="the deadline counts weekends only: the holiday calendar does not cover it"
    )
    due_basis: str = Field(description="the working-day calendar it was counted with")
    overdue: bool = Field(description="past its deadline and still open")
    overdue_days: int = Field(
        description="how far past: working days for a repair, days for an objection"
    )
    propagation: CasePropagation | None = Field(
        default=None,
        description="once a repair is approved or an objection revokes the record: the agencies "
        "that had read it, told to stop using it (令第36号), and how many confirmed; null before",
    )


class CaseList(BaseModel):
    model_config = example({"cases": [CASE_EXAMPLE]})
    cases: list[CaseView] = Field(description="open cases, each with its deadline")


# The credit office's figures (三率) ------------------------------------------------------------
LATE_RECORD_EXAMPLE: dict[str, Any] = {
    "record_id": PENALTY_ID,
    "type": "PenaltyDecided",
    "source_ref": "郑交执罚〔2026〕0031号",
    "authority_code": AUTHORITY_CODE,
    "authority_name": AUTHORITY_NAME,
    "decision_date": "2026-09-30",
    "due_on": "2026-10-15",
    "recorded_on": "2026-10-17",
    "days_late": 2,
    "due_provisional": False,
    "correction_count": 0,
    "corrected_at": None,
    "revoked": False,
}
PERIOD_EXAMPLE = {"first": "2026-09-01", "last": "2026-09-30"}
FIGURE_KEY = (
    "the group: the authority's code, the region's division code (of the authority's "
    "registration) or the sector"
)
FIGURE_NAME = "the authority's name; a region or a sector is named by its code"
CORRECTED = (
    "records of the figure corrected since first recorded: a past period's figure differs from "
    "what it was only through them"
)
RATE = "the share in percent, rounded as the policy says (e.g. 2 places, half up); null: none"


class ReportPeriodView(BaseModel):
    """The days a figure covers (decision dates, for timeliness and completeness)."""

    model_config = example(PERIOD_EXAMPLE, from_attributes=True)
    first: date = Field(description="the period's first day")
    last: date = Field(description="the period's last day, included")


class LateRecordView(BaseModel):
    model_config = example(LATE_RECORD_EXAMPLE)
    record_id: UUID = Field(description="the record")
    type: str = Field(description="its record type")
    source_ref: str = Field(description="its decision number (文号)")
    authority_code: str = Field(description="the deciding authority's code")
    authority_name: str = Field(description="the deciding authority's name")
    decision_date: date = Field(description="the day it was decided (as corrected)")
    due_on: date = Field(description="the last day it could be recorded on time")
    recorded_on: date = Field(description="the day it was first recorded (Beijing time)")
    days_late: int = Field(
        description="working days late (calendar days if the policy's deadline counts those); "
        "recorded on a day off, as if on the next working day"
    )
    due_provisional: bool = Field(
        description="a day counted lies in a year without an official working-day schedule"
    )
    correction_count: int = Field(description="corrections since it was first recorded")
    corrected_at: datetime | None = Field(description="when it was last corrected")
    revoked: bool = Field(description="revoked since (it still counts: it was decided)")


class TimelinessGroupView(BaseModel):
    key: str = Field(description=FIGURE_KEY)
    name: str = Field(description=FIGURE_NAME)
    decided: int = Field(description="records decided in the period")
    on_time: int = Field(description="of them, recorded by their deadline")
    late: int = Field(description="of them, recorded after it")
    rate: Decimal | None = Field(description="on time, in percent: " + RATE)
    late_records: list[LateRecordView] = Field(
        description="the late records, the most late first (at most `late_per_group`)"
    )


TIMELINESS_EXAMPLE: dict[str, Any] = {
    "period": PERIOD_EXAMPLE,
    "group_by": "authority",
    "policy_version": "2026-36",
    "deadline_days": 7,
    "working_days": True,
    "families": ["licence", "penalty"],
    "decided": 3,
    "on_time": 1,
    "late": 2,
    "rate": "33.33",
    "corrected": 0,
    "groups": [
        {
            "key": AUTHORITY_CODE,
            "name": AUTHORITY_NAME,
            "decided": 3,
            "on_time": 1,
            "late": 2,
            "rate": "33.33",
            "late_records": [LATE_RECORD_EXAMPLE],
        }
    ],
}


class TimelinessReportView(BaseModel):
    """及时率: licences and penalties recorded within the publication deadline of their
    decision (双公示, 7 working days)."""

    model_config = example(TIMELINESS_EXAMPLE)
    period: ReportPeriodView = Field(description="the decision dates counted")
    group_by: Literal["authority", "region", "sector"] = Field(description="how it is grouped")
    policy_version: str = Field(
        description="the policy version in force on the period's last day, whose deadline and "
        "rounding the caption states (each record is measured under the version in force on "
        "its own decision date)"
    )
    deadline_days: int = Field(description="the publication deadline: this many days")
    working_days: bool = Field(description="true: working days; false: calendar days")
    families: list[str] = Field(description="the record families counted (licence, penalty)")
    decided: int = Field(description="records decided in the period (each counted once)")
    on_time: int = Field(description="of them, recorded by their deadline")
    late: int = Field(description="of them, recorded after it")
    rate: Decimal | None = Field(description="on time, in percent: " + RATE)
    corrected: int = Field(description=CORRECTED)
    groups: list[TimelinessGroupView] = Field(
        description="each authority, region or sector with records in the period; by sector, "
        "a record counts in each sector of its subject"
    )


class MissingFieldView(BaseModel):
    column: str = Field(description="the national column (标准字段名; alternatives joined by /)")
    title: str = Field(description="its 中文名称")
    records: int = Field(description="records without it")


INCOMPLETE_RECORD_EXAMPLE: dict[str, Any] = {
    "record_id": PENALTY_ID,
    "type": "PenaltyDecided",
    "source_ref": "郑交执罚〔2026〕0044号",
    "authority_code": AUTHORITY_CODE,
    "authority_name": AUTHORITY_NAME,
    "decision_date": "2026-10-20",
    "recorded_on": "2026-10-20",
    "fields_filled": 12,
    "fields_total": 16,
    "share": "75.00",
    "missing": [
        {"column": "CF_NR_FK", "title": "罚款金额（万元）", "records": 1},
        {"column": "CF_GSJZQ", "title": "公示截止期", "records": 1},
    ],
    "correction_count": 0,
    "corrected_at": None,
    "revoked": False,
}


class IncompleteRecordView(BaseModel):
    model_config = example(INCOMPLETE_RECORD_EXAMPLE)
    record_id: UUID = Field(description="the record")
    type: str = Field(description="its record type")
    source_ref: str = Field(description="its decision number (文号)")
    authority_code: str = Field(description="the deciding authority's code")
    authority_name: str = Field(description="the deciding authority's name")
    decision_date: date = Field(description="the day it was decided (as corrected)")
    recorded_on: date = Field(description="the day it was first recorded (Beijing time)")
    fields_filled: int = Field(description="indicator fields of the standard it fills")
    fields_total: int = Field(description="indicator fields the standard names for its type")
    share: Decimal = Field(description="filled, in percent")
    missing: list[MissingFieldView] = Field(description="the fields it lacks, to fill them")
    correction_count: int = Field(description="corrections since it was first recorded")
    corrected_at: datetime | None = Field(description="when it was last corrected")
    revoked: bool = Field(description="revoked since (it still counts)")


FIELDS_FILLED = "indicator fields its records fill, summed over them"
FIELDS_EXPECTED = "indicator fields the standard names for its records, summed over them"
FILL_RATE = (
    "填报率 (数据项填报率): fields_filled / fields_expected, in percent, summed over the records "
    "(not an average of their shares; the reading is the service's, the notices do not define "
    "it): "
)


class CompletenessGroupView(BaseModel):
    key: str = Field(description=FIGURE_KEY)
    name: str = Field(description=FIGURE_NAME)
    records: int = Field(description="licences and penalties decided in the period")
    complete: int = Field(description="of them, filling at least the threshold's share")
    incomplete: int = Field(description="of them, below it")
    rate: Decimal | None = Field(description="complete, in percent: " + RATE)
    fields_filled: int = Field(description=FIELDS_FILLED)
    fields_expected: int = Field(description=FIELDS_EXPECTED)
    fill_rate: Decimal | None = Field(description=FILL_RATE + RATE)
    most_missing: list[MissingFieldView] = Field(
        description="the fields its records lack most often, the most first (at most `top_missing`)"
    )
    incomplete_records: list[IncompleteRecordView] = Field(
        description="the records below the threshold, the emptiest first (at most "
        "`incomplete_per_group`)"
    )


COMPLETENESS_EXAMPLE: dict[str, Any] = {
    "period": {"first": "2026-10-01", "last": "2026-10-31"},
    "group_by": "authority",
    "policy_version": "2026-36",
    "threshold": "0.6",
    "records": 2,
    "complete": 2,
    "incomplete": 0,
    "rate": "100.00",
    "fields_filled": 39,
    "fields_expected": 42,
    "fill_rate": "92.86",
    "corrected": 0,
    "most_missing": [
        {"column": "CF_GSJZQ", "title": "公示截止期", "records": 2},
        {"column": "CF_NR_FK", "title": "罚款金额（万元）", "records": 1},
    ],
    "groups": [
        {
            "key": AUTHORITY_CODE,
            "name": AUTHORITY_NAME,
            "records": 2,
            "complete": 2,
            "incomplete": 0,
            "rate": "100.00",
            "fields_filled": 39,
            "fields_expected": 42,
            "fill_rate": "92.86",
            "most_missing": [{"column": "CF_GSJZQ", "title": "公示截止期", "records": 2}],
            "incomplete_records": [],
        }
    ],
}


class CompletenessReportView(BaseModel):
    """合格率: licences and penalties filling at least the policy's share (60 %) of the
    national standard's indicator fields; 填报率: the share of those fields they fill."""

    model_config = example(COMPLETENESS_EXAMPLE)
    period: ReportPeriodView = Field(description="the decision dates counted")
    group_by: Literal["authority", "region", "sector"] = Field(description="how it is grouped")
    policy_version: str = Field(
        description="the policy version in force on the period's last day, whose threshold and "
        "rounding the caption states (each record is measured under the version in force on "
        "its own decision date)"
    )
    threshold: Decimal = Field(
        description="the share of indicator fields a complete record fills at least (0.6: 60 %, "
        "reached at exactly 60 %)"
    )
    records: int = Field(description="licences and penalties decided in the period")
    complete: int = Field(description="of them, complete")
    incomplete: int = Field(description="of them, below the threshold")
    rate: Decimal | None = Field(description="complete, in percent: " + RATE)
    fields_filled: int = Field(description="indicator fields the records fill, summed over them")
    fields_expected: int = Field(
        description="indicator fields the standard names for the records, summed over them"
    )
    fill_rate: Decimal | None = Field(description=FILL_RATE + RATE)
    corrected: int = Field(description=CORRECTED)
    most_missing: list[MissingFieldView] = Field(
        description="the fields lacked most often in the whole figure, the most first"
    )
    groups: list[CompletenessGroupView] = Field(
        description="each authority, region or sector with records in the period; by sector, "
        "a record counts in each sector of its subject"
    )


# Auditing ---------------------------------------------------------------------------------------
ACCESS_LOG_ENTRY_EXAMPLE: dict[str, Any] = {
    "seq": 1,
    "at": "2026-11-20T04:00:01Z",
    "client_id": "zz-zhaobiao-02",
    "role": "agency",
    "agency_code": "11410100MB0000002B",
    "subject_id": SUBJECT_ID,
    "action": "status",
    "purpose": "招标投标资格审查",
    "returned": {
        "version": 4,
        "grades": ["highway_construction:D"],
        "lists": ["black"],
        "published_records": 3,
    },
    "prev_hash": ZERO_HASH,
    "hash_algorithm": "sha256",
    "hash": HASH,
}


class AccessLogEntry(BaseModel):
    seq: int = Field(description="the entry's place in the whole log, from 1")
    at: datetime = Field(description="when the data was read")
    client_id: str = Field(description="the client that read it")
    role: str = Field(description="that client's role")
    agency_code: str = Field(description="that client's agency")
    subject_id: UUID = Field(description="the subject read")
    action: str = Field(description="what was read: status, records, lookup, history ...")
    purpose: str = Field(description="the purpose stated in X-Purpose")
    returned: dict[str, Any] = Field(description="a summary of what was answered")
    prev_hash: str = Field(description="the previous entry's hash (hex)")
    hash_algorithm: str = Field(
        description="the hash that made `hash`: sha256, or sm3 for entries written under the "
        "国密 suite (CREDIT_CRYPTO_SUITE=gm)"
    )
    hash: str = Field(description="this entry's hash over its fields and prev_hash (hex)")


class AccessLogPage(BaseModel):
    model_config = example(
        {"subject_id": SUBJECT_ID, "entries": [ACCESS_LOG_ENTRY_EXAMPLE], "next_after": None}
    )
    subject_id: UUID = Field(description=SUBJECT)
    entries: list[AccessLogEntry] = Field(description="this page's entries, oldest first")
    next_after: int | None = Field(description=NEXT_AFTER)


class RevealedCode(BaseModel):
    model_config = example({"subject_id": SUBJECT_ID, "code": "410105198503140011"})
    subject_id: UUID = Field(description=SUBJECT)
    code: str = Field(description="the full code, an ID number unmasked")


class ChainHead(BaseModel):
    seq: int = Field(description="the last row's seq (0: the log was empty)")
    hash: str = Field(description="that row's hash (64 zeros if empty)")


CHECKPOINT_EXAMPLE: dict[str, Any] = {
    "origin": "credit-transport",
    "tree_size": 6,
    "root": "e4974cef1052f1d70e925fc747ef495c07ee5b66a217f1e14a276478eb0f4c84",
    "issued_at": "2026-11-20T12:00:00+08:00",
    "key_id": "8173efe4dd4a4c10908a621d6548565d",
    "algorithm": "Ed25519",
    "signature": "D7+N+6qfKR6f7fB8c1CzryEuLXROSzKOltdfQcWmDDAWSQHPA+hJTbSt8wIBKwJbf6Czk1blRlUeQf"
    "UgYmwEDA==",
    "format": "credit-checkpoint/2",
    "logs": {
        "access_log": {"seq": 4, "hash": HASH},
        "admin_log": {"seq": 0, "hash": ZERO_HASH},
    },
}


class SM2Signature(BaseModel):
    key_id: str = Field(description="the SM2 key (listCheckpointKeys)")
    algorithm: Literal["SM2"] = Field(description="GB/T 32918.2 with SM3, ID 1234567812345678")
    signature: str = Field(description="r || s, 32 bytes each, base64")


class CheckpointBody(BaseModel):
    model_config = example(CHECKPOINT_EXAMPLE, title="Checkpoint")
    origin: str = Field(description="the log's name, the same in every checkpoint")
    tree_size: int = Field(description="events in the tree signed")
    root: str = Field(description="the tree's root hash, hex (RFC 6962)")
    issued_at: str = Field(
        description="ISO 8601 with offset, exactly as signed: verify over this string"
    )
    key_id: str = Field(description="the signing key (listCheckpointKeys)")
    algorithm: Literal["Ed25519"] = Field(description="the signature algorithm")
    signature: str = Field(description="base64")
    format: Literal["credit-checkpoint/2", "credit-checkpoint/3"] | None = Field(
        default=None,
        description="null: format 1 (signed before the chained logs were anchored); format 2 "
        "signs `format` and `logs` too; format 3 (the 国密 suite) `sm3_root` too",
    )
    logs: dict[str, ChainHead] | None = Field(
        default=None,
        description="formats 2 and 3: the head of each chained log (access_log, admin_log) at "
        "signing",
    )
    sm3_root: str | None = Field(
        default=None,
        description="format 3: the root of the SM3 tree (GB/T 32905) over the same leaves, hex",
    )
    sm2: SM2Signature | None = Field(
        default=None, description="format 3: the SM2 signature over the same bytes"
    )


class CheckpointPage(BaseModel):
    model_config = example({"checkpoints": [CHECKPOINT_EXAMPLE], "next_before_size": None})
    checkpoints: list[CheckpointBody] = Field(description="this page's checkpoints, newest first")
    next_before_size: int | None = Field(
        description="pass as `before_size` for the next page; null: this was the last"
    )


class CheckpointKey(BaseModel):
    key_id: str = Field(description="the key's id, as checkpoints name it")
    algorithm: Literal["Ed25519", "SM2"] = Field(description="the signature algorithm")
    public_key: str = Field(
        description="base64: raw Ed25519 (32 bytes), or SM2's uncompressed point 04 || x || y"
    )
    created_at: datetime = Field(description="when it started signing")
    retired_at: datetime | None = Field(description="when it stopped; null: it signs now")


class CheckpointKeys(BaseModel):
    model_config = example(
        {
            "keys": [
                {
                    "key_id": "8173efe4dd4a4c10908a621d6548565d",
                    "algorithm": "Ed25519",
                    "public_key": "hetK8bpsU9vgsI5qYX6Wu459IW+jb8Ab94nSulcUI+o=",
                    "created_at": "2026-01-05T02:00:00Z",
                    "retired_at": None,
                }
            ]
        }
    )
    keys: list[CheckpointKey] = Field(description="every key that ever signed, retired ones too")


class InclusionProof(BaseModel):
    model_config = example(
        {
            "position": 2,
            "leaf_index": 1,
            "stream": SUBJECT_ID,
            "version": 2,
            "event_hash": "324250deef43b268abb377396fd495895bfd52195ded3aa299359dff0afb12be",
            "tree_size": 6,
            "proof": [
                "fa9ca885a64282d065cb5df45de030979ea41b6165b7ec2aad18742b8cc4d06a",
                "862b2a833a117b52471546d13914622d33eaa794f1358ee4bc88ed2d700baf7b",
            ],
        }
    )
    position: int = Field(description="the event's global log position")
    leaf_index: int = Field(description="its leaf in the tree, from 0")
    stream: UUID = Field(description="its stream: the subject's id")
    version: int = Field(description="its version in that stream")
    event_hash: str = Field(description="the leaf's hash of the event, hex")
    tree_size: int = Field(description="the checkpointed tree the proof leads to")
    proof: list[str] = Field(description="hex hashes, leaf to root (RFC 6962)")


class ConsistencyProof(BaseModel):
    model_config = example(
        {
            "old_size": 4,
            "new_size": 6,
            "proof": ["862b2a833a117b52471546d13914622d33eaa794f1358ee4bc88ed2d700baf7b"],
        }
    )
    old_size: int = Field(description="the older checkpoint's tree size")
    new_size: int = Field(description="the newer one's")
    proof: list[str] = Field(description="hex hashes (RFC 6962)")


# Administration ---------------------------------------------------------------------------------
CLIENT_EXAMPLE: dict[str, Any] = {
    "client_id": "zz-zhifa-01",
    "role": "recorder",
    "agency_name": AUTHORITY_NAME,
    "agency_code": AUTHORITY_CODE,
    "authority_codes": [AUTHORITY_CODE],
    "sectors": ["road_transport"],
    "scopes": ["credit:read", "credit:record"],
    "disabled": False,
}


class ClientView(BaseModel):
    model_config = example(CLIENT_EXAMPLE)
    client_id: str = Field(description="the client's id, for the token endpoint")
    role: Literal["recorder", "agency", "auditor", "admin", "credit_office"] = Field(
        description="what it is for; its role gives it its scopes"
    )
    agency_name: str = Field(description="the agency it belongs to")
    agency_code: str = Field(description="that agency's unified social credit code")
    authority_codes: list[str] = Field(description="a recorder's authorities, which it records for")
    sectors: list[str] = Field(description="a recorder's sectors, which it records in")
    scopes: list[str] = Field(description="the scopes its tokens may carry")
    disabled: bool = Field(description="refused on every request and at the token endpoint")


class ClientCreated(ClientView):
    model_config = example({**CLIENT_EXAMPLE, "client_secret": "q6Vn3sX0-8kR2w..."})
    client_secret: str = Field(description="shown only in this answer")


class SecretReset(BaseModel):
    model_config = example({"client_id": "zz-zhifa-01", "client_secret": "Lx9-4ZtQm0pW..."})
    client_id: str = Field(description="the client")
    client_secret: str = Field(description="shown only in this answer")


APPROVAL_ID = "3c5e9a1b-7f2d-4b8e-a6c4-1d9e8f7a6b5c"
APPROVAL_EXAMPLE: dict[str, Any] = {
    "approval_id": APPROVAL_ID,
    "state": "pending",
    "action": "create-client",
    "target": "zz-shenji-01",
    "requested_by": "client:zz-admin-01",
    "reason": None,
    "approve_at": f"/v1/admin/approvals/{APPROVAL_ID}:approve",
    "refuse_at": f"/v1/admin/approvals/{APPROVAL_ID}:refuse",
}
FOUR_EYES_ACTS = Literal[
    "create-client",
    "reset-secret",
    "create-account",
    "reset-password",
    "admit-account",
    "erase-personal-data",
]


class ApprovalView(BaseModel):
    model_config = example(APPROVAL_EXAMPLE, title="Approval")
    approval_id: UUID = Field(description="the approval's id")
    state: Literal["pending"] = Field(description="waiting for a different administrator")
    action: FOUR_EYES_ACTS = Field(
        description="the act waiting for it (a staff account's, asked for in the console; "
        "admit-account: an account an OpenID Connect provider vouches for, signing in with an "
        "auditor or admin role for the first time)"
    )
    target: str = Field(description="the client, staff account or subject acted on")
    requested_by: str = Field(
        description="the administrator who asked (for admit-account, the person signing in)"
    )
    reason: str | None = Field(description="an erasure's stated ground; null for other acts")
    approve_at: str = Field(description="where a different administrator approves it")
    refuse_at: str = Field(description="where a different administrator refuses it")


class ApprovalRefused(BaseModel):
    model_config = example(
        {
            "approval_id": APPROVAL_ID,
            "state": "refused",
            "action": "erase-personal-data",
            "target": SUBJECT_ID,
            "requested_by": "client:zz-admin-01",
            "refused_by": "client:zz-admin-02",
            "reason": "申请人身份未经核实，请补充材料后重新申请",
        }
    )
    approval_id: UUID = Field(description="the approval's id")
    state: Literal["refused"] = Field(description="refused: the act will never be carried out")
    action: FOUR_EYES_ACTS = Field(description="the act refused")
    target: str = Field(description="the client, staff account or subject it was for")
    requested_by: str = Field(description="the administrator who asked")
    refused_by: str = Field(description="the administrator who refused")
    reason: str = Field(description="why, as the refusing administrator stated it")


class ApprovalDone(BaseModel):
    model_config = example(
        {
            "approval_id": APPROVAL_ID,
            "state": "approved",
            "action": "create-client",
            "target": "zz-shenji-01",
            "requested_by": "client:zz-admin-01",
            "approved_by": "client:zz-admin-02",
            "result": {
                **CLIENT_EXAMPLE,
                "client_id": "zz-shenji-01",
                "role": "auditor",
                "authority_codes": [],
                "sectors": [],
                "scopes": ["credit:audit", "credit:read"],
                "client_secret": "b2Rk0-Zs8Yq1...",
            },
        }
    )
    approval_id: UUID = Field(description="the approval's id")
    state: Literal["approved"] = Field(description="approved: the act was carried out now")
    action: str = Field(description="the act carried out")
    target: str = Field(description="the client or subject acted on")
    requested_by: str = Field(description="the administrator who asked")
    approved_by: str = Field(description="the administrator who approved")
    result: dict[str, Any] = Field(
        description="the created client with its secret, the new secret, a staff account with "
        "its new password, or the erasure"
    )


ADMIN_LOG_ENTRY_EXAMPLE: dict[str, Any] = {
    "seq": 1,
    "at": "2026-11-20T03:00:00Z",
    "actor": "client:zz-admin-01",
    "action": "disable-client",
    "target": "zz-zhifa-07",
    "details": {"role": "recorder"},
    "prev_hash": ZERO_HASH,
    "hash_algorithm": "sha256",
    "hash": HASH,
}


class AdminLogEntry(BaseModel):
    seq: int = Field(description="the entry's place in the log, from 1")
    at: datetime = Field(description="when the act was done")
    actor: str = Field(description='"client:<id>" (API), "cli:<os user>", "demo-bootstrap"')
    action: str = Field(
        description="the act: create-client, disable-client, rotate-signing-key ..."
    )
    target: str = Field(description="the client, key or subject acted on")
    details: dict[str, Any] = Field(description="what else the act recorded")
    prev_hash: str = Field(description="the previous entry's hash (hex)")
    hash_algorithm: str = Field(
        description="the hash that made `hash`: sha256, or sm3 for entries written under the "
        "国密 suite (CREDIT_CRYPTO_SUITE=gm)"
    )
    hash: str = Field(description="this entry's hash over its fields and prev_hash (hex)")


class AdminLogPage(BaseModel):
    model_config = example({"entries": [ADMIN_LOG_ENTRY_EXAMPLE], "next_after": None})
    entries: list[AdminLogEntry] = Field(description="this page's entries, oldest first")
    next_after: int | None = Field(description=NEXT_AFTER)


class ChainVerification(BaseModel):
    ok: bool = Field(description="the chain holds, and reaches every anchored head")
    rows: int = Field(description="rows walked")
    head: dict[str, Any] = Field(description="the last row's seq and hash")
    anchored: dict[str, Any] | None = Field(
        description="the furthest head a signed checkpoint anchored"
    )
    first_bad_seq: int | None = Field(description="a changed, removed or reordered row")
    cut_after_seq: int | None = Field(description="the log ends here, before the anchor")
    algorithms: dict[str, int] = Field(
        description="rows walked and found whole, per hash that made them (sha256, sm3)"
    )
    detail: str = Field(description="the outcome in words")


class ChainedLogsVerification(BaseModel):
    model_config = example(
        {
            "ok": True,
            "access_log": {
                "ok": True,
                "rows": 4,
                "head": {"seq": 4, "hash": HASH},
                "anchored": {"seq": 4, "hash": HASH},
                "first_bad_seq": None,
                "cut_after_seq": None,
                "algorithms": {"sha256": 4},
                "detail": "access log: 4 rows hashed with sha256, the chain holds, anchored up "
                "to seq 4 by signed checkpoints",
            },
            "admin_log": {
                "ok": True,
                "rows": 0,
                "head": {"seq": 0, "hash": ZERO_HASH},
                "anchored": None,
                "first_bad_seq": None,
                "cut_after_seq": None,
                "algorithms": {},
                "detail": "admin log: 0 rows, the chain holds, no checkpoint anchors it yet",
            },
        }
    )
    ok: bool = Field(description="both logs hold")
    access_log: ChainVerification = Field(description="the access log's check")
    admin_log: ChainVerification = Field(description="the admin log's check")


class KeyRotated(BaseModel):
    model_config = example({"kid": "39492cb9b3544b7e98fea7065308f7ad"})
    kid: str = Field(description="the new signing key's id (the `kid` of tokens signed now)")


class SupervisionTier(BaseModel):
    tier: str = Field(description="the tier's name")
    sampling_ratio: str = Field(description="the share of random inspections it draws")


class PolicyVersion(BaseModel):
    model_config = example(
        {
            "id": "2026-36",
            "effective_from": "2026-04-01",
            "title": "国办发〔2025〕22号 and 国家发展改革委令第36号《信用修复管理办法》",
            "schemes": ["driver_integrity", "highway_construction", "road_transport_quality"],
            "supervision": [
                {"tier": "trustworthy", "sampling_ratio": "0.01"},
                {"tier": "seriously_dishonest", "sampling_ratio": "0.8"},
            ],
        }
    )
    id: str = Field(description="the version's id, as statuses name it (`policy_version`)")
    effective_from: date = Field(description="the first day it is in force")
    title: str = Field(description="what it implements, with its sources")
    schemes: list[str] = Field(description="the rating schemes in force under it")
    supervision: list[SupervisionTier] = Field(description="its supervision tiers, best first")


# Replay checks ----------------------------------------------------------------------------------
class ReplayProgress(BaseModel):
    events_replayed: int = Field(description="events replayed so far")
    events_total: int | None = Field(description="events to replay; null until it is known")


class ReplayDifference(BaseModel):
    table: str = Field(description="the read-model table")
    key: str = Field(description="the row's primary key")
    subject_id: str | None = Field(description="the subject the row is about, if one")
    field: str = Field(description="the column that differs")
    live: Any = Field(description="its value in the live read model")
    replayed: Any = Field(description="its value rebuilt from the log")


REPLAY_CHECK_EXAMPLE: dict[str, Any] = {
    "check_id": "7d1e4c2a-9b3f-4e5d-8a6c-0f1e2d3c4b5a",
    "state": "failed",
    "requested_by": "zz-shenji-01",
    "started_at": "2026-11-20T02:00:00Z",
    "finished_at": "2026-11-20T02:03:41Z",
    "heartbeat_at": "2026-11-20T02:03:41Z",
    "progress": {"events_replayed": 182_406, "events_total": 182_406},
    "position": 182_406,
    "rows_compared": 61_250,
    "difference_count": 1,
    "error": None,
}


class ReplayCheck(BaseModel):
    model_config = example(
        {
            **REPLAY_CHECK_EXAMPLE,
            "differences": [
                {
                    "table": "records",
                    "key": PENALTY_ID,
                    "subject_id": SUBJECT_ID,
                    "field": "publication_until",
                    "live": "2027-06-01",
                    "replayed": "2027-05-31",
                }
            ],
            "differences_limit": 1000,
        }
    )
    check_id: UUID = Field(description="the check's id")
    state: Literal["running", "passed", "failed", "error"] = Field(
        description="running; passed (no difference); failed (differences); error (it could "
        "not finish: `error` says why)"
    )
    requested_by: str = Field(description="the client that started it")
    started_at: datetime = Field(description="when it started")
    finished_at: datetime | None = Field(description="when it finished; null while it runs")
    heartbeat_at: datetime = Field(description="the last sign of life of its process")
    progress: ReplayProgress = Field(description="how far the replay is")
    position: int | None = Field(description="the log position both sides were compared at")
    rows_compared: int | None = Field(description="read-model rows compared")
    difference_count: int | None = Field(description="every difference found, listed or not")
    error: str | None = Field(description="why it could not finish")
    differences: list[ReplayDifference] | None = Field(
        default=None,
        description="the differences, the first `differences_limit` (one check's page only)",
    )
    differences_limit: int | None = Field(
        default=None, description="how many differences are kept (one check's page only)"
    )


class ReplayCheckList(BaseModel):
    model_config = example({"checks": [REPLAY_CHECK_EXAMPLE]})
    checks: list[ReplayCheck] = Field(description="the latest checks, newest first")


# Operations -------------------------------------------------------------------------------------
class ProjectorFailure(BaseModel):
    position: int = Field(description="the event it stopped on")
    event_type: str = Field(description="that event's type")
    error: str = Field(description="the error")
    at: str | None = Field(description="when it stopped (ISO 8601)")


class SkippedEvent(BaseModel):
    position: int = Field(description="the event an operator skipped")
    event_type: str = Field(description="its type")
    at: str = Field(description="when it was skipped (ISO 8601)")


class ProjectorHealth(BaseModel):
    status: Literal["ok", "failed", "waiting"] = Field(
        description="ok; failed (stopped on an event); waiting (for a read model it depends on)"
    )
    position: int = Field(description="the log position it has applied")
    lag: int = Field(description="events behind the log's head")
    waiting_for: list[str] = Field(description="the failed read models it waits for")
    failure: ProjectorFailure | None = Field(description="what stopped it, if it is stopped")
    skipped: list[SkippedEvent] = Field(description="events operators skipped for it")


class ProjectionsHealth(BaseModel):
    position: int = Field(description="the lowest position: every read model has reached it")
    log_head: int = Field(description="the log's last position")
    lag: int = Field(description="log_head minus position")
    running_here: bool = Field(description="this process runs the projections")
    failure: str | None = Field(description="why the runner or the projectors stopped")
    projectors: dict[str, ProjectorHealth] = Field(description="each read model's projector")


def _health(position: int, failure: dict[str, Any] | None) -> dict[str, Any]:
    """An example of /health's answer: the log's head at 182,406, each read model at `position`
    and stopped on `failure` if one is given."""
    head, projectors = 182_406, ("credit_file", "cases")
    return {
        "status": "ok" if failure is None else "failing",
        "projections": {
            "position": position,
            "log_head": head,
            "lag": head - position,
            "running_here": True,
            "failure": None
            if failure is None
            else "; ".join(
                f"{name} failed on position {failure['position']} ({failure['event_type']}): "
                f"{failure['error']}"
                for name in projectors
            ),
            "projectors": {
                name: {
                    "status": "ok" if failure is None else "failed",
                    "position": position,
                    "lag": head - position,
                    "waiting_for": [],
                    "failure": failure,
                    "skipped": [],
                }
                for name in projectors
            },
        },
        "read_replica": None,
    }


class ReadReplicaHealth(BaseModel):
    status: Literal["unknown", "ok", "behind", "unreachable"] = Field(
        description="ok: queries read the replica; behind: its replay lag exceeds "
        "`max_lag_seconds`; unreachable; unknown: not measured yet. Other than ok, queries "
        "read the primary"
    )
    lag_seconds: float | None = Field(
        description="seconds since the last transaction the replica replayed, 0 when it has "
        "replayed all it received; null when not measured"
    )
    max_lag_seconds: float = Field(description="CREDIT_READ_REPLICA_MAX_LAG_SECONDS")
    reads_from: Literal["replica", "primary"] = Field(description="where queries read now")


class Health(BaseModel):
    model_config = example(
        _health(182_406, None),
        _health(
            182_390,
            {
                "position": 182_391,
                "event_type": "PenaltyDecided",
                "error": "OperationalError('disk full')",
                "at": "2026-11-20T04:00:00+00:00",
            },
        ),
    )
    status: Literal["ok", "degraded", "failing"] = Field(
        description="ok; degraded (a projector is stopped, the others serve; or the read "
        "replica lags and queries read the primary); failing (the runner stopped, or every "
        "projector)"
    )
    projections: ProjectionsHealth = Field(description="the read models' projections")
    read_replica: ReadReplicaHealth | None = Field(
        default=None,
        description="the read replica (CREDIT_READ_DATABASE_URL), null without one; a replica "
        "that is not ok makes the status degraded",
    )
