"""Issuing a report for whoever asks (an API client, a console account, an applicant): the
renderer and the verification address handed to the service, the access log's note of it, and
the PDF answer."""

from __future__ import annotations

from functools import partial
from typing import Any
from urllib.parse import quote, urlencode
from uuid import UUID

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool

from api.credit_reports import pdf
from service.bootstrap import Services
from service.credit_reports.contents import ReportRequest
from service.credit_reports.reports import IssuedReport, VerifyUrl

VERIFY_PATH = "/reports/verify"
ISSUE_ACTION = "credit_report"  # the access log's action for a report issued


def verify_url(services: Services, request: Request) -> VerifyUrl:
    """The verification page's address with the report's number and code, as the QR code holds
    it: the configured public address, or the one the report was asked for at."""
    base = services.settings.public_base_url or str(request.base_url)

    def address(number: str, code: str) -> str:
        return f"{base.rstrip('/')}{VERIFY_PATH}?{urlencode({'number': number, 'code': code})}"

    return address


async def issue(
    services: Services, request: Request, subject_id: UUID, order: ReportRequest
) -> IssuedReport:
    """Compute, render, sign and keep the report (off the event loop: it reads the log, may
    sign a checkpoint and renders a PDF)."""
    return await run_in_threadpool(
        services.reports.issue,
        subject_id,
        order,
        partial(pdf.render, zone=services.clock.zone),
        verify_url(services, request),
    )


def logged(issued: IssuedReport) -> dict[str, Any]:
    """What the access log keeps of a report issued: which report, and what it showed."""
    contents = issued.contents
    return {
        "number": issued.number,
        "kind": contents["kind"],
        "report_day": contents["report_day"],
        "known_before": contents["known_before"],
        "period": contents["period"],
        "sections": contents.get("sections", []),
        "version": contents["basis"]["version"],
    }


def pdf_answer(issued: IssuedReport, *, status_code: int, location: str | None = None) -> Response:
    """The report's bytes as a download, named by its title and number."""
    title = pdf.TITLES[issued.contents["kind"]]
    filename = f"{title}-{issued.number}.pdf"
    headers = {
        "Content-Disposition": f'attachment; filename="{issued.number}.pdf"; '
        f"filename*=UTF-8''{quote(filename)}",
        "X-Report-Number": issued.number,
    }
    if location:
        headers["Location"] = location
    return Response(
        issued.pdf, status_code=status_code, media_type="application/pdf", headers=headers
    )
