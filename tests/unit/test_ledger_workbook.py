"""The monthly 台账 workbook, opened again with openpyxl and read cell by cell: the cover with the
month, agency, time, policy versions and each figure's definition; one sheet per figure with its
headings, numbers kept as numbers in their formats, dates as dates, text safe from formulas."""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal

import openpyxl
import pytest

from api.console.ledger_workbook import (
    DATE,
    PERCENT,
    WHOLE,
    Column,
    Cover,
    Figure,
    LedgerSheet,
    ledger_workbook,
)

COVER = Cover(
    title="2026年11月 信用交通工作台账",
    agency="郑州市交通运输局",
    period="2026年11月1日至2026年11月30日",
    generated_at="2026年12月1日 09:00",
    policy_versions=["2026-04", "2025-01"],
    figures=[
        Figure(
            "双公示及时率",
            "决定之日起 7 个工作日内上报的记录所占比例",
            "信用记录（决定日期、记录时间）",
        ),
        Figure("=危险指标", "+1", "@来源"),
    ],
)
TIMELINESS = LedgerSheet(
    name="及时率",
    columns=[
        Column("认定机关", width=30),
        Column("应报（条）", number_format=WHOLE),
        Column("及时率", number_format=PERCENT),
        Column("最晚决定日期"),
    ],
    rows=[
        ["郑州市交通运输综合执法支队", 1200, 0.75, date(2026, 11, 28)],
        ['=HYPERLINK("http://x")', 0, None, None],
        ["-开封", 3, Decimal("0.995"), date(2026, 11, 1)],
    ],
    notes=["统计期间：2026年11月1日至2026年11月30日"],
)


def opened(content: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(content))


def test_the_cover_names_the_month_the_agency_the_policy_and_each_figure():
    book = opened(ledger_workbook(COVER, [TIMELINESS]))
    assert book.sheetnames == ["封面", "及时率"]
    cover = book["封面"]
    assert cover["A1"].value == "2026年11月 信用交通工作台账"
    assert cover["A1"].font.bold
    assert [(cover.cell(r, 1).value, cover.cell(r, 2).value) for r in range(2, 6)] == [
        ("填报单位", "郑州市交通运输局"),
        ("统计期间", "2026年11月1日至2026年11月30日"),
        ("生成时间", "2026年12月1日 09:00"),
        ("适用政策版本", "2026-04、2025-01"),
    ]
    assert cover["A6"].value is None  # a blank line before the figures
    assert [c.value for c in cover[7]] == ["指标", "定义", "数据来源"]
    assert [c.value for c in cover[8]] == [
        "双公示及时率",
        "决定之日起 7 个工作日内上报的记录所占比例",
        "信用记录（决定日期、记录时间）",
    ]
    # Text that would start a formula is kept as text, quoted.
    assert [c.value for c in cover[9]] == ["'=危险指标", "'+1", "'@来源"]
    assert cover.max_row == 9


def test_a_figures_sheet_keeps_numbers_numbers_in_their_formats():
    sheet = opened(ledger_workbook(COVER, [TIMELINESS]))["及时率"]
    assert sheet["A1"].value == "统计期间：2026年11月1日至2026年11月30日"
    assert [c.value for c in sheet[2]] == ["认定机关", "应报（条）", "及时率", "最晚决定日期"]
    assert all(c.font.bold for c in sheet[2])
    assert sheet.freeze_panes == "A3"

    first = sheet[3]
    assert first[0].value == "郑州市交通运输综合执法支队"
    assert (first[1].value, first[1].number_format) == (1200, WHOLE)
    assert (first[2].value, first[2].number_format) == (0.75, PERCENT)
    assert first[3].value == datetime(2026, 11, 28)  # a date cell reads back as a datetime
    assert first[3].number_format == DATE

    second = sheet[4]
    assert second[0].value == '\'=HYPERLINK("http://x")'  # never a formula
    assert second[0].data_type == "s"
    assert (second[1].value, second[1].number_format) == (0, WHOLE)
    assert second[2].value is None and second[3].value is None

    third = sheet[5]
    assert third[0].value == "'-开封"
    assert third[2].value == pytest.approx(0.995)
    assert sheet.max_row == 5
    assert sheet.column_dimensions["A"].width == 30
    assert sheet.print_title_rows == "$2:$2"  # the headings on every printed page


def test_several_sheets_in_order_and_an_empty_one():
    empty = LedgerSheet("联合奖惩成效清单", [Column("主体"), Column("措施")], [])
    book = opened(ledger_workbook(COVER, [TIMELINESS, empty]))
    assert book.sheetnames == ["封面", "及时率", "联合奖惩成效清单"]
    sheet = book["联合奖惩成效清单"]
    assert [c.value for c in sheet[1]] == ["主体", "措施"]
    assert sheet.max_row == 1


@pytest.mark.parametrize(
    "name",
    ["", "a" * 32, "及时率/合格率", "名单[红]", "问题?", "'引号'", "封面", "及时率", "ABC"],
)
def test_a_sheet_name_excel_refuses_is_refused(name):
    other = LedgerSheet("abc", [Column("x")], [])
    with pytest.raises(ValueError):
        ledger_workbook(COVER, [TIMELINESS, other, LedgerSheet(name, [Column("x")], [])])


def test_a_31_character_name_is_taken():
    name = "信" * 31
    book = opened(ledger_workbook(COVER, [LedgerSheet(name, [Column("x")], [[1]])]))
    assert book.sheetnames == ["封面", name]


def test_a_row_that_does_not_fit_its_columns_and_a_bool_are_refused():
    with pytest.raises(ValueError, match="2 cells under 1 columns"):
        ledger_workbook(COVER, [LedgerSheet("x", [Column("a")], [[1, 2]])])
    with pytest.raises(TypeError, match="是/否"):
        ledger_workbook(COVER, [LedgerSheet("x", [Column("a")], [[True]])])
