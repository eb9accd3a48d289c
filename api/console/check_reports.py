"""The window clerk's "生成信用报告": from a check result, a credit report or a special credit
report on the subject, issued under the person's account for the purpose already stated, and
downloaded to attach to the file. The same issuing as the API's `issueCreditReport`."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from api.auth import log_reads
from api.console.check import UNKNOWN_SUBJECT, Checker, lookup_page, stated_purpose
from api.console.staff import CsrfChecked
from api.credit_reports import issuing
from api.deps import ServicesDep
from domain.errors import InvalidInput, SubjectNotFound
from service.credit_reports.contents import (
    MAX_YEARS,
    ReportKind,
    ReportRequest,
    checked_sections,
    checked_sectors,
)

router = APIRouter(prefix="/console/check", tags=["staff console"], include_in_schema=False)
KINDS = ("credit", "special")
BAD_CHOICE = "请选择报告类型和报告期间。"
NOT_ITS_SECTOR = "该主体不在所选行业：请选择该主体所在的行业。"


@router.post("/report", response_class=Response, dependencies=[CsrfChecked])
async def issue_report(
    request: Request,
    services: ServicesDep,
    staff: Checker,
    subject_id: Annotated[str, Form()] = "",
    purpose: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "credit",
    years: Annotated[str, Form()] = "3",
    sector: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """The report as a download (报告编号 in its name), logged as `credit_report`; or the
    look-up page saying why not. The form sends the subject's id, never its code."""
    logged_purpose, problem = stated_purpose(purpose, note)
    if problem:
        return lookup_page(request, staff, status_code=422, message=problem)
    if kind not in KINDS or not years.isdigit() or not 1 <= int(years) <= MAX_YEARS:
        return lookup_page(request, staff, status_code=422, message=BAD_CHOICE)
    try:
        wanted = UUID(subject_id)
    except ValueError:
        return lookup_page(request, staff, status_code=404, message=UNKNOWN_SUBJECT)
    chosen: ReportKind = "special" if kind == "special" else "credit"
    caller = staff.caller
    order = ReportRequest(
        kind=chosen,
        years=int(years),
        as_of=None,
        sections=checked_sections(chosen, None),
        # A special report: the sector chosen, or every one of the subject's; a credit report
        # has no statements, and the choice is not its.
        sectors=checked_sectors(chosen, [sector] if sector and chosen == "special" else None),
        purpose=logged_purpose,
        requested_by=caller.client_id,
        requester_role=caller.client.role,
        agency_code=caller.client.agency_code,
    )
    try:
        issued = await issuing.issue(services, request, wanted, order)
    except SubjectNotFound:
        return lookup_page(request, staff, status_code=404, message=UNKNOWN_SUBJECT)
    except InvalidInput:  # a sector the subject is not in: the form offers only its own
        return lookup_page(request, staff, status_code=422, message=NOT_ITS_SECTOR)
    await log_reads(
        services, caller, logged_purpose, issuing.ISSUE_ACTION, {wanted: issuing.logged(issued)}
    )
    return issuing.pdf_answer(issued, status_code=200)
