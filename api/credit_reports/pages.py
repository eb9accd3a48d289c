"""The public credit-report pages, no account needed, no JavaScript:

- `/reports/verify` (核验信用报告): anyone enters a report's number and verification code, or
  scans its QR code (a GET carrying both), and sees whether it is genuine, when it was made,
  about whom and what it says in sum; a PDF handed in is checked byte for byte against the one
  issued. An unknown number reads exactly like a wrong code.
- `/reports/apply` (申请信用报告): a subject asks for its own report, proving who it is with the
  number and query code of one of its cases (信用修复 or 异议), and may add its own statement
  (主体说明); the PDF comes back as a download.

Both spend the address's budgets of the applicant pages (`verify`, `apply`), and each report
shown or issued is written to the subject's access log under "public" or "applicant"."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from api.console.labels import SECTORS, label
from api.credit_reports import issuing
from api.credit_reports.pdf import SECTION_TITLES, SPECIAL_TABLES, TITLES
from api.deps import ServicesDep
from api.templating import chinese_date, chinese_moment
from api.web import applicant_page, form_token_sent, limited, too_often
from domain.errors import InvalidInput, SubjectNotFound
from service.access.access_log import AccessEntry
from service.bootstrap import Services
from service.credit_reports.contents import MAX_YEARS, STATEMENT_CHARS, ReportRequest
from service.credit_reports.reports import Verification

router = APIRouter(tags=["credit report pages"])

NOT_FOUND = "未找到该报告，请核对报告编号和核验码。"
MISSING = "请填写报告编号和核验码。"
FILE_MATCHES = "上传的文件与签发的报告完全一致。"
FILE_DIFFERS = "上传的文件与签发的报告不一致：文件已被改动，不能作为该报告使用。"
CASE_NOT_FOUND = "未能核验申请人：未找到该案件，请核对案件编号和查询码。"
STALE_FORM = "页面已失效（可能已在其他窗口提交，或浏览器清除了页面信息）。请确认后重新提交。"
NOT_ITS_SECTOR = "本主体不在所选行业：请选择本主体所在的行业，或选择“本主体所在的全部行业”。"
KIND_CHOICES = {"credit": TITLES["credit"], "special": f"{TITLES['special']}（交通运输领域）"}
PDF_LIMIT = 4 * 1024 * 1024  # a report is far smaller; anything bigger is not one
NUMBER_CHARS, CODE_CHARS = 24, 20


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _verify_page(
    request: Request,
    *,
    typed: dict[str, str] | None = None,
    found: dict[str, Any] | None = None,
    status_code: int = 200,
    message: str = "",
    notice: str = "",
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    return applicant_page(
        request,
        "report_verify.html",
        status_code=status_code,
        headers=headers,
        page="verify",
        typed=typed or {"number": "", "code": ""},
        found=found,
        message=message,
        notice=notice,
    )


def shown(verification: Verification, zone: Any) -> dict[str, Any]:
    """What the public sees of a genuine report: no record, only its subject and its sums."""
    report = verification.report
    contents = report.contents
    titles = SPECIAL_TABLES if report.kind == "special" else SECTION_TITLES
    return {
        "number": report.number,
        "title": KIND_CHOICES[report.kind],
        "issued_at": chinese_moment(report.issued_at, zone),
        "subject": f"{contents['subject']['name']}（{contents['subject']['code_masked']}）",
        "report_day": chinese_date(contents["report_day"]),
        "period": f"{chinese_date(contents['period']['start'])}至"
        f"{chinese_date(contents['period']['end'])}",
        "summary": [(label(titles, name), count) for name, count in report.summary.items()],
        "pdf_sha256": report.pdf_sha256,
        "file_matches": verification.file_matches,
        "checkpoint": report.tree_size,
    }


async def _verified(
    request: Request,
    services: Services,
    number: str,
    code: str,
    pdf: bytes | None,
) -> HTMLResponse:
    typed = {"number": number[:NUMBER_CHARS], "code": code[:CODE_CHARS]}
    wait = limited(request, "verify")
    if wait is not None:
        return _verify_page(request, typed=typed, **too_often(wait))
    if not number.strip() or not code.strip():
        return _verify_page(request, typed=typed, status_code=422, message=MISSING)
    if len(number.strip()) > NUMBER_CHARS or len(code.strip()) > CODE_CHARS:
        return _verify_page(request, typed=typed, status_code=404, message=NOT_FOUND)
    verification = await run_in_threadpool(services.reports.verify, number, code, pdf)
    if verification is None:
        return _verify_page(request, typed=typed, status_code=404, message=NOT_FOUND)
    report = verification.report
    await services.access_log_writer.append(
        [
            AccessEntry(
                "public",
                "public",
                "",
                report.subject_id,
                "credit_report_verify",
                "信用报告核验",
                {
                    "number": report.number,
                    "file_checked": verification.file_matches,
                    "address": _client(request),
                },
            )
        ]
    )
    found = shown(verification, services.clock.zone)
    if verification.file_matches is False:
        return _verify_page(
            request, typed=typed, found=found, status_code=409, message=FILE_DIFFERS
        )
    notice = FILE_MATCHES if verification.file_matches else ""
    return _verify_page(request, typed=typed, found=found, notice=notice)


@router.get("/reports/verify", response_class=HTMLResponse, include_in_schema=False)
async def verify_form(
    request: Request, services: ServicesDep, number: str = "", code: str = ""
) -> HTMLResponse:
    """The form; with `number` and `code` (the QR code's address), the report checked at once."""
    if number or code:
        return await _verified(request, services, number, code, None)
    return _verify_page(request)


@router.post("/reports/verify", response_class=HTMLResponse, include_in_schema=False)
async def verify_page(
    request: Request,
    services: ServicesDep,
    number: Annotated[str, Form()] = "",
    code: Annotated[str, Form()] = "",
    file: UploadFile | None = None,
) -> HTMLResponse:
    """The report checked by its number and code, and the PDF handed in, if any, byte for byte.
    A lookup that writes nothing needs no form token: the page changes nothing."""
    pdf = None
    if file is not None and file.filename:
        pdf = await file.read(PDF_LIMIT + 1)
        if len(pdf) > PDF_LIMIT:
            pdf = b""  # not the report, whatever it is: it cannot match
    return await _verified(request, services, number, code, pdf)


# A subject's own report (申请信用报告) -----------------------------------------------------------
def _apply_page(
    request: Request,
    *,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
    message: str = "",
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    return applicant_page(
        request,
        "report_apply.html",
        status_code=status_code,
        headers=headers,
        page="report",
        typed=typed
        or {
            "case_number": "",
            "query_code": "",
            "kind": "credit",
            "years": "3",
            "sector": "",
            "statement": "",
        },
        kinds=list(KIND_CHOICES.items()),
        sectors=list(SECTORS.items()),
        years=list(range(1, MAX_YEARS + 1)),
        statement_chars=STATEMENT_CHARS,
        message=message,
    )


@router.get("/reports/apply", response_class=HTMLResponse, include_in_schema=False)
async def apply_form(request: Request) -> HTMLResponse:
    """The form: the case that proves the applicant, the kind of report, the period."""
    return _apply_page(request)


@router.post("/reports/apply", response_class=HTMLResponse, include_in_schema=False)
async def apply_report(
    request: Request,
    services: ServicesDep,
    case_number: Annotated[str, Form()] = "",
    query_code: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "credit",
    years: Annotated[str, Form()] = "3",
    sector: Annotated[str, Form()] = "",
    statement: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """The report on the subject of the case, as of now, with every section and the statement
    typed; or the form again saying why not."""
    typed = {
        "case_number": case_number[:40],
        "query_code": query_code[:20],
        "kind": kind if kind in KIND_CHOICES else "credit",
        "years": years if years.isdigit() else "3",
        "sector": sector if sector in SECTORS else "",
        "statement": statement[:STATEMENT_CHARS],
    }
    wait = limited(request, "apply")
    if wait is not None:
        return _apply_page(request, typed=typed, **too_often(wait))
    if not form_token_sent(request, csrf_token):
        return _apply_page(request, typed=typed, status_code=403, message=STALE_FORM)
    number, code = case_number.strip(), query_code.strip()
    if not number or not code:
        return _apply_page(
            request, typed=typed, status_code=422, message="请填写案件编号和查询码。"
        )
    if len(statement) > STATEMENT_CHARS:
        return _apply_page(
            request,
            typed=typed,
            status_code=422,
            message=f"主体说明不超过 {STATEMENT_CHARS} 字。",
        )
    if (
        kind not in KIND_CHOICES
        or not years.isdigit()
        or not 1 <= int(years) <= MAX_YEARS
        or (sector and sector not in SECTORS)
    ):
        return _apply_page(
            request, typed=typed, status_code=422, message="请选择报告类型、报告期间和行业。"
        )
    case = None
    if len(number) <= 40 and len(code) <= 20:
        case = await run_in_threadpool(services.case_queries.for_applicant, number, code)
    if case is None:
        return _apply_page(request, typed=typed, status_code=404, message=CASE_NOT_FOUND)
    if kind == "special" and sector:
        subject = await run_in_threadpool(services.files.subject, case["subject_id"])
        if sector not in subject.sectors:
            return _apply_page(request, typed=typed, status_code=422, message=NOT_ITS_SECTOR)
    order = ReportRequest(
        kind="special" if kind == "special" else "credit",
        sectors=((sector,) if sector else ()) if kind == "special" else None,
        years=int(years),
        as_of=None,
        statement=statement.strip() or None,
        purpose="信用主体申请本主体信用报告（已核验案件编号和查询码）",
        requested_by="applicant",
        requester_role="applicant",
        extra={"case_number": case["case_number"]},
    )
    try:
        issued = await issuing.issue(services, request, case["subject_id"], order)
    except (SubjectNotFound, InvalidInput):
        return _apply_page(request, typed=typed, status_code=404, message=CASE_NOT_FOUND)
    await services.access_log_writer.append(
        [
            AccessEntry(
                "applicant",
                "applicant",
                "",
                case["subject_id"],
                issuing.ISSUE_ACTION,
                order.purpose,
                {**issuing.logged(issued), "address": _client(request)},
            )
        ]
    )
    return issuing.pdf_answer(issued, status_code=201)
