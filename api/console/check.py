"""The window clerk's check (逢批必查、逢办必查): a subject's credit status by its code, its
one-page check sheet (核查单), and a bid opening's batch of codes, on screen, printed or as a
spreadsheet. For the roles with `credit:read`, through the same status reads as the API.

Codes travel in POST bodies only: an ID number is never in a URL, a log line or a referrer.
Every read states its purpose (核查事由), which goes into the access log under the person's
account, one row per subject, before the page is answered."""

from __future__ import annotations

import urllib.parse
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from api.auth import READ, log_reads
from api.console.check_views import (
    INVALID,
    bidder_rows,
    checker_view,
    checkpoint_view,
    subject_view,
)
from api.console.check_workbook import MEDIA_TYPE, batch_workbook
from api.console.staff import CsrfChecked, Staff, page_for, render
from api.deps import ServicesDep
from api.templating import chinese_date
from service.credit_reports.contents import MAX_YEARS
from service.querying.code_lists import (
    CodeLine,
    CodeListError,
    codes_from_file,
    codes_from_text,
)
from service.querying.evidence import evidence_for
from service.querying.status import (
    BATCH_LIMIT,
    access_summary,
    published_records,
    published_serious_counts,
    status_by_code,
    status_now,
    statuses_by_code,
)

router = APIRouter(prefix="/console/check", tags=["staff console"], include_in_schema=False)
Checker = Annotated[Staff, page_for(READ)]

# Why a subject is checked: the choices the form offers, written to the access log as chosen
# (with the note, if any, after a full-width colon). "其他" needs the note.
PURPOSES = ("行政许可审查", "招标投标", "政府采购", "资金安排", "评优评先", "其他")
OTHER = "其他"
MAX_NOTE = 150  # the access log keeps 200 characters of a purpose
MAX_CODE = 32  # as the API's look-up
RECORDS_SHOWN = 50  # published records on the page and the sheet, newest first

NO_PURPOSE = "请选择核查事由。"
NO_NOTE = "选择“其他”时，请填写具体事由。"
LONG_NOTE = f"事由说明最多 {MAX_NOTE} 个字。"
HIDDEN_CHARACTER = "事由说明含有不可见字符，请重新输入。"
NO_CODE = "请输入要核查的代码。"
BAD_CODE = "代码有误：请输入 18 位统一社会信用代码、18 位居民身份证号码或车牌号码。"
UNKNOWN_CODE = "未找到：没有以该代码登记的信用主体。"
UNKNOWN_SUBJECT = "未找到该信用主体，请重新查询。"
NO_CODES = "请粘贴或上传要核查的代码，每行一个。"
NOT_A_CODE = "，不是有效的统一社会信用代码、居民身份证号码或车牌号码"


def stated_purpose(choice: str, note: str) -> tuple[str, str]:
    """(the purpose for the access log, "") or ("", what is wrong with it)."""
    note = note.strip()
    if choice not in PURPOSES:
        return "", NO_PURPOSE
    if choice == OTHER and not note:
        return "", NO_NOTE
    if len(note) > MAX_NOTE:
        return "", LONG_NOTE
    if note and not note.isprintable():
        return "", HIDDEN_CHARACTER
    return (f"{choice}：{note}" if note else choice), ""


def _form(code: str = "", purpose: str = "", note: str = "") -> dict[str, str]:
    return {"code": code, "codes": "", "purpose": purpose, "note": note}


def lookup_page(
    request: Request,
    staff: Staff,
    *,
    status_code: int = 200,
    message: str = "",
    form: dict[str, str] | None = None,
    **result: Any,
) -> HTMLResponse:
    return render(
        request,
        "console/check.html",
        staff,
        status_code=status_code,
        message=message,
        form=form or _form(),
        purposes=PURPOSES,
        max_note=MAX_NOTE,
        max_code=MAX_CODE,
        report_years=range(1, MAX_YEARS + 1),  # the credit report form's periods
        **({"subject": None, "checkpoint": None, "checker": None} | result),
    )


async def _subject(
    services: Any, staff: Staff, status: dict[str, Any], purpose: str, action: str
) -> dict[str, Any]:
    """The subject's status, published records and checkpoint, logged as `action` before the
    page is answered."""
    today = status["evaluated_on"]
    subject_id = status["subject_id"]
    records, more = await published_records(services.read_engine, subject_id, today, RECORDS_SHOWN)
    evidence = await run_in_threadpool(evidence_for, services.checkpoints, status["last_position"])
    shown = {**access_summary(status), "record_ids": [str(r["record_id"]) for r in records]}
    await log_reads(services, staff.caller, purpose, action, {subject_id: shown})
    zone = services.clock.zone
    return {
        "subject": subject_view(status, records, more, services.policy),
        "checkpoint": checkpoint_view(evidence, zone),
        "checker": checker_view(staff, purpose, services.clock.now(), zone),
    }


@router.get("", response_class=HTMLResponse)
async def lookup_form(request: Request, staff: Checker) -> HTMLResponse:
    return lookup_page(request, staff)


@router.post("", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def look_up(
    request: Request,
    services: ServicesDep,
    staff: Checker,
    code: Annotated[str, Form()] = "",
    purpose: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """A subject by its code (USCC, resident ID, plate), for a stated purpose."""
    form = _form(code[: MAX_CODE * 2], purpose, note[: MAX_NOTE * 2])
    typed = codes_from_text(code)
    logged_purpose, problem = stated_purpose(purpose, note)
    if not typed:
        problem = NO_CODE
    elif len(typed) > 1 or len(typed[0].code) > MAX_CODE:
        problem = BAD_CODE
    if problem:
        return lookup_page(request, staff, status_code=422, message=problem, form=form)
    found = await status_by_code(
        services.read_engine,
        services.policy,
        services.files.subject_id_for_any_code,
        typed[0].code,
        services.clock.today(),
    )
    if found.problem == "invalid":
        return lookup_page(request, staff, status_code=422, message=BAD_CODE, form=form)
    if found.status is None:
        return lookup_page(request, staff, status_code=404, message=UNKNOWN_CODE, form=form)
    shown = await _subject(services, staff, found.status, logged_purpose, "lookup")
    # The code is not written back: the page shows it masked, and may be left on the screen.
    return lookup_page(request, staff, form=form | {"code": ""}, **shown)


@router.post("/sheet", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def check_sheet(
    request: Request,
    services: ServicesDep,
    staff: Checker,
    subject_id: Annotated[str, Form()] = "",
    purpose: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """The check sheet (核查单) of a subject looked up: read again, as of now, and logged again.
    The form sends the subject's id, a keyed hash of its code, never the code."""
    logged_purpose, problem = stated_purpose(purpose, note)
    if problem:
        return lookup_page(request, staff, status_code=422, message=problem)
    try:
        wanted = UUID(subject_id)
    except ValueError:
        wanted = None
    status = (
        await status_now(services.read_engine, services.policy, wanted, services.clock.today())
        if wanted
        else None
    )
    if status is None:
        return lookup_page(request, staff, status_code=404, message=UNKNOWN_SUBJECT)
    shown = await _subject(services, staff, status, logged_purpose, "check_sheet")
    return render(request, "console/check_sheet.html", staff, **shown)


# The batch check of a bid opening -------------------------------------------------------------
def _batch_page(
    request: Request,
    staff: Staff,
    *,
    status_code: int = 200,
    message: str = "",
    form: dict[str, str] | None = None,
    **result: Any,
) -> HTMLResponse:
    return render(
        request,
        "console/check_batch.html",
        staff,
        status_code=status_code,
        message=message,
        form=form or _form(),
        purposes=PURPOSES,
        max_note=MAX_NOTE,
        batch_limit=BATCH_LIMIT,
        **({"rows": [], "problems": [], "head": None} | result),
    )


@router.get("/batch", response_class=HTMLResponse)
async def batch_form(request: Request, staff: Checker) -> HTMLResponse:
    return _batch_page(request, staff)


@router.post("/batch", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def batch_check(
    request: Request,
    services: ServicesDep,
    staff: Checker,
    codes: Annotated[str, Form()] = "",
    file: Annotated[UploadFile | None, File()] = None,
    purpose: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    output: Annotated[str, Form()] = "page",
) -> Response:
    """Up to BATCH_LIMIT codes, pasted one a line or uploaded (CSV or XLSX, first column): one
    row per line, on the page or (output=xlsx) as a spreadsheet. Over the limit, none is
    checked."""
    form = _form(purpose=purpose, note=note[: MAX_NOTE * 2]) | {"codes": codes}
    logged_purpose, problem = stated_purpose(purpose, note)
    source = "第"
    try:
        if file is not None and file.filename:
            lines = codes_from_file(await file.read(), file.filename)
            form["codes"] = "\n".join(line.code for line in lines)
            source = "文件第"
        else:
            lines = codes_from_text(codes)
    except CodeListError as error:
        return _batch_page(request, staff, status_code=422, message=str(error), form=form)
    if not lines:
        problem = problem or NO_CODES
    elif len(lines) > BATCH_LIMIT:
        problem = (
            f"共 {len(lines)} 个代码，一次最多核查 {BATCH_LIMIT} 个，本次未核查任何代码。"
            "请分批核查。"
        )
    if problem:
        return _batch_page(request, staff, status_code=422, message=problem, form=form)
    download = output == "xlsx"
    checked = await _batch(services, staff, lines, logged_purpose, source, download=download)
    if download:
        return _download(checked, services.clock.now().astimezone(services.clock.zone))
    return _batch_page(request, staff, form=form, **checked)


async def _batch(
    services: Any,
    staff: Staff,
    lines: list[CodeLine],
    purpose: str,
    source: str,
    *,
    download: bool,
) -> dict[str, Any]:
    answers, position = await statuses_by_code(
        services.read_engine,
        services.policy,
        services.files.subject_id_for_any_code,
        [line.code for line in lines],
        services.clock.today(),
    )
    found = {a.subject_id: a.status for a in answers if a.subject_id and a.status}
    serious = await published_serious_counts(
        services.read_engine, list(found), services.clock.today()
    )
    await log_reads(
        services,
        staff.caller,
        purpose,
        "batch_status_download" if download else "batch_status",
        {sid: access_summary(status) for sid, status in found.items()},
    )
    rows = bidder_rows([line.line for line in lines], answers, serious)
    problems = [
        f"{source} {row.line} 行（{row.code}）：{row.problem}"
        + (NOT_A_CODE if row.problem == INVALID else "")
        for row in rows
        if row.problem
    ]
    unknown = sum(1 for row in rows if row.problem and row.problem != INVALID)
    invalid = sum(1 for row in rows if row.problem == INVALID)
    head = checker_view(staff, purpose, services.clock.now(), services.clock.zone) | {
        "position": f"截至日志位置 {position}（按{chinese_date(services.clock.today())}评价）",
        "totals": f"共 {len(rows)} 个代码：查得 {len(rows) - unknown - invalid} 个，"
        f"未找到 {unknown} 个，代码有误 {invalid} 个",
    }
    return {"rows": rows, "problems": problems, "head": head}


def _download(checked: dict[str, Any], moment: Any) -> Response:
    name = f"信用核查-{moment:%Y%m%d-%H%M}.xlsx"
    fallback = f"credit-check-{moment:%Y%m%d-%H%M}.xlsx"
    return Response(
        batch_workbook(checked["head"], checked["rows"]),
        media_type=MEDIA_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="{fallback}"; '
            f"filename*=UTF-8''{urllib.parse.quote(name)}"
        },
    )
