"""The API's credit-report routes: an agency issues a report for a stated purpose and gets the
PDF; it reads the metadata of the reports its agency asked for; an auditor recomputes a report
from the log at its checkpoint. Verifying is public: the pages in `pages.py`."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from starlette.concurrency import run_in_threadpool

from api.auth import AUDIT, READ, Auditor, Caller, Purpose, Reader, log_reads, require
from api.credit_reports import issuing
from api.credit_reports.schemas import ReportMetadata, ReportOrder, ReportRecomputation
from api.deps import ServicesDep, SubjectId
from api.docs import header_docs
from api.errors import AUTHENTICATED, WITH_BODY, InvalidRequest, ReportNotFound, problems
from service.credit_reports.contents import ReportRequest, checked_sections, checked_sectors
from service.credit_reports.reports import StoredReport

router = APIRouter(tags=["credit reports"], responses=problems(*AUTHENTICATED, 422))
ReportNumber = Annotated[
    str,
    Path(
        max_length=24, description="the report's number (报告编号)", examples=["XYBG20261120000001"]
    ),
]
PDF: dict[int | str, dict[str, Any]] = {
    201: {
        "description": "The report, as issued (its SHA-256 is what verification checks)",
        "content": {
            "application/pdf": {
                "schema": {"type": "string", "format": "binary"},
                "example": "%PDF-1.4 … (the report's bytes)",
            }
        },
        "headers": header_docs(
            {
                "Location": "the report's metadata: /v1/credit-reports/{number}",
                "X-Report-Number": "the report's number (报告编号)",
                "Content-Disposition": "attachment, named by the report's title and number",
            }
        ),
    }
}


@router.post(
    "/v1/subjects/{subject_id}/credit-reports",
    operation_id="issueCreditReport",
    summary="Issue a credit report or a special credit report as a PDF",
    status_code=201,
    response_class=Response,
    responses={**PDF, **problems(*WITH_BODY, 404)},
    dependencies=[require(READ)],
)
async def issue_report(
    subject_id: SubjectId,
    order: ReportOrder,
    request: Request,
    services: ServicesDep,
    caller: Reader,
    why: Purpose,
) -> Response:
    """A report on the subject as of now or a past day, over a period of up to five years, with
    the sections chosen: computed from the subject's events at a signed checkpoint (one is
    signed first if the newest does not hold the subject's latest event), rendered as a PDF
    with its number, verification code and QR code, kept, and written to the access log. The
    verification code is in the PDF only; the service keeps its hash."""
    if why == "unspecified":
        raise InvalidRequest("a report needs a purpose: send X-Purpose (e.g. 招标投标)")
    report_request = ReportRequest(
        kind=order.kind,
        years=order.years,
        as_of=order.as_of,
        sections=checked_sections(order.kind, order.sections),
        sectors=_sectors(order),
        purpose=why,
        requested_by=caller.client_id,
        requester_role=caller.client.role,
        agency_code=caller.client.agency_code,
    )
    issued = await issuing.issue(services, request, subject_id, report_request)
    await log_reads(
        services, caller, why, issuing.ISSUE_ACTION, {subject_id: issuing.logged(issued)}
    )
    return issuing.pdf_answer(
        issued, status_code=201, location=f"/v1/credit-reports/{issued.number}"
    )


def _sectors(order: ReportOrder) -> tuple[str, ...] | None:
    try:
        return checked_sectors(order.kind, order.sectors)
    except ValueError as wrong:
        raise InvalidRequest(str(wrong)) from None


def _readable(report: StoredReport | None, caller: Caller) -> StoredReport:
    """A report is the asking agency's to read, and an auditor's; to anyone else it does not
    exist (verifying is the public's way in, with the code)."""
    own = bool(report and report.request.agency_code == caller.client.agency_code != "")
    if report is None or not (own or AUDIT in caller.scopes):
        raise ReportNotFound("no credit report with this number was issued to this agency")
    return report


def metadata(report: StoredReport, origin: str) -> ReportMetadata:
    contents = report.contents
    return ReportMetadata(
        number=report.number,
        kind=report.kind,
        subject_id=report.subject_id,
        subject_name=contents["subject"]["name"],
        code_masked=contents["subject"]["code_masked"],
        issued_at=report.issued_at,
        report_day=contents["report_day"],
        period=contents["period"],
        summary=report.summary,
        pdf_sha256=report.pdf_sha256,
        contents_sha256=report.contents_sha256,
        position=report.position,
        stream_version=report.stream_version,
        tree_size=report.tree_size,
        root=report.root.hex(),
        key_id=report.key_id,
        requested_by=report.request.requested_by,
        purpose=report.request.purpose,
        origin=origin,
        signature=base64.b64encode(report.signature).decode(),
        known_before=contents["known_before"],
        request=report.request.as_json(),
        contents=contents,
    )


@router.get(
    "/v1/credit-reports/{number}",
    operation_id="getCreditReport",
    summary="A credit report's metadata",
    responses=problems(404),
)
async def get_report(number: ReportNumber, services: ServicesDep, caller: Reader) -> ReportMetadata:
    """What was issued: the subject, the day and period, the entries per section, the hashes
    of the PDF and of the contents, and the checkpoint the report reflects. The asking agency's
    reports, and every report for an auditor."""
    report = _readable(await run_in_threadpool(services.reports.find, number), caller)
    checkpoint = await run_in_threadpool(services.checkpoints.at_size, report.tree_size)
    return metadata(report, checkpoint.origin if checkpoint else services.checkpoints.origin)


@router.get(
    "/v1/credit-reports/{number}/recomputation",
    operation_id="recomputeCreditReport",
    summary="Recompute a credit report from the log at its checkpoint",
    responses=problems(404),
)
async def recompute_report(
    number: ReportNumber, services: ServicesDep, caller: Auditor, why: Purpose
) -> ReportRecomputation:
    """The report's contents computed again from the subject's events at the report's
    checkpoint (an as-of status and the same record sections) and compared with what was
    issued, field by field; the report's signature and its checkpoint checked; and the RFC 6962
    inclusion proof of each event it reflects, to check against the checkpoint's root."""
    found = await run_in_threadpool(services.reports.recompute, number)
    if found is None:
        raise ReportNotFound("no credit report has this number")
    await log_reads(
        services,
        caller,
        why,
        "credit_report_recomputation",
        {found.report.subject_id: {"number": number, "ok": found.ok}},
    )
    checkpoint = services.checkpoints.at_size(found.report.tree_size)
    return ReportRecomputation(
        number=number,
        ok=found.ok,
        contents_sha256=found.report.contents_sha256,
        recomputed_sha256=found.contents_sha256,
        differences=found.differences,
        signature_valid=found.signature_valid,
        checkpoint_holds=found.checkpoint_holds,
        checkpoint=checkpoint.as_json() if checkpoint else {"tree_size": found.report.tree_size},
        events=found.inclusion,
    )
