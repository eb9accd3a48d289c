"""Signing in and out of the console, and each role's home page.

The sign-in form is protected against login CSRF by a double-submit token: a random value in a
`__Host-` cookie (HttpOnly, SameSite=Lax) and the same value in the form, since no session
exists yet to hold a synchronizer token. Every form after sign-in carries the session's own
token (`api.console.staff.csrf_checked`). Attempts are limited per address before any password
is hashed, and per name by the lockout (`service.access.accounts`)."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api.console.layout import tasks_for
from api.console.staff import (
    CSRF_FIELD,
    HOME_PATH,
    SIGN_IN_PATH,
    CsrfChecked,
    SignedIn,
    clear_cookie,
    current_staff,
    new_sign_in_token,
    render,
    session_cookie,
    set_cookie,
    sign_in_cookie,
)
from api.deps import ServicesDep
from api.rate_limit import RateLimited
from api.templating import chinese_moment
from service.access.accounts import Disabled, LockedOut, Refused
from service.access.accounts import SignedIn as Accepted

router = APIRouter(prefix="/console", tags=["staff console"], include_in_schema=False)

WRONG = "登录名或密码错误。"
DISABLED = "该账号已停用，请联系系统管理员。"
STALE_FORM = "登录页面已失效，请重新输入登录名和密码。"
SIGNED_OUT = "您已安全退出。"
ENDED = "登录已超时或已失效，请重新登录。"
MAX_NAME, MAX_PASSWORD = 64, 1024  # nothing longer is hashed


def _sign_in_page(
    request: Request,
    *,
    status_code: int = 200,
    message: str = "",
    notice: str = "",
    name: str = "",
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The form, with a fresh double-submit token in the form and in its cookie."""
    settings = request.app.state.services.settings
    token = new_sign_in_token()
    response = render(
        request,
        "console/sign_in.html",
        None,
        status_code=status_code,
        headers=headers,
        message=message,
        notice=notice,
        name=name[:MAX_NAME],
        csrf_token=token,
    )
    set_cookie(response, settings, sign_in_cookie(settings), token)
    return response


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_form(request: Request, ended: bool = False, signed_out: bool = False) -> Response:
    if await current_staff(request) is not None:
        return RedirectResponse(HOME_PATH, status_code=303)
    notice = SIGNED_OUT if signed_out else (ENDED if ended else "")
    return _sign_in_page(request, notice=notice)


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(
    request: Request,
    services: ServicesDep,
    name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:
    settings = services.settings
    address = request.client.host if request.client else "unknown"
    try:
        request.app.state.sign_in_limiter.check(address)
    except RateLimited as limited:
        wait = limited.retry_after_seconds
        return _sign_in_page(
            request,
            status_code=429,
            message=f"登录尝试过于频繁，请 {wait} 秒后再试。",
            name=name,
            headers={"Retry-After": str(wait)},
        )
    expected = request.cookies.get(sign_in_cookie(settings), "")
    if not expected or not hmac.compare_digest(csrf_token.encode(), expected.encode()):
        return _sign_in_page(request, status_code=403, message=STALE_FORM, name=name)
    if not name.strip() or not password:
        return _sign_in_page(request, status_code=422, message="请输入登录名和密码。", name=name)
    if len(name) > MAX_NAME or len(password) > MAX_PASSWORD:  # no account has such a name
        return _sign_in_page(request, status_code=401, message=WRONG, name=name)
    now = services.clock.now()
    outcome = await run_in_threadpool(services.identity.sign_in, name, password, now)
    match outcome:
        case Accepted(account):
            started = await run_in_threadpool(services.sessions.start, account.name, now)
            response = RedirectResponse(HOME_PATH, status_code=303)
            set_cookie(response, settings, session_cookie(settings), started.token)
            clear_cookie(response, settings, sign_in_cookie(settings))
            return response
        case LockedOut(until):
            wait = max(1, int((until - now).total_seconds()))
            return _sign_in_page(
                request,
                status_code=429,
                message=f"登录失败次数过多，此登录名已暂时锁定，请于 "
                f"{chinese_moment(until, services.clock.zone)} 后再试。",
                name=name,
                headers={"Retry-After": str(wait)},
            )
        case Disabled():
            return _sign_in_page(request, status_code=403, message=DISABLED, name=name)
        case Refused():
            return _sign_in_page(request, status_code=401, message=WRONG, name=name)


@router.post("/sign-out", dependencies=[CsrfChecked])
async def sign_out(request: Request, services: ServicesDep, staff: SignedIn) -> Response:
    """The session ends on the server: its cookie, if kept or copied, names nothing after."""
    settings = services.settings
    token = request.cookies.get(session_cookie(settings), "")
    await run_in_threadpool(services.sessions.end, token, services.clock.now())
    response = RedirectResponse(f"{SIGN_IN_PATH}?signed_out=1", status_code=303)
    clear_cookie(response, settings, session_cookie(settings))
    return response


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, staff: SignedIn) -> HTMLResponse:
    """What the person's role lets them do (from its scopes)."""
    return render(request, "console/home.html", staff, tasks=tasks_for(staff.caller.scopes))
