"""The credit office's figures page (信用工作指标) through the ASGI app, on SQLite and PostgreSQL:
the month it shows (the last full one by default, in CREDIT_TIMEZONE), months it refuses, and
its chart of open and overdue repair cases by deciding authority, counted as the credit office's
overdue listing counts them, every authority's for the credit office and auditors, a recorder's
own for a recorder."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from api.app import create_app
from domain.codes import make_uscc
from service.bootstrap import Services
from service.clock import FixedClock
from tests.builders import AUTHORITY_CODE, OTHER_AUTHORITY_CODE
from tests.console import Person, create_staff, sign_in
from tests.repair_cases import listed, repair_case

pytestmark = pytest.mark.api
THIRD_AUTHORITY = make_uscc("11410100MB0000003")  # no test recorder's account records for it


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
    return create_staff(services)


@pytest.fixture
def third_recorder(services: Services) -> dict[str, str]:
    client, _ = services.clients.create(
        "test-third-recorder",
        "recorder",
        "郑州市交通运输局",
        THIRD_AUTHORITY,
        authority_codes=[THIRD_AUTHORITY],
        sectors=["road_transport"],
    )
    return {"Authorization": f"Bearer {services.tokens.issue(client).access_token}"}


async def page_as(browser: httpx.AsyncClient, person: Person, query: str = "") -> httpx.Response:
    browser.cookies.clear()
    signed = await sign_in(browser, person.name, person.password)
    assert signed.status_code == 303, signed.text
    return await browser.get(f"/console/reports{query}")


def text_of(html: str, element_id: str) -> str:
    found = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', html, re.S)
    assert found, f"no #{element_id}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(2))).strip()


def table_rows(html: str, table_id: str) -> list[tuple[str, ...]]:
    """The chart's data table, row by row, as text."""
    found = re.search(rf'<table[^>]*id="{table_id}"[^>]*>(.*?)</table>', html, re.S)
    assert found, f"no #{table_id}"
    body = re.search(r"<tbody>(.*?)</tbody>", found.group(1), re.S)
    assert body
    return [
        tuple(
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        )
        for row in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)
    ]


async def test_the_page_shows_the_last_full_month_by_default(browser, staff):
    response = await page_as(browser, staff["credit_office"])  # today: 2026-11-20, Beijing
    assert response.status_code == 200
    html = response.text
    assert "<title>信用工作指标 2026年10月 · 信用交通工作台</title>" in html
    assert 'name="month" value="2026-10" max="2026-11"' in html
    assert 'id="month-open"' not in html  # October has ended
    assert text_of(html, "preceding-month") == "上一月（2026年9月）"
    assert text_of(html, "following-month") == "下一月（2026年11月）"
    for pending in ("timeliness", "completeness", "lists", "measures", "ledger"):
        assert f'id="{pending}-pending"' in html
    assert 'id="own-authorities"' not in html  # the credit office sees every authority


async def test_the_current_month_is_shown_up_to_today_and_later_or_bad_months_refused(
    browser, staff
):
    current = await page_as(browser, staff["auditor"], "?month=2026-11")
    assert current.status_code == 200
    assert text_of(current.text, "month-open") == "2026年11月尚未结束，本月数据截至2026年11月20日。"
    assert 'id="following-month"' not in current.text
    earlier = await browser.get("/console/reports?month=2025-01")
    assert earlier.status_code == 200 and 'value="2025-01"' in earlier.text
    for month, message in (
        ("2026-12", "所选月份尚未开始，请选择本月或以前的月份。"),
        ("2026-13", "月份有误：请按“2026-11”的格式选择年月。"),
        ("2026/10", "月份有误：请按“2026-11”的格式选择年月。"),
        ("2026-10" * 50, "月份有误：请按“2026-11”的格式选择年月。"),
    ):
        refused = await browser.get("/console/reports", params={"month": month})
        assert refused.status_code == 422
        assert text_of(refused.text, "message") == message
        assert 'id="cases-heading"' not in refused.text  # no figures for a month not shown


async def test_open_and_overdue_cases_by_deciding_authority(
    browser, staff, role_headers, third_recorder, clock: FixedClock
):
    recorder = role_headers["recorder"]
    first = await repair_case(browser, recorder, 701, AUTHORITY_CODE)
    await repair_case(browser, third_recorder, 702, THIRD_AUTHORITY)
    # Tuesday 2026-12-08: the two filed on Friday 11-20 are two working days past their due
    # day (12-04); one filed now is not due yet.
    clock.moment += timedelta(days=18)
    last = await repair_case(browser, recorder, 703, OTHER_AUTHORITY_CODE)
    office = await listed(browser, role_headers["credit_office"], last["position"])
    assert sorted((c["overdue"], c["overdue_days"]) for c in office) == [
        (False, 0),
        (True, 2),
        (True, 2),
    ]

    # Most overdue first, then most open, then by code (…0001 before …0003).
    everyone = [
        (AUTHORITY_CODE, "1", "1"),
        (THIRD_AUTHORITY, "1", "1"),
        (OTHER_AUTHORITY_CODE, "1", "0"),
    ]
    for role in ("credit_office", "auditor"):
        html = (await page_as(browser, staff[role])).text
        assert table_rows(html, "open-cases-data") == everyone
        assert (
            text_of(html, "cases-summary")
            == "截至2026年12月8日，未办结案件 3 件，其中已超期 2 件。"
        )
        assert (
            '<svg xmlns="http://www.w3.org/2000/svg" class="chart-svg" id="open-cases-svg"' in html
        )
        assert (
            'role="img" aria-label="各认定机关未办结的信用修复和异议案件（截至2026年12月8日）'
            in html
        )

    # A recorder sees the cases its own authorities decide, not the third authority's.
    html = (await page_as(browser, staff["recorder"])).text
    mine = sorted([AUTHORITY_CODE, OTHER_AUTHORITY_CODE])
    assert text_of(html, "own-authorities") == f"仅含本单位作为认定机关的数据：{'、'.join(mine)}。"
    assert table_rows(html, "open-cases-data") == [
        row for row in everyone if row[0] != THIRD_AUTHORITY
    ]
    assert text_of(html, "cases-summary") == "截至2026年12月8日，未办结案件 2 件，其中已超期 1 件。"
    assert "本单位未办结的信用修复和异议案件" in html
    # The API's listing for a recorder's client with the same grants has the same two cases.
    own = await listed(browser, recorder, last["position"])
    assert sorted(c["case_number"] for c in own) == sorted(
        [first["case_number"], last["case_number"]]
    )


async def test_no_open_cases_is_said_in_the_chart_and_its_table(browser, staff):
    html = (await page_as(browser, staff["credit_office"])).text
    assert (
        text_of(html, "cases-summary") == "截至2026年11月20日，未办结案件 0 件，其中已超期 0 件。"
    )
    assert table_rows(html, "open-cases-data") == [("本期无数据",)]
    assert ">本期无数据</text>" in html
