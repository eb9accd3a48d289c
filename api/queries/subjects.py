"""What a querying agency reads: status, records, look-up by code, batch status."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import orjson
from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from api.auth import (
    AUDIT,
    READ,
    Purpose,
    Reader,
    authenticated,
    log_reads,
    purpose,
    require,
    with_scope,
)
from api.deps import ReadYourWrites, ServicesDep, SubjectId, TodayDep, get_services
from api.deps import today as today_of
from api.docs import header_docs
from api.errors import (
    AUTHENTICATED,
    WITH_BODY,
    InsufficientScope,
    InvalidCursor,
    InvalidRequest,
    problems,
)
from api.fast_path import FastPathRoute, fast_path
from api.schemas import (
    BatchStatusItem,
    BatchStatusRequest,
    BatchStatusResponse,
    CodeLookup,
    RecordPage,
    Status,
)
from domain.errors import SubjectNotFound
from projections.credit_file import queries
from projections.credit_file.as_of import (
    NotInHistory,
    end_of_day,
    status_as_of,
    status_from_history,
)
from service.querying.status import (
    BATCH_LIMIT,
    access_summary,
    status_by_code,
    status_now,
    statuses_by_code,
)

# Why a code of a batch has no status, in the API's words.
REASONS = {
    "invalid": "not a valid USCC, resident ID or plate",
    "unknown": "no subject is registered with this code",
}
router = APIRouter(
    prefix="/v1",
    tags=["querying"],
    dependencies=[require(READ), ReadYourWrites],
    responses=problems(*AUTHENTICATED, 422, 503),
    route_class=FastPathRoute,
)
# A subject id as the status route's fast path takes it; any other spelling pydantic may accept
# is left to FastAPI.
CANONICAL_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


ETAG = {
    "ETag": 'weak, the answer\'s stream version and days: W/"4-2026-11-20"; send it as '
    "If-None-Match to get 304 while nothing changed"
}


# A status answer and its conditional twin (`_answer`).
CONDITIONAL: dict[int | str, dict[str, Any]] = {
    200: {"headers": header_docs(ETAG)},
    304: {
        "description": "Unchanged since the ETag sent in If-None-Match",
        "headers": header_docs(ETAG),
    },
}


def _etag(status: dict) -> str:
    days = status["evaluated_on"].isoformat()
    if status["known_as_of"] != status["evaluated_on"]:
        days = f"{status['known_as_of'].isoformat()}-{days}"
    return f'W/"{status["version"]}-{days}"'


def _answer(request: Request, status: dict) -> Response:
    """The status as JSON, serialised once (it is already in the documented `Status` shape:
    re-validating it per request would cost more than the query that produced it)."""
    etag = _etag(status)
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    return Response(
        orjson.dumps(status, default=str), media_type="application/json", headers={"ETag": etag}
    )


async def _plain_status(request: Request) -> Response | None:
    """The usual status read (an id, no query parameters) without FastAPI's dependency solving:
    the same checks, in the order FastAPI solves them: the router's scope check (the token,
    then the scope), read-your-writes (no `min_position`: nothing to wait for), the id, the
    purpose. Anything else (a query string, an id to validate) is declined, for FastAPI."""
    subject_id = request.scope["path_params"]["subject_id"]
    if request.scope["query_string"] or not CANONICAL_UUID.fullmatch(subject_id):
        return None
    caller = with_scope(await authenticated(request), READ)
    why = await purpose(request.headers.get("x-purpose"))
    return await subject_status(UUID(subject_id), request, caller, why)


@router.get(
    "/subjects/{subject_id}/status",
    operation_id="getSubjectStatus",
    summary="A subject's credit status, now or as of a day",
    response_model=Status,
    responses={**CONDITIONAL, **problems(404)},
)
@fast_path(_plain_status, checks=(require(READ), authenticated, ReadYourWrites, purpose))
async def subject_status(
    subject_id: SubjectId,
    request: Request,
    caller: Reader,
    why: Purpose,
    as_of: Annotated[
        date | None,
        Query(
            description="knowledge cut-off: answer from what was recorded by the end of this "
            "day (default: everything recorded so far)"
        ),
    ] = None,
    valid_at: Annotated[
        date | None,
        Query(
            description="the day the rules are applied for, under the policy in force then "
            "(default: the as_of day, or today)"
        ),
    ] = None,
):
    """The subject's credit status now, or on two time axes: as known by the end of `as_of`,
    in force on `valid_at`. Grades with their adjustments, list memberships, supervision tier,
    warnings and published record counts."""
    # Read here rather than as dependencies: each dependency FastAPI solves costs a status read
    # more CPU than the lookup itself.
    services = await get_services(request)
    today = await today_of(request)
    for name, day in (("as_of", as_of), ("valid_at", valid_at)):
        if day is not None and day > today:
            raise InvalidRequest(
                f"{name} {day} is in the future (today is {today}): the service answers what "
                "was recorded and what was in force, not forecasts",
            )
    known_as_of = as_of or today
    on = valid_at or known_as_of
    if known_as_of == today and on == today:
        status = await status_now(services.read_engine, services.policy, subject_id, today)
    else:
        status = await _status_at(services, subject_id, known_as_of, on)
    if status is None:
        raise SubjectNotFound(
            f"no subject {subject_id}" + (f" was known on {as_of}" if as_of else "")
        )
    action = {
        (False, False): "status",
        (True, False): "status_as_of",
        (False, True): "status_valid_at",
        (True, True): "status_as_of_valid_at",
    }[as_of is not None, valid_at is not None]
    summary = access_summary(status)
    if action != "status":
        summary |= {"known_as_of": known_as_of.isoformat(), "evaluated_on": on.isoformat()}
    await log_reads(services, caller, why, action, {subject_id: summary})
    return _answer(request, status)


async def _status_at(services, subject_id: UUID, known_as_of: date, on: date) -> dict | None:
    """What was recorded by the end of `known_as_of`, evaluated for `on`: from the bitemporal
    history, or by folding the subject's events where the history does not hold them yet."""
    zone = services.clock.zone
    known_before = end_of_day(known_as_of, zone)

    def recorded_after(sid: UUID, version: int) -> datetime | None:
        page = services.ledger.stream_page(sid, after_version=version, limit=1)
        return page[0][1].timestamp if page else None

    async def next_recorded(sid: UUID, version: int) -> datetime | None:
        return await run_in_threadpool(recorded_after, sid, version)

    try:
        async with services.read_engine.connect() as conn:
            status = await status_from_history(
                conn,
                subject_id,
                known_before,
                on,
                services.policy,
                zone=zone,
                next_recorded=next_recorded,
            )
    except NotInHistory:
        status = await run_in_threadpool(_folded, services, subject_id, known_before, on)
    return None if status is None else {**status, "known_as_of": known_as_of}


def _folded(services, subject_id: UUID, known_before: datetime, on: date) -> dict | None:
    events, after = [], 0
    while page := services.ledger.stream_page(subject_id, after_version=after, limit=1000):
        events += page
        after = page[-1][1].originator_version
        if page[-1][1].timestamp >= known_before:  # nothing after it was known by then
            break
    return status_as_of(events, known_before, on, services.policy, zone=services.clock.zone)


@router.post(
    "/subjects:lookup",
    operation_id="lookUpSubjectByCode",
    summary="A subject's credit status by its code",
    response_model=Status,
    responses={**CONDITIONAL, **problems(*WITH_BODY, 404)},
)
async def lookup_by_code(
    body: CodeLookup,
    request: Request,
    services: ServicesDep,
    today: TodayDep,
    caller: Reader,
    why: Purpose,
):
    """Status by code (USCC, resident ID or plate). A POST, so that no ID number is in a URL."""
    found = await status_by_code(
        services.read_engine,
        services.policy,
        services.files.subject_id_for_any_code,
        body.code,
        today,
    )
    if found.status is None or found.subject_id is None:
        raise SubjectNotFound("no subject is registered with this code")
    await log_reads(
        services, caller, why, "lookup", {found.subject_id: access_summary(found.status)}
    )
    return _answer(request, found.status)


@router.post(
    "/status:batch",
    operation_id="getBatchStatus",
    summary=f"Credit status of up to {BATCH_LIMIT} codes at once",
    response_model=BatchStatusResponse,
    responses=problems(*WITH_BODY),
)
async def batch_status(
    body: BatchStatusRequest, services: ServicesDep, today: TodayDep, caller: Reader, why: Purpose
) -> BatchStatusResponse:
    """Up to 200 codes at once (a bid opening): one answer per code, in order."""
    answers, position = await statuses_by_code(
        services.read_engine,
        services.policy,
        services.files.subject_id_for_any_code,
        body.codes,
        today,
    )
    results = [
        BatchStatusItem(
            index=answer.index,
            code_masked=answer.code_masked,
            found=answer.status is not None,
            reason=REASONS[answer.problem] if answer.problem else None,
            status=Status(**answer.status) if answer.status else None,
        )
        for answer in answers
    ]
    await log_reads(
        services,
        caller,
        why,
        "batch_status",
        {
            answer.subject_id: access_summary(answer.status)
            for answer in answers
            if answer.subject_id and answer.status
        },
    )
    return BatchStatusResponse(results=results, position=position, evaluated_on=today)


@router.get(
    "/subjects/{subject_id}/records",
    operation_id="listSubjectRecords",
    summary="A subject's records with their publication",
    response_model=RecordPage,
    responses=problems(400, 404),
)
async def subject_records(
    subject_id: SubjectId,
    services: ServicesDep,
    today: TodayDep,
    caller: Reader,
    why: Purpose,
    include: Annotated[
        Literal["published", "all"],
        Query(
            description="published (default): what agencies see today; all: every record with "
            "its publication state"
        ),
    ] = "published",
    cursor: Annotated[
        str | None,
        Query(max_length=200, description="`next_cursor` of the page before (default: the first)"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="records per page")] = 50,
) -> RecordPage:
    """The subject's records, newest first, each with its publication window and state.
    Unpublished, expired and revoked records (`include=all`) are for auditors only."""
    if include == "all" and AUDIT not in caller.scopes:
        raise InsufficientScope(
            "unpublished, expired and revoked records need the credit:audit scope"
        )
    try:
        after = queries.decode_cursor(cursor) if cursor else None
    except ValueError:
        raise InvalidCursor() from None
    async with services.read_engine.connect() as conn:
        position = await queries.tracked_position(conn)
        if not await queries.subject_exists(conn, subject_id):
            raise SubjectNotFound(f"no subject {subject_id}")
        rows, next_after = await queries.record_page(
            conn,
            subject_id,
            today,
            include_unpublished=include == "all",
            after_position=after,
            limit=limit,
        )
    await log_reads(
        services,
        caller,
        why,
        "records",
        {subject_id: {"include": include, "record_ids": [str(r["record_id"]) for r in rows]}},
    )
    return RecordPage(
        subject_id=subject_id,
        records=rows,
        position=position,
        next_cursor=queries.encode_cursor(next_after) if next_after is not None else None,
    )
