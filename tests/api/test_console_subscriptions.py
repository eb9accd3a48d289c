"""Change subscriptions at the console, through the ASGI app on SQLite and PostgreSQL: an agency's
person subscribes by pasted or uploaded codes, told per line (in Chinese, with its line number)
which codes were not followed and why; the kinds are chosen; the changes page shows the newest
changes of the agency's subjects and logs each subject read; colleagues share the agency's
subscriptions, another agency neither sees nor cancels them; refusals write nothing."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
from sqlalchemy import func, select

from api.app import create_app
from service.access.administration import Done
from service.access.tables import access_log
from service.notifications.tables import subscription_webhooks, subscriptions
from tests.api.test_subscriptions import caught_up
from tests.api.test_webhooks import Moment, Receiver, delivery_worker, run
from tests.builders import AUTHORITY_CODE, OTHER_AUTHORITY_CODE, enterprise, penalty, uscc
from tests.console import Person, create_staff, csrf_of, sign_in

pytestmark = pytest.mark.api
PAGE = "/console/subscriptions"


@pytest.fixture
async def browser(settings, services) -> AsyncIterator[httpx.AsyncClient]:
    """A browser without JavaScript, over HTTPS (the console's cookies are Secure)."""
    app = create_app(settings, services=services)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://credit.test") as http:
            yield http


@pytest.fixture
def staff(services) -> dict[str, Person]:
    people = create_staff(services)
    done = services.administration.create_account(
        "cli:test", "sun.li", "孙丽", "agency", "郑州市公路事业发展中心", OTHER_AUTHORITY_CODE,
        four_eyes_waived="test set-up",
    )  # fmt: skip
    assert isinstance(done, Done) and done.secret is not None
    people["other_agency"] = Person("sun.li", done.secret, "孙丽")
    return people


async def open_as(browser: httpx.AsyncClient, person: Person, page: str = PAGE) -> str:
    """Sign in (anew) and open `page`; its CSRF token."""
    browser.cookies.clear()
    response = await sign_in(browser, person.name, person.password)
    assert response.status_code == 303, response.text
    opened = await browser.get(page)
    assert opened.status_code == 200, opened.text
    return csrf_of(opened.text)


async def register(browser, role_headers, serial: int) -> str:
    response = await browser.post(
        "/v1/subjects", json=enterprise(serial), headers=role_headers["recorder"]
    )
    assert response.status_code == 201, response.text
    registered = response.json()
    status = await browser.get(
        f"/v1/subjects/{registered['subject_id']}/status",
        params={"min_position": registered["position"]},
        headers=role_headers["recorder"],
    )
    assert status.status_code == 200, status.text
    return registered["subject_id"]


def problems_of(html: str) -> list[str]:
    found = re.search(r'id="code-problems"[^>]*>(.*?)</ul>', html, re.S)
    return re.findall(r"<li>([^<]*)</li>", found.group(1)) if found else []


def message_of(html: str) -> str:
    found = re.search(r'id="message">([^<]*)<', html)
    return found.group(1) if found else ""


def listed_ids(html: str) -> list[str]:
    return re.findall(r'action="/console/subscriptions/([0-9a-f-]{36})/cancel"', html)


def count(services, table=subscriptions) -> int:
    with services.write_engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(table)) or 0


async def test_an_agency_subscribes_by_pasted_codes_and_reads_the_changes(
    browser, staff, services, role_headers
):
    first = await register(browser, role_headers, 1)
    await register(browser, role_headers, 2)
    token = await open_as(browser, staff["agency"])
    pasted = f"{uscc(1)}\n\n{uscc(99)}\nnot-a-code\n{uscc(2)}\n"
    made = await browser.post(
        PAGE,
        data={
            "csrf_token": token,
            "codes": pasted,
            "kinds": ["record.published", "list.entered"],
        },
    )
    assert made.status_code == 200, made.text
    assert "已订阅 2 个主体" in made.text and "共提交 4 个代码" in made.text
    assert "变动类型：列入名单、信息公示" in made.text
    # Each code not followed, by its line (blank lines counted) and why, in Chinese.
    assert problems_of(made.text) == [
        f"第 3 行（{uscc(99)}）：未找到，没有以该代码登记的信用主体",
        "第 4 行（not-a-code）：代码有误，不是有效的统一社会信用代码、居民身份证号码或车牌号码",
    ]
    assert len(listed_ids(made.text)) == 1
    with services.write_engine.connect() as conn:
        owner = conn.scalar(select(subscriptions.c.client_id))
    assert owner == f"agency:{AUTHORITY_CODE}"

    recorded = await browser.post(
        f"/v1/subjects/{first}/events", json=penalty("S-1"), headers=role_headers["recorder"]
    )
    assert recorded.status_code == 201, recorded.text
    for _ in range(200):  # the changes read model reaches the write
        if services.runner.position("changes") >= recorded.json()["position"]:
            break
        await asyncio.sleep(0.05)
    changes = await browser.get(f"{PAGE}/changes")
    assert changes.status_code == 200, changes.text
    assert 'data-kind="record.published"' in changes.text
    assert "信息公示" in changes.text and "行政处罚" in changes.text
    assert "公示期 2026-10-15 至 2027-10-15" in changes.text
    assert uscc(1) in changes.text
    with services.write_engine.connect() as conn:
        logged = conn.execute(
            select(access_log.c.client_id, access_log.c.action, access_log.c.subject_id).where(
                access_log.c.action == "changes"
            )
        ).all()
    assert [(c, a, str(s)) for c, a, s in logged] == [("account:wang.fang", "changes", first)]


async def test_colleagues_share_the_agencys_subscriptions_another_agency_neither_sees_nor_cancels(
    browser, staff, services, role_headers
):
    await register(browser, role_headers, 3)
    token = await open_as(browser, staff["agency"])
    made = await browser.post(
        PAGE, data={"csrf_token": token, "codes": uscc(3), "kinds": ["record.repaired"]}
    )
    [subscription_id] = listed_ids(made.text)

    colleague = await browser.get(PAGE) if await open_as(browser, staff["recorder"]) else None
    assert colleague is not None and listed_ids(colleague.text) == [subscription_id]

    token = await open_as(browser, staff["other_agency"])
    other = await browser.get(PAGE)
    assert listed_ids(other.text) == [] and "本单位尚无订阅" in other.text
    refused = await browser.post(f"{PAGE}/{subscription_id}/cancel", data={"csrf_token": token})
    assert refused.status_code == 404
    assert "未找到该订阅" in message_of(refused.text)
    assert count(services) == 1

    token = await open_as(browser, staff["agency"])
    forged = await browser.post(f"{PAGE}/{subscription_id}/cancel", data={})
    assert forged.status_code == 403 and count(services) == 1  # no CSRF token: nothing done
    cancelled = await browser.post(f"{PAGE}/{subscription_id}/cancel", data={"csrf_token": token})
    assert (cancelled.status_code, cancelled.headers["location"]) == (
        303,
        "/console/subscriptions?cancelled=1",
    )
    assert count(services) == 0
    assert listed_ids((await browser.get(PAGE)).text) == []


async def test_refusals_say_why_in_chinese_and_subscribe_nothing(
    browser, staff, services, role_headers
):
    await register(browser, role_headers, 4)
    token = await open_as(browser, staff["agency"])

    async def refused(data: dict, files=None) -> str:
        response = await browser.post(PAGE, data={"csrf_token": token, **data}, files=files)
        assert response.status_code == 422, response.text
        return response.text

    no_kinds = await refused({"codes": uscc(4)})
    assert message_of(no_kinds) == "请至少选择一种变动类型。"
    assert uscc(4) in no_kinds  # the codes are kept in the box
    unknown_kind = await refused({"codes": uscc(4), "kinds": ["record.published", "nonsense"]})
    assert message_of(unknown_kind) == "请至少选择一种变动类型。"
    assert message_of(await refused({"codes": "\n \n", "kinds": ["record.published"]})) == (
        "请粘贴或上传要订阅的代码，每行一个。"
    )
    nothing = await refused({"codes": f"{uscc(98)}\nabc", "kinds": ["record.published"]})
    assert message_of(nothing) == "没有一个代码对应已登记的信用主体，未创建订阅。"
    assert problems_of(nothing) == [
        f"第 1 行（{uscc(98)}）：未找到，没有以该代码登记的信用主体",
        "第 2 行（abc）：代码有误，不是有效的统一社会信用代码、居民身份证号码或车牌号码",
    ]
    too_many = "\n".join([uscc(4)] * 100_001)
    assert message_of(await refused({"codes": too_many, "kinds": ["record.published"]})) == (
        "共 100,001 个代码，一次最多订阅 100,000 个，本次未订阅任何代码。请分批订阅。"
    )
    legacy = await refused(
        {"kinds": ["record.published"]},
        files={"file": ("codes.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)},
    )
    assert "不支持旧版 Excel" in message_of(legacy)
    assert count(services) == 0


async def test_an_uploaded_file_names_the_lines_of_the_file(browser, staff, services, role_headers):
    await register(browser, role_headers, 5)
    await register(browser, role_headers, 6)
    token = await open_as(browser, staff["auditor"])
    body = f"统一社会信用代码,名称\n{uscc(5)},甲\n{uscc(97)},乙\n{uscc(6)},丙\n".encode("gbk")
    made = await browser.post(
        PAGE,
        data={"csrf_token": token, "kinds": ["list.entered", "list.left"]},
        files={"file": ("operators.csv", body, "text/csv")},
    )
    assert made.status_code == 200, made.text
    assert "已订阅 2 个主体" in made.text
    assert problems_of(made.text) == [
        f"文件第 3 行（{uscc(97)}）：未找到，没有以该代码登记的信用主体"
    ]


# Webhooks ---------------------------------------------------------------------------------------
def webhook_cell(html: str, subscription_id: str) -> str:
    """The 推送 cell of a subscription's row on the list: its state and failures, or 未设置."""
    row = re.search(rf"<tr>(?:(?!</tr>).)*?<code>{subscription_id}</code>(.*?)</tr>", html, re.S)
    assert row, f"{subscription_id} is not listed"
    return re.sub(r"<[^>]+>", " ", re.findall(r"<td>(.*?)</td>", row.group(1), re.S)[0]).strip()


@pytest.mark.parametrize(
    ("url", "production", "expected"),
    [
        (
            "http://127.0.0.1:9/hook",
            False,
            "回调地址的主机 127.0.0.1 解析为 127.0.0.1，不是公网地址",
        ),
        ("http://10.0.0.1/hook", False, "回调地址的主机 10.0.0.1 解析为 10.0.0.1，不是公网地址"),
        ("http://localhost:9/hook", False, "回调地址的主机 localhost 解析为"),
        ("http://93.184.216.34/hook", True, "回调地址须以 https:// 开头（生产环境只允许 HTTPS）"),
        ("https://user:pw@93.184.216.34/hook", False, "回调地址不得包含用户名或密码"),
        ("ftp://93.184.216.34/hook", False, "回调地址须以 https:// 或 http:// 开头"),
    ],
)
async def test_a_refused_callback_url_is_told_in_chinese_keeping_what_was_typed(
    browser, staff, services, role_headers, url, production, expected
):
    services.webhooks.rules = replace(
        services.webhooks.rules, allow_private=False, require_https=production
    )
    await register(browser, role_headers, 7)
    token = await open_as(browser, staff["agency"])
    refused = await browser.post(
        PAGE,
        data={
            "csrf_token": token,
            "codes": uscc(7),
            "kinds": ["record.repaired"],
            "callback_url": url,
        },
    )
    assert refused.status_code == 422, refused.text
    assert message_of(refused.text).startswith(expected), message_of(refused.text)
    assert message_of(refused.text).endswith("未创建订阅。")
    # Everything typed is kept: the codes, the kinds chosen, the callback URL.
    assert uscc(7) in refused.text
    assert f'value="{url}"' in refused.text.replace("&amp;", "&")
    assert re.search(r'value="record.repaired" checked', refused.text)
    assert not re.search(r'value="record.published" checked', refused.text)
    assert 'id="webhook-secret"' not in refused.text
    assert count(services) == 0 and count(services, subscription_webhooks) == 0


async def test_a_callback_url_gets_its_secret_shown_once_and_the_list_shows_the_webhook(
    browser, staff, services, role_headers
):
    services.webhooks.rules = replace(services.webhooks.rules, allow_private=True)
    await register(browser, role_headers, 8)
    token = await open_as(browser, staff["agency"])
    made = await browser.post(
        PAGE,
        data={
            "csrf_token": token,
            "codes": uscc(8),
            "kinds": ["record.published"],
            "callback_url": " http://127.0.0.1:9/hook ",
        },
    )
    assert made.status_code == 200, made.text
    shown = re.search(r'<code id="secret-value">(whsec_[A-Za-z0-9+/=]+)</code>', made.text)
    assert shown, made.text
    assert "密钥只显示这一次" in made.text and "无法再次查看" in made.text
    assert "docs/notifications.md#what-is-sent" in made.text  # how to verify a signature
    assert 'href="https://www.standardwebhooks.com/"' in made.text
    [subscription_id] = listed_ids(made.text)
    with services.write_engine.connect() as conn:
        hook = conn.execute(select(subscription_webhooks)).mappings().one()
    assert (hook["client_id"], hook["callback_url"]) == (
        f"agency:{AUTHORITY_CODE}",
        "http://127.0.0.1:9/hook",
    )
    # What was shown is the secret the deliveries are signed with, kept only wrapped.
    assert services.webhooks.secret(hook["subscription_id"], hook["wrapped_secret"]) == (
        shown.group(1)
    )
    assert shown.group(1).encode() not in hook["wrapped_secret"]

    again = await browser.get(PAGE)
    assert shown.group(1) not in again.text and 'id="webhook-secret"' not in again.text
    assert webhook_cell(again.text, subscription_id) == "正常 ，连续失败 0 次  推送记录"
    assert f'href="/console/subscriptions/{subscription_id}/deliveries"' in again.text


async def test_the_delivery_log_shows_the_attempts_and_a_paused_webhook_is_resumed(
    browser, staff, services, role_headers
):
    services.webhooks.rules = replace(services.webhooks.rules, allow_private=True)
    receiver = Receiver(answers=[503, 503])
    try:
        subject = await register(browser, role_headers, 9)
        await register(browser, role_headers, 10)
        token = await open_as(browser, staff["agency"])
        made = await browser.post(
            PAGE,
            data={
                "csrf_token": token,
                "codes": f"{uscc(9)}",
                "kinds": ["record.published"],
                "callback_url": receiver.url,
            },
        )
        [hooked] = listed_ids(made.text)
        plain = await browser.post(
            PAGE, data={"csrf_token": token, "codes": uscc(10), "kinds": ["record.published"]}
        )
        [without] = [i for i in listed_ids(plain.text) if i != hooked]
        told = await browser.post(
            f"/v1/subjects/{subject}/events", json=penalty("W-1"), headers=role_headers["recorder"]
        )
        assert told.status_code == 201, told.text
        await caught_up(services, told.json()["position"])
        clock = Moment()
        worker = delivery_worker(services, clock, pause_after=2)
        await run(worker)
        clock.advance(30)
        await run(worker)
        assert len(receiver.received) == 2

        listed = await browser.get(PAGE)
        assert webhook_cell(listed.text, hooked) == "已暂停 ，连续失败 2 次  推送记录"
        assert webhook_cell(listed.text, without) == "未设置"
        log_page = f"{PAGE}/{hooked}/deliveries"
        log = await browser.get(log_page)
        assert log.status_code == 200, log.text
        heads = re.findall(r'<th scope="col">([^<]+)</th>', log.text)
        assert heads == ["推送时间", "结果（状态码或错误）", "耗时（毫秒）", "变动编号"]
        outcomes = re.findall(r"<td>(\d{3})（(已送达|失败)）</td>", log.text)
        assert outcomes == [("503", "失败"), ("503", "失败")]
        assert 'data-state="paused"' in log.text and "2 次" in log.text
        assert 'id="resume-webhook"' in log.text
        nothing = await browser.get(f"{PAGE}/{without}/deliveries")
        assert nothing.status_code == 409
        assert message_of(nothing.text) == "该订阅未设置回调地址，没有推送记录。"

        # Another agency neither reads the log nor resumes; without a CSRF token nothing is done.
        other_token = await open_as(browser, staff["other_agency"])
        assert (await browser.get(log_page)).status_code == 404
        foreign = await browser.post(f"{PAGE}/{hooked}/resume", data={"csrf_token": other_token})
        assert foreign.status_code == 404
        assert "未找到该订阅" in message_of(foreign.text)
        assert (await browser.get(f"{PAGE}/not-an-id/deliveries")).status_code == 404
        token = await open_as(browser, staff["recorder"])  # a colleague of the same agency
        forged = await browser.post(f"{PAGE}/{hooked}/resume", data={})
        assert forged.status_code == 403
        with services.write_engine.connect() as conn:
            assert conn.scalar(select(subscription_webhooks.c.state)) == "paused"

        resumed = await browser.post(f"{PAGE}/{hooked}/resume", data={"csrf_token": token})
        assert (resumed.status_code, resumed.headers["location"]) == (
            303,
            f"{log_page}?resumed=1",
        )
        after = await browser.get(resumed.headers["location"])
        assert "已恢复推送" in after.text and 'data-state="active"' in after.text
        assert 'id="resume-webhook"' not in after.text
        clock.advance(1)
        await run(worker)  # due at once: the change it paused on goes out again, and is taken
        assert len(receiver.received) == 3
        log = await browser.get(log_page)
        assert re.findall(r"<td>(\d{3})（(已送达|失败)）</td>", log.text) == [
            ("200", "已送达"),
            ("503", "失败"),
            ("503", "失败"),
        ]
    finally:
        receiver.close()
