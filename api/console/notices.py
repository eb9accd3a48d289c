"""Notices to stop using a record (停止使用通知, 国家发展改革委令第36号) at the console: the
notices the agency's API clients were sent, and a person of the agency confirming for a client
that the record is no longer used. For the roles with `credit:read`, like the subscription pages.

Whose notices: a notice is sent to the API client that read the subject's file (the access log
says which); a client belongs to one agency (`api_clients.agency_code`, fixed when it is made),
and the duty to stop using the record is that agency's. So a person sees the notices of their
agency's clients, and confirms one in the same acknowledgement table the client writes to over
the API, with the person named (`acknowledged_by`): the client then sees it acknowledged, the
case counts it once, and a second confirmation, from either side, is refused. Another agency's
notice is not found (404), as one that does not exist. The page shows each subject's code, so
opening it writes each subject shown to its access log (`notices`), as the changes page does."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api.auth import READ, log_reads
from api.console.staff import CsrfChecked, Staff, page_for, render
from api.deps import ServicesDep
from api.templating import chinese_moment
from domain.changes import CHANGE_KINDS
from projections.credit_file.queries import masked_codes
from service.notifications.notices import AlreadyAcknowledged, Notice

router = APIRouter(prefix="/console/notices", tags=["staff console"], include_in_schema=False)
Reader = Annotated[Staff, page_for(READ)]

NOTICES_SHOWN = 200  # the newest notices on the page
PURPOSE = "停止使用通知：核对本单位已收到、须停止使用的信用记录"  # the access log's purpose
STAFF_PREFIX = "account:"
UNKNOWN_NOTICE = "未找到该通知：它不存在，或不是发给本单位 API 客户端的。"
ACKNOWLEDGED_BEFORE = "该通知已确认过，以首次确认为准。"


def _acknowledged_by(notice: Notice) -> str:
    if notice.acknowledged_by is None:
        return f"客户端 {notice.client_id} 通过接口确认"
    return f"工作人员 {notice.acknowledged_by.removeprefix(STAFF_PREFIX)} 在工作台确认"


async def _page(
    request: Request, services: Any, staff: Staff, *, status_code: int = 200, message: str = ""
) -> HTMLResponse:
    found = await run_in_threadpool(
        services.notices.of_agency, staff.account.agency_code, limit=NOTICES_SHOWN
    )
    shown: dict[UUID, dict[str, list[str]]] = {}
    for notice in found:
        shown.setdefault(notice.subject_id, {"notice_ids": []})["notice_ids"].append(
            str(notice.notice_id)
        )
    await log_reads(services, staff.caller, PURPOSE, "notices", shown)
    async with services.read_engine.connect() as conn:
        codes = await masked_codes(conn, list(shown))
    zone = services.clock.zone
    rows = [
        {
            "id": str(notice.notice_id),
            "kind": CHANGE_KINDS[notice.kind].title if notice.kind in CHANGE_KINDS else notice.kind,
            "kind_name": notice.kind,
            "code": codes.get(notice.subject_id, ""),
            "record_id": str(notice.record_id),
            "client_id": notice.client_id,
            "last_read_at": chinese_moment(notice.last_read_at, zone),
            "recorded_at": chinese_moment(notice.recorded_at, zone),
            "acknowledged_at": (
                chinese_moment(notice.acknowledged_at, zone) if notice.acknowledged_at else ""
            ),
            "acknowledged_by": _acknowledged_by(notice) if notice.acknowledged_at else "",
        }
        for notice in found
    ]
    return render(
        request,
        "console/notices.html",
        staff,
        status_code=status_code,
        message=message,
        acknowledged=request.query_params.get("acknowledged") == "1",
        rows=rows,
        limit=NOTICES_SHOWN,
        waiting=sum(1 for row in rows if not row["acknowledged_at"]),
    )


@router.get("", response_class=HTMLResponse)
async def notices_page(request: Request, services: ServicesDep, staff: Reader) -> HTMLResponse:
    """The newest notices of the agency's API clients, newest first, with whether and by whom
    each was confirmed; each subject shown is written to its access log first."""
    return await _page(request, services, staff)


@router.post("/{notice_id}/acknowledge", dependencies=[CsrfChecked])
async def acknowledge(
    request: Request, services: ServicesDep, staff: Reader, notice_id: str
) -> Response:
    """Confirms, for the agency's client that was told, that the notice's record is no longer
    used; the person is recorded as who confirmed. Another agency's notice: 404; a notice
    confirmed before: 409, the first confirmation stands."""
    try:
        wanted = UUID(notice_id)
    except ValueError:
        return await _page(request, services, staff, status_code=404, message=UNKNOWN_NOTICE)
    found: Notice | None = await run_in_threadpool(
        services.notices.of_agency_get, staff.account.agency_code, wanted
    )
    if found is None:
        return await _page(request, services, staff, status_code=404, message=UNKNOWN_NOTICE)
    try:
        await run_in_threadpool(
            lambda: services.notices.acknowledge(
                found.client_id,
                found.notice_id,
                now=services.clock.now(),
                by=staff.account.principal_id,
            )
        )
    except AlreadyAcknowledged:
        return await _page(request, services, staff, status_code=409, message=ACKNOWLEDGED_BEFORE)
    return RedirectResponse("/console/notices?acknowledged=1", status_code=303)
