"""Which file this is: its format from its first bytes, its national kind from its header;
then its data rows by column name."""

from __future__ import annotations

from collections import Counter
from collections.abc import Generator, Iterator
from typing import IO, BinaryIO

from service.commanding.importing.columns import (
    LICENCE,
    PENALTY,
    PREFIX,
    REQUIRED,
    ROW_PROBLEM,
    labelled,
)
from service.commanding.importing.decoding import UnreadRecord, csv_rows, xlsx_rows
from service.commanding.importing.limits import ImportFileError, ImportLimits, ImportTooLarge
from service.commanding.importing.messages import quote_cell

HEAD_BYTES = 64 * 1024

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls (and .doc)


def read_rows(
    stream: BinaryIO, filename: str, limits: ImportLimits | None = None
) -> tuple[str, Generator[tuple[int, dict[str, str]], None, None]]:
    """Detect the file's kind from its header and stream its non-blank data rows.

    Line numbers are those a spreadsheet shows (header = 1); blank rows are skipped but
    counted; closing the rows early closes the reader under them. Raises ImportFileError for a
    file that cannot be imported at all (ImportTooLarge for one over `limits`)."""
    limits = limits or ImportLimits()
    start = _tell(stream)
    head, at_eof = _read_head(stream)
    if filename.lower().endswith(".xlsx") or head.startswith(_ZIP_MAGIC):
        rows = xlsx_rows(stream, head, start, limits)
    elif head.startswith(_OLE_MAGIC):
        raise ImportFileError(
            "legacy Excel .xls files are not supported: save the sheet as .xlsx or as CSV"
        )
    else:
        rows = csv_rows(stream, head, at_eof, limits)
    try:
        names = _header(rows)
        if len(names) > limits.max_columns:
            raise ImportTooLarge(
                f"the header has {len(names):,} columns; at most {limits.max_columns:,} are "
                "accepted"
            )
        kind = _kind_of(names)
        _check_columns(kind, names)
    except BaseException:
        rows.close()
        raise
    return kind, _records(names, rows, limits)


def _tell(stream: IO[bytes]) -> int | None:
    try:
        return stream.tell() if stream.seekable() else None
    except (OSError, AttributeError, ValueError):
        return None


def _read_head(stream: IO[bytes]) -> tuple[bytes, bool]:
    parts: list[bytes] = []
    size = 0
    while size < HEAD_BYTES:
        chunk = stream.read(HEAD_BYTES - size)
        if not chunk:
            return b"".join(parts), True
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts), False


def _header(rows: Iterator[tuple[int, list[str] | UnreadRecord]]) -> list[str]:
    for line, cells in rows:
        if isinstance(cells, UnreadRecord):
            raise ImportFileError(f"the header (line {line}) cannot be read: {cells.problem}")
        if not any(cell.strip() for cell in cells):
            continue
        names = [cell.replace("\ufeff", "").strip().upper() for cell in cells]
        while names and not names[-1]:
            names.pop()
        counts = Counter(name for name in names if name)
        duplicates = sorted(name for name, count in counts.items() if count > 1)
        if duplicates:
            raise ImportFileError(
                f"duplicate column name(s) in the header: {', '.join(duplicates)}"
            )
        return names
    raise ImportFileError("no header row: the file has no content")


def _kind_of(names: list[str]) -> str:
    penalty = any(n.startswith("CF_") for n in names)
    licence = any(n.startswith("XK_") for n in names)
    if penalty and licence:
        raise ImportFileError(
            "the header mixes penalty (CF_*) and licence (XK_*) columns: import them as "
            "separate files"
        )
    if penalty:
        return PENALTY
    if licence:
        return LICENCE
    shown = ", ".join(quote_cell(n) for n in names[:6] if n) or "nothing"
    hint = ""
    if len(names) == 1 and ("\t" in names[0] or ";" in names[0]):
        hint = " (the file seems separated by tabs or semicolons; CSV needs commas)"
    raise ImportFileError(
        "unknown format: the first row is not a 双公示 header (CF_* columns for penalties, "
        f"XK_* for licences); found {shown}{hint}"
    )


def _check_columns(kind: str, names: list[str]) -> None:
    present = set(names)
    missing = [name for name in REQUIRED[kind] if name not in present]
    label = "penalty (行政处罚)" if kind == PENALTY else "licence (行政许可)"
    if missing:
        raise ImportFileError(
            f"missing required column(s) for a {label} file: {', '.join(missing)}"
        )
    prefix = PREFIX[kind]
    if f"{prefix}XDR_SHXYM" not in present and f"{prefix}XDR_ZJHM" not in present:
        raise ImportFileError(
            f"a {label} file needs the column {prefix}XDR_SHXYM (organisations) or "
            f"{prefix}XDR_ZJHM (natural persons)"
        )


def _records(
    names: list[str], rows: Iterator[tuple[int, list[str] | UnreadRecord]], limits: ImportLimits
) -> Generator[tuple[int, dict[str, str]], None, None]:
    columns = [(index, name) for index, name in enumerate(names) if name]
    width = len(names)
    longest = limits.max_cell_chars
    try:
        for line, cells in rows:
            if isinstance(cells, UnreadRecord):
                yield line, {ROW_PROBLEM: cells.reason}
                continue
            if not any(cell.strip() for cell in cells):
                continue
            count = len(cells)
            row = {name: cells[index] if index < count else "" for index, name in columns}
            extra = sum(1 for cell in cells[width:] if cell.strip())
            if extra:
                row[ROW_PROBLEM] = (
                    f"该行在表头的 {width} 列之外还有 {extra} 个非空单元格（单元格内的逗号"
                    "未加引号？）"
                )
            for index, cell in enumerate(cells):
                if len(cell) > longest:
                    name = (names[index] if index < width else "") or f"第 {index + 1} 列"
                    row[ROW_PROBLEM] = (
                        f"{labelled(name)}：单元格有 {len(cell):,} 个字符，最多接受 {longest:,} 个"
                    )
                    for other, value in row.items():  # not kept for the report either
                        if len(value) > longest and other != ROW_PROBLEM:
                            row[other] = ""
                    break
            yield line, row
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()
