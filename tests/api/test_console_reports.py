"""The credit office's figures pages (信用工作指标) through the ASGI app, on SQLite and PostgreSQL:
the month shown and refused; the case figures by deciding authority with their rate over twelve
months, on the case set of tests/api/test_case_reports.py; the list figures, the 联合奖惩成效清单
and the overload list on the file of tests/api/test_list_reports.py; the rows behind each, the
access log they write, what a recorder sees, and the monthly 台账 read back with openpyxl.

Today is Wednesday 2026-12-02 (both sets end there), so the page opens on November 2026."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from datetime import datetime

import httpx
import pytest
from openpyxl import load_workbook

from api.app import create_app
from api.console.report_details import NOT_OWN_AUTHORITY, REPORT_PURPOSE
from api.console.report_ledger import LEDGER_PURPOSE
from domain.months import Month
from service.bootstrap import Services
from service.reporting.monthly import MonthlyReports
from tests.api.test_case_reports import build_cases
from tests.api.test_list_reports import build_file
from tests.builders import AUTHORITY_CODE, AUTHORITY_NAME, OTHER_AUTHORITY_CODE
from tests.console import AGENCY, Person, create_staff_and_recorder_b, sign_in

pytestmark = pytest.mark.api
A, B = AUTHORITY_CODE, OTHER_AUTHORITY_CODE
# Both test authorities have the same name, so the pages name each with its code.
A_LABEL, B_LABEL = f"{AUTHORITY_NAME}（{A}）", f"{AUTHORITY_NAME}（{B}）"
ELEVEN_MONTHS = ["2025年12月"] + [f"2026年{m}月" for m in range(1, 11)]  # before November


@pytest.fixture
async def browser(settings, services) -> AsyncIterator[httpx.AsyncClient]:
    """A browser without JavaScript, over HTTPS (the console's cookies are Secure)."""
    app = create_app(settings, services=services)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://credit.test") as http:
            yield http


@pytest.fixture
def staff(services: Services) -> dict[str, Person]:
    """One account per role, and a recorder deciding for authority B only."""
    return create_staff_and_recorder_b(services)


async def page_as(browser: httpx.AsyncClient, person: Person, path: str) -> httpx.Response:
    browser.cookies.clear()
    signed = await sign_in(browser, person.name, person.password)
    assert signed.status_code == 303, signed.text
    return await browser.get(path)


def text_of(html: str, element_id: str) -> str:
    found = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', html, re.S)
    assert found, f"no #{element_id}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(2))).strip()


def table_rows(html: str, table_id: str) -> list[tuple[str, ...]]:
    """A table's body, row by row, each cell as its text."""
    found = re.search(rf'<table[^>]*id="{table_id}"[^>]*>(.*?)</table>', html, re.S)
    assert found, f"no #{table_id}"
    body = re.search(r"<tbody>(.*?)</tbody>", found.group(1), re.S)
    assert body
    return [
        tuple(
            re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", cell)).strip()
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        )
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body.group(1), re.S)
    ]


def links_in(html: str, table_id: str) -> list[str]:
    found = re.search(rf'<table[^>]*id="{table_id}"[^>]*>(.*?)</table>', html, re.S)
    assert found, f"no #{table_id}"
    return [href.replace("&amp;", "&") for href in re.findall(r'href="([^"]+)"', found.group(1))]


def access_rows(services: Services, subject_id) -> list[tuple[str, str, str]]:
    return [
        (e["action"], e["purpose"], e["client_id"])
        for e in services.access_log.for_subject(subject_id, after_seq=None, limit=50)
    ]


# The month ------------------------------------------------------------------------------------
async def test_the_page_shows_the_last_full_month_by_default(browser, staff):
    response = await page_as(browser, staff["credit_office"], "/console/reports")
    assert response.status_code == 200  # today: 2026-11-20, Beijing
    html = response.text
    assert "<title>信用工作指标 2026年10月 · 信用交通工作台</title>" in html
    assert 'name="month" value="2026-10" max="2026-11"' in html
    assert 'id="month-open"' not in html  # October has ended
    assert text_of(html, "preceding-month") == "上一月（2026年9月）"
    assert text_of(html, "following-month") == "下一月（2026年11月）"
    for built in ("timeliness", "completeness"):  # no longer placeholders
        assert f'id="{built}-pending"' not in html
        assert table_rows(html, f"{built}-figures")[-1][:4] == ("合计", "0", "0", "—")
    assert 'id="own-authorities"' not in html  # the credit office sees every authority
    assert table_rows(html, "case-figures") == [("合计", "0", "0", "0", "—", "0", "—")]
    assert (
        text_of(html, "ledger-download") == "下载2026年10月工作台账"
        and 'href="/console/reports/ledger.xlsx?month=2026-10"' in html
    )


async def test_the_current_month_is_shown_up_to_today_and_later_or_bad_months_refused(
    browser, staff
):
    current = await page_as(browser, staff["auditor"], "/console/reports?month=2026-11")
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
        for path in (
            "", "/late", "/incomplete", "/cases", "/joint-measures", "/overload", "/lists",
            "/ledger.xlsx",
        ):  # fmt: skip
            refused = await browser.get(f"/console/reports{path}", params={"month": month})
            assert refused.status_code == 422, path
            assert text_of(refused.text, "message") == message
            assert 'id="cases-heading"' not in refused.text  # no figures for a month not shown


# Cases ----------------------------------------------------------------------------------------
async def test_case_figures_by_deciding_authority_with_the_rate_against_its_target(
    browser, staff, services, clock
):
    build_cases(services, clock)
    html = (await page_as(browser, staff["credit_office"], "/console/reports")).text
    assert 'value="2026-11"' in html
    # filed, decided, within deadline, rate, overdue now, median working days (see the set)
    assert table_rows(html, "case-figures") == [
        (A_LABEL, "2", "3", "1", "33.3%", "1", "6"),
        (B_LABEL, "2", "1", "1", "100%", "1", "13"),
        ("合计", "4", "4", "2", "50%", "2", "8.5"),
    ]
    assert links_in(html, "case-figures") == [
        f"/console/reports/cases?month=2026-11&authority={A}",
        f"/console/reports/cases?month=2026-11&authority={B}",
        "/console/reports/cases?month=2026-11",
    ]
    assert text_of(html, "cases-counted-on").startswith(
        "“当前超期”为截至2026年12月2日未办结且已超过办理期限的案件"
    )
    assert table_rows(html, "case-decisions-data") == [(A_LABEL, "3", "1"), (B_LABEL, "1", "1")]
    # Nothing was decided before November: no rate (a dash), never a zero.
    assert table_rows(html, "case-rate-trend-data") == [(month, "—") for month in ELEVEN_MONTHS] + [
        ("2026年11月", "50%")
    ]
    assert "按期办结率（2025年12月至2026年11月）" in html
    assert 'class="target"' in html and "目标 100%" in html
    # The old chart of today's open cases is gone: "当前超期" in the table is the same figure.
    assert 'id="open-cases"' not in html
    assert text_of(html, "cases-definition").startswith(
        "指标口径和依据 按认定机关（谁认定、谁修复）统计"
    )


async def test_the_cases_behind_an_authoritys_figures(browser, staff, services, clock):
    number = build_cases(services, clock)
    html = (
        await page_as(
            browser, staff["credit_office"], f"/console/reports/cases?month=2026-11&authority={A}"
        )
    ).text
    # One authority shown: named without its code in the table, with it above.
    assert text_of(html, "cases-whose") == f"认定机关：{AUTHORITY_NAME}（{A}）"
    assert text_of(html, "cases-summary") == (
        "当月提交 2 件，办结 3 件，其中按期办结 1 件（按期办结率 33.3%）；"
        "截至2026年12月2日超期未办结 1 件；办结用时中位数 6 个工作日。"
    )
    rows = table_rows(html, "case-rows")
    assert [row[0] for row in rows] == [number[n] for n in ("O2", "R3", "R1", "R2")]
    assert rows[0][1:] == (
        "异议", "已提交，待受理", AUTHORITY_NAME, "2026年10月12日", "2026年11月1日", "", "", "", "",
        "31", "当前超期",
    )  # fmt: skip
    assert rows[1][1:] == (
        "信用修复", "已通过", AUTHORITY_NAME, "2026年10月20日", "2026年10月23日", "2026年11月4日",
        "修复通过", "否", "11", "", "当月办结（超期）",
    )  # fmt: skip
    assert rows[2][-1] == "当月提交、当月办结（按期）"
    everyone = (await browser.get("/console/reports/cases?month=2026-11")).text
    assert text_of(everyone, "cases-whose") == "全部认定机关"
    assert len(table_rows(everyone, "case-rows")) == 6  # R5 neither in November nor overdue


async def test_a_recorder_sees_its_own_authorities_cases_only(browser, staff, services, clock):
    number = build_cases(services, clock)
    html = (await page_as(browser, staff["recorder_b"], "/console/reports")).text
    assert text_of(html, "own-authorities") == f"仅含本单位作为认定机关的数据：{B}。"
    # One authority shown: named without its code.
    assert table_rows(html, "case-figures") == [
        (AUTHORITY_NAME, "2", "1", "1", "100%", "1", "13"),
        ("合计", "2", "1", "1", "100%", "1", "13"),
    ]
    assert table_rows(html, "case-rate-trend-data")[-1] == ("2026年11月", "100%")
    assert "本单位信用修复和异议案件按期办结率" in html
    own = (await browser.get("/console/reports/cases?month=2026-11")).text
    assert [row[0] for row in table_rows(own, "case-rows")] == [number["O1"], number["R4"]]
    other = await browser.get(f"/console/reports/cases?month=2026-11&authority={A}")
    assert other.status_code == 403
    assert text_of(other.text, "message") == NOT_OWN_AUTHORITY


# Lists, the 联合奖惩成效清单 and the overload list ----------------------------------------------
async def test_list_figures_by_region_and_sector_and_the_monthly_lists_counts(
    browser, staff, services, clock
):
    ids = build_file(services, clock)
    html = (await page_as(browser, staff["credit_office"], "/console/reports")).text
    # at the end, entered, exited (see the file)
    assert table_rows(html, "list-figures") == [
        ("红名单", "0", "0", "1"),
        ("黑名单", "2", "2", "1"),
        ("重点关注名单", "1", "1", "1"),
    ]
    assert links_in(html, "list-figures")[3:6] == [
        "/console/reports/lists?month=2026-11&list=black#members",
        "/console/reports/lists?month=2026-11&list=black#entered",
        "/console/reports/lists?month=2026-11&list=black#exited",
    ]
    # S1, S2 (black) and S4 (watch), all in 郑州 (410100); S3 left in November.
    # Named in the chart, named beside its code in the table.
    assert table_rows(html, "lists-by-region-data") == [("郑州市", "0", "2", "1", "3")]
    assert table_rows(html, "region-figures") == [("410100 郑州市", "0", "2", "1")]
    assert links_in(html, "region-figures") == [
        "/console/reports/lists?month=2026-11&list=black&region=410100#members",
        "/console/reports/lists?month=2026-11&list=watch&region=410100#members",
    ]
    assert table_rows(html, "lists-by-sector-data") == [
        ("公路建设", "0", "1", "0", "1"),  # S2
        ("道路运输", "0", "2", "1", "3"),
    ]
    assert text_of(html, "measures-summary") == (
        "2026年11月实施联合奖惩措施 2 项：联合激励 1 项，联合惩戒 1 项。"
    )
    assert 'href="/console/reports/joint-measures?month=2026-11"' in html
    assert text_of(html, "overload-summary") == "2026年11月列入 2 个，移出 1 个，月末在列 1 个。"
    assert 'href="/console/reports/overload?month=2026-11"' in html
    # Counts name no subject: the page writes nothing to the access log.
    for subject in ("S1", "S2", "S3", "S4"):
        assert access_rows(services, ids[subject]) == []


async def test_a_lists_rows_by_region_are_logged_before_they_are_shown(
    browser, staff, services, clock
):
    ids = build_file(services, clock)
    html = (
        await page_as(
            browser, staff["credit_office"], "/console/reports/lists?month=2026-11&list=black"
        )
    ).text
    assert text_of(html, "lists-filter") == "黑名单：月末在列 2 个，当月列入 2 个，当月移出 1 个。"
    members = table_rows(html, "members-rows")
    assert [(row[0].split(" ")[0], row[1], row[3]) for row in members] == [
        ("郑州宏达道路运输有限公司901", "410105 金水区", "2026年10月15日"),
        ("郑州宏达道路运输有限公司902", "410102 中原区", "2026年11月10日"),
    ]
    exited = table_rows(html, "exited-rows")
    assert [(row[4], row[5]) for row in exited] == [
        ("2026年11月25日", "所依据的记录已信用修复，失效")
    ]
    mine = ("page_report_lists", REPORT_PURPOSE, "account:liu.yang")
    for subject in ("S1", "S2", "S3"):
        assert access_rows(services, ids[subject]) == [mine]
    assert access_rows(services, ids["S4"]) == []  # on the watch list, not shown here

    anyang = (
        await browser.get("/console/reports/lists?month=2026-11&list=black&region=410500")
    ).text
    assert text_of(anyang, "lists-filter") == (
        "黑名单，地区 410500 安阳市：月末在列 0 个，当月列入 1 个，当月移出 1 个。"
    )
    assert 'id="members-none"' in anyang
    assert access_rows(services, ids["S1"]) == [mine]  # not shown again, not logged again
    assert access_rows(services, ids["S3"]) == [mine, mine]

    for query, message in (
        ("", "请选择名单：红名单、黑名单或重点关注名单。"),
        ("&list=black&region=4101", "地区有误：请填写 6 位行政区划代码，如 410100。"),
        ("&list=black&sector=道路", "行业有误：请从列表中选择。"),
    ):
        refused = await browser.get(f"/console/reports/lists?month=2026-11{query}")
        assert refused.status_code == 422
        assert text_of(refused.text, "message") == message
    assert access_rows(services, ids["S3"]) == [mine, mine]


async def test_the_joint_measure_list_and_the_overload_list_name_their_subjects_logged(
    browser, staff, services, clock
):
    ids = build_file(services, clock)
    html = (
        await page_as(browser, staff["auditor"], "/console/reports/joint-measures?month=2026-11")
    ).text
    assert text_of(html, "measures-summary") == "共 2 项：联合激励 1 项，联合惩戒 1 项。"
    rows = table_rows(html, "measure-rows")
    assert [row[1:] for row in rows] == [
        ("联合激励", "行政审批绿色通道", "河南省公共资源交易中心", "2026年11月3日",
         "依据严重失信主体名单限制其投标资格", AUTHORITY_NAME, "联-2"),
        ("联合惩戒", "限制参与公路工程招标投标", "河南省公共资源交易中心", "2026年11月12日",
         "依据严重失信主体名单限制其投标资格", AUTHORITY_NAME, "联-1"),
    ]  # fmt: skip
    assert rows[0][0].startswith("王建国 410105")  # an ID number masked
    assert "****" in rows[0][0]
    logged = ("page_report_joint_measures", REPORT_PURPOSE, "account:zhao.lei")
    assert access_rows(services, ids["S4"]) == [logged]
    assert access_rows(services, ids["S2"]) == [logged]
    assert access_rows(services, ids["S1"]) == []  # J3 was in October

    overload = (await browser.get("/console/reports/overload?month=2026-11")).text
    assert text_of(overload, "overload-summary") == "列入 2 个，移出 1 个，月末在列 1 个。"
    entered = table_rows(overload, "entered-rows")
    assert [row[-3] for row in entered] == [
        "认定依据写明该名单",
        "所依据的记录为超限超载违法行为：超限运输",
    ]
    assert [row[3] for row in table_rows(overload, "exited-rows")] == [
        "2026年11月25日（所依据的记录已信用修复，失效）"
    ]
    assert len(table_rows(overload, "at-end-rows")) == 1
    by_overload = ("page_report_overload", REPORT_PURPOSE, "account:zhao.lei")
    assert access_rows(services, ids["S3"]) == [by_overload]
    assert access_rows(services, ids["S2"]) == [logged, by_overload]


async def test_a_recorder_sees_the_entries_and_measures_its_authorities_recorded(
    browser, staff, services, clock
):
    ids = build_file(services, clock)
    html = (await page_as(browser, staff["recorder_b"], "/console/reports")).text
    assert table_rows(html, "list-figures") == [
        ("红名单", "0", "0", "0"),
        ("黑名单", "0", "0", "0"),
        ("重点关注名单", "1", "1", "0"),  # E6, decided by B
    ]
    assert text_of(html, "measures-summary").startswith("2026年11月实施联合奖惩措施 1 项")
    measures = (await browser.get("/console/reports/joint-measures?month=2026-11")).text
    assert [row[-1] for row in table_rows(measures, "measure-rows")] == ["联-2"]
    assert access_rows(services, ids["S2"]) == []
    watch = (await browser.get("/console/reports/lists?month=2026-11&list=watch")).text
    assert len(table_rows(watch, "members-rows")) == 1


# The monthly 台账 ------------------------------------------------------------------------------
async def test_the_monthly_ledger_read_back_cell_by_cell(browser, staff, services, clock):
    ids = build_file(services, clock)
    number = build_cases(services, clock)  # both end on 2026-12-02, 12:00 in Beijing
    response = await page_as(
        browser, staff["credit_office"], "/console/reports/ledger.xlsx?month=2026-11"
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert "credit-ledger-2026-11.xlsx" in response.headers["content-disposition"]
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == [
        "封面", "双公示及时率", "迟报明细", "合格率", "不合格记录", "案件办理时限", "案件明细",
        "名单情况", "联合奖惩成效清单", "超限超载失信当事人名单",
    ]  # fmt: skip

    cover = book["封面"]
    assert [[c.value for c in row] for row in cover.iter_rows(max_row=5, max_col=2)] == [
        ["2026年11月 信用交通工作台账", None],
        ["填报单位", AGENCY],
        ["统计期间", "2026年11月1日至2026年11月30日"],
        ["生成时间", "2026年12月2日 12:00"],
        ["适用政策版本", "2026-36"],
    ]
    assert [cover.cell(row, 1).value for row in range(7, 15)] == [
        "指标",
        "双公示及时率",
        "信用信息合格率",
        "数据项填报率",
        "信用修复和异议案件办理时限",
        "红名单、黑名单和重点关注名单",
        "联合奖惩成效清单",
        "严重违法超限超载运输失信当事人名单",
    ]
    assert "本系统口径" in cover["C10"].value  # the notice names 填报率 but does not define it
    assert cover["B13"].value.startswith("当月实施的每一项联合激励或联合惩戒措施")
    assert "每月报送联合奖惩成效清单" in cover["C13"].value

    # The file's repair of C3 (authority A: filed 11-20, accepted, approved 11-25, 3 working
    # days, in time) counts with the case set's: A's repairs are R1, R2, R3 and it.
    cases = book["案件办理时限"]
    assert cases["A3"].value == "认定机关" and cases["I3"].value == "办结用时中位数（工作日）"
    assert [c.value for c in cases[4]] == [A_LABEL, A, "信用修复", 3, 4, 2, 0.5, 0, 4.5]
    assert [c.value for c in cases[5]] == [A_LABEL, A, "异议", 0, 0, 0, None, 1, None]
    assert [c.value for c in cases[6]] == [A_LABEL, A, "合计", 3, 4, 2, 0.5, 1, 4.5]
    assert [c.value for c in cases[8]] == [B_LABEL, B, "异议", 1, 1, 1, 1, 0, 13]
    assert [c.value for c in cases[12]] == ["全部认定机关", None, "合计", 5, 5, 3, 0.6, 2, 6]
    assert cases["G4"].number_format == "0.0%"
    assert cases.max_row == 12

    rows = book["案件明细"]
    assert [rows.cell(r, 1).value for r in range(4, 10)] == [
        number[n] for n in ("O2", "R3", "R1", "R2", "O1", "R4")
    ]
    assert rows.max_row == 10  # and C3's repair, filed last
    assert [c.value for c in rows[5]][4:] == [
        datetime(2026, 10, 20), datetime(2026, 10, 23), datetime(2026, 11, 4), "修复通过", "否",
        11, None, "当月办结（超期）",
    ]  # fmt: skip
    assert rows["E5"].number_format == 'yyyy"年"m"月"d"日"'

    lists = book["名单情况"]
    assert [c.value for c in lists[2]] == [
        "名单", "分列", "地区或行业", "月末在列主体", "当月列入", "当月移出",
    ]  # fmt: skip
    black = [
        [c.value for c in row] for row in lists.iter_rows(min_row=3) if row[0].value == "黑名单"
    ]
    assert black == [
        ["黑名单", "合计", None, 2, 2, 1],
        ["黑名单", "地区", "410100 郑州市", 2, 1, 0],
        ["黑名单", "地区", "410500 安阳市", 0, 1, 1],
        ["黑名单", "行业", "公路建设", 1, 1, 0],
        ["黑名单", "行业", "治理超限超载", 0, 1, 1],
        ["黑名单", "行业", "道路运输", 2, 2, 1],
    ]

    measures = book["联合奖惩成效清单"]
    assert measures["A1"].value == "联合奖惩成效清单：共 2 项，联合激励 1 项，联合惩戒 1 项。"
    assert [c.value for c in measures[3]][2:] == [
        "联合激励", "行政审批绿色通道", "河南省公共资源交易中心", datetime(2026, 11, 3),
        "依据严重失信主体名单限制其投标资格", AUTHORITY_NAME, "联-2",
    ]  # fmt: skip
    assert measures.max_row == 4

    overload = book["超限超载失信当事人名单"]
    assert [
        (row[0].value, row[4].value, row[6].value, row[10].value, row[11].value)
        for row in overload.iter_rows(min_row=3)
    ] == [
        ("当月列入", datetime(2026, 11, 10), None, "认定依据写明该名单", None),
        ("当月列入", datetime(2026, 11, 12), "所依据的记录已信用修复，失效",
         "所依据的记录为超限超载违法行为", "超限运输"),  # entered and left in November
        ("当月移出", datetime(2026, 11, 12), "所依据的记录已信用修复，失效",
         "所依据的记录为超限超载违法行为", "超限运输"),
        ("月末在列", datetime(2026, 11, 10), None, "认定依据写明该名单", None),
    ]  # fmt: skip

    # The workbook names the subjects of both lists: each written to its access log once.
    by_ledger = ("report_ledger", LEDGER_PURPOSE, "account:liu.yang")
    for subject in ("S2", "S3", "S4"):
        assert access_rows(services, ids[subject]) == [by_ledger]
    assert access_rows(services, ids["S1"]) == []


async def test_a_recorders_ledger_holds_its_own_authorities_figures(
    browser, staff, services, clock
):
    build_cases(services, clock)
    response = await page_as(
        browser, staff["recorder_b"], "/console/reports/ledger.xlsx?month=2026-11"
    )
    book = load_workbook(io.BytesIO(response.content))
    assert book["封面"]["B2"].value == AGENCY
    cases = book["案件办理时限"]
    assert [cases.cell(r, 2).value for r in range(4, cases.max_row + 1)] == [
        B,
        B,
        B,
        None,
        None,
        None,
    ]
    assert [c.value for c in cases[9]] == ["全部认定机关", None, "合计", 2, 1, 1, 1, 1, 13]


def test_the_rate_over_months_is_each_months_own_rate(services, clock):
    """The trend reads the twelve months at once; each month's rate is the one that month's own
    figures give."""
    build_cases(services, clock)
    reports = MonthlyReports(
        services.write_engine, services.case_queries, services.policy, services.clock.zone
    )
    for codes in (None, [B]):
        rates = reports.case_rates(Month(2026, 12), codes)
        assert [r.month for r in rates] == [Month(2026, m) for m in range(1, 13)]
        assert [r.rate for r in rates] == [
            next(
                c for c in reports.month(r.month, codes).cases.total if c.kind == "all"
            ).within_deadline_rate
            for r in rates
        ]
        assert rates[-2].rate == (0.5 if codes is None else 1.0)
