"""The credit office's monthly 台账 as an XLSX workbook: a cover sheet (封面) naming the month,
the agency, when it was made, the policy versions in force and what each figure means and where
it comes from; then one sheet per figure, with its column headings and rows.

Generic over the figures: each is handed in as a `LedgerSheet`. Text cells go through
`safe_cell` (openpyxl stores text starting with "=" as a formula); numbers stay numbers, so a
reader can add them up, shown by the column's number format (a rate is a fraction, shown by
`PERCENT` as 75.0%); a date is a date cell shown as 2026年11月30日."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from service.commanding.importing.spreadsheet import safe_cell

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
COVER = "封面"
PERCENT = "0.0%"  # a fraction: 0.75 shows as 75.0%
WHOLE = "#,##0"
DATE = 'yyyy"年"m"月"d"日"'
MAX_SHEET_NAME = 31  # Excel's limit
FORBIDDEN_IN_NAMES = frozenset("[]:*?/\\")

Cell = str | int | float | Decimal | date | None


@dataclass(frozen=True)
class Figure:
    """What the cover says of one figure: its name, what it counts, and where it comes from."""

    name: str
    definition: str
    source: str


@dataclass(frozen=True)
class Cover:
    title: str  # 2026年11月 信用交通工作台账
    agency: str
    period: str  # 2026年11月1日至2026年11月30日
    generated_at: str  # 2026年12月1日 09:00, in CREDIT_TIMEZONE
    policy_versions: Sequence[str]  # the ids of the policy versions in force during the period
    figures: Sequence[Figure]


@dataclass(frozen=True)
class Column:
    heading: str
    width: float = 16  # characters
    number_format: str | None = None  # PERCENT, WHOLE, DATE or any Excel format


@dataclass(frozen=True)
class LedgerSheet:
    name: str  # at most 31 characters, none of [ ] : * ? / \
    columns: Sequence[Column]
    rows: Sequence[Sequence[Cell]]
    notes: Sequence[str] = field(default_factory=tuple)  # lines above the table


def ledger_workbook(cover: Cover, sheets: Sequence[LedgerSheet]) -> bytes:
    """The workbook's bytes: the cover first, then each sheet in the order given."""
    _check_names(sheets)
    workbook = Workbook()
    first = workbook.active
    assert first is not None  # a new workbook has one sheet
    _write_cover(first, cover)
    for sheet in sheets:
        _write_sheet(workbook.create_sheet(sheet.name), sheet)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _write_cover(sheet: Worksheet, cover: Cover) -> None:
    sheet.title = COVER
    sheet.append([safe_cell(cover.title)])
    sheet["A1"].font = Font(bold=True, size=14)
    for label, value in (
        ("填报单位", cover.agency),
        ("统计期间", cover.period),
        ("生成时间", cover.generated_at),
        ("适用政策版本", "、".join(cover.policy_versions)),
    ):
        sheet.append([label, safe_cell(value)])
        sheet.cell(sheet.max_row, 1).font = Font(bold=True)
    sheet.append([])
    sheet.append(["指标", "定义", "数据来源"])
    header_row = sheet.max_row
    for heading in sheet[header_row]:
        heading.font = Font(bold=True)
    for figure in cover.figures:
        sheet.append(
            [safe_cell(figure.name), safe_cell(figure.definition), safe_cell(figure.source)]
        )
    for letter, width in (("A", 22), ("B", 60), ("C", 40)):
        sheet.column_dimensions[letter].width = width
    for line in sheet.iter_rows(min_row=2):
        for cell in line:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    _print_setup(sheet, header_row)


def _write_sheet(sheet: Worksheet, ledger: LedgerSheet) -> None:
    for note in ledger.notes:
        sheet.append([safe_cell(note)])
    sheet.append([safe_cell(column.heading) for column in ledger.columns])
    header_row = sheet.max_row
    for heading in sheet[header_row]:
        heading.font = Font(bold=True)
        heading.alignment = Alignment(wrap_text=True, vertical="top")
    for row in ledger.rows:
        if len(row) != len(ledger.columns):
            raise ValueError(
                f"{ledger.name}: a row of {len(row)} cells under {len(ledger.columns)} columns"
            )
        sheet.append([_value(cell) for cell in row])
        for index, column in enumerate(ledger.columns, start=1):
            cell = sheet.cell(sheet.max_row, index)
            if column.number_format is not None and cell.value is not None:
                cell.number_format = column.number_format
            elif isinstance(cell.value, date | datetime):
                cell.number_format = DATE
    for index, column in enumerate(ledger.columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    sheet.freeze_panes = f"A{header_row + 1}"  # the column headings stay in view
    _print_setup(sheet, header_row)


def _value(cell: Cell) -> Cell:
    if isinstance(cell, bool):  # a bool is an int to Python, not a figure to a reader
        raise TypeError("write a yes or no as text (是/否), not as a bool")
    return safe_cell(cell) if isinstance(cell, str) else cell


def _print_setup(sheet: Worksheet, header_row: int) -> None:
    """Printed on A4 across, as wide as a page, the headings on every page."""
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.orientation = sheet.ORIENTATION_LANDSCAPE
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    sheet.print_title_rows = f"{header_row}:{header_row}"


def _check_names(sheets: Sequence[LedgerSheet]) -> None:
    seen = {COVER}
    for sheet in sheets:
        name = sheet.name
        if not name or len(name) > MAX_SHEET_NAME or FORBIDDEN_IN_NAMES & set(name):
            raise ValueError(
                f"a sheet name is 1 to {MAX_SHEET_NAME} characters without [ ] : * ? / \\: {name!r}"
            )
        if name.startswith("'") or name.endswith("'"):
            raise ValueError(f"a sheet name neither starts nor ends with a quote: {name!r}")
        if name.casefold() in {s.casefold() for s in seen}:
            raise ValueError(f"two sheets named {name!r} (Excel ignores case)")
        seen.add(name)
