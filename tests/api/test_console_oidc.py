"""Signing in to the console through an OpenID Connect provider (CREDIT_CONSOLE_IDENTITY_PROVIDER
=oidc), against the fake 统一身份认证 of `tests/oidc_provider.py`, on SQLite and PostgreSQL: the
way there (state, nonce, PKCE S256) and back, the account written from the claims and the
session it gets, the access log naming the person, each refusal (with nothing written), four
eyes for an auditor or admin role, and signing out at the provider too."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import httpx2
import pytest
from sqlalchemy import func, select

from service.access.identity import identity_provider
from service.access.oidc import OidcSignIn
from service.access.tables import admin_approvals, admin_log, console_sessions, staff_accounts
from service.bootstrap import Services, build_services
from service.clock import FixedClock
from service.settings import Settings
from service.store.database import Database
from service.store.migrations import upgrade
from tests.api.test_console import build_app, message_of, set_cookies
from tests.builders import AUTHORITY_CODE, enterprise
from tests.conftest import NOW
from tests.console import csrf_of, sign_in
from tests.oidc_provider import (
    AGENCY_NAME,
    CLIENT_ID,
    CLIENT_SECRET,
    ISSUER,
    ROLE_MAP,
    FakeProvider,
    Spoil,
    claims_of,
)

pytestmark = pytest.mark.api
PROVIDER = f"oidc:{ISSUER}"
CALLBACK = "https://credit.test/console/sign-in/oidc/callback"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared test settings, with the console signing in through the provider."""
    return Settings(
        **{
            **settings.model_dump(),
            "console_identity_provider": "oidc",
            "oidc_issuer": ISSUER,
            "oidc_client_id": CLIENT_ID,
            "oidc_client_secret": CLIENT_SECRET,
            "oidc_role_map": ROLE_MAP,
        }
    )


@pytest.fixture
def provider(clock) -> FakeProvider:
    return FakeProvider(now=clock.now)


@pytest.fixture
def services(services: Services, settings: Settings, provider: FakeProvider) -> Services:
    """The services as the bootstrap builds them, reaching the provider without a network."""
    assert isinstance(services.identity, OidcSignIn)
    services.identity = identity_provider(
        settings,
        services.accounts,
        services.administration,
        transport=httpx2.ASGITransport(app=provider.app),
    )
    return services


@pytest.fixture
async def browser(settings, services) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(settings, services)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://credit.test") as http:
            yield http


@pytest.fixture
async def at_provider(provider: FakeProvider) -> AsyncIterator[httpx.AsyncClient]:
    """The browser's visits to the provider (which signs the chosen person in at once)."""
    transport = httpx.ASGITransport(app=provider.app)
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as http:
        yield http


async def to_provider_and_back(
    browser: httpx.AsyncClient, at_provider: httpx.AsyncClient, **changed: str
) -> httpx.Response:
    """The button, the provider, and the way back (`changed`: what the callback's query says
    instead of what the provider sent)."""
    leaving = await browser.get("/console/sign-in/oidc")
    assert leaving.status_code == 303, leaving.text
    there = await at_provider.get(leaving.headers["location"])
    assert there.status_code == 302, there.text
    back = urlsplit(there.headers["location"])
    query = {key: values[0] for key, values in parse_qs(back.query).items()} | changed
    return await browser.get(f"{back.scheme}://{back.netloc}{back.path}?{urlencode(query)}")


def stored(services: Services) -> dict[str, int]:
    """How many accounts, sessions and pending approvals there are."""
    with services.write_engine.connect() as conn:
        return {
            table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (staff_accounts, console_sessions, admin_approvals)
        }


def account_row(services: Services, name: str):
    with services.write_engine.connect() as conn:
        return conn.execute(select(staff_accounts).where(staff_accounts.c.name == name)).first()


# The way there and back -----------------------------------------------------------------------
async def test_the_sign_in_page_offers_the_provider_and_no_password(browser, services):
    page = await browser.get("/console/sign-in")
    assert page.status_code == 200
    assert "通过统一身份认证登录" in page.text
    assert 'type="password"' not in page.text and 'name="name"' not in page.text
    # A built-in account's right password opens nothing: no password is taken here.
    services.administration.create_account(
        "cli:test", "wang.fang", "王芳", "agency", "郑州市交通运输局", AUTHORITY_CODE
    )
    forced = await browser.post("/console/sign-in", data={"name": "wang.fang", "password": "x"})
    assert forced.status_code == 400
    assert message_of(forced.text) == "本系统通过统一身份认证登录，请点击下方按钮。"
    assert stored(services)["console_sessions"] == 0


async def test_a_person_signs_in_through_the_provider_and_gets_an_account_and_a_session(
    browser, at_provider, provider, services, anonymous, role_headers
):
    answer = await to_provider_and_back(browser, at_provider)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/console/"
    assert "__Host-console" in set_cookies(answer)

    # The way there asked for a code with PKCE S256, a state and a nonce, for this callback.
    asked = provider.authorization_requests[0]
    assert asked["response_type"] == "code" and asked["client_id"] == CLIENT_ID
    assert asked["redirect_uri"] == CALLBACK
    assert asked["scope"] == "openid profile"
    assert asked["code_challenge_method"] == "S256" and len(asked["code_challenge"]) == 43
    assert len(asked["state"]) >= 32 and len(asked["nonce"]) >= 32
    # The code was exchanged with the verifier (the fake provider checked it and the secret).
    assert provider.token_requests[0]["code_verifier"]

    home = await browser.get("/console/")
    assert home.status_code == 200
    assert '<span id="staff-name">孙丽</span>' in home.text
    assert f'<span class="detail" id="staff-agency">{AGENCY_NAME}</span>' in home.text
    assert '<span class="detail" id="staff-role">信用信息记录人员</span>' in home.text

    row = account_row(services, "sun.li")
    assert (row.provider, row.password_hash, row.role, row.agency_code) == (
        PROVIDER,
        None,
        "recorder",
        AUTHORITY_CODE,
    )
    assert (row.authority_codes, row.sectors) == ([AUTHORITY_CODE], ["road_transport"])
    with services.write_engine.connect() as conn:
        logged = conn.execute(select(admin_log).where(admin_log.c.action == "admit-account")).all()
    assert [(entry.actor, entry.target) for entry in logged] == [("account:sun.li", "sun.li")]
    assert logged[0].details["provider"] == PROVIDER

    # A page read is in the access log under the person, as for a built-in account.
    registered = await anonymous.post(
        "/v1/subjects", json=enterprise(41), headers=role_headers["recorder"]
    )
    subject_id = registered.json()["subject_id"]
    assert (await browser.get(f"/console/test-subject/{subject_id}")).status_code == 200
    log = await anonymous.get(
        f"/v1/subjects/{subject_id}/access-log", headers=role_headers["auditor"]
    )
    entries = [e for e in log.json()["entries"] if e["action"] == "page_status"]
    assert [(e["client_id"], e["role"], e["agency_code"]) for e in entries] == [
        ("account:sun.li", "recorder", AUTHORITY_CODE)
    ]


async def test_the_claims_rewrite_the_account_at_the_next_sign_in(
    browser, at_provider, provider, services
):
    assert (await to_provider_and_back(browser, at_provider)).status_code == 303
    provider.person = claims_of("sun.li", "XYJT_CX", org_name="郑州市交通运输局")
    browser.cookies.clear()
    assert (await to_provider_and_back(browser, at_provider)).status_code == 303
    row = account_row(services, "sun.li")
    assert (row.role, row.agency_name, row.authority_codes) == ("agency", "郑州市交通运输局", [])
    home = await browser.get("/console/")
    assert '<span class="detail" id="staff-role">信用查询人员</span>' in home.text
    # Unchanged claims write nothing more to the admin log.
    browser.cookies.clear()
    assert (await to_provider_and_back(browser, at_provider)).status_code == 303
    with services.write_engine.connect() as conn:
        admitted = conn.execute(
            select(func.count()).where(admin_log.c.action == "admit-account")
        ).scalar_one()
    assert admitted == 2


# Refusals: the page says why, and no account, session or approval is written -----------------
# AUTHORITY_CODE (11410100MB00000018) with its check character changed.
BAD_CHECK_DIGIT = "11410100MB00000019"


SPOILED_TOKENS = {
    "wrong-nonce": (Spoil(nonce="not-the-nonce-sent"), "与本次登录请求不符（nonce）"),
    "expired": (Spoil(lifetime=timedelta(minutes=-5)), "已过期"),
    "wrongly-signed": (Spoil(foreign_key=True), "签名无效"),
    "other-audience": (Spoil(audience="another-client"), "不是签发给本系统的"),
    "other-issuer": (Spoil(issuer="https://evil.example"), "签发方不是本系统配置的统一身份认证"),
}


@pytest.mark.parametrize("spoil", SPOILED_TOKENS, ids=SPOILED_TOKENS)
async def test_an_id_token_that_fails_a_check_is_refused(
    browser, at_provider, provider, services, spoil
):
    provider.spoil, words = SPOILED_TOKENS[spoil]
    answer = await to_provider_and_back(browser, at_provider)
    assert answer.status_code == 401
    assert message_of(answer.text) == f"统一身份认证的身份令牌{words}，请重新登录。"
    assert "__Host-console" not in browser.cookies
    assert stored(services) == {"staff_accounts": 0, "console_sessions": 0, "admin_approvals": 0}


BAD_CLAIMS = {
    "missing-agency-code": (
        claims_of("sun.li", "XYJT_CX", org_code=None),
        "统一身份认证未提供单位统一社会信用代码（org_code），无法登录。请联系统一身份认证的管理员补全。",
    ),
    "role-not-ours": (
        claims_of("sun.li", "JTT_KZ", "JTT_BG"),
        "统一身份认证提供的角色（roles）有误：JTT_KZ、JTT_BG 均不是本系统的角色。"
        "无法登录，请联系统一身份认证的管理员。",
    ),
    "two-roles": (
        claims_of("sun.li", "XYJT_CX", "XYJT_SJ"),
        "统一身份认证提供的角色（roles）有误：XYJT_CX、XYJT_SJ 对应本系统的多个角色"
        "（agency、auditor）。无法登录，请联系统一身份认证的管理员。",
    ),
    "bad-check-digit": (
        claims_of("sun.li", "XYJT_CX", org_code=BAD_CHECK_DIGIT),
        "统一身份认证提供的单位统一社会信用代码（org_code）有误：11410100MB00000019 "
        "不是有效的统一社会信用代码。无法登录，请联系统一身份认证的管理员。",
    ),
    "recorder-without-sectors": (
        claims_of("sun.li", "XYJT_JLY", sectors=[]),
        "统一身份认证未提供行业（sectors），无法登录。请联系统一身份认证的管理员补全。",
    ),
    "bad-name": (
        claims_of("孙丽", "XYJT_CX"),
        "统一身份认证提供的登录名（preferred_username）有误：孙丽 不符合本系统的登录名规则"
        "（3-56 个字符，可用小写字母、数字和 . _ -，以字母或数字开头）。"
        "无法登录，请联系统一身份认证的管理员。",
    ),
}


@pytest.mark.parametrize("case", BAD_CLAIMS, ids=BAD_CLAIMS)
async def test_claims_that_make_no_account_are_refused_naming_the_claim(
    browser, at_provider, provider, services, case
):
    claims, words = BAD_CLAIMS[case]
    provider.person = {key: value for key, value in claims.items() if value is not None}
    answer = await to_provider_and_back(browser, at_provider)
    assert answer.status_code == 403
    assert message_of(answer.text) == words
    assert stored(services) == {"staff_accounts": 0, "console_sessions": 0, "admin_approvals": 0}


async def test_a_state_other_than_the_one_sent_is_refused(browser, at_provider, services):
    answer = await to_provider_and_back(browser, at_provider, state="forged-state-value")
    assert answer.status_code == 400
    assert message_of(answer.text) == "登录请求已失效或来源不明，请重新登录。"
    assert stored(services)["staff_accounts"] == 0


async def test_a_return_is_answered_once_and_only_to_the_browser_that_set_out(
    browser, at_provider, services
):
    leaving = await browser.get("/console/sign-in/oidc")
    there = await at_provider.get(leaving.headers["location"])
    callback = there.headers["location"]
    cookies = dict(browser.cookies)
    # Another browser (without this one's sign-in cookie) with the very same answer: refused.
    browser.cookies.clear()
    assert (await browser.get(callback)).status_code == 400
    assert stored(services)["staff_accounts"] == 0
    # The browser that set out: in.
    for name, value in cookies.items():
        browser.cookies.set(name, value, domain="credit.test")
    assert (await browser.get(callback)).status_code == 303
    # The same answer again, the cookie copied: refused, that sign-in is used.
    browser.cookies.clear()
    for name, value in cookies.items():
        browser.cookies.set(name, value, domain="credit.test")
    assert (await browser.get(callback)).status_code == 400
    assert stored(services)["console_sessions"] == 1


async def test_a_sign_in_left_too_long_at_the_provider_is_refused(
    browser, at_provider, clock, services
):
    leaving = await browser.get("/console/sign-in/oidc")
    there = await at_provider.get(leaving.headers["location"])
    clock.moment += timedelta(minutes=10)
    answer = await browser.get(there.headers["location"])
    assert answer.status_code == 400
    assert stored(services)["staff_accounts"] == 0


async def test_the_provider_declining_is_said_and_writes_nothing(browser, at_provider, services):
    answer = await to_provider_and_back(browser, at_provider, error="access_denied", code="")
    assert answer.status_code == 502
    assert message_of(answer.text) == "统一身份认证未完成登录（access_denied），请重新登录。"
    assert stored(services)["staff_accounts"] == 0


async def test_a_disabled_account_stays_disabled_whatever_the_provider_says(
    browser, at_provider, provider, services
):
    assert (await to_provider_and_back(browser, at_provider)).status_code == 303
    services.administration.disable_account("cli:test", "sun.li")
    assert (await browser.get("/console/")).status_code == 303  # its session ended
    provider.person = claims_of("sun.li", "XYJT_CX", org_name="郑州市交通运输局")
    answer = await to_provider_and_back(browser, at_provider)
    assert answer.status_code == 403
    assert message_of(answer.text) == "该账号已停用，请联系系统管理员。"
    row = account_row(services, "sun.li")
    assert (row.role, row.agency_name) == ("recorder", AGENCY_NAME)  # not rewritten


async def test_the_provider_cannot_sign_in_as_a_built_in_account(browser, at_provider, services):
    services.administration.create_account(
        "cli:test", "sun.li", "孙丽", "agency", "郑州市交通运输局", AUTHORITY_CODE
    )
    answer = await to_provider_and_back(browser, at_provider)
    assert answer.status_code == 403
    assert message_of(answer.text) == (
        "登录名 sun.li 已属于本系统的其他账号，不能通过统一身份认证登录。请联系系统管理员。"
    )
    assert account_row(services, "sun.li").provider == "builtin"
    assert stored(services)["console_sessions"] == 0


# Four eyes ------------------------------------------------------------------------------------
async def test_an_admin_role_waits_for_a_local_administrators_approval(
    browser, at_provider, provider, services
):
    provider.person = claims_of("zhou.min", "XYJT_GLY")
    for _ in range(2):  # however often they try, one request waits
        browser.cookies.clear()
        answer = await to_provider_and_back(browser, at_provider)
        assert answer.status_code == 403
        assert message_of(answer.text) == (
            "您在统一身份认证中的角色为系统管理员。以此角色首次登录须经本系统的系统管理员批准（四眼原则），"
            "已提交审批；批准后请重新登录。"
        )
    assert stored(services) == {"staff_accounts": 0, "console_sessions": 0, "admin_approvals": 1}
    (waiting,) = services.administration.approvals()
    assert (waiting["action"], waiting["target"], waiting["requested_by"]) == (
        "admit-account",
        "zhou.min",
        "account:zhou.min",
    )
    assert waiting["request"]["role"] == "admin" and waiting["request"]["provider"] == PROVIDER

    done = services.administration.approve("cli:ops", waiting["approval_id"])
    assert done.account is not None and done.secret is None
    assert (done.account.role, done.account.provider) == ("admin", PROVIDER)
    browser.cookies.clear()
    answer = await to_provider_and_back(browser, at_provider)
    assert answer.status_code == 303
    accounts = await browser.get("/console/admin/accounts")
    assert accounts.status_code == 200


async def test_a_recorder_raised_to_auditor_at_the_provider_waits_too(
    browser, at_provider, provider, services
):
    assert (await to_provider_and_back(browser, at_provider)).status_code == 303
    provider.person = claims_of("sun.li", "XYJT_SJ")
    browser.cookies.clear()
    assert (await to_provider_and_back(browser, at_provider)).status_code == 403
    assert account_row(services, "sun.li").role == "recorder"  # no audit rights meanwhile
    assert stored(services)["admin_approvals"] == 1


async def test_an_administrator_the_provider_vouched_for_approves_the_next_one_on_the_page(
    browser, at_provider, provider, services
):
    provider.person = claims_of("wu.gang", "XYJT_SJ")
    assert (await to_provider_and_back(browser, at_provider)).status_code == 403
    (asked,) = services.administration.approvals()
    # The first administrator is approved at the command line (no one can sign in yet).
    provider.person = claims_of("zhou.min", "XYJT_GLY")
    browser.cookies.clear()
    await to_provider_and_back(browser, at_provider)
    first = next(a for a in services.administration.approvals() if a["target"] == "zhou.min")
    services.administration.approve("cli:ops", first["approval_id"])
    browser.cookies.clear()
    assert (await to_provider_and_back(browser, at_provider)).status_code == 303

    page = await browser.get("/console/admin/approvals")
    row = page.text[page.text.index(f'id="approval-{asked["approval_id"]}"') :]
    row = row[: row.index("</tr>")]
    assert "<td>统一身份认证账号</td>" in row and "<td>wu.gang</td>" in row
    assert "角色：审计人员" in row and "身份来源：统一身份认证" in row
    assert "<td>account:wu.gang</td>" in row
    approved = await browser.post(
        f"/console/admin/approvals/{asked['approval_id']}/approve",
        data={"csrf_token": csrf_of(page.text)},
    )
    assert approved.status_code == 200
    assert (
        '<p class="notice" role="status" id="notice">已批准：统一身份认证账号（wu.gang），已执行。'
        in (approved.text)
    )
    assert 'id="result-admitted"' in approved.text and "密码" in approved.text
    row = account_row(services, "wu.gang")
    assert (row.role, row.provider, row.password_hash) == ("auditor", PROVIDER, None)
    with services.write_engine.connect() as conn:
        last = conn.execute(select(admin_log).order_by(admin_log.c.seq.desc())).first()
    assert (last.actor, last.action, last.target) == (
        "account:zhou.min",
        "admit-account",
        "wu.gang",
    )
    assert last.details["approved_by"] == "account:zhou.min"


async def test_an_admin_client_approves_an_admission_over_the_api(
    browser, at_provider, provider, services, anonymous, role_headers
):
    provider.person = claims_of("zhou.min", "XYJT_GLY")
    await to_provider_and_back(browser, at_provider)
    listed = await anonymous.get("/v1/admin/approvals", headers=role_headers["admin"])
    (waiting,) = listed.json()
    assert (waiting["action"], waiting["target"], waiting["requested_by"]) == (
        "admit-account",
        "zhou.min",
        "account:zhou.min",
    )
    approved = await anonymous.post(waiting["approve_at"], headers=role_headers["admin"])
    assert approved.status_code == 200
    assert approved.json()["result"] == {
        "account": "zhou.min",
        "role": "admin",
        "provider": PROVIDER,
    }


# Signing out ----------------------------------------------------------------------------------
@pytest.mark.parametrize("end_session", [True, False], ids=["provider-signs-out", "local-only"])
async def test_signing_out_ends_the_session_and_the_providers_if_it_says_where(
    browser, at_provider, provider, services, end_session
):
    provider.end_session = end_session
    await to_provider_and_back(browser, at_provider)
    home = await browser.get("/console/")
    token = browser.cookies["__Host-console"]
    answer = await browser.post("/console/sign-out", data={"csrf_token": csrf_of(home.text)})
    assert answer.status_code == 303
    if end_session:
        back = "https://credit.test/console/sign-in?signed_out=1"
        assert answer.headers["location"] == f"{ISSUER}/logout?" + urlencode(
            {"client_id": CLIENT_ID, "post_logout_redirect_uri": back}
        )
    else:
        assert answer.headers["location"] == "/console/sign-in?signed_out=1"
    browser.cookies.set("__Host-console", token, domain="credit.test")
    assert (await browser.get("/console/")).status_code == 303  # the session is over


# With the built-in accounts -------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/console/sign-in/oidc", "/console/sign-in/oidc/callback"])
async def test_without_a_provider_there_is_no_way_to_one(tmp_path, path):
    url = f"sqlite:///{tmp_path}/builtin.sqlite3"
    upgrade(Database.from_url(url))
    settings = Settings(environment="test", database_url=url, password_hash_memory_kib=32)
    built = build_services(settings, clock=FixedClock(NOW, settings.zone), migrate=False)
    try:
        app = build_app(settings, built)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="https://t") as http:
                assert (await http.get(path)).status_code == 404
                assert "通过统一身份认证登录" not in (await http.get("/console/sign-in")).text
                assert (await sign_in(http, "no.one", "x")).status_code == 401
    finally:
        built.close_sync()


async def test_forms_may_lead_to_the_provider_and_nowhere_else(browser, provider):
    """Signing out ends at the provider's end-session endpoint: the pages' CSP lets a form's
    answer lead to the issuer's origin, and the console follows no endpoint elsewhere."""
    page = await browser.get("/console/sign-in")
    assert page.headers["content-security-policy"].endswith(
        "form-action 'self' https://tyrz.example.gov.cn"
    )
    assert 'href="/console/sign-in/oidc"' in page.text  # a link: no form leaves for the provider


async def test_an_end_session_endpoint_on_another_origin_is_not_followed(
    browser, at_provider, provider
):
    provider.end_session_at = "https://sso.other.example/logout"
    await to_provider_and_back(browser, at_provider)
    home = await browser.get("/console/")
    answer = await browser.post("/console/sign-out", data={"csrf_token": csrf_of(home.text)})
    assert answer.headers["location"] == "/console/sign-in?signed_out=1"


async def test_sign_ins_share_one_tls_context(browser, services, monkeypatch):
    """Each client to the provider made its own TLS context, loading the certificate
    authorities (some 35 ms of CPU) at every sign-in; one is made per process."""
    import ssl

    made: list[object] = []
    create = ssl.create_default_context

    def counted(*args, **kwargs):
        made.append(args)
        return create(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counted)
    for _ in range(3):
        leaving = await browser.get("/console/sign-in/oidc")
        assert leaving.status_code == 303, leaving.text
    assert len(made) <= 1
