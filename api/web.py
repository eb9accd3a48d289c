"""Pages for applicants (申请人), who have no account: file a credit repair (信用修复) or an
objection (异议), receive the case number and query code once, follow the case and supply the
materials it is missing, in plain server-rendered forms that work without JavaScript.

Everything secret or personal travels only in POST bodies, never in a URL: a subject's code (for
a person, the resident ID number), the decision number that verifies the applicant, the query
code. A filing goes through the same service calls as the JSON API's, with one more proof
(`CaseDesk.applicant_file`): the decision number of a record on the subject's file; an unknown
subject reads exactly like a wrong number, and a wrong query code exactly like an unknown case.

Attempts from one address share the budgets of the JSON endpoints: `apply` for verifying and
filing, `progress` for look-ups and supplies. Forms that change something carry a double-submit
token (a random value in a cookie and in the form, as the console's sign-in form has it, since
there is no session); a refused form writes nothing and comes back with what was typed."""

from __future__ import annotations

import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from api.cases import Supply
from api.console.staff import clear_cookie, set_cookie
from api.deps import CASES, ServicesDep, reached
from api.errors import ProjectionBehind, ProjectionStopped
from api.rate_limit import RateLimited
from api.templating import chinese_date, templates
from domain.errors import (
    CaseNotFound,
    CaseNumbersExhausted,
    DomainError,
    InvalidInput,
    RecordNotFound,
    RuleViolated,
)
from domain.subject import (
    APPLICANT_NAMES_DECISION,
    CASE_STEP_IN_ORDER,
    OBJECTION_GROUNDS_KNOWN,
    OBJECTION_STATES_WHAT_IS_WRONG,
    OBJECTION_TO_STANDING_RECORD,
    ONE_OPEN_CASE_PER_RECORD,
    REPAIR_AFTER_MINIMUM_PERIOD,
    REPAIR_COMMITMENT_SIGNED,
    REPAIR_OF_PUBLISHED,
    REPAIR_STATES_CORRECTIONS,
    REPAIRED_ONCE,
)
from projections.credit_file.queries import records_by_id
from service.access.access_log import AccessEntry
from service.bootstrap import Services
from service.commanding.cases import (
    LINE_CHARS,
    MAX_CORRECTIONS,
    MAX_EVIDENCE,
    STATEMENT_CHARS,
    SUBJECT_CODE_CHARS,
    ApplicantFile,
    FiledCase,
    ObjectionApplication,
    RepairApplication,
)
from service.commanding.commands import NAME_CHARS, REFERENCE_CHARS

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
GROUNDS = {
    "wrong_content": "记录内容有误",
    "wrong_period": "公示期限有误",
    "wrong_repair": "信用修复决定有误",
}
CONDUCT_NAMES = {
    "PenaltyDecided": "行政处罚",
    "DishonestConductRecorded": "失信行为",
    "CommitmentBreached": "违背信用承诺",
}
# 信用修复承诺 (令第36号: a repair rests on the conduct corrected and the obligations met; false
# materials void a granted repair, which the deciding agency then revokes).
COMMITMENT = (
    "所填申请内容和提交的材料真实、准确、完整，不存在虚假、隐瞒；",
    "已纠正相关失信行为，已履行行政处罚决定等法定义务（如罚款已缴纳、整改已完成）；",
    "自觉接受认定机关和社会的监督，今后守法诚信经营，不再发生同类失信行为；",
    "如有虚假或违背承诺，愿意承担相应法律责任，已修复的信息将被撤销修复、恢复公示，"
    "违背承诺的行为将作为失信信息记录。",
)

NOT_FOUND = "未找到该案件，请核对案件编号和查询码。"
MISSING_FIELDS = "请填写案件编号和查询码。"
NOT_VERIFIED = "未能核验申请人：主体代码与决定书文号不相符。请对照送达的决定书核对后重新填写。"
BAD_CODE = "主体代码格式不正确：请填写 18 位统一社会信用代码、18 位身份证号或车牌号。"
IDENTIFY_FIELDS = "请选择申请类型，并填写主体代码和决定书文号。"
STALE_FORM = "页面已失效（可能已在其他窗口提交，或浏览器清除了页面信息）。请确认后重新提交。"
BUSY = "系统繁忙，请稍后再试。"
CASE_NUMBER_LENGTH = range(6, 41)  # as the JSON endpoint's CaseAccess
QUERY_CODE_LENGTH = range(4, 21)


@dataclass(frozen=True)
class Limits:
    """How much the forms take: what the application commands take, so that the browser stops
    a person where the service would refuse (a textarea counts a line break as one character)."""

    code_chars: int = SUBJECT_CODE_CHARS
    reference_chars: int = REFERENCE_CHARS
    name_chars: int = NAME_CHARS
    line_chars: int = LINE_CHARS
    corrections_lines: int = MAX_CORRECTIONS
    evidence_lines: int = MAX_EVIDENCE
    statement_chars: int = STATEMENT_CHARS

    @property
    def corrections_chars(self) -> int:
        return self.corrections_lines * (self.line_chars + 1)

    @property
    def evidence_chars(self) -> int:
        return self.evidence_lines * (self.line_chars + 1)


LIMITS = Limits()


# Helpers shared by the pages --------------------------------------------------------------
def form_cookie(services: Services) -> str:
    """`__Host-` where cookies are Secure, so that no sibling domain can plant the token."""
    return "__Host-applicant-form" if services.settings.secure_cookies else "applicant-form"


def form_token(request: Request) -> str:
    """The token the page's forms carry: the one this browser holds already (so that two tabs
    both work), or a new one."""
    held = request.cookies.get(form_cookie(request.app.state.services), "")
    return held if re.fullmatch(r"[A-Za-z0-9_-]{43}", held) else secrets.token_urlsafe(32)


def form_token_sent(request: Request, sent: str) -> bool:
    held = request.cookies.get(form_cookie(request.app.state.services), "")
    return bool(held) and hmac.compare_digest(held.encode(), sent.encode())


def applicant_page(
    request: Request,
    template: str,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """An applicant page, with the double-submit token in its forms and in its cookie."""
    services = request.app.state.services
    token = form_token(request)
    context = {"message": "", "notice": "", "limits": LIMITS, **context}
    response = templates.TemplateResponse(
        request,
        template,
        {**context, "csrf_token": token},
        status_code=status_code,
        headers=headers,
    )
    set_cookie(response, services.settings, form_cookie(services), token)
    return response


def limited(request: Request, purpose: str) -> int | None:
    """Seconds to wait if this address has spent its `purpose` budget, else None."""
    address = request.client.host if request.client else "unknown"
    try:
        request.app.state.applicant_limiter.check(f"{purpose}:{address}")
    except RateLimited as limited:
        return limited.retry_after_seconds
    return None


def too_often(wait: int) -> dict[str, Any]:
    return {
        "status_code": 429,
        "message": f"操作过于频繁，请 {wait} 秒后再试。",
        "headers": {"Retry-After": str(wait)},
    }


def _lines(text: str) -> list[str]:
    """One entry per line, blanks dropped."""
    return [line.strip() for line in text.splitlines() if line.strip()]


# Progress (案件进度查询) and supplying materials (补正材料) -----------------------------------
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
        "propagation": view.get("propagation"),  # told and acknowledged, once decided so
    }


def _progress(
    request: Request,
    *,
    status_code: int = 200,
    case: dict[str, Any] | None = None,
    repair_from: str = "",
    lookup: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
    message: str = "",
    notice: str = "",
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The progress page: `lookup` is what the look-up form shows again (what was typed, after
    a failed look-up), `typed` the case the supply form names and what it was sent with."""
    return applicant_page(
        request,
        "progress.html",
        status_code=status_code,
        headers=headers,
        page="progress",
        case=case,
        repair_from=repair_from,
        lookup=lookup or {"case_number": "", "query_code": ""},
        typed=typed or {"case_number": "", "query_code": "", "evidence": ""},
        message=message,
        notice=notice,
    )


def _repair_from(services: Services, number: str, code: str) -> str:
    """When repair of the case's record may first be applied for, from the service's repair
    eligibility on the subject's stream; "" if that record is no longer published or is no
    conduct record (nothing to repair)."""
    try:
        eligibility = services.cases.case_repair_eligibility(number, code)
    except DomainError:
        return ""  # the read model has a case its stream does not show yet
    if eligibility is None or not eligibility.published or eligibility.earliest_repair is None:
        return ""
    earliest = eligibility.earliest_repair
    if earliest > services.clock.today():
        return f"{chinese_date(earliest)}起（最短公示期届满前不能申请信用修复）"
    return f"已可申请（最短公示期已于 {chinese_date(earliest)} 届满）"


async def _case_page(
    request: Request,
    services: Services,
    number: str,
    code: str,
    *,
    notice: str = "",
    evidence: str = "",
    message: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    def look_up() -> tuple[dict[str, Any], str] | None:
        case = services.case_queries.for_applicant(number, code)
        if case is None:
            return None
        view = {**services.case_queries.view(case), "propagation": services.notices.of_case(case)}
        return view, _repair_from(services, number, code)

    found = await run_in_threadpool(look_up)
    if found is None:
        lookup = {"case_number": number, "query_code": code}
        return _progress(request, status_code=404, message=NOT_FOUND, lookup=lookup)
    view, repair_from = found
    return _progress(
        request,
        status_code=status_code,
        case=page_of(view),
        repair_from=repair_from,
        typed={"case_number": number, "query_code": code, "evidence": evidence},
        message=message,
        notice=notice,
    )


@router.get("/cases/progress", response_class=HTMLResponse, include_in_schema=False)
async def progress_form(request: Request) -> HTMLResponse:
    """The form: 案件编号 and 查询码."""
    return _progress(request)


@router.post("/cases/progress", response_class=HTMLResponse, include_in_schema=False)
async def progress_page(
    request: Request,
    services: ServicesDep,
    case_number: Annotated[str, Form()] = "",
    query_code: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """The case's status, timeline, deadline, missing materials and when its record may be
    repaired; one page for every miss, with what was typed."""
    lookup = {"case_number": case_number[:40], "query_code": query_code[:20]}
    wait = limited(request, "progress")
    if wait is not None:
        return _progress(request, lookup=lookup, **too_often(wait))
    number, code = case_number.strip(), query_code.strip()
    if not number or not code:
        return _progress(request, status_code=422, message=MISSING_FIELDS, lookup=lookup)
    if len(number) not in CASE_NUMBER_LENGTH or len(code) not in QUERY_CODE_LENGTH:
        return _progress(request, status_code=404, message=NOT_FOUND, lookup=lookup)
    return await _case_page(request, services, number, code)


@router.post("/cases/supply", response_class=HTMLResponse, include_in_schema=False)
async def supply_page(
    request: Request,
    services: ServicesDep,
    case_number: Annotated[str, Form()] = "",
    query_code: Annotated[str, Form()] = "",
    evidence: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """补正材料: the applicant's own step on a case returned for materials
    (`CaseMaterialsSupplied`, as `POST /v1/cases:supply`), then the case as it now stands."""
    number, code = case_number.strip(), query_code.strip()
    lookup = {"case_number": number[:40], "query_code": code[:20]}
    wait = limited(request, "progress")
    if wait is not None:
        return _progress(request, lookup=lookup, **too_often(wait))
    if len(number) not in CASE_NUMBER_LENGTH or len(code) not in QUERY_CODE_LENGTH:
        return _progress(request, status_code=404, message=NOT_FOUND, lookup=lookup)
    items = _lines(evidence)
    refusal, status_code = "", 200
    if not form_token_sent(request, csrf_token):
        refusal, status_code = STALE_FORM, 403
    else:
        try:  # the JSON endpoint's own body: the same limits on what is handed in
            Supply.model_validate({"case_number": number, "query_code": code, "evidence": items})
        except ValidationError:
            refusal, status_code = (
                f"请填写补正的材料，每行一项（至多 {LIMITS.evidence_lines} 项，"
                f"每项不超过 {LIMITS.line_chars} 字）。",
                422,
            )
    if refusal:
        return await _case_page(
            request,
            services,
            number,
            code,
            message=refusal,
            evidence=evidence,
            status_code=status_code,
        )
    try:
        position = await run_in_threadpool(services.cases.supply_materials, number, code, items)
    except CaseNotFound:
        return _progress(request, status_code=404, message=NOT_FOUND, lookup=lookup)
    except RuleViolated as refused:
        if refused.rule != CASE_STEP_IN_ORDER:
            raise
        return await _case_page(
            request,
            services,
            number,
            code,
            status_code=409,
            evidence=evidence,
            message="该案件当前不需要补正材料，请以页面显示的办理状态为准。",
        )
    notice = "补正材料已提交，认定机关将重新审核。"
    try:
        await reached(services, (CASES,), position)
    except (ProjectionBehind, ProjectionStopped):
        notice += "办理进度稍后更新。"
    return await _case_page(request, services, number, code, notice=notice)


# Filing a repair or an objection (网上申请) --------------------------------------------------
def _typed(**fields: str) -> dict[str, str]:
    """What the person typed, as the forms show it again (each cut to what its field takes)."""
    typed = {
        "kind": "",
        "subject_code": "",
        "decision_number": "",
        "record_id": "",
        "applicant": "",
        "corrections": "",
        "grounds": "",
        "statement": "",
        "evidence": "",
        "commitment": "",
    }
    typed.update({name: value for name, value in fields.items() if isinstance(value, str)})
    typed["subject_code"] = typed["subject_code"][: LIMITS.code_chars]
    typed["decision_number"] = typed["decision_number"][: LIMITS.reference_chars]
    return typed


def _apply(
    request: Request,
    typed: dict[str, str],
    *,
    file: dict[str, Any] | None = None,
    held: bool = False,
    status_code: int = 200,
    message: str = "",
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The filing page: first step without `file` (who applies), second with it (what for);
    `held`: the second step's form, whole, to be sent again once the address may."""
    return applicant_page(
        request,
        "apply.html",
        status_code=status_code,
        headers=headers,
        page="apply",
        file=file,
        held=held,
        typed=typed,
        message=message,
        kinds=list(KINDS.items()),
        kind_name=KINDS.get(typed["kind"], ""),
        grounds=list(GROUNDS.items()),
        commitment=COMMITMENT,
    )


async def _shown(services: Services, file: ApplicantFile) -> dict[str, Any]:
    """The subject and its published conduct records as the second step shows them: what the
    public may see of each (decision number, date, authority, summary) and from when repair may
    be applied for."""
    today = services.clock.today()
    async with services.read_engine.connect() as conn:
        rows = await records_by_id(conn, file.subject_id, file.records, today)
    shown = []
    for row in rows:
        earliest = file.records[row["record_id"]].earliest_repair
        shown.append(
            {
                "record_id": str(row["record_id"]),
                "source_ref": row["source_ref"],
                "type_name": CONDUCT_NAMES.get(row["type"], row["type"]),
                "decision_date": chinese_date(row["decision_date"]),
                "authority": row["authority"]["name"],
                "summary": row["summary"],
                "objection": row["objection"] is not None,
                "repair_from": chinese_date(earliest),
                "repair_from_open": earliest is not None and earliest <= today,
                "earliest": earliest,
            }
        )
    return {"name": file.name, "code_masked": file.code_masked, "records": shown}


async def _log_applicant_read(
    request: Request, services: Services, file: ApplicantFile, shown: dict[str, Any]
) -> None:
    """查询留痕: the subject's records shown to an applicant are a read of its file like any
    other, logged before the page is answered, under "applicant" and the address it came from."""
    address = request.client.host if request.client else "unknown"
    entry = AccessEntry(
        "applicant",
        "applicant",
        "",
        file.subject_id,
        "applicant_records",
        "信用修复、异议网上申请（已核验决定书文号）",
        {"record_ids": [r["record_id"] for r in shown["records"]], "address": address},
    )
    await services.access_log_writer.append([entry])


async def _verified(
    request: Request, services: Services, typed: dict[str, str]
) -> dict[str, Any] | HTMLResponse:
    """The second step's view of the subject, or the first step again saying why not."""
    code, number = typed["subject_code"].strip(), typed["decision_number"].strip()
    if typed["kind"] not in KINDS or not code or not number:
        return _apply(request, typed, status_code=422, message=IDENTIFY_FIELDS)
    if len(code) > LIMITS.code_chars:
        return _apply(request, typed, status_code=422, message=BAD_CODE)
    if len(number) > LIMITS.reference_chars:
        return _apply(request, typed, status_code=404, message=NOT_VERIFIED)
    try:
        file = await run_in_threadpool(services.cases.applicant_file, code, number)
    except InvalidInput:
        return _apply(request, typed, status_code=422, message=BAD_CODE)
    except RecordNotFound as refused:
        if refused.rule != APPLICANT_NAMES_DECISION:
            raise
        return _apply(request, typed, status_code=404, message=NOT_VERIFIED)
    shown = await _shown(services, file)
    await _log_applicant_read(request, services, file, shown)
    return shown


@router.get("/cases/apply", response_class=HTMLResponse, include_in_schema=False)
async def apply_form(request: Request, kind: str = "") -> HTMLResponse:
    """The first step: the kind of case, the subject's code and a decision number."""
    return _apply(request, _typed(kind=kind if kind in KINDS else ""))


@router.post("/cases/apply", response_class=HTMLResponse, include_in_schema=False)
async def apply_identify(
    request: Request,
    services: ServicesDep,
    kind: Annotated[str, Form()] = "",
    subject_code: Annotated[str, Form()] = "",
    decision_number: Annotated[str, Form()] = "",
    edit: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """The first step sent: the applicant verified, the second step shows the subject's
    published conduct records to choose from; `edit` goes back to the first step."""
    typed = _typed(kind=kind, subject_code=subject_code, decision_number=decision_number)
    if edit:
        return _apply(request, typed)
    wait = limited(request, "apply")
    if wait is not None:
        return _apply(request, typed, **too_often(wait))
    if not form_token_sent(request, csrf_token):
        return _apply(request, typed, status_code=403, message=STALE_FORM)
    shown = await _verified(request, services, typed)
    if isinstance(shown, HTMLResponse):
        return shown
    return _apply(request, typed, file=shown)


@router.post("/cases/apply/submit", response_class=HTMLResponse, include_in_schema=False)
async def apply_submit(
    request: Request,
    services: ServicesDep,
    kind: Annotated[str, Form()] = "",
    subject_code: Annotated[str, Form()] = "",
    decision_number: Annotated[str, Form()] = "",
    record_id: Annotated[str, Form()] = "",
    applicant: Annotated[str, Form()] = "",
    corrections: Annotated[str, Form()] = "",
    grounds: Annotated[str, Form()] = "",
    statement: Annotated[str, Form()] = "",
    evidence: Annotated[str, Form()] = "",
    commitment: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """The second step sent: the case filed through the service, as the JSON API files it, and
    its case number and query code shown this once; or the form again with what was typed and
    why not, nothing written."""
    typed = _typed(
        kind=kind,
        subject_code=subject_code,
        decision_number=decision_number,
        record_id=record_id,
        applicant=applicant,
        corrections=corrections,
        grounds=grounds,
        statement=statement,
        evidence=evidence,
        commitment=commitment,
    )
    wait = limited(request, "apply")
    if wait is not None:  # no look-up at all: the form comes back whole, to be sent later
        return _apply(request, typed, held=True, **too_often(wait))
    shown = await _verified(request, services, typed)
    if isinstance(shown, HTMLResponse):
        return shown
    if not form_token_sent(request, csrf_token):
        return _apply(request, typed, file=shown, status_code=403, message=STALE_FORM)

    def again(status_code: int, message: str) -> HTMLResponse:
        return _apply(request, typed, file=shown, status_code=status_code, message=message)

    fields: dict[str, Any] = {
        "subject_code": typed["subject_code"],
        "record_id": record_id,
        "evidence": _lines(evidence),
        "applicant": applicant,
    }
    try:
        if kind == "repair":
            command: RepairApplication | ObjectionApplication = RepairApplication.model_validate(
                {
                    **fields,
                    "corrections": _lines(corrections),
                    "commitment_signed": commitment == "signed",
                }
            )
        else:
            command = ObjectionApplication.model_validate(
                {**fields, "grounds": grounds, "statement": statement}
            )
    except ValidationError as invalid:
        return again(422, _field_message(invalid))
    try:
        if isinstance(command, RepairApplication):
            filed = await run_in_threadpool(
                services.cases.apply_for_repair, command, decision_number=decision_number
            )
        else:
            filed = await run_in_threadpool(
                services.cases.file_objection, command, decision_number=decision_number
            )
    except CaseNumbersExhausted:
        return again(503, "今日该类案件编号已用完，请明日再提交。")
    except DomainError as refused:
        return again(*_refusal(refused, shown, command.record_id))
    return _filed(request, services, kind, filed, shown, command)


FIELD_NAMES = {
    "subject_code": "主体代码",
    "applicant": "申请人",
    "corrections": "纠正情况",
    "statement": "异议说明",
    "evidence": "材料清单",
}


def _field_message(invalid: ValidationError) -> str:
    """The first field the command refused, in the person's words."""
    error = invalid.errors()[0]
    if not error["loc"]:
        # Text that cannot be stored is refused for the whole body, naming the field first
        # ("applicant: contains the invisible character ...").
        named = re.match(r"[a-z_]+", str((error.get("ctx") or {}).get("error", "")))
        field = FIELD_NAMES.get(named.group(0) if named else "", "填写的内容")
        return f"{field}含有不可见字符或控制字符，请删除后重新输入。"
    return {
        "record_id": "请选择要申请的记录。",
        "applicant": "请填写申请人（主体名称或代为申请的人的姓名），"
        f"不超过 {LIMITS.name_chars} 字。",
        "corrections": f"请逐行填写纠正失信行为、履行义务的情况（1 至 {LIMITS.corrections_lines} "
        f"项，每项不超过 {LIMITS.line_chars} 字）。",
        "statement": f"请填写异议说明（不超过 {LIMITS.statement_chars} 字）。",
        "evidence": f"材料至多 {LIMITS.evidence_lines} 项，每项不超过 {LIMITS.line_chars} 字。",
        "subject_code": BAD_CODE,
    }.get(str(error["loc"][0]), "填写的内容有误，请检查后重新提交。")


def _chosen(shown: dict[str, Any], record_id: UUID) -> dict[str, Any] | None:
    return next((r for r in shown["records"] if r["record_id"] == str(record_id)), None)


# The domain's refusals of a filing, by the rule each names: the page's status and words.
REFUSALS = {
    ONE_OPEN_CASE_PER_RECORD: (
        409,
        "该记录已有正在办理的信用修复或异议案件，请凭该案件的案件编号和查询码查询进度。",
    ),
    REPAIRED_ONCE: (409, "该记录已经修复，不能重复申请。"),
    REPAIR_OF_PUBLISHED: (409, "该记录已不在公示中，无需申请信用修复。"),
    REPAIR_STATES_CORRECTIONS: (422, "请逐行填写纠正失信行为、履行义务的情况。"),
    REPAIR_COMMITMENT_SIGNED: (422, "请阅读并勾选信用修复承诺。"),
    OBJECTION_TO_STANDING_RECORD: (409, "该记录不能提出异议。"),
    OBJECTION_GROUNDS_KNOWN: (422, "请选择异议理由。"),
    OBJECTION_STATES_WHAT_IS_WRONG: (422, "请填写异议说明：记录哪里有误、应当是什么。"),
    APPLICANT_NAMES_DECISION: (404, NOT_VERIFIED),
}


def _refusal(refused: DomainError, shown: dict[str, Any], record_id: UUID) -> tuple[int, str]:
    chosen = _chosen(shown, record_id)
    if refused.rule == REPAIR_AFTER_MINIMUM_PERIOD and chosen and chosen["earliest"]:
        return 409, (
            f"该记录的最短公示期尚未届满，{chosen['repair_from']}起方可申请信用修复。"
            "期满前可以对记录内容提出异议。"
        )
    if refused.rule in REFUSALS:
        return REFUSALS[refused.rule]
    if isinstance(refused, RecordNotFound):
        return 404, "请从列表中选择要申请的记录。"
    if isinstance(refused, InvalidInput):
        return 422, "填写的内容有误，请检查后重新提交。"
    return 409, BUSY


def _filed(
    request: Request,
    services: Services,
    kind: str,
    filed: FiledCase,
    shown: dict[str, Any],
    command: RepairApplication | ObjectionApplication,
) -> HTMLResponse:
    """The confirmation, the one page that shows the query code. The form token goes with it,
    so that sending the form again (a reload) is refused and files nothing twice."""
    today = services.clock.today()
    deadlines = services.policy.for_day(today).deadlines
    if kind == "repair":
        limit = (
            f"认定机关自申请材料齐全之日起 {deadlines.repair_decision.days} 个工作日内作出决定，"
            f"全案 {deadlines.repair_case.days} 个工作日内办结。"
        )
    else:
        limit = f"异议期间该记录标注“异议处理中”；认定机关在 {deadlines.objection.days} 日内办结。"
    chosen = _chosen(shown, command.record_id) or {}
    response = templates.TemplateResponse(
        request,
        "filed.html",
        {
            "page": "apply",
            "message": "",
            "notice": "",
            "filed": {
                "kind": KINDS[kind],
                "case_number": filed.case_number,
                "query_code": filed.query_code,
                "subject": f"{shown['name']}（{shown['code_masked']}）",
                "record": f"{chosen.get('source_ref', '')}（{chosen.get('type_name', '')}，"
                f"{chosen.get('decision_date', '')}）",
                "authority": chosen.get("authority", ""),
                "on": chinese_date(today),
                "evidence": list(command.evidence),
                "limit": limit,
            },
        },
        status_code=201,
    )
    clear_cookie(response, services.settings, form_cookie(services))
    return response
