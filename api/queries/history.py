"""A subject's full history for auditors: every event, including unpublished, repaired,
corrected and revoked records, with valid time, recorded time and who recorded it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated
from uuid import UUID

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.auth import Auditor, Purpose, log_reads
from api.deps import MAX_INT64, ServicesDep, SubjectId
from api.errors import AUTHENTICATED, problems
from api.schemas import HISTORY_EVENT_EXAMPLE, HistoryPage
from domain.errors import SubjectNotFound
from service.history import PAGE, HistoryFilters, admitted, history_page, subject_exists

router = APIRouter(prefix="/v1", tags=["auditing"], responses=problems(*AUTHENTICATED, 422))
NDJSON = "application/x-ndjson"


@router.get(
    "/subjects/{subject_id}/history",
    operation_id="getSubjectHistory",
    summary="A subject's full history, every event",
    responses={
        200: {
            "description": "A page of events, or all of them as NDJSON (one HistoryEvent a line)",
            "model": HistoryPage,
            "content": {
                NDJSON: {
                    "schema": {"type": "string"},
                    "example": json.dumps(HISTORY_EVENT_EXAMPLE, ensure_ascii=False) + "\n",
                }
            },
        },
        **problems(404),
    },
)
async def subject_history(
    subject_id: SubjectId,
    request: Request,
    services: ServicesDep,
    caller: Auditor,
    why: Purpose,
    type: Annotated[list[str] | None, Query(description="event types to keep")] = None,
    recorded_from: Annotated[
        date | None, Query(description="only events recorded on or after this day")
    ] = None,
    recorded_until: Annotated[
        date | None, Query(description="only events recorded on or before this day")
    ] = None,
    valid_from: Annotated[
        date | None, Query(description="only records decided on or after this day")
    ] = None,
    valid_until: Annotated[
        date | None, Query(description="only records decided on or before this day")
    ] = None,
    after_version: Annotated[
        int,
        Query(
            ge=0,
            le=MAX_INT64,
            description="`next_after_version` of the page before (default 0: from the start)",
        ),
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=PAGE, description="events per page")] = 100,
) -> Response:
    """Paged JSON (`after_version` cursor), or the whole history as NDJSON with
    `Accept: application/x-ndjson`. Filters: event type, recorded date, valid date."""
    filters = HistoryFilters(
        frozenset(type or ()), recorded_from, recorded_until, valid_from, valid_until
    )
    if not await run_in_threadpool(subject_exists, services.ledger, subject_id):
        raise SubjectNotFound(f"no subject {subject_id}")
    await log_reads(
        services,
        caller,
        why,
        "history",
        {subject_id: {"after_version": after_version, "filters": filters.as_json()}},
    )
    if NDJSON in request.headers.get("accept", ""):
        return StreamingResponse(
            _stream(services, subject_id, after_version, filters), media_type=NDJSON
        )
    page = await run_in_threadpool(
        history_page,
        services.ledger,
        subject_id,
        after_version=after_version,
        limit=limit,
        filters=filters,
    )
    body = {
        "subject_id": subject_id,
        "events": page.items,
        "next_after_version": page.next_after_version,
    }
    return Response(orjson.dumps(body, default=str), media_type="application/json")


async def _stream(
    services, subject_id: UUID, after: int, filters: HistoryFilters
) -> AsyncIterator[bytes]:
    while True:
        page = await run_in_threadpool(
            services.ledger.stream_page, subject_id, after_version=after, limit=PAGE
        )
        if not page:
            return
        for item in admitted(page, filters):
            yield orjson.dumps(item, default=str) + b"\n"
        after = page[-1][1].originator_version
