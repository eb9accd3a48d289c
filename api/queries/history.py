"""A subject's full history for auditors: every event, including unpublished, repaired,
corrected and revoked records, with valid time, recorded time and who recorded it."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated, Any
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
from service.access.personal_data import is_sealed

router = APIRouter(prefix="/v1", tags=["auditing"], responses=problems(*AUTHENTICATED, 422))
NDJSON = "application/x-ndjson"
PAGE = 500
PROVENANCE = {"originator_id", "originator_version", "timestamp", "originator_topic"}


def history_item(position: int, event: Any) -> dict[str, Any]:
    fields = {
        f.name: getattr(event, f.name)
        for f in dataclasses.fields(event)
        if f.name not in PROVENANCE
    }
    for name, value in fields.items():
        if isinstance(value, str) and is_sealed(value):
            fields[name] = "(sealed)"  # an individual's personal field: reveal is separate
    return {
        "version": event.originator_version,
        "position": position,
        "type": type(event).__name__,
        "schema_version": getattr(type(event), "class_version", 1),
        "recorded_at": event.timestamp,
        "valid_time": fields.get("decision_date"),
        "recorded_by": fields.pop("recorded_by", None),
        "record_id": fields.get("record_id"),
        "data": fields,
    }


def _matches(item: dict, types: set[str], recorded_from, recorded_until, valid_from, valid_until):
    if types and item["type"] not in types:
        return False
    recorded_on = item["recorded_at"].date()
    if (recorded_from and recorded_on < recorded_from) or (
        recorded_until and recorded_on > recorded_until
    ):
        return False
    valid = item["valid_time"]
    if (valid_from or valid_until) and valid is None:
        return False
    return not ((valid_from and valid < valid_from) or (valid_until and valid > valid_until))


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
    filters = (set(type or ()), recorded_from, recorded_until, valid_from, valid_until)
    first = await run_in_threadpool(
        services.ledger.stream_page, subject_id, after_version=0, limit=1
    )
    if not first:
        raise SubjectNotFound(f"no subject {subject_id}")
    await log_reads(
        services,
        caller,
        why,
        "history",
        {subject_id: {"after_version": after_version, "filters": str(filters)}},
    )
    if NDJSON in request.headers.get("accept", ""):
        return StreamingResponse(
            _stream(services, subject_id, after_version, filters), media_type=NDJSON
        )
    items: list[dict[str, Any]] = []
    last_version = after_version
    while len(items) < limit:
        page = await run_in_threadpool(
            services.ledger.stream_page, subject_id, after_version=last_version, limit=PAGE
        )
        if not page:  # the end: fewer than `limit` items, so no next cursor
            break
        for position, event in page:
            last_version = event.originator_version
            item = history_item(position, event)
            if _matches(item, *filters):
                items.append(item)
                if len(items) == limit:
                    break
    body = {
        "subject_id": subject_id,
        "events": items,
        "next_after_version": last_version if len(items) == limit else None,
    }
    return Response(orjson.dumps(body, default=str), media_type="application/json")


async def _stream(services, subject_id: UUID, after: int, filters) -> AsyncIterator[bytes]:
    while True:
        page = await run_in_threadpool(
            services.ledger.stream_page, subject_id, after_version=after, limit=PAGE
        )
        if not page:
            return
        for position, event in page:
            item = history_item(position, event)
            if _matches(item, *filters):
                yield orjson.dumps(item, default=str) + b"\n"
        after = page[-1][1].originator_version
