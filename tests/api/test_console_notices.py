"""Notices to stop using a record (停止使用通知) at the console, on SQLite and PostgreSQL: a
person sees the notices of their agency's API clients, not another agency's, and confirms one
for the client (a CSRF-checked form): the client then sees it acknowledged over the API, the
case counts it once, the person is recorded as who confirmed, and a second confirmation from
either side is refused. Opening the page writes each subject shown to its access log."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select

from api.app import create_app
from service.access.administration import Done
from service.access.tables import access_log
from service.notifications.tables import notice_acknowledgements
from tests.api.test_cases import progress, setup_records
from tests.api.test_console_subscriptions import message_of, open_as
from tests.api.test_notices import approved_repair, notices_of
from tests.builders import OTHER_AUTHORITY_CODE
from tests.console import Person, create_staff

pytestmark = pytest.mark.api
PAGE = "/console/notices"


@pytest.fixture
async def http(
    settings, services, role_headers
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """A browser without JavaScript and the recorder's API client, over one app (HTTPS: the
    console's cookies are Secure)."""
    app = create_app(settings, services=services)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        base = "https://credit.test"
        async with (
            httpx.AsyncClient(transport=transport, base_url=base) as browser,
            httpx.AsyncClient(
                transport=transport, base_url=base, headers=role_headers["recorder"]
            ) as api,
        ):
            yield browser, api


@pytest.fixture
def staff(services) -> dict[str, Person]:
    people = create_staff(services)
    done = services.administration.create_account(
        "cli:test", "sun.li", "孙丽", "agency", "开封市交通运输局", OTHER_AUTHORITY_CODE,
        four_eyes_waived="test set-up",
    )  # fmt: skip
    assert isinstance(done, Done) and done.secret is not None
    people["other_agency"] = Person("sun.li", done.secret, "孙丽")
    return people


def listed(html: str) -> list[tuple[str, str]]:
    """(notice id, the client told) of each row."""
    rows = re.findall(r'data-notice="([0-9a-f-]{36})">(.*?)</tr>', html, re.S)
    return [(notice, re.findall(r"<code>([^<]*)</code>", row)[2]) for notice, row in rows]


async def test_an_agency_confirms_its_clients_notice_and_another_agency_cannot(
    http, staff, services, role_headers, clock
):
    browser, api = http
    records = await setup_records(api)  # the recorder's client reads the status: it is told
    subject = records["subject_id"]
    read = await api.get(f"/v1/subjects/{subject}/status", headers=role_headers["agency"])
    assert read.status_code == 200
    other, _ = services.clients.create(
        "kf-agency", "agency", "开封市交通运输局", OTHER_AUTHORITY_CODE
    )
    other_headers = {"Authorization": f"Bearer {services.tokens.issue(other).access_token}"}
    assert (await api.get(f"/v1/subjects/{subject}/status", headers=other_headers)).is_success
    filed, position = await approved_repair(api, services, clock, records)
    [agency_notice] = await notices_of(api, role_headers["agency"])
    [other_notice] = await notices_of(api, other_headers)

    token = await open_as(browser, staff["agency"], PAGE)
    page = await browser.get(PAGE)
    assert sorted(client for _, client in listed(page.text)) == ["test-agency", "test-recorder"]
    assert other_notice["notice_id"] not in page.text  # another agency's client's notice
    assert "信用修复" in page.text and "其中 2 条待确认" in page.text
    with services.write_engine.connect() as conn:
        logged = conn.execute(
            select(access_log.c.client_id, access_log.c.subject_id).where(
                access_log.c.action == "notices"
            )
        ).all()
    assert {(c, str(s)) for c, s in logged} == {("account:wang.fang", subject)}

    url = f"{PAGE}/{agency_notice['notice_id']}/acknowledge"
    forged = await browser.post(url, data={})
    assert forged.status_code == 403  # no CSRF token: nothing written
    other_token = await open_as(browser, staff["other_agency"], PAGE)
    foreign = await browser.post(url, data={"csrf_token": other_token})
    assert foreign.status_code == 404
    assert message_of(foreign.text) == "未找到该通知：它不存在，或不是发给本单位 API 客户端的。"
    unknown = await browser.post(
        f"{PAGE}/not-a-notice/acknowledge", data={"csrf_token": other_token}
    )
    assert unknown.status_code == 404
    with services.write_engine.connect() as conn:
        assert conn.execute(select(notice_acknowledgements)).all() == []

    token = await open_as(browser, staff["agency"], PAGE)
    confirmed = await browser.post(url, data={"csrf_token": token})
    assert (confirmed.status_code, confirmed.headers["location"]) == (
        303,
        "/console/notices?acknowledged=1",
    )
    with services.write_engine.connect() as conn:
        [row] = conn.execute(select(notice_acknowledgements)).mappings().all()
    assert (str(row["notice_id"]), row["client_id"], row["acknowledged_by"]) == (
        agency_notice["notice_id"],
        "test-agency",
        "account:wang.fang",
    )
    after = await browser.get(confirmed.headers["location"])
    assert "已确认停止使用该记录" in after.text and "其中 1 条待确认" in after.text
    assert "工作人员 wang.fang 在工作台确认" in after.text
    # The client sees it acknowledged; the case counts it; a second time is refused either way.
    [seen] = await notices_of(api, role_headers["agency"])
    assert seen["acknowledged_at"] is not None
    assert (await progress(api, filed, position))["propagation"] == {"told": 3, "acknowledged": 1}
    again = await api.post(
        f"/v1/notices/{agency_notice['notice_id']}/acknowledgement",
        headers=role_headers["agency"],
    )
    assert again.status_code == 409
    twice = await browser.post(url, data={"csrf_token": token})
    assert twice.status_code == 409
    assert message_of(twice.text) == "该通知已确认过，以首次确认为准。"

    # A client's own confirmation over the API is shown as the client's.
    [recorder_notice] = await notices_of(api, role_headers["recorder"])
    by_api = await api.post(f"/v1/notices/{recorder_notice['notice_id']}/acknowledgement")
    assert by_api.status_code == 200, by_api.text
    assert "客户端 test-recorder 通过接口确认" in (await browser.get(PAGE)).text


async def test_an_agency_whose_clients_were_told_nothing_sees_no_notices(http, staff):
    browser, _ = http
    await open_as(browser, staff["agency"], PAGE)
    page = await browser.get(PAGE)
    assert page.status_code == 200 and "尚未收到停止使用通知" in page.text
    assert 'id="notices"' not in page.text
