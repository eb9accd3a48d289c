"""Auditors' reads: who read a subject's data (查询留痕), and revealing a full ID number."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import Field
from sqlalchemy import exists, or_, select
from starlette.concurrency import run_in_threadpool

from api.auth import AUDIT, RECORD, Auditor, Caller, Reader, log_reads
from api.deps import CASES, CREDIT_FILE, MAX_INT64, ServicesDep, SubjectId, read_your_writes
from api.errors import (
    AUTHENTICATED,
    WITH_BODY,
    ErasedPersonalData,
    InsufficientScope,
    NotDecidingAgency,
    problems,
)
from api.schemas import (
    AccessLogPage,
    AdminLogPage,
    ChainedLogsVerification,
    RevealedCode,
    example,
)
from domain.cases import OPEN_STATUSES
from domain.events import CREDIT_DECISION_TYPES
from projections.tables import cases, records
from service.commanding.commands import Input

router = APIRouter(prefix="/v1", tags=["auditing"], responses=problems(*AUTHENTICATED, 422))


class RevealRequest(Input):
    model_config = example({"purpose": "核查行政处罚案件当事人身份"}, extra="forbid")
    purpose: Annotated[str, Field(min_length=4, max_length=200)] = Field(
        description="why the full code is needed: written to the access log with the reveal"
    )


async def _is_deciding_agency(services, caller: Caller, subject_id: UUID) -> bool:
    """谁认定: the caller records for an authority that decided on the subject's credit (a
    record of a CREDIT_DECISION_TYPES type: conduct found, a list entry, a credit rating, in
    whatever state it now is), or that must decide an open repair or objection case on it.
    Having written something else (a licence, a commendation, a follow-up) is not enough:
    writing must not by itself open the subject's whole access log."""
    codes = list(caller.client.authority_codes)
    if RECORD not in caller.scopes or not codes:
        return False
    decided = (
        select(records.c.record_id)
        .where(
            records.c.subject_id == subject_id,
            records.c.authority_code.in_(codes),
            records.c.type.in_(CREDIT_DECISION_TYPES),
        )
        .limit(1)
    )
    deciding = (
        select(cases.c.case_id)
        .where(
            cases.c.subject_id == subject_id,
            cases.c.authority_code.in_(codes),
            cases.c.status.in_(OPEN_STATUSES),
        )
        .limit(1)
    )
    async with services.read_engine.connect() as conn:  # one round trip for both rights
        return bool(await conn.scalar(select(or_(exists(decided), exists(deciding)))))


# The right to read rests on the read models, the records' and the open cases': `min_position`
# waits for a write to reach both (a filing's position, for the agency that must decide on it).
DecidingAgencyReadYourWrites = read_your_writes(CREDIT_FILE, CASES)


@router.get(
    "/subjects/{subject_id}/access-log",
    operation_id="getSubjectAccessLog",
    summary="Who read a subject's data (查询留痕)",
    response_model=AccessLogPage,
    dependencies=[DecidingAgencyReadYourWrites],
    responses=problems(503),
)
async def subject_access_log(
    subject_id: SubjectId,
    services: ServicesDep,
    caller: Reader,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_INT64, description="seq of the last entry seen")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="entries per page")] = 100,
) -> dict:
    """Every read of this subject's data: client, agency, purpose, time, what was returned.
    For auditors (credit:audit) and for the subject's deciding agencies (credit:record, and an
    authority that decided on the subject's credit or must decide an open case on it)."""
    if AUDIT not in caller.scopes:
        if RECORD not in caller.scopes:
            raise InsufficientScope(
                "the access log needs the credit:audit scope, or credit:record for one of the "
                "subject's deciding agencies; this token carries neither",
                AUDIT,
            )
        if not await _is_deciding_agency(services, caller, subject_id):
            raise NotDecidingAgency(
                "the access log is for auditors and the subject's deciding agencies: none of "
                "this client's authorities decided on the subject's credit (a penalty, "
                "dishonest conduct, a breached commitment, a list entry or a rating) or has an "
                "open case on it",
            )
    rows = await run_in_threadpool(
        services.access_log.for_subject, subject_id, after_seq=after, limit=limit
    )
    return {
        "subject_id": subject_id,
        "entries": rows,
        "next_after": rows[-1]["seq"] if len(rows) == limit else None,
    }


@router.post(
    "/subjects/{subject_id}:reveal",
    operation_id="revealSubjectCode",
    summary="Reveal a subject's full code, stating why",
    response_model=RevealedCode,
    responses=problems(*WITH_BODY, 404, 410),
)
async def reveal_code(
    subject_id: SubjectId, body: RevealRequest, services: ServicesDep, caller: Auditor
) -> dict:
    """The subject's full code (an individual's ID number), for an auditor who states why;
    the reveal and its purpose go into the access log before the answer is given."""
    code = await run_in_threadpool(services.files.personal_code, subject_id)
    if code is None:
        raise ErasedPersonalData()
    await log_reads(services, caller, body.purpose, "reveal_code", {subject_id: {"code": "full"}})
    return {"subject_id": subject_id, "code": code}


@router.get(
    "/audit/admin-log",
    operation_id="getAdminLog",
    summary="Every administrative act, hash-chained",
    response_model=AdminLogPage,
)
async def admin_log(
    services: ServicesDep,
    caller: Auditor,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_INT64, description="seq of the last entry seen")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="entries per page")] = 100,
) -> dict:
    """Every administrative act (clients, keys, erasures, four-eyes requests and approvals),
    by whom and when, hash-chained like the access log. For auditors only."""
    rows = await run_in_threadpool(services.admin_log.page, after_seq=after, limit=limit)
    return {"entries": rows, "next_after": rows[-1]["seq"] if len(rows) == limit else None}


@router.get(
    "/audit/access-log:verify",
    operation_id="verifyChainedLogs",
    summary="Verify the access log's and admin log's chains",
    response_model=ChainedLogsVerification,
)
async def verify_chained_logs(services: ServicesDep, caller: Auditor) -> dict:
    """Walk the access log and the admin log: each row's chain, and each head a signed
    checkpoint anchored, which the log must still hold (fewer rows: its tail was cut). Reads
    both logs whole. The same check as `credit audit verify-access-log`."""
    results = await run_in_threadpool(services.checkpoints.verify_chains)
    answer: dict = {"ok": all(check.ok for check in results.values())}
    for name, check in results.items():
        answer[name] = {**check.as_json(), "detail": check.describe(name.replace("_", " "))}
    return answer
