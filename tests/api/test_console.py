"""Signing in to the staff console, its sessions and its pages, through the ASGI app on SQLite
and PostgreSQL: wrong passwords, the lockout and its end, CSRF, session expiry, sign-out,
disabled accounts, the access log naming the person, and which role sees which page."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Annotated
from uuid import UUID

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from api.app import create_app
from api.auth import READ, log_reads
from api.console.layout import ROLE_NAMES
from api.console.staff import Staff, page_for, render
from service.access.tables import admin_log, console_sessions
from service.bootstrap import Services, build_services
from service.clock import FixedClock
from service.settings import Settings
from tests.api.test_attack_logs import credit
from tests.builders import AUTHORITY_CODE, enterprise
from tests.conftest import ON_POSTGRESQL_ALONE
from tests.console import ROLES, Person, create_staff, csrf_of, sign_in

pytestmark = pytest.mark.api
WRONG = "登录名或密码错误。"

# A page that reads a subject the way the console's pages do: the signed-in person's caller,
# logged like an API read. (The check pages themselves come with their own routes.)
reading = APIRouter()


@reading.get("/console/test-subject/{subject_id}", response_class=HTMLResponse)
async def subject_page(
    subject_id: UUID, request: Request, staff: Annotated[Staff, page_for(READ)]
) -> HTMLResponse:
    services = request.app.state.services
    await log_reads(services, staff.caller, "行政许可核查", "page_status", {subject_id: {}})
    return render(request, "console/home.html", staff, tasks=[str(subject_id)])


def build_app(settings: Settings, services: Services) -> FastAPI:
    app = create_app(settings, services=services)
    app.include_router(reading)
    return app


@pytest.fixture
async def browser(settings, services) -> AsyncIterator[httpx.AsyncClient]:
    """A browser without JavaScript: keeps cookies, follows no redirect by itself. HTTPS,
    since outside development the console's cookies are Secure."""
    app = build_app(settings, services)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://credit.test") as http:
            yield http


@pytest.fixture
def staff(services) -> dict[str, Person]:
    return create_staff(services)


def message_of(html: str) -> str:
    found = re.search(r'id="message">([^<]*)<', html)
    return found.group(1) if found else ""


def set_cookies(response: httpx.Response) -> dict[str, str]:
    return {header.split("=", 1)[0]: header for header in response.headers.get_list("set-cookie")}


async def signed_in_as(browser: httpx.AsyncClient, person: Person) -> None:
    response = await sign_in(browser, person.name, person.password)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/console/"


# Signing in and out ---------------------------------------------------------------------------
async def test_a_person_signs_in_sees_their_home_and_signs_out(browser, staff):
    person = staff["recorder"]
    response = await sign_in(browser, person.name, person.password)
    assert response.status_code == 303
    cookie = set_cookies(response)["__Host-console"]
    for flag in ("HttpOnly", "SameSite=lax", "Secure", "Path=/"):
        assert flag.lower() in cookie.lower(), cookie
    home = await browser.get("/console/")
    assert home.status_code == 200
    html = home.text
    assert '<html lang="zh-CN">' in html
    assert '<span id="staff-name">李娜</span>' in html
    assert '<span class="detail" id="staff-agency">郑州市交通运输局</span>' in html
    assert '<span class="detail" id="staff-role">信用信息记录人员</span>' in html
    assert "导入本单位的双公示数据" in html and "管理工作人员账号" not in html
    token = browser.cookies["__Host-console"]

    signed_out = await browser.post("/console/sign-out", data={"csrf_token": csrf_of(html)})
    assert signed_out.status_code == 303
    assert signed_out.headers["location"] == "/console/sign-in?signed_out=1"
    assert "__Host-console" not in browser.cookies
    # The old cookie, kept or copied, names no session any more.
    browser.cookies.set("__Host-console", token, domain="credit.test")
    again = await browser.get("/console/")
    assert (again.status_code, again.headers["location"]) == (303, "/console/sign-in?ended=1")


async def test_a_wrong_password_and_an_unknown_name_are_refused_alike(browser, staff):
    person = staff["agency"]
    wrong = await sign_in(browser, person.name, person.password + "x")
    unknown = await sign_in(browser, "no.such.person", person.password)
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert message_of(response.text) == WRONG
        assert "__Host-console" not in set_cookies(response)
    assert "__Host-console" not in browser.cookies


async def test_repeated_failures_lock_a_name_known_or_not_until_the_lockout_ends(
    browser, staff, settings, clock: FixedClock
):
    person = staff["agency"]
    attempts = settings.console_lockout_failures
    for name in (person.name, "no.such.person"):
        answers = [await sign_in(browser, name, "wrong-password") for _ in range(attempts)]
        assert [a.status_code for a in answers] == [401] * (attempts - 1) + [429]
        # 12:00 Beijing time plus 15 minutes; the same words whether or not the name exists.
        assert message_of(answers[-1].text) == (
            "登录失败次数过多，此登录名已暂时锁定，请于 2026年11月20日 12:15 后再试。"
        )
        assert answers[-1].headers["retry-after"] == str(settings.console_lockout_seconds)
    # While locked, the right password is refused without being looked at.
    locked = await sign_in(browser, person.name, person.password)
    assert locked.status_code == 429 and "__Host-console" not in browser.cookies
    clock.moment += timedelta(seconds=settings.console_lockout_seconds - 1)
    assert (await sign_in(browser, person.name, person.password)).status_code == 429
    clock.moment += timedelta(seconds=1)
    await signed_in_as(browser, person)
    assert (await browser.get("/console/")).status_code == 200


async def test_failures_far_apart_do_not_add_up_and_a_success_clears_them(
    browser, staff, settings, clock: FixedClock
):
    person = staff["agency"]
    for _ in range(settings.console_lockout_failures - 1):
        assert (await sign_in(browser, person.name, "wrong")).status_code == 401
    clock.moment += timedelta(seconds=settings.console_lockout_seconds)
    assert (await sign_in(browser, person.name, "wrong")).status_code == 401  # counts from one
    await signed_in_as(browser, person)
    browser.cookies.clear()  # a browser signed in is sent from the sign-in page to its home
    for _ in range(settings.console_lockout_failures - 1):
        assert (await sign_in(browser, person.name, "wrong")).status_code == 401


# CSRF -----------------------------------------------------------------------------------------
async def test_forms_without_their_token_change_nothing(browser, staff, services):
    person = staff["admin"]
    # Sign-in: the form's token must match the sign-in cookie.
    await browser.get("/console/sign-in")
    forged = await browser.post(
        "/console/sign-in",
        data={"name": person.name, "password": person.password, "csrf_token": "forged"},
    )
    assert forged.status_code == 403 and "__Host-console" not in browser.cookies
    browser.cookies.clear()
    tokenless = await browser.post(
        "/console/sign-in", data={"name": person.name, "password": person.password}
    )
    assert tokenless.status_code == 403 and "__Host-console" not in browser.cookies

    await signed_in_as(browser, person)
    create = {
        "name": "forged.account",
        "display_name": "伪造",
        "role": "agency",
        "agency_name": "郑州市交通运输局",
        "agency_code": AUTHORITY_CODE,
    }
    for token in ({}, {"csrf_token": "forged"}):
        refused = await browser.post("/console/admin/accounts", data={**create, **token})
        assert refused.status_code == 403
        assert "页面已失效或来源不明" in message_of(refused.text)
        out = await browser.post("/console/sign-out", data=token)
        assert out.status_code == 403
    assert services.accounts.get("forged.account") is None
    assert (await browser.get("/console/")).status_code == 200  # still signed in


# Sessions -------------------------------------------------------------------------------------
async def test_a_session_ends_after_the_idle_time(browser, staff, settings, clock: FixedClock):
    await signed_in_as(browser, staff["agency"])
    idle = timedelta(seconds=settings.console_session_idle_seconds)
    clock.moment += idle - timedelta(seconds=1)
    assert (await browser.get("/console/")).status_code == 200  # seen: the idle time restarts
    clock.moment += idle - timedelta(seconds=1)
    assert (await browser.get("/console/")).status_code == 200
    clock.moment += idle
    ended = await browser.get("/console/")
    assert (ended.status_code, ended.headers["location"]) == (303, "/console/sign-in?ended=1")
    page = await browser.get(ended.headers["location"])
    assert "登录已超时或已失效，请重新登录。" in page.text


async def test_a_session_ends_at_the_absolute_time_however_busy(
    browser, staff, settings, clock: FixedClock
):
    await signed_in_as(browser, staff["agency"])
    step = timedelta(seconds=settings.console_session_idle_seconds // 2)
    absolute = timedelta(seconds=settings.console_session_absolute_seconds)
    elapsed = timedelta(0)
    while elapsed + step < absolute:
        clock.moment += step
        elapsed += step
        assert (await browser.get("/console/")).status_code == 200
    clock.moment += absolute - elapsed
    assert (await browser.get("/console/")).status_code == 303


async def test_a_disabled_account_is_signed_out_and_refused(browser, staff, services):
    person = staff["agency"]
    await signed_in_as(browser, person)
    services.administration.disable_account("cli:test", person.name)
    assert (await browser.get("/console/")).status_code == 303
    refused = await sign_in(browser, person.name, person.password)
    assert refused.status_code == 403
    assert message_of(refused.text) == "该账号已停用，请联系系统管理员。"
    # Only the right password hears that the account exists.
    wrong = await sign_in(browser, person.name, "wrong")
    assert (wrong.status_code, message_of(wrong.text)) == (401, WRONG)


async def test_a_password_reset_ends_the_sessions_and_the_old_password(browser, staff, services):
    person = staff["agency"]
    await signed_in_as(browser, person)
    done = services.administration.reset_password("cli:test", person.name)
    assert (await browser.get("/console/")).status_code == 303
    assert (await sign_in(browser, person.name, person.password)).status_code == 401
    await signed_in_as(browser, Person(person.name, done.secret, person.display_name))


async def test_sessions_are_stored_as_hashes(browser, staff, services):
    await signed_in_as(browser, staff["agency"])
    token = browser.cookies["__Host-console"]
    with services.write_engine.connect() as conn:
        stored = conn.execute(select(console_sessions.c.token_hash)).scalars().all()
    assert len(stored) == 1 and token not in stored[0] and len(stored[0]) == 64


# The access log -------------------------------------------------------------------------------
async def test_a_page_read_is_in_the_access_log_under_the_persons_account(
    browser, staff, services, anonymous, role_headers
):
    registered = await anonymous.post(
        "/v1/subjects", json=enterprise(31), headers=role_headers["recorder"]
    )
    subject_id = registered.json()["subject_id"]
    await signed_in_as(browser, staff["agency"])
    page = await browser.get(f"/console/test-subject/{subject_id}")
    assert page.status_code == 200
    log = await anonymous.get(
        f"/v1/subjects/{subject_id}/access-log", headers=role_headers["auditor"]
    )
    entries = [e for e in log.json()["entries"] if e["action"] == "page_status"]
    assert [(e["client_id"], e["role"], e["agency_code"], e["purpose"]) for e in entries] == [
        ("account:wang.fang", "agency", AUTHORITY_CODE, "行政许可核查")
    ]
    assert (
        await anonymous.get("/v1/audit/access-log:verify", headers=role_headers["auditor"])
    ).json()["access_log"]["ok"]


# Which role sees which page -------------------------------------------------------------------
PAGES = {
    "/console/": dict.fromkeys(ROLES, 200),
    "/console/admin/accounts": {**dict.fromkeys(ROLES, 403), "admin": 200},
    "/console/check": {**dict.fromkeys(ROLES, 200), "admin": 403, "credit_office": 403},
    "/console/check/batch": {**dict.fromkeys(ROLES, 200), "admin": 403, "credit_office": 403},
    "/console/subscriptions": {**dict.fromkeys(ROLES, 200), "admin": 403, "credit_office": 403},
    "/console/subscriptions/changes": {
        **dict.fromkeys(ROLES, 200),
        "admin": 403,
        "credit_office": 403,
    },
    "/console/notices": {**dict.fromkeys(ROLES, 200), "admin": 403, "credit_office": 403},
    "/console/audit": {**dict.fromkeys(ROLES, 403), "auditor": 200},
    "/console/audit/replay-checks": {**dict.fromkeys(ROLES, 403), "auditor": 200},
    "/console/audit/checkpoint": {**dict.fromkeys(ROLES, 403), "auditor": 200},
    "/console/reports": {**dict.fromkeys(ROLES, 200), "agency": 403, "admin": 403},
    "/console/reports/cases": {**dict.fromkeys(ROLES, 200), "agency": 403, "admin": 403},
    "/console/reports/late": {**dict.fromkeys(ROLES, 200), "agency": 403, "admin": 403},
    "/console/reports/incomplete": {**dict.fromkeys(ROLES, 200), "agency": 403, "admin": 403},
    "/console/reports/lists?list=black": {
        **dict.fromkeys(ROLES, 200),
        "agency": 403,
        "admin": 403,
    },
    "/console/reports/joint-measures": {**dict.fromkeys(ROLES, 200), "agency": 403, "admin": 403},
    "/console/reports/overload": {**dict.fromkeys(ROLES, 200), "agency": 403, "admin": 403},
    "/console/reports/ledger.xlsx": {**dict.fromkeys(ROLES, 200), "agency": 403, "admin": 403},
    "/console/test-subject/00000000-0000-4000-8000-000000000001": {
        **dict.fromkeys(ROLES, 200),
        "admin": 403,
        "credit_office": 403,
    },
}


@pytest.mark.parametrize("path", PAGES)
async def test_what_each_role_may_open(browser, staff, path):
    got = {}
    for role in ROLES:
        browser.cookies.clear()
        await signed_in_as(browser, staff[role])
        response = await browser.get(path)
        got[role] = response.status_code
        if response.status_code == 403:
            assert message_of(response.text) == "您的角色无权使用此页面。"
    assert got == PAGES[path]
    browser.cookies.clear()
    anonymous = await browser.get(path)
    assert (anonymous.status_code, anonymous.headers["location"]) == (303, "/console/sign-in")


async def test_the_nav_links_only_pages_the_role_may_open(browser, staff):
    for role, links in (
        (
            "admin",
            [
                "/console/",
                "/console/admin/accounts",
                "/console/admin/clients",
                "/console/admin/approvals",
                "/console/admin/keys",
                "/console/admin/erasures",
                "/console/admin/log",
            ],
        ),
        (
            "auditor",
            [
                "/console/",
                "/console/check",
                "/console/check/batch",
                "/console/subscriptions",
                "/console/subscriptions/changes",
                "/console/notices",
                "/console/audit",
                "/console/audit/replay-checks",
                "/console/audit/checkpoint",
                "/console/reports",
            ],
        ),
        ("credit_office", ["/console/", "/console/reports"]),
        (
            "agency",
            [
                "/console/",
                "/console/check",
                "/console/check/batch",
                "/console/subscriptions",
                "/console/subscriptions/changes",
                "/console/notices",
            ],
        ),
    ):
        browser.cookies.clear()
        await signed_in_as(browser, staff[role])
        html = (await browser.get("/console/")).text
        nav = re.search(r'<nav class="site-nav"[^>]*>(.*?)</nav>', html, re.S)
        assert nav and re.findall(r'href="([^"]+)"', nav.group(1)) == links


# The accounts page ----------------------------------------------------------------------------
def new_account(name: str, role: str) -> dict[str, str]:
    return {
        "name": name,
        "display_name": "孙丽",
        "role": role,
        "agency_name": "郑州市交通运输局",
        "agency_code": AUTHORITY_CODE,
    }


async def test_an_administrator_creates_an_account_that_then_signs_in(browser, staff, services):
    await signed_in_as(browser, staff["admin"])
    page = await browser.get("/console/admin/accounts")
    created = await browser.post(
        "/console/admin/accounts",
        data={**new_account("sun.li", "agency"), "csrf_token": csrf_of(page.text)},
    )
    assert created.status_code == 201, created.text
    password = re.search(r'<code id="result-password">([^<]+)</code>', created.text)
    assert password and len(password.group(1)) == 19
    with services.write_engine.connect() as conn:
        logged = conn.execute(select(admin_log).where(admin_log.c.target == "sun.li")).first()
    assert (logged.actor, logged.action) == ("account:chen.jing", "create-account")
    assert password.group(1) not in str(logged.details)
    browser.cookies.clear()
    await signed_in_as(browser, Person("sun.li", password.group(1), "孙丽"))


async def test_a_bad_account_is_refused_in_chinese_and_the_form_kept(browser, staff):
    await signed_in_as(browser, staff["admin"])
    token = csrf_of((await browser.get("/console/admin/accounts")).text)
    cases = {
        "Sun Li": "登录名：3-56 个字符",
        "li.na": "登录名 li.na 已被使用",
    }
    for name, words in cases.items():
        refused = await browser.post(
            "/console/admin/accounts", data={**new_account(name, "agency"), "csrf_token": token}
        )
        assert refused.status_code == 422 and words in message_of(refused.text)
        assert 'value="孙丽"' in refused.text
    recorder = await browser.post(
        "/console/admin/accounts",
        data={**new_account("sun.li", "recorder"), "csrf_token": token},
    )
    assert message_of(recorder.text) == "信用信息记录人员须至少有一个执法机构代码和一个行业"


async def test_an_auditor_account_waits_for_a_second_administrator(browser, staff, services):
    first = staff["admin"]
    await signed_in_as(browser, first)
    token = csrf_of((await browser.get("/console/admin/accounts")).text)
    asked = await browser.post(
        "/console/admin/accounts", data={**new_account("sun.li", "auditor"), "csrf_token": token}
    )
    assert asked.status_code == 202
    assert services.accounts.get("sun.li") is None
    approval = re.search(r"/console/admin/approvals/([0-9a-f-]+)/approve", asked.text)
    assert approval is None  # one's own request shows no approve button
    [pending] = services.administration.approvals()
    own = await browser.post(
        f"/console/admin/approvals/{pending['approval_id']}/approve", data={"csrf_token": token}
    )
    assert own.status_code == 403 and services.accounts.get("sun.li") is None

    second = services.administration.create_account(
        "cli:test",
        "zhou.min",
        "周敏",
        "admin",
        "河南省交通运输厅",
        AUTHORITY_CODE,
        four_eyes_waived="test set-up",
    )
    browser.cookies.clear()
    await signed_in_as(browser, Person("zhou.min", second.secret, "周敏"))
    page = await browser.get("/console/admin/accounts")
    approve = f"/console/admin/approvals/{pending['approval_id']}/approve"
    assert approve in page.text
    done = await browser.post(approve, data={"csrf_token": csrf_of(page.text)})
    assert done.status_code == 200
    assert services.accounts.get("sun.li").role == "auditor"
    assert re.search(r'<code id="result-password">([^<]+)</code>', done.text)


async def test_disabling_from_the_page_ends_the_persons_sessions(
    browser, staff, services, settings
):
    app = build_app(settings, services)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://credit.test") as other:
            await signed_in_as(other, staff["agency"])
            await signed_in_as(browser, staff["admin"])
            token = csrf_of((await browser.get("/console/admin/accounts")).text)
            disabled = await browser.post(
                "/console/admin/accounts/wang.fang/disable", data={"csrf_token": token}
            )
            assert disabled.status_code == 200
            assert "已停用账号 wang.fang" in message_of(disabled.text)
            assert (await other.get("/console/")).status_code == 303


async def test_cookies_are_not_secure_in_development(settings, clock):
    development = settings.model_copy(update={"environment": "development"})
    services = build_services(development, clock=clock, migrate=False)
    try:
        app = build_app(development, services)
        person = create_staff(services)["agency"]
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
                response = await sign_in(http, person.name, person.password)
    finally:
        services.close_sync()
    cookie = set_cookies(response)["console"]
    assert "httponly" in cookie.lower() and "secure" not in cookie.lower()


# The demo and the command line ----------------------------------------------------------------
async def test_the_demo_seeds_one_account_per_role_that_signs_in(
    browser, services, settings, monkeypatch
):
    import service.bootstrap
    import service.cli

    for module in (service.cli, service.bootstrap):  # the CLI's and its services' settings
        monkeypatch.setattr(module, "get_settings", lambda: settings)
    first = service.cli._demo_accounts()
    second = service.cli._demo_accounts()  # a restart renews every password
    assert sorted(role for _, role, _ in second) == sorted(ROLES)
    assert {p for _, _, p in first}.isdisjoint(p for _, _, p in second)
    for name, role, password in second:
        browser.cookies.clear()
        await signed_in_as(browser, Person(name, password, ""))
        home = await browser.get("/console/")
        assert f'id="staff-role">{ROLE_NAMES[role]}</span>' in home.text
    with services.write_engine.connect() as conn:
        details = conn.execute(
            select(admin_log.c.details).where(admin_log.c.action == "create-account")
        ).scalars()
        assert {d["four_eyes_waived"] for d in details} == {"demo mode"}


@pytest.mark.slow
@ON_POSTGRESQL_ALONE
def test_accounts_at_the_command_line_with_four_eyes_for_an_administrator(services, settings):
    made = credit(
        settings,
        *("accounts", "create", "sun.li", "--display-name", "孙丽", "--role", "agency"),
        *("--agency-name", "郑州市交通运输局", "--agency-code", AUTHORITY_CODE),
        user="alice",
    )
    assert made.returncode == 0, made.stderr
    assert re.search(r"^password=\S{19}$", made.stdout, re.M)
    asked = credit(
        settings,
        *("accounts", "create", "zhou.min", "--display-name", "周敏", "--role", "admin"),
        *("--agency-name", "河南省交通运输厅", "--agency-code", AUTHORITY_CODE),
        user="alice",
    )
    assert asked.returncode == 0 and "password=" not in asked.stdout
    approval = re.search(r"^approval_id=(\S+)$", asked.stdout, re.M)
    assert approval and services.accounts.get("zhou.min") is None
    approved = credit(settings, "admin", "approve", approval.group(1), user="bob")
    assert approved.returncode == 0, approved.stderr
    assert re.search(r"^password=\S{19}$", approved.stdout, re.M)
    assert services.accounts.get("zhou.min").role == "admin"
    listed = credit(settings, "accounts", "list")
    assert [line.split("\t")[:3] for line in listed.stdout.splitlines()] == [
        ["sun.li", "agency", "enabled"],
        ["zhou.min", "admin", "enabled"],
    ]
    assert credit(settings, "accounts", "disable", "sun.li").returncode == 0
    assert services.accounts.get("sun.li").disabled
