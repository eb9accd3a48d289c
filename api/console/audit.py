"""The auditor's desk (审计工作台), for staff with credit:audit: a subject's whole history as a
timeline and a table, who read the subject (查询留痕), replay checks of the read models, and the
latest signed checkpoint with what verifies now.

Every page reads through the services the API's routes call (`service.history`, the access
log, `ReplayChecks`, `Checkpoints`) with the person's caller. A subject is found by code with a
POST form, so that no ID number is ever in a URL; after that its pages are addressed by the
subject id (a keyed hash of the code) and the purpose the auditor stated, and every such page
is written to the access log under the person's account before it is answered."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api.auth import AUDIT, log_reads
from api.console.admin_log import hash_counts
from api.console.layout import role_name
from api.console.staff import CsrfChecked, Staff, page_for, render
from api.console.timeline import anchor, build
from api.console.vocabulary import (
    ACCOUNT_PREFIX,
    LISTS,
    PUBLICATION_STATES,
    REFERRED_BY,
    REFERS_TO,
    SEVERITIES,
    SUBJECT_KINDS,
    event_name,
    field_name,
    recorder_kind,
)
from api.deps import ServicesDep
from api.templating import chinese_date, chinese_moment
from api.web import OUTCOMES
from domain.codes import InvalidCode
from domain.errors import ChainedLogCut, SealNoLongerHolds
from domain.events import RECORD_EVENT_TYPES
from domain.regions import region_label
from projections.credit_file import queries
from projections.credit_file.projector import record_summary
from service.history import CASE_STEPS, LinkedEvent, history_page, linked, subject_exists
from service.replay.jobs import CheckRunning

router = APIRouter(prefix="/console/audit", tags=["staff console"], include_in_schema=False)
Auditor = Annotated[Staff, page_for(AUDIT)]

DESK = "/console/audit"
REPLAY_CHECKS = f"{DESK}/replay-checks"
CHECKPOINT = f"{DESK}/checkpoint"
HISTORY_PAGE = 200  # events on one page of the timeline
ACCESS_LOG_PAGE = 50
PURPOSE_LENGTH = range(2, 201)  # as the access log's column holds it
NO_PURPOSE = "请填写查阅事由（如：信用修复案件复核），它将与本次查阅一并记入查询留痕。"
LONG_PURPOSE = "查阅事由最多 200 个字。"
NO_SUBJECT = "未找到该主体。"
NOT_A_CODE = "这不是有效的统一社会信用代码、身份证号码、车牌号码或主体标识。"
REPLAY_PURPOSE = "核查回放核对发现的差异"
CHECK_STATES = {"running": "正在核对", "passed": "一致", "failed": "发现差异", "error": "未能完成"}
ACTIONS = {
    "status": "查询信用状况",
    "status_as_of": "查询截至某日所知的信用状况",
    "status_valid_at": "查询某日的信用状况",
    "status_as_of_valid_at": "查询截至某日所知的某日信用状况",
    "lookup": "按代码查询",
    "batch_status": "批量查询",
    "records": "查阅记录",
    "history": "查阅全部历史",
    "access_log": "查阅查询留痕",
    "reveal_code": "查看完整证件号码",
    "export": "导出",
    "replay_check": "查看回放核对差异",
    "report_lists": "查阅名单统计明细",
    "report_joint_measures": "查阅联合奖惩成效清单",
    "report_overload_dishonest": "查阅超限超载失信当事人名单",
    "page_report_lists": "信用工作指标：查阅名单明细",
    "page_report_joint_measures": "信用工作指标：查阅联合奖惩成效清单",
    "page_report_overload": "信用工作指标：查阅超限超载失信当事人名单",
    "report_ledger": "下载月度信用交通工作台账",
}
# The fields a row of the table shows in columns of their own, left out of its details.
SHOWN = {"record_id", "decision_date", "authority_name", "authority_code", "request_key"}


# Purposes and subjects ------------------------------------------------------------------------
def purpose_problem(purpose: str) -> str:
    """What is wrong with a stated purpose, or "" if nothing."""
    if len(purpose) < PURPOSE_LENGTH.start:
        return NO_PURPOSE
    if len(purpose) >= PURPOSE_LENGTH.stop:
        return LONG_PURPOSE
    if "\x00" in purpose:
        return "查阅事由含有无法保存的字符。"
    return ""


def subject_path(subject_id: UUID, purpose: str, page: str = "", **query: Any) -> str:
    wanted = {"purpose": purpose, **{k: v for k, v in query.items() if v not in (None, "")}}
    return f"{DESK}/subjects/{subject_id}{page}?{urlencode(wanted)}"


def _subject_id(text: str) -> UUID | None:
    try:
        return UUID(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class Found:
    subject_id: UUID | None
    status_code: int = 200
    message: str = ""


def _found(services: Any, wanted: str) -> Found:
    """The subject a code or a subject id names, or why none."""
    subject_id = _subject_id(wanted)
    if subject_id is None:
        try:
            subject_id = services.files.subject_id_for_any_code(wanted)
        except InvalidCode:
            subject_id = None
        if subject_id is None:
            return Found(None, 422, NOT_A_CODE)
    if not subject_exists(services.ledger, subject_id):
        return Found(None, 404, "未找到以此代码或标识登记的主体。")
    return Found(subject_id)


def _desk(
    request: Request,
    staff: Staff,
    *,
    status_code: int = 200,
    message: str = "",
    wanted: str = "",
    purpose: str = "",
) -> HTMLResponse:
    return render(
        request,
        "console/audit_desk.html",
        staff,
        status_code=status_code,
        message=message,
        wanted=wanted,
        purpose=purpose,
    )


@router.get("", response_class=HTMLResponse)
async def desk(request: Request, staff: Auditor) -> HTMLResponse:
    return _desk(request, staff)


@router.post("/find", dependencies=[CsrfChecked])
async def find_subject(
    request: Request,
    services: ServicesDep,
    staff: Auditor,
    subject: Annotated[str, Form()] = "",
    purpose: Annotated[str, Form()] = "",
) -> Response:
    """By code (USCC, resident ID, plate) or subject id, in a POST body: the ID number never
    reaches a URL. Nothing is read or written until the form is right."""
    wanted, purpose = subject.strip(), purpose.strip()
    message = "" if wanted else "请输入主体的统一社会信用代码、身份证号码、车牌号码或主体标识。"
    message = message or purpose_problem(purpose)
    if message:
        return _desk(
            request, staff, status_code=422, message=message, wanted=subject, purpose=purpose
        )
    found = await run_in_threadpool(_found, services, wanted)
    if found.subject_id is None:
        return _desk(
            request,
            staff,
            status_code=found.status_code,
            message=found.message,
            wanted=subject,
            purpose=purpose,
        )
    return RedirectResponse(subject_path(found.subject_id, purpose), status_code=303)


def _purpose_page(
    request: Request, staff: Staff, action: str, purpose: str, *, status_code: int = 200
) -> HTMLResponse:
    """A subject's page opened without a (valid) purpose: it asks for one, and reads nothing."""
    return render(
        request,
        "console/audit_purpose.html",
        staff,
        status_code=status_code,
        action=action,
        purpose=purpose,
        message=purpose_problem(purpose) if purpose else "",
    )


def _no_subject(request: Request, staff: Staff) -> HTMLResponse:
    return render(request, "console/refused.html", staff, status_code=404, message=NO_SUBJECT)


# A subject's history ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Link:
    words: str
    version: int | None  # the event it leads to, when this page has it
    record_id: str

    @property
    def target(self) -> str:
        return anchor(self.version) if self.version is not None else ""


async def _records(services: Any, subject_id: UUID, today: date) -> dict[Any, dict[str, Any]]:
    """Every record of the subject as the read model has it today (its publication state)."""
    found: dict[Any, dict[str, Any]] = {}
    after = None
    async with services.read_engine.connect() as conn:
        while True:
            rows, after = await queries.record_page(
                conn,
                subject_id,
                today,
                include_unpublished=True,
                after_position=after,
                limit=200,
            )
            found |= {row["record_id"]: row for row in rows}
            if after is None:
                return found


def _principals(services: Any, principals: Iterable[str]) -> dict[str, str]:
    """Who each `recorded_by` is: a person's name and agency, or an API client's agency."""
    named = {}
    for principal in principals:
        if principal.startswith(ACCOUNT_PREFIX):
            account = services.accounts.get(principal.removeprefix(ACCOUNT_PREFIX))
            if account is not None:
                named[principal] = f"{account.display_name} · {account.agency_name}"
        else:
            client = services.clients.get(principal)
            if client is not None:
                named[principal] = client.agency_name
    return named


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "、".join(_shown(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, date):
        return chinese_date(value)
    return str(value)


def _summary(item: dict[str, Any], case_numbers: dict[Any, str]) -> str:
    data = item["data"]
    kind = item["type"]
    if kind == "SubjectRegistered":
        return f"{data['name']}（{SUBJECT_KINDS.get(data['kind'], data['kind'])}）"
    if kind in CASE_STEPS:
        number = case_numbers.get(data["case_id"])
        words = [f"案件编号 {number}"] if number else []
        if data.get("outcome"):
            words.append(OUTCOMES.get(data["outcome"], data["outcome"]))
        words += [_shown(data[k]) for k in ("reasons", "statement") if data.get(k)]
        return " · ".join(words)
    if data.get("list_type"):  # the list by its name
        data = {**data, "list_type": LISTS.get(data["list_type"], data["list_type"])}
    words = [record_summary(kind, data)] if kind in RECORD_EVENT_TYPES else []
    if data.get("severity"):
        words.append(f"{SEVERITIES.get(data['severity'], data['severity'])}失信")
    if kind == "RecordCorrected":
        words.append("改为 " + _shown(data["changes"]))
    return " · ".join(w for w in words if w)


def _title(item: dict[str, Any], case_numbers: dict[Any, str]) -> str:
    summary = _summary(item, case_numbers)
    return f"{event_name(item['type'])} · {summary}" if summary else event_name(item["type"])


def _who(item: dict[str, Any], named: dict[str, str], authorities: dict[str, str]) -> dict:
    """Who recorded the event: the client or account (and their agency), or for a case step
    the agency that took it or the applicant."""
    principal = item["recorded_by"]
    if principal is not None:
        return {"id": principal, "kind": recorder_kind(principal), "name": named.get(principal, "")}
    by = item["data"].get("by", "")
    if by == "applicant":
        return {"id": "", "kind": "申请人（信用主体）", "name": ""}
    return {"id": by, "kind": "办理机关", "name": authorities.get(by, "")}


def _links(references: Iterable[Any], words: dict[str, str]) -> list[Link]:
    return [Link(words[r.effect], r.version, str(r.record_id)) for r in references]


def _table_row(
    event: LinkedEvent,
    record: dict[str, Any] | None,
    named: dict[str, str],
    authorities: dict[str, str],
    titles: dict[int, str],
    zone: Any,
) -> dict[str, Any]:
    item = event.item
    data = item["data"]
    state = record["publication"]["state"] if record else None
    return {
        "anchor": anchor(item["version"]),
        "version": item["version"],
        "position": item["position"],
        "type": item["type"],
        "name": event_name(item["type"]),
        "title": titles[item["version"]],
        "valid_time": chinese_date(item["valid_time"]),
        "recorded_at": chinese_moment(item["recorded_at"], zone),
        "who": _who(item, named, authorities),
        "authority": (
            {"name": data["authority_name"], "code": data["authority_code"]}
            if "authority_code" in data
            else None
        ),
        "record_id": str(item["record_id"]) if item["record_id"] else "",
        "refers_to": _links(event.refers_to, REFERS_TO),
        "referred_by": _links(event.referred_by, REFERRED_BY),
        "state": state,
        "state_label": PUBLICATION_STATES.get(state, state) if state else "",
        "objection": bool(record and record["objection"]),
        "details": [
            (field_name(name), name, _shown(value))
            for name, value in data.items()
            if name not in SHOWN and value is not None
        ],
    }


@router.get("/subjects/{subject_id}", response_class=HTMLResponse)
async def subject_history(
    subject_id: str,
    request: Request,
    services: ServicesDep,
    staff: Auditor,
    purpose: str = "",
    after_version: str = "0",
) -> HTMLResponse:
    sid = _subject_id(subject_id)
    purpose = purpose.strip()
    if sid is None or not after_version.isdigit() or len(after_version) > 18:
        return _no_subject(request, staff)
    if purpose_problem(purpose):
        return _purpose_page(
            request, staff, request.url.path, purpose, status_code=422 if purpose else 200
        )
    after = int(after_version)
    first = await run_in_threadpool(history_page, services.ledger, sid, limit=1)
    if not first.items:
        return _no_subject(request, staff)
    today = services.clock.today()
    await log_reads(
        services,
        staff.caller,
        purpose,
        "history",
        {sid: {"after_version": after, "filters": {}, "records": "all"}},
    )
    page = await run_in_threadpool(
        history_page, services.ledger, sid, after_version=after, limit=HISTORY_PAGE
    )
    events = linked(page.items)
    records = await _records(services, sid, today)
    named = await run_in_threadpool(
        _principals, services, {e.item["recorded_by"] for e in events if e.item["recorded_by"]}
    )
    authorities = {r["authority"]["code"]: r["authority"]["name"] for r in records.values()}
    case_numbers = {
        e.item["data"]["case_id"]: e.item["data"]["case_number"]
        for e in events
        if "case_number" in e.item["data"]
    }
    titles = {e.item["version"]: _title(e.item, case_numbers) for e in events}
    zone = services.clock.zone
    registered = first.items[0]["data"]
    return render(
        request,
        "console/audit_history.html",
        staff,
        subject={
            "id": str(sid),
            "name": registered.get("name", ""),
            "kind": SUBJECT_KINDS.get(registered.get("kind", ""), ""),
            "code": registered.get("code_masked", ""),
            "region": region_label(registered.get("region_code", "")),
        },
        purpose=purpose,
        timeline=build(events, records, titles, today, zone),
        rows=[
            _table_row(e, records.get(e.item["record_id"]), named, authorities, titles, zone)
            for e in events
        ],
        today=chinese_date(today),
        access_log=subject_path(sid, purpose, "/access-log"),
        next_page=(
            subject_path(sid, purpose, after_version=page.next_after_version)
            if page.next_after_version is not None
            else ""
        ),
        first_page=subject_path(sid, purpose) if after else "",
    )


# Who read the subject ---------------------------------------------------------------------------
def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


@router.get("/subjects/{subject_id}/access-log", response_class=HTMLResponse)
async def subject_access_log(
    subject_id: str,
    request: Request,
    services: ServicesDep,
    staff: Auditor,
    purpose: str = "",
    since: str = "",
    until: str = "",
    before: str = "",
) -> HTMLResponse:
    """Newest first, 50 to a page, within a period of days (in the service's time zone). This
    page's own read is logged before the log is read, so it is the first row it shows."""
    sid = _subject_id(subject_id)
    purpose = purpose.strip()
    if sid is None or (before and (not before.isdigit() or len(before) > 18)):
        return _no_subject(request, staff)
    if purpose_problem(purpose):
        return _purpose_page(
            request, staff, request.url.path, purpose, status_code=422 if purpose else 200
        )
    first_day, last_day = _day(since) if since else None, _day(until) if until else None
    message = ""
    if (since and first_day is None) or (until and last_day is None):
        message = "请按“年-月-日”填写日期，如 2026-11-20。"
    elif first_day and last_day and first_day > last_day:
        message = "起始日期不能晚于截止日期。"
    form = {"since": since, "until": until}
    if message:  # nothing is read, so nothing is logged
        return render(
            request,
            "console/audit_access_log.html",
            staff,
            status_code=422,
            message=message,
            form=form,
            purpose=purpose,
            subject=None,
            entries=[],
            history="",
            next_page="",
        )
    if not await run_in_threadpool(subject_exists, services.ledger, sid):
        return _no_subject(request, staff)
    zone = services.clock.zone
    start = datetime.combine(first_day, time.min, zone) if first_day else None
    end = datetime.combine(last_day + timedelta(days=1), time.min, zone) if last_day else None
    await log_reads(
        services,
        staff.caller,
        purpose,
        "access_log",
        {sid: {"since": since or None, "until": until or None, "before": before or None}},
    )
    rows = await run_in_threadpool(
        services.access_log.for_subject,
        sid,
        after_seq=None,
        limit=ACCESS_LOG_PAGE,
        since=start,
        before=end,
        before_seq=int(before) if before else None,
        newest_first=True,
    )
    named = await run_in_threadpool(_principals, services, {row["client_id"] for row in rows})
    entries = [
        {
            "seq": row["seq"],
            "at": chinese_moment(row["at"], zone),
            "who": {
                "id": row["client_id"],
                "kind": recorder_kind(row["client_id"]),
                "name": named.get(row["client_id"], ""),
            },
            "role": role_name(row["role"]),
            "agency_code": row["agency_code"],
            "action": ACTIONS.get(row["action"], row["action"]),
            "purpose": row["purpose"],
            "returned": json.dumps(row["returned"], ensure_ascii=False, default=str),
        }
        for row in rows
    ]
    return render(
        request,
        "console/audit_access_log.html",
        staff,
        message="",
        form=form,
        purpose=purpose,
        subject={"id": str(sid)},
        entries=entries,
        history=subject_path(sid, purpose),
        next_page=(
            subject_path(
                sid, purpose, "/access-log", since=since, until=until, before=rows[-1]["seq"]
            )
            if len(rows) == ACCESS_LOG_PAGE
            else ""
        ),
    )


# Replay checks ---------------------------------------------------------------------------------
def _check_view(check: dict[str, Any], zone: Any) -> dict[str, Any]:
    progress = check["progress"]
    total = progress["events_total"]
    return {
        "id": str(check["check_id"]),
        "state": check["state"],
        "state_label": CHECK_STATES.get(check["state"], check["state"]),
        "requested_by": check["requested_by"],
        "requested_kind": recorder_kind(check["requested_by"]),
        "started_at": chinese_moment(check["started_at"], zone),
        "finished_at": chinese_moment(check["finished_at"], zone) if check["finished_at"] else "",
        "replayed": progress["events_replayed"],
        "total": total,
        "position": check["position"],
        "rows_compared": check["rows_compared"],
        "difference_count": check["difference_count"],
        "error": check["error"] or "",
    }


async def _checks_page(
    request: Request,
    services: Any,
    staff: Staff,
    *,
    status_code: int = 200,
    message: str = "",
    running: str = "",
) -> HTMLResponse:
    checks = await run_in_threadpool(services.replay_checks.recent, 20)
    zone = services.clock.zone
    return render(
        request,
        "console/audit_replay_checks.html",
        staff,
        status_code=status_code,
        message=message,
        running=running,
        checks=[_check_view(check, zone) for check in checks],
    )


@router.get("/replay-checks", response_class=HTMLResponse)
async def replay_checks(request: Request, services: ServicesDep, staff: Auditor) -> HTMLResponse:
    return await _checks_page(request, services, staff)


@router.post("/replay-checks", dependencies=[CsrfChecked])
async def start_replay_check(request: Request, services: ServicesDep, staff: Auditor) -> Response:
    """Start one in the background, as startReplayCheck does, and follow it on its page."""
    try:
        check = await run_in_threadpool(services.replay_checks.start, staff.caller.client_id)
    except CheckRunning as running:
        link = f"{REPLAY_CHECKS}/{running.check_id}" if running.check_id else ""
        return await _checks_page(
            request,
            services,
            staff,
            status_code=409,
            message="已有一次回放核对正在进行，请等它完成后再发起。",
            running=link,
        )
    return RedirectResponse(f"{REPLAY_CHECKS}/{check['check_id']}", status_code=303)


@router.get("/replay-checks/{check_id}", response_class=HTMLResponse)
async def replay_check(
    check_id: str, request: Request, services: ServicesDep, staff: Auditor, refresh: str = "on"
) -> HTMLResponse:
    """While the check runs the page follows it: a script swaps in its progress, and without
    scripts the browser reloads it every few seconds (`refresh=off` stops that)."""
    wanted = _subject_id(check_id)
    check = await run_in_threadpool(services.replay_checks.get, wanted) if wanted else None
    if check is None:
        message = "未找到该回放核对。"
        return render(request, "console/refused.html", staff, status_code=404, message=message)
    # The differences show the named subjects' rows, values and all: that is a read of each.
    shown: dict[UUID, dict[str, Any]] = {}
    for difference in check.get("differences", []):
        if difference["subject_id"]:
            seen = shown.setdefault(
                UUID(str(difference["subject_id"])), {"check_id": check_id, "fields": []}
            )
            seen["fields"].append(f"{difference['table']}.{difference['field']}")
    if shown:
        await log_reads(services, staff.caller, REPLAY_PURPOSE, "replay_check", shown)
    zone = services.clock.zone
    return render(
        request,
        "console/audit_replay_check.html",
        staff,
        check=_check_view(check, zone),
        refresh=check["state"] == "running" and refresh != "off",
        differences=[
            {
                "table": d["table"],
                "key": _shown(d["key"]),
                "subject_id": d["subject_id"] or "",
                "field": d["field"],
                "live": json.dumps(d["live"], ensure_ascii=False),
                "replayed": json.dumps(d["replayed"], ensure_ascii=False),
            }
            for d in check.get("differences", [])
        ],
        differences_limit=check.get("differences_limit", 0),
    )


# The latest checkpoint ---------------------------------------------------------------------------
async def _checkpoint_page(
    request: Request, services: Any, staff: Staff, *, status_code: int = 200, message: str = ""
) -> HTMLResponse:
    latest = await run_in_threadpool(services.checkpoints.latest)
    verified = await run_in_threadpool(services.checkpoints.verify, latest) if latest else None
    chains = await run_in_threadpool(services.checkpoints.verify_chains)
    zone = services.clock.zone
    return render(
        request,
        "console/audit_checkpoint.html",
        staff,
        status_code=status_code,
        message=message,
        made=request.query_params.get("made") == "1",
        checkpoint=(
            {
                "tree_size": latest.tree_size,
                "root": latest.root.hex(),
                "issued_at": chinese_moment(latest.issued_at, zone),
                "issued_at_utc": latest.issued_at.isoformat(),
                "key_id": latest.key_id,
                "signature": latest.as_json()["signature"],
                "origin": latest.origin,
                "logs": latest.logs or {},
                # the 国密 suite's SM3 root and SM2 signature (format 3), or None
                "sm3_root": latest.sm3_root.hex() if latest.sm3_root else None,
                "sm2": latest.as_json().get("sm2"),
            }
            if latest
            else None
        ),
        verified=verified,
        chains=[
            {
                "name": {"access_log": "查询留痕", "admin_log": "管理日志"}.get(name, name),
                "ok": check.ok,
                "rows": check.rows,
                "head": check.head.seq,
                "anchored": check.anchored.seq if check.anchored else 0,
                "first_bad_seq": check.first_bad_seq,
                "cut_after_seq": check.cut_after_seq,
                "hashed": hash_counts(check),
            }
            for name, check in chains.items()
        ],
    )


@router.get("/checkpoint", response_class=HTMLResponse)
async def checkpoint(request: Request, services: ServicesDep, staff: Auditor) -> HTMLResponse:
    return await _checkpoint_page(request, services, staff)


@router.post("/checkpoint", dependencies=[CsrfChecked])
async def make_checkpoint(request: Request, services: ServicesDep, staff: Auditor) -> Response:
    """Sign one now, as makeCheckpoint does (the latest, if nothing was appended since)."""
    try:
        await run_in_threadpool(services.checkpoints.make)
    except ChainedLogCut:
        message = "查询留痕或管理日志的尾部已被截断或改写，系统拒绝签发新的检查点。请立即核查。"
        return await _checkpoint_page(request, services, staff, status_code=409, message=message)
    except SealNoLongerHolds:
        message = (
            "有事件已与其写入时的 SHA-256 封印不符，系统拒绝以 SM3 封印并签发检查点。请立即核查。"
        )
        return await _checkpoint_page(request, services, staff, status_code=409, message=message)
    return RedirectResponse(f"{CHECKPOINT}?made=1", status_code=303)
