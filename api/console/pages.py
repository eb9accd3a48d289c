"""Signing in and out of the console, and each role's home page.

The sign-in form is protected against login CSRF by a double-submit token: a random value in a
`__Host-` cookie (HttpOnly, SameSite=Lax) and the same value in the form, since no session
exists yet to hold a synchronizer token. Every form after sign-in carries the session's own
token (`api.console.staff.csrf_checked`). Attempts are limited per address before any password
is hashed, and per name by the lockout (`service.access.accounts`).

With an OpenID Connect provider configured (CREDIT_CONSOLE_IDENTITY_PROVIDER=oidc) the page
offers no password form but one button: `/console/sign-in/oidc` sends the browser to the
provider, and the provider sends it back to `/console/sign-in/oidc/callback`, where the
service checks what came back against what this browser set out with (`service.access.oidc`)
before it starts the same session a password would."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api.console.layout import role_name, tasks_for
from api.console.staff import (
    CSRF_FIELD,
    HOME_PATH,
    SIGN_IN_PATH,
    CsrfChecked,
    SignedIn,
    clear_cookie,
    current_staff,
    new_sign_in_token,
    oidc_cookie,
    render,
    session_cookie,
    set_cookie,
    sign_in_cookie,
)
from api.deps import ServicesDep
from api.rate_limit import RateLimited
from api.templating import chinese_moment
from service.access.accounts import Account, Disabled, LockedOut, Refused
from service.access.accounts import SignedIn as Accepted
from service.access.oidc import (
    AwaitingApproval,
    ClaimsRefused,
    OidcSignIn,
    ProviderFailed,
    StaleSignIn,
    TokenRefused,
)

router = APIRouter(prefix="/console", tags=["staff console"], include_in_schema=False)

WRONG = "登录名或密码错误。"
DISABLED = "该账号已停用，请联系系统管理员。"
STALE_FORM = "登录页面已失效，请重新输入登录名和密码。"
SIGNED_OUT = "您已安全退出。"
ENDED = "登录已超时或已失效，请重新登录。"
STALE_RETURN = "登录请求已失效或来源不明，请重新登录。"
USE_THE_PROVIDER = "本系统通过统一身份认证登录，请点击下方按钮。"
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
    """The form, with a fresh double-submit token in the form and in its cookie; or, with an
    OpenID Connect provider, the one button that leads to it."""
    services = request.app.state.services
    settings = services.settings
    if isinstance(services.identity, OidcSignIn):
        return render(
            request,
            "console/sign_in.html",
            None,
            status_code=status_code,
            headers=headers,
            message=message,
            notice=notice,
            oidc=True,
        )
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
        oidc=False,
    )
    set_cookie(response, settings, sign_in_cookie(settings), token)
    return response


def _signed_in(request: Request, account: Account, started_token: str) -> Response:
    """Into the console: the session's cookie, the sign-in's cookies gone."""
    settings = request.app.state.services.settings
    response = RedirectResponse(HOME_PATH, status_code=303)
    set_cookie(response, settings, session_cookie(settings), started_token)
    clear_cookie(response, settings, sign_in_cookie(settings))
    clear_cookie(response, settings, oidc_cookie(settings))
    return response


def _too_often(request: Request, limited: RateLimited, name: str = "") -> Response:
    wait = limited.retry_after_seconds
    return _sign_in_page(
        request,
        status_code=429,
        message=f"登录尝试过于频繁，请 {wait} 秒后再试。",
        name=name,
        headers={"Retry-After": str(wait)},
    )


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
    identity = services.identity
    if isinstance(identity, OidcSignIn):  # no password is taken here
        return _sign_in_page(request, status_code=400, message=USE_THE_PROVIDER)
    address = request.client.host if request.client else "unknown"
    try:
        request.app.state.sign_in_limiter.check(address)
    except RateLimited as limited:
        return _too_often(request, limited, name)
    expected = request.cookies.get(sign_in_cookie(settings), "")
    if not expected or not hmac.compare_digest(csrf_token.encode(), expected.encode()):
        return _sign_in_page(request, status_code=403, message=STALE_FORM, name=name)
    if not name.strip() or not password:
        return _sign_in_page(request, status_code=422, message="请输入登录名和密码。", name=name)
    if len(name) > MAX_NAME or len(password) > MAX_PASSWORD:  # no account has such a name
        return _sign_in_page(request, status_code=401, message=WRONG, name=name)
    now = services.clock.now()
    outcome = await run_in_threadpool(identity.sign_in, name, password, now)
    match outcome:
        case Accepted(account):
            started = await run_in_threadpool(services.sessions.start, account.name, now)
            return _signed_in(request, account, started.token)
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


def _oidc(request: Request) -> OidcSignIn:
    identity = request.app.state.services.identity
    if not isinstance(identity, OidcSignIn):
        raise HTTPException(404)  # the built-in accounts: there is no provider to go to
    return identity


@router.get("/sign-in/oidc", response_class=HTMLResponse)
async def oidc_sign_in(request: Request, services: ServicesDep) -> Response:
    """To the provider, with a fresh state, nonce and PKCE challenge (kept on the server,
    named by this browser's sign-in cookie). Limited per address as password attempts are:
    each one keeps a row until it is used or too old."""
    identity = _oidc(request)
    settings = services.settings
    address = request.client.host if request.client else "unknown"
    try:
        request.app.state.sign_in_limiter.check(address)
    except RateLimited as limited:
        return _too_often(request, limited)
    callback = str(request.url_for("oidc_callback"))
    departure = await identity.depart(callback, services.clock.now())
    if isinstance(departure, ProviderFailed):
        return _sign_in_page(request, status_code=502, message=departure.in_chinese)
    response = RedirectResponse(departure.url, status_code=303)
    set_cookie(response, settings, oidc_cookie(settings), departure.token)
    return response


@router.get("/sign-in/oidc/callback", response_class=HTMLResponse)
async def oidc_callback(request: Request, services: ServicesDep) -> Response:
    """Back from the provider: into the console, or the sign-in page saying why not (and no
    account or session written)."""
    identity = _oidc(request)
    settings = services.settings
    now = services.clock.now()
    token = request.cookies.get(oidc_cookie(settings), "")
    outcome = await identity.arrive(token, dict(request.query_params), now)
    match outcome:
        case Accepted(account):
            started = await run_in_threadpool(services.sessions.start, account.name, now)
            return _signed_in(request, account, started.token)
        case StaleSignIn():
            response = _sign_in_page(request, status_code=400, message=STALE_RETURN)
        case ProviderFailed(in_chinese):
            response = _sign_in_page(request, status_code=502, message=in_chinese)
        case TokenRefused(in_chinese):
            response = _sign_in_page(request, status_code=401, message=in_chinese)
        case ClaimsRefused(in_chinese):
            response = _sign_in_page(request, status_code=403, message=in_chinese)
        case Disabled():
            response = _sign_in_page(request, status_code=403, message=DISABLED)
        case AwaitingApproval(role):
            message = (
                f"您在统一身份认证中的角色为{role_name(role)}。以此角色首次登录须经本系统的系统管理员"
                "批准（四眼原则），已提交审批；批准后请重新登录。"
            )
            response = _sign_in_page(request, status_code=403, message=message)
    clear_cookie(response, settings, oidc_cookie(settings))
    return response


@router.post("/sign-out", dependencies=[CsrfChecked])
async def sign_out(request: Request, services: ServicesDep, staff: SignedIn) -> Response:
    """The session ends on the server: its cookie, if kept or copied, names nothing after.
    A person the OpenID Connect provider vouched for is then sent to sign out there too, if
    the provider names where (its discovery document's end_session_endpoint)."""
    settings = services.settings
    token = request.cookies.get(session_cookie(settings), "")
    await run_in_threadpool(services.sessions.end, token, services.clock.now())
    signed_out = f"{SIGN_IN_PATH}?signed_out=1"
    identity = services.identity
    if isinstance(identity, OidcSignIn) and staff.account.provider == identity.config.provider:
        back = str(request.url_for("sign_in_form").include_query_params(signed_out=1))
        signed_out = await identity.end_session_url(back) or signed_out
    response = RedirectResponse(signed_out, status_code=303)
    clear_cookie(response, settings, session_cookie(settings))
    return response


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, staff: SignedIn) -> HTMLResponse:
    """What the person's role lets them do (from its scopes)."""
    return render(request, "console/home.html", staff, tasks=tasks_for(staff.caller.scopes))
