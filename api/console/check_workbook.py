"""A batch check as an XLSX workbook: the head of the check (when, who, why, the log position)
and one row per bidder, as the batch page shows them. Every text cell goes through
`safe_cell`, since openpyxl stores a string that starts with "=" as a formula."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from api.console.check_views import BidderRow
from service.commanding.importing.spreadsheet import safe_cell

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TITLE = "投标人信用核查表"
COLUMNS = (
    ("行号", 8),
    ("名称", 36),
    ("代码", 22),
    ("信用评价等级", 36),
    ("名单", 30),
    ("已公示严重失信记录（条）", 14),
    ("黑名单", 10),
    ("严重失信记录", 12),
    ("核查结果", 12),
)


def batch_workbook(head: dict[str, str], rows: list[BidderRow]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None  # a new workbook has one sheet
    sheet.title = "核查结果"
    sheet.append([TITLE])
    sheet["A1"].font = Font(bold=True, size=14)
    for label, value in (
        ("核查时间", head["checked_at"]),
        ("核查人", head["person"]),
        ("核查单位", f"{head['agency']}（{head['agency_code']}）"),
        ("核查事由", head["purpose"]),
        ("依据数据", head["position"]),
        ("结果汇总", head["totals"]),
    ):
        sheet.append([label, safe_cell(value)])
    sheet.append([])
    sheet.append([label for label, _ in COLUMNS])
    header_row = sheet.max_row
    for heading in sheet[header_row]:
        heading.font = Font(bold=True)
    for row in rows:
        sheet.append(_cells(row))
    for index, (_, width) in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    for line in sheet.iter_rows(min_row=header_row):
        for cell in line:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = f"A{header_row + 1}"  # the column headings stay in view
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _cells(row: BidderRow) -> list[Any]:
    if row.problem:
        return [row.line, "", safe_cell(row.code), "", "", None, "", "", row.problem]
    result = "查得" if row.repeats is None else f"查得（与第 {row.repeats} 行相同）"
    return [
        row.line,
        safe_cell(row.name),
        safe_cell(row.code),
        safe_cell(row.grades),
        safe_cell(row.lists),
        row.serious_published,
        "是" if row.black_listed else "否",
        "有" if row.serious_records else "无",
        result,
    ]
