"""双公示及时率 and 信用信息合格率 on the console's figures page, their rows (late and incomplete
records, each page writing the access log first), a recorder's share of them, their rate over
twelve months, and their sheets of the monthly 台账 read back with openpyxl; on SQLite and
PostgreSQL.

The records (2026: 25-27 September and 1-7 October are holidays, Saturday 10 October a working
day), as the API's figures test builds them (tests/api/test_figures.py), each recorded at noon
in Beijing:

- T1 penalty, A, subject S7, decided Wed 09-30 just before 国庆: its 7 working days are 10-08,
  10-09, 10-10, 10-12, 10-13, 10-14, 10-15, so due 10-15; recorded Fri 10-16: 1 working day late.
- T2 penalty, A, S8 (a person), decided 09-30, a warning without a fine; recorded Thu 10-15, the
  day it is due: on time.
- T3 licence, B, S7, decided Tue 09-29: due 10-14 (09-30 and six after the holiday); recorded
  Sat 10-17, a day off, so as on Mon 10-19: 3 working days late (10-15, 10-16, 10-19).
- T4 licence, A, S7, decided Fri 09-18, recorded Mon 09-21: on time.
- T5 penalty, A, S8, decided Tue 11-10, a warning; due 11-19, recorded Fri 11-20: 1 working day
  late.
- T6 licence, B, S7, decided 11-16, recorded 11-20: on time.
- T7 penalty, A, S7, decided 11-12, due 11-23, recorded 11-20: on time.

So September: A 3 decided, 2 on time (66.67 %), 1 late; B 1, 0 (0.00 %), 1; in all 4, 2, 50.00 %.
November: A 2, 1, 50.00 %; B 1, 1, 100.00 %; in all 3, 2, 66.67 %. Nothing in October.

Completeness is measured against the national standard's indicators (`national_indicators()`),
so the figures expected below are worked out from what each record fills, whatever columns the
standard names; the module's policy puts the threshold between a warning's share and a fined
penalty's, so that the warnings T2 and T5 fall short of it and the fined penalties reach it.

Today is Wednesday 2026-12-02 after the records are made."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from api.app import create_app
from api.console.report_details import NOT_OWN_RECORDS, REPORT_PURPOSE
from domain.completeness import Indicator, applicable
from domain.months import Month
from service.bootstrap import Services
from service.commanding.commands import RegisterSubject, record_command_adapter
from service.commanding.importing.columns import national_indicators
from service.policy.loader import DEFAULT_POLICY_PATH, load_policy
from service.reporting.monthly import MonthlyReports
from service.settings import Settings
from tests.api.test_console_reports import access_rows, links_in, page_as, table_rows, text_of
from tests.builders import (
    AUTHORITY_CODE,
    AUTHORITY_NAME,
    OTHER_AUTHORITY_CODE,
    enterprise,
    individual,
    licence,
    penalty,
)
from tests.console import Person, create_staff_and_recorder_b

pytestmark = pytest.mark.api
A, B = AUTHORITY_CODE, OTHER_AUTHORITY_CODE
A_LABEL, B_LABEL = f"{AUTHORITY_NAME}（{A}）", f"{AUTHORITY_NAME}（{B}）"
S7, S8 = enterprise(821), individual(822)
WARNING: dict[str, Any] = {"penalty_categories": ["警告"], "content": "警告", "fine_amount": None}
# name: subject, decided, recorded, body
RECORDS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "T1": ("S7", "2026-10-16", penalty("罚-T1", decision_date="2026-09-30")),
    "T2": ("S8", "2026-10-15", penalty("罚-T2", decision_date="2026-09-30", **WARNING)),
    "T3": ("S7", "2026-10-17", licence("许-T3", decision_date="2026-09-29", authority_code=B)),
    "T4": ("S7", "2026-09-21", licence("许-T4", decision_date="2026-09-18")),
    "T5": ("S8", "2026-11-20", penalty("罚-T5", decision_date="2026-11-10", **WARNING)),
    "T6": ("S7", "2026-11-20", licence("许-T6", decision_date="2026-11-16", authority_code=B)),
    "T7": ("S7", "2026-11-20", penalty("罚-T7", decision_date="2026-11-12")),
}  # fmt: skip
SUBJECTS = {"S7": S7, "S8": S8}


def on(clock, day: str) -> None:
    clock.moment = datetime.combine(date.fromisoformat(day), time(4), tzinfo=UTC)  # 12:00 北京


def build_records(services: Services, clock) -> dict[str, Any]:
    """The records above, each recorded on its day; subject and record ids by name. Ends on
    2026-12-02, as the other figures' sets do."""
    ids: dict[str, Any] = {}
    on(clock, "2026-09-18")
    for name, body in SUBJECTS.items():
        ids[name] = services.files.register(RegisterSubject(**body), recorded_by="t").subject_id
    for name, (subject, recorded, body) in sorted(RECORDS.items(), key=lambda r: r[1][1]):
        on(clock, recorded)
        command = record_command_adapter.validate_python(body)
        ids[name] = services.files.append(ids[subject], command, recorded_by="t").record_id
    on(clock, "2026-12-02")
    services.runner.catch_up()
    return ids


# What the standard asks of each record, worked out from the records themselves.
def lacking(name: str) -> list[str]:
    """The indicator columns record `name` leaves empty, in the standard's order."""
    subject, _, body = RECORDS[name]
    fields = SUBJECTS[subject]

    def filled(fills: str) -> bool:
        value = fields.get(fills[8:]) if fills.startswith("subject.") else body.get(fills)
        return value not in (None, "", [])

    return [i.column for i in indicators_of(name) if not filled(i.fills)]


def indicators_of(name: str) -> tuple[Indicator, ...]:
    """The indicators record `name` is measured against: its type's, those of its subject's kind
    (a legal representative is an organisation's only)."""
    subject, _, body = RECORDS[name]
    return applicable(national_indicators()[body["type"]], SUBJECTS[subject]["kind"])


def share(name: str) -> Decimal:
    total = len(indicators_of(name))
    return Decimal(total - len(lacking(name))) / total


# Between a warning's share (T2) and a fined penalty's (T1): T2 falls short, T1 reaches it.
THRESHOLD = ((share("T2") + share("T1")) / 2).quantize(Decimal("0.0001"))
TITLES = {i.column: i.title for found in national_indicators().values() for i in found}


def fill(names: list[str]) -> tuple[int, int]:
    """The indicator fields records `names` fill, and those the standard names for them."""
    expected = sum(len(indicators_of(n)) for n in names)
    return expected - sum(len(lacking(n)) for n in names), expected


def complete(name: str) -> bool:
    return share(name) >= THRESHOLD


def rate(part: int, whole: int) -> str:
    exact = Decimal(part * 100) / whole
    return f"{exact.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)}%"


def below_in_order(names: list[str]) -> list[str]:
    """The incomplete ones of `names`, as the rows list them: by authority, the emptiest first."""
    below = [n for n in names if not complete(n)]
    return sorted(below, key=lambda n: (RECORDS[n][2]["authority_code"], share(n)))


def most_missing(names: list[str]) -> str:
    counted = Counter(column for name in names for column in lacking(name))
    ranked = sorted(counted.items(), key=lambda item: (-item[1], item[0]))[:5]
    return "、".join(f"{column} {TITLES[column]}（{n}）" for column, n in ranked)


def with_threshold(settings: Settings, folder: Path) -> Settings:
    """The settings with the shipped policy but the completeness threshold above, in every
    version."""
    text = DEFAULT_POLICY_PATH.read_text()
    assert text.count("threshold = 0.60\n") == len(load_policy().versions)
    path = folder / "policy.toml"
    path.write_text(text.replace("threshold = 0.60\n", f"threshold = {THRESHOLD}\n"))
    return settings.model_copy(update={"policy_file": path})


@pytest.fixture
def settings(settings: Settings, tmp_path) -> Settings:
    return with_threshold(settings, tmp_path)


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


SEPTEMBER = "/console/reports?month=2026-09"
TWELVE_TO_SEPTEMBER = [Month(2025, m).chinese for m in (10, 11, 12)] + [
    Month(2026, m).chinese for m in range(1, 10)
]


# The figures page --------------------------------------------------------------------------
async def test_timeliness_by_deciding_authority_with_its_rate_over_twelve_months(
    browser, staff, services, clock
):
    ids = build_records(services, clock)
    html = (await page_as(browser, staff["credit_office"], SEPTEMBER)).text
    assert 'id="timeliness-pending"' not in html
    # decided, on time, rate, late
    assert table_rows(html, "timeliness-figures") == [
        (A_LABEL, "3", "2", "66.67%", "1"),
        (B_LABEL, "1", "0", "0.00%", "1"),
        ("合计", "4", "2", "50.00%", "2"),
    ]
    late_a = f"/console/reports/late?month=2026-09&authority={A}"
    late_b = f"/console/reports/late?month=2026-09&authority={B}"
    assert links_in(html, "timeliness-figures") == [
        late_a, late_a, late_b, late_b, "/console/reports/late?month=2026-09",
        "/console/reports/late?month=2026-09",
    ]  # fmt: skip
    assert text_of(html, "timeliness-summary") == (
        "2026年9月作出决定的行政许可、行政处罚信息 4 条，自决定之日起 7 个工作日内上报 2 条"
        "（及时率 50.00%，目标 100%），迟报 2 条。上报期限按政策版本 2026-36。"
    )
    assert table_rows(html, "late-by-authority-data") == [(A_LABEL, "1"), (B_LABEL, "1")]
    assert table_rows(html, "timeliness-trend-data") == [
        (month, "—") for month in TWELVE_TO_SEPTEMBER[:-1]
    ] + [("2026年9月", "50%")]
    assert "双公示及时率（2025年10月至2026年9月）" in html
    assert text_of(html, "timeliness-definition").startswith(
        "指标口径和依据 按认定机关统计决定日期在当月的行政许可、行政处罚信息"
    )
    november = (await browser.get("/console/reports")).text  # the last full month
    assert table_rows(november, "timeliness-figures")[-1] == ("合计", "3", "2", "66.67%", "1")
    trend = {month: shown for month, shown in table_rows(november, "timeliness-trend-data")}
    assert (trend["2026年9月"], trend["2026年10月"], trend["2026年11月"]) == ("50%", "—", "66.7%")
    # Figures name no subject: the page writes nothing to the access log.
    assert access_rows(services, ids["S7"]) == access_rows(services, ids["S8"]) == []


async def test_completeness_by_deciding_authority_and_the_fields_most_often_missing(
    browser, staff, services, clock
):
    build_records(services, clock)
    html = (await page_as(browser, staff["auditor"], SEPTEMBER)).text
    assert 'id="completeness-pending"' not in html
    of_a, of_b = ["T1", "T2", "T4"], ["T3"]

    def line(label: str, names: list[str]) -> tuple[str, ...]:
        kept = sum(complete(n) for n in names)
        return (
            label, str(len(names)), str(kept), rate(kept, len(names)), rate(*fill(names)),
            str(len(names) - kept), most_missing(names),
        )  # fmt: skip

    assert not complete("T2") and complete("T1")  # the threshold sits between them
    assert table_rows(html, "completeness-figures") == [
        line(A_LABEL, of_a),
        line(B_LABEL, of_b),
        line("合计", of_a + of_b),
    ]
    assert f"/console/reports/incomplete?month=2026-09&authority={A}" in links_in(
        html, "completeness-figures"
    )
    shown = f"{float(THRESHOLD) * 100:g}%"
    assert f"已填写的指标项达到 {shown} 的合格记录" in text_of(html, "completeness-summary")
    # 填报率 sums the fields, so it is no average of the records' shares (theirs differ here).
    filled, expected = fill(of_a + of_b)
    average = sum((share(n) for n in of_a + of_b), Decimal(0)) / 4 * 100
    assert rate(filled, expected) != f"{average.quantize(Decimal('0.01'), ROUND_HALF_UP)}%"
    assert text_of(html, "fill-summary") == (
        f"数据项填报率：这些信息应填写的指标项共 {expected} 项，已填写 {filled} 项"
        f"（填报率 {rate(filled, expected)}，目标 100%）。"
    )
    assert "本系统口径" in text_of(html, "fill-definition")
    counted = Counter(column for name in of_a + of_b for column in lacking(name))
    ranked = sorted(counted.items(), key=lambda item: (-item[1], item[0]))[:5]
    assert table_rows(html, "missing-fields-data") == [
        (f"{column} {TITLES[column]}", str(n)) for column, n in ranked
    ]
    incomplete_a = sum(not complete(n) for n in of_a)
    assert table_rows(html, "incomplete-by-authority-data") == [
        (A_LABEL, str(incomplete_a)),
        (B_LABEL, str(sum(not complete(n) for n in of_b))),
    ]
    # 合格率 and 填报率 over the months, against the 100 % target.
    assert "信用信息合格率和数据项填报率（2025年10月至2026年9月）" in html
    trend = {month: shown for month, *shown in table_rows(html, "completeness-trend-data")}

    def charted(part: int, whole: int) -> str:
        return f"{float(Decimal(part) / whole) * 100:.1f}".removesuffix(".0") + "%"

    kept = sum(complete(n) for n in of_a + of_b)
    assert trend["2026年9月"] == [charted(kept, 4), charted(filled, expected)]
    assert trend["2026年8月"] == ["—", "—"]


def test_the_rates_over_months_are_each_months_own_rates(services, clock):
    """The trends read the twelve months at once; each month's rate is the one that month's own
    figures give."""
    build_records(services, clock)
    reports = MonthlyReports(
        services.write_engine, services.case_queries, services.policy, services.clock.zone
    )
    for codes in (None, [B]):
        timeliness = reports.timeliness_rates(Month(2026, 11), codes)
        completeness = reports.completeness_rates(Month(2026, 11), codes)
        assert [r.month for r in timeliness] == [Month(2025, 12)] + [
            Month(2026, m) for m in range(1, 12)
        ]
        for trend, figure in ((timeliness, "timeliness"), (completeness, "completeness")):
            own = [getattr(reports.month(r.month, codes), figure).rate for r in trend]
            assert [r.rate for r in trend] == [
                None if p is None else float(p / 100) for p in own
            ], figure
        assert [r.rate for r in timeliness][-3:] == (
            [0.5, None, 0.6667] if codes is None else [0.0, None, 1.0]
        )
        # The 填报率 comes from the same query as the 合格率, each month its own figure's.
        rates, fills = reports.completeness_and_fill_rates(Month(2026, 11), codes)
        assert rates == completeness
        own_fill = [reports.month(r.month, codes).completeness.fill_rate for r in fills]
        assert [r.rate for r in fills] == [None if p is None else float(p / 100) for p in own_fill]
        november = ["T5", "T6", "T7"] if codes is None else ["T6"]
        assert fills[-1].rate == float(Decimal(rate(*fill(november))[:-1]) / 100)


# The rows behind them ----------------------------------------------------------------------
async def test_the_late_records_name_their_subjects_and_are_logged_first(
    browser, staff, services, clock
):
    ids = build_records(services, clock)
    html = (
        await page_as(
            browser, staff["credit_office"], f"/console/reports/late?month=2026-09&authority={A}"
        )
    ).text
    assert text_of(html, "late-whose") == f"认定机关：{AUTHORITY_NAME}（{A}）"
    assert text_of(html, "late-summary") == (
        "作出决定 3 条，自决定之日起 7 个工作日内上报 2 条（及时率 66.67%），迟报 1 条。"
        "上报期限按政策版本 2026-36。"
    )
    [row] = table_rows(html, "late-rows")
    assert row[0].startswith(f"{S7['name']} {S7['code'][:6]}")
    assert row[1:] == (
        "行政处罚", "罚-T1", AUTHORITY_NAME, "2026年9月30日", "2026年10月15日", "2026年10月16日",
        "1", "",
    )  # fmt: skip
    assert f'data-record="{ids["T1"]}"' in html
    assert "/console/audit/subjects/" not in html  # the credit office has no history page
    logged = ("page_report_late", REPORT_PURPOSE, "account:liu.yang")
    assert access_rows(services, ids["S7"]) == [logged]
    assert access_rows(services, ids["S8"]) == []  # T2 was on time: not shown

    everyone = (await browser.get("/console/reports/late?month=2026-09")).text
    assert text_of(everyone, "late-whose") == "全部认定机关"
    assert [(r[2], r[5], r[6], r[7]) for r in table_rows(everyone, "late-rows")] == [
        ("罚-T1", "2026年10月15日", "2026年10月16日", "1"),
        ("许-T3", "2026年10月14日", "2026年10月17日", "3"),  # a Saturday: as on Monday
    ]
    assert access_rows(services, ids["S7"]) == [logged, logged]  # one entry a page

    auditor = await page_as(browser, staff["auditor"], "/console/reports/late?month=2026-09")
    assert f'href="/console/audit/subjects/{ids["S7"]}"' in auditor.text


async def test_the_incomplete_records_name_the_fields_each_lacks_and_are_logged_first(
    browser, staff, services, clock
):
    ids = build_records(services, clock)
    html = (
        await page_as(browser, staff["credit_office"], "/console/reports/incomplete?month=2026-09")
    ).text
    below = below_in_order(["T1", "T2", "T3", "T4"])
    rows = table_rows(html, "incomplete-rows")
    assert [row[2] for row in rows] == [RECORDS[n][2]["source_ref"] for n in below]
    t2 = rows[[row[2] for row in rows].index("罚-T2")]
    total = len(indicators_of("T2"))
    filled = total - len(lacking("T2"))
    assert t2[0].startswith("王建国 410105") and "****" in t2[0]  # an ID number masked
    assert t2[1:6] == (
        "行政处罚", "罚-T2", A_LABEL, "2026年9月30日", f"{filled}/{total}（{rate(filled, total)}）",
    )  # fmt: skip
    assert t2[6] == " ".join(f"{column} {TITLES[column]}" for column in lacking("T2"))
    assert "CF_NR_FK" in lacking("T2")  # a warning has no fine
    logged = ("page_report_incomplete", REPORT_PURPOSE, "account:liu.yang")
    assert access_rows(services, ids["S8"]) == [logged]
    names = {RECORDS[n][0] for n in below}
    assert access_rows(services, ids["S7"]) == ([logged] if "S7" in names else [])


async def test_a_recorder_sees_its_own_authorities_rates_and_rows_only(
    browser, staff, services, clock
):
    ids = build_records(services, clock)
    html = (await page_as(browser, staff["recorder_b"], SEPTEMBER)).text
    assert table_rows(html, "timeliness-figures") == [
        (AUTHORITY_NAME, "1", "0", "0.00%", "1"),
        ("合计", "1", "0", "0.00%", "1"),
    ]
    assert [row[:2] for row in table_rows(html, "completeness-figures")] == [
        (AUTHORITY_NAME, "1"),
        ("合计", "1"),
    ]
    assert "本单位双公示及时率" in html
    own = (await browser.get("/console/reports/late?month=2026-09")).text
    assert [row[2] for row in table_rows(own, "late-rows")] == ["许-T3"]
    for path in ("late", "incomplete"):
        other = await browser.get(f"/console/reports/{path}?month=2026-09&authority={A}")
        assert other.status_code == 403
        assert text_of(other.text, "message") == NOT_OWN_RECORDS
    assert access_rows(services, ids["S8"]) == []  # A's T2 never shown


# The monthly 台账 ------------------------------------------------------------------------------
async def test_the_ledgers_timeliness_and_completeness_sheets_cell_by_cell(
    browser, staff, services, clock
):
    ids = build_records(services, clock)
    response = await page_as(
        browser, staff["credit_office"], "/console/reports/ledger.xlsx?month=2026-09"
    )
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames[:5] == ["封面", "双公示及时率", "迟报明细", "合格率", "不合格记录"]
    cover = book["封面"]
    assert [cover.cell(row, 1).value for row in (8, 9, 10)] == [
        "双公示及时率", "信用信息合格率", "数据项填报率",
    ]  # fmt: skip
    assert cover["C8"].value.startswith("《安阳市交通运输局信用体系建设2021年工作要点及台账》")
    assert "河交函〔2024〕338号" in cover["C9"].value

    timeliness = book["双公示及时率"]
    assert timeliness["A1"].value == (
        "双公示及时率：2026年9月作出决定的行政许可、行政处罚信息，自决定之日起 7 个工作日内"
        "上报为按期（政策版本 2026-36）。"
    )
    assert [c.value for c in timeliness[2]] == [
        "认定机关", "认定机关代码", "作出决定", "按期上报", "及时率", "迟报",
    ]  # fmt: skip
    assert [[c.value for c in row] for row in timeliness.iter_rows(min_row=3)] == [
        [A_LABEL, A, 3, 2, 0.6667, 1],
        [B_LABEL, B, 1, 0, 0, 1],
        ["全部认定机关", None, 4, 2, 0.5, 2],
    ]
    assert timeliness["E3"].number_format == "0.00%"

    late = book["迟报明细"]
    assert [[c.value for c in row] for row in late.iter_rows(min_row=3)] == [
        [A_LABEL, "行政处罚", "罚-T1", datetime(2026, 9, 30), datetime(2026, 10, 15),
         datetime(2026, 10, 16), 1, None, None],
        [B_LABEL, "行政许可", "许-T3", datetime(2026, 9, 29), datetime(2026, 10, 14),
         datetime(2026, 10, 17), 3, None, None],
    ]  # fmt: skip
    assert late["D3"].number_format == 'yyyy"年"m"月"d"日"'

    completeness = book["合格率"]
    of_a, of_b = ["T1", "T2", "T4"], ["T3"]

    def line(label: str, code: str | None, names: list[str]) -> list[Any]:
        kept = sum(complete(n) for n in names)
        fraction = float(Decimal(rate(kept, len(names))[:-1]) / 100)
        filled, expected = fill(names)
        fill_rate = float(Decimal(rate(filled, expected)[:-1]) / 100)
        return [
            label, code, len(names), kept, fraction, len(names) - kept, filled, expected,
            fill_rate, most_missing(names),
        ]  # fmt: skip

    assert [c.value for c in completeness[2]][4:9] == [
        "合格率", "不合格", "已填写指标项", "应填写指标项", "填报率",
    ]  # fmt: skip
    assert completeness["I3"].number_format == "0.00%"

    assert [[c.value for c in row] for row in completeness.iter_rows(min_row=3)] == [
        line(A_LABEL, A, of_a),
        line(B_LABEL, B, of_b),
        line("全部认定机关", None, of_a + of_b),
    ]

    incomplete = book["不合格记录"]
    below = below_in_order(["T1", "T2", "T3", "T4"])
    found = [[c.value for c in row] for row in incomplete.iter_rows(min_row=3)]
    assert [row[2] for row in found] == [RECORDS[n][2]["source_ref"] for n in below]
    t2 = found[[row[2] for row in found].index("罚-T2")]
    total = len(indicators_of("T2"))
    filled = total - len(lacking("T2"))
    assert t2 == [
        A_LABEL, "行政处罚", "罚-T2", datetime(2026, 9, 30), filled, total,
        float(Decimal(rate(filled, total)[:-1]) / 100),
        "、".join(f"{column} {TITLES[column]}" for column in lacking("T2")), None,
    ]  # fmt: skip
    # The late and incomplete sheets name records by decision number, no subject: the
    # workbook logs no read of S7 or S8.
    assert access_rows(services, ids["S7"]) == access_rows(services, ids["S8"]) == []
