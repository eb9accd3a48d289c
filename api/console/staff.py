"""Who is at the console: the session cookie, the signed-in person as a `Caller` (the very
principal an API client of the same role is), the scope a page needs, and CSRF on every form
that changes something.

A page declares what it needs and gets a `Staff`:

    @router.get("/console/...")
    async def page(staff: Annotated[Staff, page_for(READ)]) -> HTMLResponse: ...

and a form handler that changes state adds `dependencies=[CsrfChecked]`. A page that reads a
subject logs it with `api.auth.log_reads(services, staff.caller, purpose, action, returned)`,
exactly as the API does: the access log names the person as "account:<name>".

A request without a live session is sent to the sign-in page (303), one whose role lacks the
scope gets the 403 page, and a form without this session's CSRF token the 403 page too: these
are pages, not API problems, so `api.console.install` maps them, to the handlers below."""

from __future__ import annotations

import functools
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api.auth import Caller
from api.console.layout import nav_for, role_name
from api.templating import templates
from service.access.accounts import Account
from service.settings import Settings

SIGN_IN_PATH = "/console/sign-in"
HOME_PATH = "/console/"
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True)
class Staff:
    """A signed-in person: the account, the caller every permission check reads, and this
    session's CSRF token for the forms the page renders."""

    account: Account
    caller: Caller
    csrf_token: str

    @property
    def actor(self) -> str:
        """How the admin log names the person."""
        return self.account.principal_id


def session_cookie(settings: Settings) -> str:
    """`__Host-` where cookies are Secure: the browser then refuses one set by a sibling
    domain or for another path, so no one can plant a session or a sign-in token."""
    return "__Host-console" if settings.secure_cookies else "console"


def sign_in_cookie(settings: Settings) -> str:
    return "__Host-console-sign-in" if settings.secure_cookies else "console-sign-in"


def oidc_cookie(settings: Settings) -> str:
    """Names the browser's sign-in at the OpenID Connect provider, while it is under way."""
    return "__Host-console-oidc" if settings.secure_cookies else "console-oidc"


def set_cookie(response: Response, settings: Settings, name: str, value: str) -> None:
    """HttpOnly (no script reads it), SameSite=Lax (no cross-site form posts it), Secure
    outside development; no Max-Age: the server ends sessions, the browser's copy goes at
    its close."""
    response.set_cookie(
        name, value, path="/", httponly=True, samesite="lax", secure=settings.secure_cookies
    )


def clear_cookie(response: Response, settings: Settings, name: str) -> None:
    response.delete_cookie(
        name, path="/", httponly=True, samesite="lax", secure=settings.secure_cookies
    )


class SignInNeeded(Exception):
    """No live session: the person is sent to sign in (told so if a session has ended)."""

    def __init__(self, ended: bool):
        super().__init__("sign-in needed")
        self.ended = ended


class PageRefused(Exception):
    """Signed in, but this page or form is not for them (a scope the role lacks, or a form
    without this session's CSRF token); the 403 page says which."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


async def current_staff(request: Request) -> Staff | None:
    """The person this request's session cookie names, if the session is live."""
    services = request.app.state.services
    token = request.cookies.get(session_cookie(services.settings))
    if not token:
        return None
    found = await run_in_threadpool(services.sessions.find, token, services.clock.now())
    if found is None:
        return None
    account = found.account
    return Staff(account, Caller(account.principal(), frozenset(account.scopes)), found.csrf_token)


async def signed_in(request: Request) -> Staff:
    staff = await current_staff(request)
    if staff is None:
        cookie = session_cookie(request.app.state.services.settings)
        raise SignInNeeded(ended=cookie in request.cookies)
    return staff


SignedIn = Annotated[Staff, Depends(signed_in)]


@functools.cache  # one dependency per set of scopes, as api.auth.require
def page_for(*scopes: str) -> Any:
    """A page for the roles whose scopes include one of `scopes` (the same scopes the API
    checks); a page that shows each role a different part says which in its route."""

    async def check(staff: SignedIn) -> Staff:
        if staff.caller.scopes.isdisjoint(scopes):
            raise PageRefused("您的角色无权使用此页面。")
        return staff

    return Depends(check)


async def csrf_checked(request: Request, staff: SignedIn) -> None:
    """Synchronizer token: the form must carry this session's token (a cross-site page cannot
    read it, and SameSite=Lax already keeps the cookie off cross-site posts)."""
    form = await request.form()  # Starlette keeps it: the route's Form() fields read it again
    sent = form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not hmac.compare_digest(
        sent.encode(), staff.csrf_token.encode()
    ):
        raise PageRefused("页面已失效或来源不明，操作未执行。请返回刷新页面后重试。")


CsrfChecked = Depends(csrf_checked)


def new_sign_in_token() -> str:
    return secrets.token_urlsafe(32)


def render(
    request: Request,
    template: str,
    staff: Staff | None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """A console page in the shared layout: who is signed in, their nav, their role's name."""
    return templates.TemplateResponse(
        request,
        template,
        {
            "staff": staff,
            "role_name": role_name(staff.account.role) if staff else "",
            "nav": nav_for(staff.caller.scopes, request.url.path) if staff else [],
            **context,
        },
        status_code=status_code,
        headers=headers,
    )


async def to_sign_in(request: Request, error: Exception) -> Response:
    """No live session: 303 to the sign-in page, which says so when a session has ended."""
    assert isinstance(error, SignInNeeded)
    settings = request.app.state.services.settings
    response = RedirectResponse(
        f"{SIGN_IN_PATH}?ended=1" if error.ended else SIGN_IN_PATH, status_code=303
    )
    if error.ended:
        clear_cookie(response, settings, session_cookie(settings))
    return response


async def refused_page(request: Request, error: Exception) -> Response:
    assert isinstance(error, PageRefused)
    staff = await current_staff(request)
    return render(request, "console/refused.html", staff, status_code=403, message=error.message)
