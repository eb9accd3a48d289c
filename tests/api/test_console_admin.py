"""The administrator's pages of the console, through the ASGI app on SQLite and PostgreSQL: API
clients (a secret shown once that then gets a token), the one list of four-eyes approvals with
approving and refusing, signing keys and their rotation, erasure of personal data, the admin
log and its chain; who may open them, bad input kept and refused in Chinese, CSRF."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from uuid import UUID

import httpx
import pytest
from sqlalchemy import func, select, update

from api.console import admin_log as admin_log_page
from service.access.administration import Done, Pending
from service.access.tables import access_log, admin_approvals, admin_log, api_clients, signing_keys
from service.bootstrap import Services
from tests.api.test_console import build_app, message_of, signed_in_as
from tests.builders import AUTHORITY_CODE, individual
from tests.console import ROLES, Person, create_staff, csrf_of
from tests.tampering import as_superuser

pytestmark = pytest.mark.api
ADMIN_PAGES = (
    "/console/admin/clients",
    "/console/admin/approvals",
    "/console/admin/keys",
    "/console/admin/erasures",
    "/console/admin/log",
)
SECRET = re.compile(r'<code id="result-secret">([^<]+)</code>')
AGENCY = "郑州市交通运输局"
BAD_CODE = "91410100MA00000000"
GROUND = "本人撤回同意（个人信息保护法第四十七条第一款第三项）"


@pytest.fixture
async def browser(settings, services) -> AsyncIterator[httpx.AsyncClient]:
    """A browser without JavaScript over HTTPS (the console's cookies are Secure outside
    development); the same app answers the API."""
    app = build_app(settings, services)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://credit.test") as http:
            yield http


@pytest.fixture
def staff(services) -> dict[str, Person]:
    return create_staff(services)


@pytest.fixture
def second(services, staff) -> Person:
    """Another administrator (周敏), for four eyes."""
    done = services.administration.create_account(
        "cli:test",
        "zhou.min",
        "周敏",
        "admin",
        "河南省交通运输厅",
        AUTHORITY_CODE,
        four_eyes_waived="test set-up",
    )
    assert isinstance(done, Done) and done.secret is not None
    return Person("zhou.min", done.secret, "周敏")


async def as_person(browser: httpx.AsyncClient, person: Person, path: str) -> str:
    """Sign in afresh as `person`, open `path`, and return its CSRF token."""
    browser.cookies.clear()
    await signed_in_as(browser, person)
    page = await browser.get(path)
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


def count(services: Services, table) -> int:
    with services.write_engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def log_rows(services: Services) -> list:
    with services.write_engine.connect() as conn:
        return list(conn.execute(select(admin_log).order_by(admin_log.c.seq)))


def key_states(services: Services) -> list[tuple[str, str, str]]:
    """Every signing key, token and checkpoint, as (what it signs, id, state)."""
    return [(key.signs, key.key_id, key.state) for key in services.administration.signing_keys()]


def client_form(client_id: str, role: str, **overrides: str) -> dict[str, str]:
    return {
        "client_id": client_id,
        "role": role,
        "agency_name": "郑州市交通运输综合执法支队",
        "agency_code": AUTHORITY_CODE,
        "authority_codes": "",
        "sectors": "",
        **overrides,
    }


async def token_for(http: httpx.AsyncClient, client_id: str, secret: str) -> httpx.Response:
    return await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )


# Who opens which page -------------------------------------------------------------------------
@pytest.mark.parametrize("path", ADMIN_PAGES)
async def test_only_administrators_open_the_admin_pages(browser, staff, path):
    got = {}
    for role in ROLES:
        browser.cookies.clear()
        await signed_in_as(browser, staff[role])
        response = await browser.get(path)
        got[role] = response.status_code
        if response.status_code == 403:
            assert message_of(response.text) == "您的角色无权使用此页面。"
    assert got == {**dict.fromkeys(ROLES, 403), "admin": 200}
    browser.cookies.clear()
    anonymous = await browser.get(path)
    assert (anonymous.status_code, anonymous.headers["location"]) == (303, "/console/sign-in")


# API clients ----------------------------------------------------------------------------------
async def test_a_client_created_on_the_page_gets_a_token_with_its_secret(browser, staff, services):
    token = await as_person(browser, staff["admin"], "/console/admin/clients")
    created = await browser.post(
        "/console/admin/clients",
        data={
            **client_form(
                "zz-zhifa-01",
                "recorder",
                authority_codes=AUTHORITY_CODE,
                sectors="road_transport，waterway_transport",
            ),
            "csrf_token": token,
        },
    )
    assert created.status_code == 201, created.text
    secret = SECRET.search(created.text)
    assert secret
    client = services.clients.get("zz-zhifa-01")
    assert client and client.sectors == ("road_transport", "waterway_transport")
    granted = await token_for(browser, "zz-zhifa-01", secret.group(1))
    assert granted.status_code == 200, granted.text
    assert granted.json()["scope"] == "credit:read credit:record"
    [logged] = [row for row in log_rows(services) if row.target == "zz-zhifa-01"]
    assert (logged.actor, logged.action) == ("account:chen.jing", "create-client")
    assert secret.group(1) not in str(logged.details)
    again = await browser.get("/console/admin/clients")  # shown once: never again
    assert secret.group(1) not in again.text and "zz-zhifa-01" in again.text

    reset = await browser.post(
        "/console/admin/clients/zz-zhifa-01/reset-secret", data={"csrf_token": token}
    )
    new_secret = SECRET.search(reset.text)
    assert reset.status_code == 200 and new_secret
    assert (await token_for(browser, "zz-zhifa-01", secret.group(1))).status_code == 401
    assert (await token_for(browser, "zz-zhifa-01", new_secret.group(1))).status_code == 200
    disabled = await browser.post(
        "/console/admin/clients/zz-zhifa-01/disable", data={"csrf_token": token}
    )
    assert disabled.status_code == 200
    assert "已停用客户端 zz-zhifa-01" in disabled.text
    assert (await token_for(browser, "zz-zhifa-01", new_secret.group(1))).status_code == 401
    twice = await browser.post(
        "/console/admin/clients/zz-zhifa-01/disable", data={"csrf_token": token}
    )
    assert twice.status_code == 409 and message_of(twice.text) == "客户端 zz-zhifa-01 已停用"


async def test_a_bad_client_is_refused_in_chinese_the_form_kept_and_nothing_written(
    browser, staff, services
):
    token = await as_person(browser, staff["admin"], "/console/admin/clients")
    services.administration.create_client("cli:test", "zz-taken", "agency", AGENCY, AUTHORITY_CODE)
    clients, logged = count(services, api_clients), count(services, admin_log)
    cases = {
        "Zz Bad": ({}, "客户端标识：3-64 个字符"),
        "zz-taken": ({}, "客户端 zz-taken 已存在"),
        "zz-new-1": ({"role": ""}, "请选择角色"),
        "zz-new-2": (
            {"agency_code": "91410100MA00000000"},
            "统一社会信用代码 91410100MA00000000 无效",
        ),
        "zz-new-3": ({"agency_name": "  "}, "单位名称：1-200 个字符"),
        "zz-new-4": ({"role": "recorder"}, "信用信息记录人员须至少有一个执法机构代码和一个行业"),
    }
    for client_id, (overrides, words) in cases.items():
        form = {**client_form(client_id, "agency"), **overrides}
        refused = await browser.post("/console/admin/clients", data={**form, "csrf_token": token})
        assert refused.status_code == 422, (client_id, refused.text)
        assert words in message_of(refused.text)
        assert f'value="{client_id}"' in refused.text  # what was typed stays
        assert f'value="{form["agency_code"]}"' in refused.text
    assert (count(services, api_clients), count(services, admin_log)) == (clients, logged)


# Four eyes ------------------------------------------------------------------------------------
async def test_an_auditor_client_waits_for_a_second_administrator_who_approves(
    browser, staff, second, services
):
    token = await as_person(browser, staff["admin"], "/console/admin/clients")
    asked = await browser.post(
        "/console/admin/clients",
        data={**client_form("zz-shenji-01", "auditor"), "csrf_token": token},
    )
    assert asked.status_code == 202
    assert "须由另一名系统管理员批准后生效" in asked.text
    assert services.clients.get("zz-shenji-01") is None
    [pending] = services.administration.approvals()
    approval = str(pending["approval_id"])
    approve = f"/console/admin/approvals/{approval}/approve"
    refuse = f"/console/admin/approvals/{approval}/refuse"
    for page in (asked.text, (await browser.get("/console/admin/approvals")).text):
        assert f'id="approval-{approval}"' in page and "待另一名管理员审批" in page
        assert approve not in page and refuse not in page  # no buttons for one's own request
    own = await browser.post(approve, data={"csrf_token": token})
    assert own.status_code == 403
    assert message_of(own.text) == "这是您本人提交的申请，须由另一名系统管理员审批。"
    own_refusal = await browser.post(refuse, data={"csrf_token": token, "reason": "不再需要"})
    assert own_refusal.status_code == 403
    assert services.clients.get("zz-shenji-01") is None
    assert services.administration.approvals()[0]["state"] == "pending"

    token = await as_person(browser, second, "/console/admin/clients")
    on_clients = await browser.get("/console/admin/clients")
    assert approve in on_clients.text and refuse in on_clients.text
    done = await browser.post(approve, data={"csrf_token": token})
    assert done.status_code == 200, done.text
    secret = SECRET.search(done.text)
    assert secret and "已批准：新建 API 客户端（zz-shenji-01）" in done.text
    granted = await token_for(browser, "zz-shenji-01", secret.group(1))
    assert granted.json()["scope"] == "credit:audit credit:read"
    steps = [(row.actor, row.action) for row in log_rows(services)][-3:]
    assert steps == [
        ("account:chen.jing", "request-approval"),
        ("account:zhou.min", "approve"),
        ("account:zhou.min", "create-client"),
    ]
    again = await browser.post(approve, data={"csrf_token": token})
    assert again.status_code == 409 and message_of(again.text) == "该审批不存在或已处理。"


async def test_a_second_administrator_refuses_with_a_reason_and_nothing_is_done(
    browser, staff, second, services
):
    token = await as_person(browser, staff["admin"], "/console/admin/accounts")
    await browser.post(
        "/console/admin/accounts",
        data={
            "name": "sun.li",
            "display_name": "孙丽",
            "role": "admin",
            "agency_name": "郑州市交通运输局",
            "agency_code": AUTHORITY_CODE,
            "csrf_token": token,
        },
    )
    [pending] = services.administration.approvals()
    refuse = f"/console/admin/approvals/{pending['approval_id']}/refuse"

    token = await as_person(browser, second, "/console/admin/approvals")
    short = await browser.post(refuse, data={"csrf_token": token, "reason": " 否 "})
    assert short.status_code == 422
    assert message_of(short.text) == "请说明理由（4-200 个字）。"
    assert 'value=" 否 "' in short.text and '<details class="refuse" open>' in short.text
    assert services.administration.approvals()[0]["state"] == "pending"
    refused = await browser.post(
        refuse, data={"csrf_token": token, "reason": "该同志尚未完成系统管理员培训"}
    )
    assert refused.status_code == 200
    assert "已拒绝：新建工作人员账号（sun.li），不会执行。" in refused.text
    assert "目前没有待审批的事项。" in refused.text
    assert services.administration.approvals() == [] and services.accounts.get("sun.li") is None
    last = log_rows(services)[-1]
    assert (last.actor, last.action, last.target) == ("account:zhou.min", "refuse", "sun.li")
    assert last.details["reason"] == "该同志尚未完成系统管理员培训"
    assert last.details["requested_by"] == "account:chen.jing"
    approve = refuse.replace("/refuse", "/approve")
    late = await browser.post(approve, data={"csrf_token": token})
    assert late.status_code == 409 and services.accounts.get("sun.li") is None


# Erasure --------------------------------------------------------------------------------------
async def registered_person(browser: httpx.AsyncClient, recorder: dict[str, str]) -> str:
    """An individual with sealed personal data, once the read models show it."""
    created = await browser.post("/v1/subjects", json=individual(41), headers=recorder)
    assert created.status_code == 201, created.text
    for _ in range(250):
        health = (await browser.get("/health")).json()
        if health["projections"]["position"] >= created.json()["position"]:
            return str(created.json()["subject_id"])
        await asyncio.sleep(0.02)
    raise AssertionError("the read models did not catch up")


async def test_an_erasure_is_asked_with_its_ground_and_approved_by_a_second_administrator(
    browser, staff, second, services, role_headers
):
    subject_id = await registered_person(browser, role_headers["recorder"])
    token = await as_person(browser, staff["admin"], "/console/admin/erasures")
    requests = count(services, admin_approvals)
    for form, words in (
        ({"subject_id": "not-a-subject-id", "reason": GROUND}, "主体标识格式不正确"),
        ({"subject_id": subject_id, "reason": "删"}, "请说明理由（4-200 个字）。"),
        (
            {"subject_id": "0b6f3c4e-8d3a-4f57-9a8e-2f1d3c4b5a69", "reason": GROUND},
            "该主体没有可删除的个人信息",
        ),
    ):
        refused = await browser.post("/console/admin/erasures", data={**form, "csrf_token": token})
        assert refused.status_code in (404, 422) and words in message_of(refused.text)
        assert f'value="{form["subject_id"]}"' in refused.text
        assert f'value="{form["reason"]}"' in refused.text
    assert count(services, admin_approvals) == requests

    asked = await browser.post(
        "/console/admin/erasures",
        data={"subject_id": subject_id, "reason": GROUND, "csrf_token": token},
    )
    assert asked.status_code == 202
    assert "删除个人信息" in asked.text and "须由另一名系统管理员批准后生效" in asked.text
    # The request shows its subject masked, who asked and why; never the full ID number.
    assert "410105********" in asked.text and GROUND in asked.text
    assert individual(41)["code"] not in asked.text
    assert services.vault.erasable(UUID(subject_id))

    token = await as_person(browser, second, "/console/admin/erasures")
    page = await browser.get("/console/admin/erasures")
    [pending] = services.administration.approvals()
    assert f"/console/admin/approvals/{pending['approval_id']}/approve" in page.text
    done = await browser.post(
        f"/console/admin/approvals/{pending['approval_id']}/approve", data={"csrf_token": token}
    )
    assert done.status_code == 200 and 'id="result-erased"' in done.text
    assert not services.vault.erasable(UUID(subject_id))
    reveal = await browser.post(
        f"/v1/subjects/{subject_id}:reveal",
        json={"purpose": "核查身份"},
        headers=role_headers["auditor"],
    )
    assert reveal.status_code == 410
    erased = log_rows(services)[-1]
    assert (erased.actor, erased.action, erased.details["reason"]) == (
        "account:zhou.min",
        "erase-personal-data",
        GROUND,
    )
    # Showing the subject's masked code was a read, logged under each person's account.
    with services.write_engine.connect() as conn:
        reads = conn.execute(
            select(access_log.c.client_id, access_log.c.purpose).where(
                access_log.c.action == "page_erasure_request"
            )
        ).all()
    assert {tuple(read) for read in reads} == {
        ("account:chen.jing", "个人信息删除审批"),
        ("account:zhou.min", "个人信息删除审批"),
    }


# Signing keys ---------------------------------------------------------------------------------
async def test_rotating_the_token_key_keeps_earlier_tokens_until_the_old_key_is_unpublished(
    browser, staff, services, settings, role_headers
):
    """As docs/security.md §4 says: tokens signed before a rotation verify while the retired
    key is published (one token lifetime), and no longer once it is not."""
    earlier = role_headers["admin"]
    assert (await browser.get("/v1/admin/clients", headers=earlier)).status_code == 200
    [old] = services.keys.listing()
    token = await as_person(browser, staff["admin"], "/console/admin/keys")
    logged = count(services, admin_log)
    unconfirmed = await browser.post("/console/admin/keys/token/rotate", data={"csrf_token": token})
    assert unconfirmed.status_code == 422
    assert message_of(unconfirmed.text) == "请先勾选确认，再轮换密钥。密钥未轮换。"
    assert key_states(services) == [("token", old.key_id, "signing")]
    assert count(services, admin_log) == logged

    rotated = await browser.post(
        "/console/admin/keys/token/rotate", data={"csrf_token": token, "confirm": "yes"}
    )
    assert rotated.status_code == 200
    new, retired = services.keys.listing()
    assert retired.key_id == old.key_id and new.retired_at is None
    assert f"新密钥 {new.key_id}" in rotated.text
    assert re.search(
        rf"{old.key_id}</code></td>\s*<td>[^<]+</td>\s*<td>[^<]+</td>\s*"
        r"<td>已停用，[^<]+前仍公布",
        rotated.text,
    )
    assert (await browser.get("/v1/admin/clients", headers=earlier)).status_code == 200
    published = (await browser.get("/.well-known/jwks.json")).json()["keys"]
    assert {key["kid"] for key in published} == {old.key_id, new.key_id}

    # One token lifetime later the retired key is unpublished: what it signed is refused.
    lifetime = timedelta(seconds=settings.token_ttl_seconds, minutes=1)
    with services.write_engine.begin() as conn:
        conn.execute(
            update(signing_keys)
            .where(signing_keys.c.kid == old.key_id)
            .values(retired_at=retired.retired_at - lifetime)
        )
    assert (await browser.get("/v1/admin/clients", headers=earlier)).status_code == 401
    page = await browser.get("/console/admin/keys")
    assert "已停用，不再公布" in page.text
    last = log_rows(services)[-1]
    assert (last.actor, last.action, last.target) == (
        "account:chen.jing",
        "rotate-signing-key",
        new.key_id,
    )


async def test_rotating_the_checkpoint_key_keeps_the_old_one_published(
    browser, staff, services, role_headers
):
    before = services.checkpoints.make()
    token = await as_person(browser, staff["admin"], "/console/admin/keys")
    rotated = await browser.post(
        "/console/admin/keys/checkpoint/rotate", data={"csrf_token": token, "confirm": "yes"}
    )
    assert rotated.status_code == 200
    new, old = services.checkpoints.keys()
    assert old.key_id == before.key_id and old.retired_at is not None and new.retired_at is None
    assert "已停用，永久公布" in rotated.text
    published = await browser.get("/v1/audit/checkpoint-keys", headers=role_headers["auditor"])
    assert before.key_id in published.text


# The admin log --------------------------------------------------------------------------------
async def test_the_admin_log_pages_and_says_whether_its_chain_holds(
    browser, staff, services, monkeypatch
):
    for serial in range(5):
        services.administration.create_client(
            "cli:test", f"zz-agency-{serial}", "agency", AGENCY, AUTHORITY_CODE
        )
    monkeypatch.setattr(admin_log_page, "PAGE_SIZE", 4)
    await as_person(browser, staff["admin"], "/console/admin/log")
    total = count(services, admin_log)  # the five accounts of the set-up, then five clients
    first = await browser.get("/console/admin/log")
    assert f"哈希链完整：共 {total} 条（SHA-256 {total} 条），尚无签名检查点锚定。" in first.text
    assert re.findall(r"<tr>\s*<td>(\d+)</td>", first.text) == ["1", "2", "3", "4"]
    assert 'href="/console/admin/log?after=4" id="page-next"' in first.text
    latest = await browser.get(f"/console/admin/log?after={total - 4}")
    assert "zz-agency-4" in latest.text and 'id="page-next"' not in latest.text
    services.checkpoints.make()
    anchored = await browser.get("/console/admin/log")
    assert f"已由签名检查点锚定至第 {total} 条" in anchored.text

    with as_superuser(services) as conn:
        conn.execute(update(admin_log).where(admin_log.c.seq == 7).values(actor="account:someone"))
    broken = await browser.get("/console/admin/log")
    assert broken.status_code == 200
    assert "哈希链在第 7 条断开" in broken.text and 'class="message"' in broken.text
    bad = await browser.get("/console/admin/log?after=abc")
    assert bad.status_code == 422 and message_of(bad.text) == "页码参数无效，请从第一页开始查看。"


# CSRF ----------------------------------------------------------------------------------------
async def test_admin_forms_without_their_token_change_nothing(browser, staff, second, services):
    asked = services.administration.create_client(
        "account:zhou.min", "zz-shenji-02", "auditor", AGENCY, AUTHORITY_CODE
    )
    assert isinstance(asked, Pending)
    approval = asked.approval_id
    services.administration.create_client("cli:test", "zz-agency", "agency", AGENCY, AUTHORITY_CODE)
    await as_person(browser, staff["admin"], "/console/admin/clients")
    services.checkpoints.make()
    logged, keys = count(services, admin_log), key_states(services)
    forms = {
        "/console/admin/clients": client_form("zz-new", "agency"),
        "/console/admin/clients/zz-agency/disable": {},
        "/console/admin/clients/zz-agency/reset-secret": {},
        f"/console/admin/approvals/{approval}/approve": {},
        f"/console/admin/approvals/{approval}/refuse": {"reason": "不符合要求的申请"},
        "/console/admin/keys/token/rotate": {"confirm": "yes"},
        "/console/admin/keys/checkpoint/rotate": {"confirm": "yes"},
        "/console/admin/erasures": {
            "subject_id": "0b6f3c4e-8d3a-4f57-9a8e-2f1d3c4b5a69",
            "reason": GROUND,
        },
    }
    for path, form in forms.items():
        for token in ("", "forged-token"):
            refused = await browser.post(path, data={**form, "csrf_token": token})
            assert refused.status_code == 403, path
            assert message_of(refused.text).startswith("页面已失效或来源不明，操作未执行。")
    assert count(services, admin_log) == logged and key_states(services) == keys
    agency = services.clients.get("zz-agency")
    assert services.clients.get("zz-new") is None and agency and not agency.disabled
    assert services.administration.approvals()[0]["state"] == "pending"
