"""A list of codes to check at once (a bid opening's bidders): pasted, one a line, or a CSV or
XLSX file with the codes in its first column. Each code keeps the line it was on, so that a
message can say which line is wrong; blank lines are skipped but counted."""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

from service.commanding.importing.decoding import UnreadRecord, csv_rows, xlsx_rows
from service.commanding.importing.limits import ImportFileError, ImportLimits

_ZIP_MAGIC = b"PK\x03\x04"  # an XLSX workbook is a zip archive
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # a legacy .xls workbook
# A code list is small: a file of more rows than this is not one (and is not read to its end).
MAX_FILE_ROWS = 5_000


@dataclass(frozen=True)
class CodeLine:
    line: int  # the line of the text, or the row of the file (its header is row 1)
    code: str  # as written, full-width characters folded (NFKC) and trimmed


class CodeListError(ValueError):
    """The list as a whole cannot be read; the message, in Chinese, says why."""


def codes_from_text(text: str) -> list[CodeLine]:
    """One code a line; blank lines are skipped, and counted."""
    return [
        CodeLine(number, code)
        for number, raw in enumerate(text.splitlines(), start=1)
        if (code := _cleaned(raw))
    ]


def codes_from_file(data: bytes, filename: str, max_rows: int = MAX_FILE_ROWS) -> list[CodeLine]:
    """The first column of a CSV (UTF-8 or GBK) or of an XLSX workbook's first sheet, of at most
    `max_rows` rows (a subscription's register of operators is longer than a bid's list). A
    first row holding no digit is a header (统一社会信用代码, 代码 ...), not a code: every code
    has one."""
    if not data.strip():
        raise CodeListError("上传的文件是空的。")
    if data.startswith(_OLE_MAGIC):
        raise CodeListError("不支持旧版 Excel（.xls）文件，请另存为 .xlsx 或 CSV 后上传。")
    limits = ImportLimits(max_rows=max_rows)
    try:
        if filename.lower().endswith(".xlsx") or data.startswith(_ZIP_MAGIC):
            rows = xlsx_rows(io.BytesIO(data), data, 0, limits)
        else:  # all of it is the head: nothing is left to read after it
            rows = csv_rows(io.BytesIO(), data, True, limits)
        found = list(_first_column(rows, max_rows))
    except ImportFileError:
        raise CodeListError(
            "无法读取该文件：请上传 CSV（UTF-8 或 GBK 编码）或 XLSX 文件，代码放在第一列。"
        ) from None
    if found and not any(char.isdigit() for char in found[0].code):
        found = found[1:]
    return found


def _first_column(
    rows: Iterator[tuple[int, list[str] | UnreadRecord]], max_rows: int
) -> Iterator[CodeLine]:
    for line, cells in rows:
        if line > max_rows:
            raise CodeListError(f"文件超过 {max_rows:,} 行，不是一份代码清单。")
        if isinstance(cells, UnreadRecord):  # a line the CSV reader could not read
            raise CodeListError(f"文件第 {line} 行无法读取，请检查后重新上传。")
        if cells and (code := _cleaned(cells[0])):
            yield CodeLine(line, code)


def _cleaned(raw: str) -> str:
    """Full-width letters and digits (pasted from a document) fold to ASCII, as the API's
    codes do; spaces around the code, and a byte-order mark, go."""
    return unicodedata.normalize("NFKC", raw).replace("\ufeff", "").strip()
