"""Pages for applicants (申请人): follow a repair or objection case with its case number and query
code, in a plain server-rendered form that works without JavaScript.

The query code travels only in a POST body, never in a URL, so it stays out of access logs,
browser history and Referer headers. A wrong code reads exactly like an unknown case, and
attempts from one address share the `progress` budget of the JSON endpoint."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from api.deps import ServicesDep
from api.rate_limit import RateLimited
from api.templating import chinese_date, templates

router = APIRouter(tags=["applicant pages"])

KINDS = {"repair": "信用修复", "objection": "异议"}
STATUSES = {
    "filed": "已提交，待受理",
    "returned": "待补正",
    "accepted": "审核中",
    "approved": "已通过",
    "denied": "未通过",
    "revoked": "已撤销",
    "resolved": "已办结",
}
STEP_NAMES = {
    "RepairApplied": "提交申请",
    "ObjectionFiled": "提出异议",
    "CaseMaterialsReturned": "退回补正",
    "CaseMaterialsSupplied": "补正材料",
    "CaseAccepted": "受理",
    "RepairApproved": "修复通过",
    "RepairDenied": "不予修复",
    "RepairRevoked": "撤销修复",
    "ObjectionResolved": "异议办结",
}
OUTCOMES = {
    "corrected": "更正",
    "revoked": "撤销",
    "upheld": "维持",
    "approved": "修复通过",
    "denied": "不予修复",
}
NOT_FOUND = "未找到该案件，请核对案件编号和查询码。"
MISSING_FIELDS = "请填写案件编号和查询码。"
CASE_NUMBER_LENGTH = range(6, 41)  # as the JSON endpoint's CaseAccess
QUERY_CODE_LENGTH = range(4, 21)


def _step(step: dict[str, Any]) -> dict[str, Any]:
    name = STEP_NAMES.get(step["step"], step["step"])
    if step["step"] == "ObjectionResolved" and step.get("outcome"):
        name = f"{name}（{OUTCOMES.get(step['outcome'], step['outcome'])}）"
    return {
        "name": name,
        "on": step.get("on", ""),
        "day": chinese_date(step.get("on")),
        "missing": list(step.get("missing") or []),
        "evidence": list(step.get("evidence") or []),
        "reasons": step.get("reasons") or "",
    }


def page_of(view: dict[str, Any]) -> dict[str, Any]:
    """The applicant's view (`CaseQueries.view`) in the words the page shows."""
    due = view.get("due")
    overdue_unit = "个工作日" if view["kind"] == "repair" else "日"  # objections: calendar days
    return {
        "case_number": view["case_number"],
        "kind": KINDS.get(view["kind"], view["kind"]),
        "status": STATUSES.get(view["status"], view["status"]),
        "status_code": view["status"],
        "filed_on": chinese_date(view.get("filed_on")),
        "accepted_on": chinese_date(view.get("accepted_on")),
        "closed_on": chinese_date(view.get("closed_on")),
        "outcome": OUTCOMES.get(view.get("outcome") or "", view.get("outcome") or ""),
        "missing": list(view.get("missing") or []),
        "steps": [_step(step) for step in view.get("steps") or []],
        "due": chinese_date(due),
        "due_iso": due.isoformat() if isinstance(due, date) else (due or ""),
        "due_provisional": bool(view.get("due_provisional")),
        "due_basis": view.get("due_basis") or "",
        "overdue": bool(view.get("overdue")),
        "overdue_text": f"已超期 {view.get('overdue_days', 0)} {overdue_unit}",
    }


def _render(
    request: Request,
    *,
    status_code: int = 200,
    case: dict[str, Any] | None = None,
    message: str = "",
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "progress.html",
        {"case": case, "message": message},
        status_code=status_code,
        headers=headers,
    )


@router.get("/cases/progress", response_class=HTMLResponse, include_in_schema=False)
async def progress_form(request: Request) -> HTMLResponse:
    """The form: 案件编号 and 查询码."""
    return _render(request)


@router.post("/cases/progress", response_class=HTMLResponse, include_in_schema=False)
async def progress_page(
    request: Request,
    services: ServicesDep,
    case_number: Annotated[str, Form()] = "",
    query_code: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """The case's status, timeline, deadline and missing materials; one page for every miss."""
    address = request.client.host if request.client else "unknown"
    try:
        request.app.state.applicant_limiter.check(f"progress:{address}")
    except RateLimited as limited:
        wait = limited.retry_after_seconds
        return _render(
            request,
            status_code=429,
            message=f"查询过于频繁，请 {wait} 秒后再试。",
            headers={"Retry-After": str(wait)},
        )
    number, code = case_number.strip(), query_code.strip()
    if not number or not code:
        return _render(request, status_code=422, message=MISSING_FIELDS)
    if len(number) not in CASE_NUMBER_LENGTH or len(code) not in QUERY_CODE_LENGTH:
        return _render(request, status_code=404, message=NOT_FOUND)

    def look_up() -> dict[str, Any] | None:
        case = services.case_queries.for_applicant(number, code)
        return services.case_queries.view(case) if case is not None else None

    view = await run_in_threadpool(look_up)
    if view is None:
        return _render(request, status_code=404, message=NOT_FOUND)
    return _render(request, case=page_of(view))
