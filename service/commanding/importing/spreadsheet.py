"""Cells for spreadsheets: every CSV the service hands out is written here, so that no cell a
user opens in Excel or WPS can start a formula (CSV injection; OWASP's advice, followed here)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

# A spreadsheet reads a cell starting with one of these as a formula (or a DDE command).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# UTF-8 with a byte-order mark: without it, Excel on a Chinese Windows reads the file as GBK.
CSV_ENCODING = "utf-8-sig"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"


def safe_cell(value: Any) -> str:
    """The value as cell text; text that would start a formula gets a leading single quote,
    so the spreadsheet shows it as text (a negative number such as -3 is shown as '-3)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def write_csv(out: TextIO, header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> None:
    """A header and rows, every cell made safe and quoted (so no cell spills into the next)."""
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow([safe_cell(cell) for cell in header])
    writer.writerows([safe_cell(cell) for cell in row] for row in rows)
