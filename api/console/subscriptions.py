"""Change subscriptions at the console (变动订阅): an agency's staff follow subjects by pasting or
uploading their codes, choose the kinds of change, cancel a subscription, and read the latest
changes of the subjects they follow. For the roles with `credit:read`, like the check pages.

Whose subscriptions: the agency's. A subscription made at the console is owned by
`agency:<agency code>` (`owner_of`), so every person of one agency sees, reads and cancels the
same ones, and a person of another agency neither sees nor cancels them (404, as for one that
does not exist). An API client's subscriptions stay its own (keyed by its client id, which
never holds a colon): a system integration keeps its cursor and its subjects apart from the
staff's pages. Reading the changes writes each subject shown to its access log under the
person's account, as the API's feed does under the client."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api.auth import READ, log_reads
from api.console import labels
from api.console.staff import CsrfChecked, Staff, page_for, render
from api.console.vocabulary import event_name
from api.deps import ServicesDep
from api.templating import chinese_moment
from domain.changes import CHANGE_KINDS
from projections.credit_file.queries import masked_codes
from service.notifications.deliveries import PAUSED, WebhookState
from service.notifications.feed import latest_changes
from service.notifications.subscriptions import (
    MAX_SUBJECTS,
    NothingToSubscribe,
    NotSubscribed,
    Subscription,
)
from service.notifications.webhooks import TargetRefused
from service.querying.code_lists import CodeLine, CodeListError, codes_from_file, codes_from_text

router = APIRouter(prefix="/console/subscriptions", tags=["staff console"], include_in_schema=False)
Follower = Annotated[Staff, page_for(READ)]

OWNER_PREFIX = "agency:"
MAX_FIELD_BYTES = 64 * 1024 * 1024
CHANGES_SHOWN = 100  # the newest changes on the changes page
PURPOSE = "变动订阅：查看所订阅主体的信用变动"  # the access log's purpose of the changes page

NO_CODES = "请粘贴或上传要订阅的代码，每行一个。"
NO_KINDS = "请至少选择一种变动类型。"
NOTHING_FOUND = "没有一个代码对应已登记的信用主体，未创建订阅。"
REASONS = {
    "invalid": "代码有误，不是有效的统一社会信用代码、居民身份证号码或车牌号码",
    "unknown": "未找到，没有以该代码登记的信用主体",
}
UNKNOWN_SUBSCRIPTION = "未找到该订阅：它不存在、已取消，或不属于本单位。"
NO_WEBHOOK = "该订阅未设置回调地址，没有推送记录。"
ATTEMPTS_SHOWN = 100  # the latest delivery attempts on a webhook's log page
WEBHOOK_STATES = {"active": "正常", PAUSED: "已暂停"}
# Where a receiver reads how to check a delivery's signature: the Standard Webhooks scheme, and
# the section of docs/notifications.md that gives it with a Python example.
SIGNATURE_SPEC = "https://www.standardwebhooks.com/"
SIGNATURE_DOCS = "docs/notifications.md#what-is-sent"


def refused_target(refused: TargetRefused, require_https: bool) -> str:
    """Why a callback URL is refused, in Chinese, from the rule it broke."""
    host = refused.host
    why = {
        "too-long": "回调地址过长，最多 2000 个字符。",
        "not-a-url": "回调地址不是有效的网址。",
        "scheme": (
            "回调地址须以 https:// 开头（生产环境只允许 HTTPS）。"
            if require_https
            else "回调地址须以 https:// 或 http:// 开头。"
        ),
        "no-host": "回调地址缺少主机名。",
        "credentials": "回调地址不得包含用户名或密码。",
        "fragment": "回调地址不得包含 # 片段。",
        "unresolvable": f"无法解析回调地址的主机名 {host}。",
        "not-public": (
            f"回调地址的主机 {host} 解析为 {refused.address}，不是公网地址（内网、本机回环、"
            "链路本地、组播或保留地址），本系统不向其推送。"
        ),
    }.get(refused.rule, "回调地址不可用。")
    return f"{why}未创建订阅。"


def owner_of(staff: Staff) -> str:
    """The owner of the subscriptions a person makes and sees: their agency."""
    return OWNER_PREFIX + staff.account.agency_code


def kind_choices() -> list[tuple[str, str, str]]:
    """(name, Chinese title, what it tells) of each kind, in the catalogue's order."""
    return [(kind.name, kind.title, kind.description) for kind in CHANGE_KINDS.values()]


def kind_titles(names: tuple[str, ...]) -> str:
    return "、".join(CHANGE_KINDS[name].title for name in names if name in CHANGE_KINDS)


def _webhook(hook: WebhookState | None, zone: Any) -> dict[str, Any] | None:
    if hook is None:
        return None
    return {
        "callback_url": hook.callback_url,
        "state": WEBHOOK_STATES.get(hook.state, hook.state),
        "paused": hook.state == PAUSED,
        "failures": hook.consecutive_failures,
        "paused_at": chinese_moment(hook.paused_at, zone) if hook.paused_at else "",
    }


def _listed(subscription: Subscription, zone: Any) -> dict[str, Any]:
    return {
        "id": str(subscription.subscription_id),
        "kinds": kind_titles(subscription.kinds),
        "subject_count": subscription.subject_count,
        "created_at": chinese_moment(subscription.created_at, zone),
        "webhook": _webhook(subscription.webhook, zone),
    }


async def _page(
    request: Request,
    services: Any,
    staff: Staff,
    *,
    status_code: int = 200,
    message: str = "",
    codes: str = "",
    kinds: list[str] | None = None,
    callback_url: str = "",
    **result: Any,
) -> HTMLResponse:
    mine = await run_in_threadpool(services.subscriptions.of_client, owner_of(staff))
    return render(
        request,
        "console/subscriptions.html",
        staff,
        status_code=status_code,
        message=message,
        codes=codes,
        callback_url=callback_url,
        chosen=set(kinds if kinds is not None else ["record.published", "list.entered"]),
        kinds=kind_choices(),
        max_subjects=MAX_SUBJECTS,
        subscriptions=[_listed(s, services.clock.zone) for s in reversed(mine)],
        signature_spec=SIGNATURE_SPEC,
        signature_docs=SIGNATURE_DOCS,
        **({"made": None, "problems": [], "secret": None} | result),
    )


def _problems(lines: list[CodeLine], missing: list[NotSubscribed], source: str) -> list[str]:
    """Each code not followed, by the line it was on: "第 3 行（9141…）：未找到，…"."""
    return [
        f"{source} {lines[entry.index].line} 行（{entry.submitted}）：{REASONS[entry.reason]}"
        for entry in missing
    ]


@router.get("", response_class=HTMLResponse)
async def subscriptions_page(
    request: Request, services: ServicesDep, staff: Follower
) -> HTMLResponse:
    return await _page(request, services, staff)


@router.post(
    "",
    response_class=HTMLResponse,
    dependencies=[CsrfChecked],
    # 100,000 pasted codes are one text field of about 2 MB, past Starlette's 1 MB a field: the
    # body as a whole is bounded by CREDIT_MAX_SUBSCRIPTION_BYTES (api/app.py) before this.
    form_limits={"max_part_size": MAX_FIELD_BYTES},
)
async def subscribe(
    request: Request,
    services: ServicesDep,
    staff: Follower,
    codes: Annotated[str, Form()] = "",
    file: Annotated[UploadFile | None, File()] = None,
    kinds: Annotated[list[str] | None, Form()] = None,
    callback_url: Annotated[str, Form(max_length=4000)] = "",
) -> HTMLResponse:
    """A subscription of the agency's to the subjects of up to MAX_SUBJECTS codes, pasted one a
    line or uploaded (CSV or XLSX, first column), for the kinds chosen; with a callback URL
    (回调地址), its changes are POSTed there too, signed with a secret shown on this answer
    only."""
    callback_url = callback_url.strip()
    chosen = [name for name in CHANGE_KINDS if name in (kinds or [])]  # the catalogue's order
    source = "第"
    try:
        if file is not None and file.filename:
            lines = codes_from_file(await file.read(), file.filename, max_rows=MAX_SUBJECTS + 1)
            codes = ""  # an upload is not written back into the text box
            source = "文件第"
        else:
            lines = codes_from_text(codes)
    except CodeListError as error:
        return await _page(
            request,
            services,
            staff,
            status_code=422,
            message=str(error),
            kinds=chosen,
            callback_url=callback_url,
        )
    problem = ""
    if not lines:
        problem = NO_CODES
    elif len(lines) > MAX_SUBJECTS:
        problem = (
            f"共 {len(lines):,} 个代码，一次最多订阅 {MAX_SUBJECTS:,} 个，本次未订阅任何代码。"
            "请分批订阅。"
        )
    elif not chosen or set(chosen) != set(kinds or []):
        problem = NO_KINDS
    if problem:
        return await _page(
            request,
            services,
            staff,
            status_code=422,
            message=problem,
            codes=codes,
            kinds=chosen,
            callback_url=callback_url,
        )
    try:
        made, missing, secret = await run_in_threadpool(
            services.subscriptions.subscribe,
            owner_of(staff),
            chosen,
            codes=[line.code for line in lines],
            callback_url=callback_url or None,
            now=services.clock.now(),
        )
    except TargetRefused as refused:
        return await _page(
            request,
            services,
            staff,
            status_code=422,
            message=refused_target(refused, services.webhooks.rules.require_https),
            codes=codes,
            kinds=chosen,
            callback_url=callback_url,
        )
    except NothingToSubscribe as nothing:
        return await _page(
            request,
            services,
            staff,
            status_code=422,
            message=NOTHING_FOUND,
            codes=codes,
            kinds=chosen,
            callback_url=callback_url,
            problems=_problems(lines, nothing.not_found, source),
        )
    return await _page(
        request,
        services,
        staff,
        kinds=chosen,
        made=_listed(made, services.clock.zone) | {"submitted": len(lines)},
        problems=_problems(lines, missing, source),
        secret=secret,
    )


@router.post("/{subscription_id}/cancel", dependencies=[CsrfChecked])
async def cancel(
    request: Request, services: ServicesDep, staff: Follower, subscription_id: str
) -> Response:
    """Ends one of the agency's subscriptions; another agency's is not found, exactly as one
    that does not exist."""
    wanted = _subscription_id(subscription_id)
    cancelled = wanted is not None and await run_in_threadpool(
        services.subscriptions.cancel, owner_of(staff), wanted
    )
    if not cancelled:
        return await _page(request, services, staff, status_code=404, message=UNKNOWN_SUBSCRIPTION)
    return RedirectResponse("/console/subscriptions?cancelled=1", status_code=303)


def _subscription_id(text: str) -> UUID | None:
    try:
        return UUID(text)
    except ValueError:
        return None


async def _agency_subscription(services: Any, owner: str, text: str) -> Subscription | None:
    """The agency's subscription with this id; None if the id is malformed, unknown, or
    another agency's (not told apart)."""
    wanted = _subscription_id(text)
    if wanted is None:
        return None
    found: Subscription | None = await run_in_threadpool(services.subscriptions.get, owner, wanted)
    return found


@router.get("/{subscription_id}/deliveries", response_class=HTMLResponse)
async def deliveries_page(
    request: Request, services: ServicesDep, staff: Follower, subscription_id: str
) -> HTMLResponse:
    """A webhook's state and its latest delivery attempts, newest first (推送记录); another
    agency's subscription is not found, as one that does not exist."""
    owner = owner_of(staff)
    found = await _agency_subscription(services, owner, subscription_id)
    if found is None:
        return await _page(request, services, staff, status_code=404, message=UNKNOWN_SUBSCRIPTION)
    if found.webhook is None:
        return await _page(request, services, staff, status_code=409, message=NO_WEBHOOK)
    attempts = await run_in_threadpool(
        services.webhooks.attempts, owner, found.subscription_id, ATTEMPTS_SHOWN
    )
    zone = services.clock.zone
    return render(
        request,
        "console/subscription_deliveries.html",
        staff,
        subscription=_listed(found, zone),
        resumed=request.query_params.get("resumed") == "1",
        limit=ATTEMPTS_SHOWN,
        attempts=[
            {
                "at": chinese_moment(attempt.attempted_at, zone),
                "change_id": str(attempt.change_id),
                "outcome": str(attempt.status_code)
                if attempt.status_code is not None
                else attempt.error or "",
                "delivered": attempt.status_code is not None and 200 <= attempt.status_code < 300,
                "duration_ms": attempt.duration_ms,
            }
            for attempt in attempts
        ],
    )


@router.post("/{subscription_id}/resume", dependencies=[CsrfChecked])
async def resume(
    request: Request, services: ServicesDep, staff: Follower, subscription_id: str
) -> Response:
    """Sets one of the agency's paused webhooks going again (恢复推送): its pending deliveries,
    those missed while paused among them, are due at once, each with a whole retry window."""
    owner = owner_of(staff)
    found = await _agency_subscription(services, owner, subscription_id)
    if found is None:
        return await _page(request, services, staff, status_code=404, message=UNKNOWN_SUBSCRIPTION)
    if found.webhook is None:
        return await _page(request, services, staff, status_code=409, message=NO_WEBHOOK)
    await run_in_threadpool(
        services.webhooks.resume, owner, found.subscription_id, services.clock.now()
    )
    return RedirectResponse(
        f"/console/subscriptions/{found.subscription_id}/deliveries?resumed=1", status_code=303
    )


@router.get("/changes", response_class=HTMLResponse)
async def changes_page(request: Request, services: ServicesDep, staff: Follower) -> HTMLResponse:
    """The newest changes of the agency's subscriptions, newest first; each subject shown is
    written to its access log (`changes`), with the change ids, before the page is answered."""
    owner = owner_of(staff)
    found = await latest_changes(services.read_engine, owner, CHANGES_SHOWN)
    shown: dict[UUID, dict[str, list[str]]] = {}
    for change in found:
        shown.setdefault(change["subject_id"], {"change_ids": []})["change_ids"].append(
            str(change["change_id"])
        )
    await log_reads(services, staff.caller, PURPOSE, "changes", shown)
    async with services.read_engine.connect() as conn:
        codes = await masked_codes(conn, list(shown))
    zone = services.clock.zone
    rows = [
        {
            "kind": CHANGE_KINDS[change["kind"]].title,
            "kind_name": change["kind"],
            "record_type": event_name(change["record_type"]),
            "code": codes.get(change["subject_id"], ""),
            "recorded_at": chinese_moment(change["recorded_at"], zone),
            "position": change["position"],
            "what": _what(change),
        }
        for change in found
    ]
    followed = await run_in_threadpool(services.subscriptions.of_client, owner)
    return render(
        request,
        "console/subscription_changes.html",
        staff,
        rows=rows,
        limit=CHANGES_SHOWN,
        subscriptions=len(followed),
    )


def _what(change: dict[str, Any]) -> str:
    """A line on what changed, from the change's `after` (dates, list, outcome)."""
    after = change.get("after") or {}
    parts = []
    if after.get("decision_date"):
        parts.append(f"决定日期 {after['decision_date']}")
    if after.get("publish_from"):
        parts.append(f"公示期 {after['publish_from']} 至 {after.get('publish_until') or '—'}")
    if after.get("list_type"):
        parts.append(labels.label(labels.LISTS, after["list_type"]))
    if after.get("ended_on"):
        parts.append(f"移出日期 {after['ended_on']}")
    if after.get("outcome"):
        parts.append(
            {"corrected": "已更正", "revoked": "已撤销", "upheld": "维持原记录"}.get(
                after["outcome"], after["outcome"]
            )
        )
    if after.get("authority_name"):
        parts.append(after["authority_name"])
    return "；".join(parts)
