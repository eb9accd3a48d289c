"""A file's bytes as rows of cells: CSV text in UTF-8 or GBK, or the first worksheet of an XLSX
workbook checked for archive bombs before it is opened, each within the import limits."""

from __future__ import annotations

import codecs
import csv
import io
import re
import shutil
import tempfile
import xml.parsers.expat
import zipfile
import zlib
from collections.abc import Generator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import IO, Any

from service.commanding.importing.limits import (
    RATIO_FLOOR,
    ImportFileError,
    ImportLimits,
    ImportTooLarge,
)
from service.commanding.importing.messages import DIGIT_RUN


class _Prefixed(io.RawIOBase):
    """The bytes already read (the head), then the rest of the caller's stream. Closing it
    leaves the caller's stream open."""

    def __init__(self, head: bytes, rest: IO[bytes]):
        self._head = memoryview(head)
        self._rest = rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            size = min(len(buffer), len(self._head))
            buffer[:size] = self._head[:size]
            self._head = self._head[size:]
            return size
        data = self._rest.read(len(buffer))
        if not data:
            return 0
        buffer[: len(data)] = data
        return len(data)


def _detect_encoding(head: bytes, at_eof: bool) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ImportFileError(
            "UTF-16 text is not supported: save the file as CSV (UTF-8) or CSV (GBK)"
        )
    if b"\x00" in head:
        raise ImportFileError(
            "this is not a CSV text file (it contains NUL bytes): upload CSV (UTF-8 or GBK) or XLSX"
        )
    for encoding in ("utf-8", "gb18030"):
        try:
            codecs.getincrementaldecoder(encoding)("strict").decode(head, final=at_eof)
        except UnicodeDecodeError:
            continue
        return encoding
    raise ImportFileError(
        "the file is neither UTF-8 nor GBK/GB18030 text: upload CSV (UTF-8 or GBK) or XLSX"
    )


@dataclass(frozen=True)
class UnreadRecord:
    """A record the csv module could not read: why, for the row's rejection (in Chinese, for
    the agency's clerks), and for a whole-file problem if it is the header (in English)."""

    reason: str
    problem: str


def csv_rows(
    stream: IO[bytes], head: bytes, at_eof: bool, limits: ImportLimits
) -> Generator[tuple[int, list[str] | UnreadRecord], None, None]:
    """(line, cells) per CSV record, or (line, UnreadRecord) for one the csv module refused."""
    encoding = _detect_encoding(head, at_eof)
    text = io.TextIOWrapper(
        io.BufferedReader(_Prefixed(head, stream)),
        encoding=encoding,
        errors="strict",
        newline="",
    )
    return _csv_records(_BoundedLines(text, limits.max_line_chars), encoding)


class _LineTooLong(Exception):
    pass


class _BoundedLines:
    """The physical lines of a text stream, none read whole past `limit` characters: a longer
    line is skipped to its end in bounded pieces and reported as _LineTooLong (a CSV of one
    50 MB line must not become one 50 MB string, nor the csv module's copy of it)."""

    def __init__(self, text: io.TextIOWrapper, limit: int):
        self.text = text
        self.limit = limit

    def __iter__(self) -> _BoundedLines:
        return self

    def __next__(self) -> str:
        # limit + 2: a line of exactly `limit` characters still gets its "\r\n"
        line = self.text.readline(self.limit + 2)
        if not line:
            raise StopIteration
        if len(line.rstrip("\r\n")) > self.limit:
            while line and not line.endswith(("\n", "\r")):
                line = self.text.readline(self.limit)
            raise _LineTooLong
        return line


def _csv_records(
    lines: _BoundedLines, encoding: str
) -> Generator[tuple[int, list[str] | UnreadRecord], None, None]:
    reader = csv.reader(lines, strict=True)
    line = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except _LineTooLong:
            line += 1
            yield (
                line,
                UnreadRecord(
                    f"该行超过 {lines.limit:,} 个字符，未读取（缺少换行，或引号内的单元格"
                    "未结束？）",
                    f"the line is longer than {lines.limit:,} characters and was not read "
                    "(a missing line break, or a quoted cell never closed?)",
                ),
            )
            reader = csv.reader(lines, strict=True)  # start afresh on the next line
            continue
        except csv.Error as error:
            line += 1
            if "unexpected end of data" in str(error):
                yield (
                    line,
                    UnreadRecord(
                        "该行有一个以引号开始的单元格没有结束，文件其余部分都被读入该单元格，"
                        "未导入",
                        "a quoted cell opened on this line is never closed, so the rest of the "
                        "file was read into it and not imported",
                    ),
                )
                return
            if "field larger than field limit" in str(error):
                yield (
                    line,
                    UnreadRecord(
                        f"有单元格超过 {csv.field_size_limit():,} 个字符（引号内的单元格未结束？）",
                        f"a cell is longer than {csv.field_size_limit():,} characters "
                        "(a quoted cell never closed?)",
                    ),
                )
                continue
            yield line, UnreadRecord(f"CSV 格式有误（{error}）", f"malformed CSV: {error}")
            continue
        except UnicodeDecodeError:
            label = "UTF-8" if encoding.startswith("utf-8") else "GBK/GB18030"
            raise ImportFileError(
                f"the file is not valid {label} text after line {line}: save it again with "
                "one encoding throughout (rows before that line were imported)"
            ) from None
        line += 1
        yield line, cells


def xlsx_rows(
    stream: IO[bytes], head: bytes, start: int | None, limits: ImportLimits
) -> Generator[tuple[int, list[str] | UnreadRecord], None, None]:
    import openpyxl  # only XLSX imports pay for it

    spool: IO[bytes] | None = None
    if start == 0:
        stream.seek(0)
        source: IO[bytes] = stream
    else:  # zipfile needs to seek: copy to a temporary file (disk once it is large)
        spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)  # noqa: SIM115
        spool.write(head)
        shutil.copyfileobj(stream, spool, 1024 * 1024)
        spool.seek(0)
        source = spool
    try:
        _check_archive(source, limits)
        source.seek(0)
        workbook = openpyxl.load_workbook(source, read_only=True, data_only=True)
    except ImportFileError:
        if spool is not None:
            spool.close()
        raise
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, SyntaxError) as error:
        if spool is not None:
            spool.close()
        raise ImportFileError(
            f"not a readable XLSX workbook ({type(error).__name__}); upload .xlsx or CSV"
        ) from None
    if not workbook.worksheets:
        workbook.close()
        raise ImportFileError("the workbook has no worksheet")
    return _xlsx_records(workbook, spool)


# Archive checks (XLSX) ------------------------------------------------------------------------

_INFLATE_CHUNK = 1024 * 1024
_UNPACK_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError)


def _check_archive(source: IO[bytes], limits: ImportLimits) -> None:
    """Refuse an archive bomb before openpyxl opens it. First what the central directory
    declares (member count, sizes, compression ratios), then what each member really inflates
    to, read through a counter that stops at the limits, so a member whose header lies about
    its size is caught too. Every XML part is scanned while it inflates, with no tree kept:
    a DTD (entity expansion) is refused, and the shared strings and worksheet extent that
    openpyxl would hold in memory are counted against the limits."""
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise ImportFileError(
            f"not a readable XLSX workbook ({type(error).__name__}); upload .xlsx or CSV"
        ) from None
    with archive:
        members = [info for info in archive.infolist() if not info.is_dir()]
        if len(members) > limits.max_archive_members:
            raise ImportTooLarge(
                f"the workbook has {len(members):,} parts; at most "
                f"{limits.max_archive_members:,} are accepted"
            )
        declared = sum(info.file_size for info in members)
        if declared > limits.max_inflated_bytes:
            raise ImportTooLarge(
                f"the workbook declares {declared:,} bytes once unpacked; at most "
                f"{limits.max_inflated_bytes:,} are accepted"
            )
        for number, info in enumerate(members, start=1):
            _check_ratio(info, info.file_size, number, limits)
        scan = _WorkbookScan(limits)
        for number, info in enumerate(members, start=1):
            _inflate_and_scan(archive, info, number, scan, limits)


def _check_ratio(info: zipfile.ZipInfo, size: int, number: int, limits: ImportLimits) -> None:
    if size > RATIO_FLOOR and size > limits.max_compression_ratio * max(info.compress_size, 1):
        raise ImportTooLarge(
            f"part {_part(info, number)} of the workbook inflates more than "
            f"{limits.max_compression_ratio}-fold ({info.compress_size:,} bytes to {size:,} or "
            "more): refused as a possible zip bomb"
        )


def _inflate_and_scan(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    number: int,
    scan: _WorkbookScan,
    limits: ImportLimits,
) -> None:
    is_xml = info.filename.lower().endswith((".xml", ".rels", ".vml"))
    part = scan.part() if is_xml else None
    size = 0
    try:
        with archive.open(info) as member:
            while chunk := member.read(_INFLATE_CHUNK):
                size += len(chunk)
                scan.inflated += len(chunk)
                if size > info.file_size:
                    raise ImportFileError(
                        f"part {_part(info, number)} of the workbook unpacks to more than the "
                        f"{info.file_size:,} bytes its header declares: the file is damaged "
                        "or forged"
                    )
                if scan.inflated > limits.max_inflated_bytes:
                    raise ImportTooLarge(
                        f"the workbook unpacks to more than {limits.max_inflated_bytes:,} bytes"
                    )
                _check_ratio(info, size, number, limits)
                if part is not None:
                    part.feed(chunk)
                    _check_part_size(part.root, size, info, number, limits)
                elif size > limits.max_part_bytes:
                    _check_part_size(None, size, info, number, limits)
            if part is not None:
                part.close()
    except xml.parsers.expat.ExpatError as error:
        raise ImportFileError(
            f"part {_part(info, number)} of the workbook is not well-formed XML "
            f"({xml.parsers.expat.ErrorString(error.code)}, line {error.lineno})"
        ) from None
    except _UNPACK_ERRORS as error:
        raise ImportFileError(
            f"part {_part(info, number)} of the workbook cannot be unpacked "
            f"({type(error).__name__}: damaged, encrypted or forged)"
        ) from None


def _check_part_size(
    root: str | None, size: int, info: zipfile.ZipInfo, number: int, limits: ImportLimits
) -> None:
    if root == "worksheet":
        return  # streamed by openpyxl; its extent is counted instead
    if root == "sst":
        if size > limits.max_shared_strings_bytes:
            raise ImportTooLarge(
                f"the workbook's shared strings unpack to more than "
                f"{limits.max_shared_strings_bytes:,} bytes: split the file or save it as CSV"
            )
        return
    if size > limits.max_part_bytes:
        raise ImportTooLarge(
            f"part {_part(info, number)} of the workbook unpacks to more than "
            f"{limits.max_part_bytes:,} bytes, and only worksheets and shared strings may be "
            "that large (an embedded picture?): remove it or save the sheet as CSV"
        )


def _part(info: zipfile.ZipInfo, number: int) -> str:
    """A member's name for a message, unless it could carry something it should not repeat."""
    name = info.filename
    if len(name) <= 60 and name.isascii() and name.isprintable() and not DIGIT_RUN.search(name):
        return repr(name)
    return f"number {number}"


class _WorkbookScan:
    """Counts, across every XML part, what openpyxl would keep in memory."""

    def __init__(self, limits: ImportLimits):
        self.limits = limits
        self.inflated = 0
        self.shared_strings = 0

    def part(self) -> _PartScan:
        return _PartScan(self)


class _PartScan:
    """One XML part, parsed with expat as it inflates (no tree is built)."""

    def __init__(self, workbook: _WorkbookScan):
        self.workbook = workbook
        self.limits = workbook.limits
        self.root: str | None = None
        self.elements = 0
        self.row = 0
        self.column = 0
        parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")
        parser.StartDoctypeDeclHandler = self._refuse_dtd
        parser.EntityDeclHandler = self._refuse_dtd
        parser.StartElementHandler = self._start
        self.parser = parser

    def feed(self, chunk: bytes) -> None:
        self.parser.Parse(chunk, False)

    def close(self) -> None:
        self.parser.Parse(b"", True)

    def _refuse_dtd(self, *_: Any) -> None:
        raise ImportFileError(
            "the workbook declares an XML document type (DTD), which no spreadsheet needs: "
            "refused, as entity declarations can expand without bound"
        )

    def _start(self, tag: str, attributes: dict[str, str]) -> None:
        name = tag.rpartition(" ")[2]
        limits = self.limits
        if self.root is None:
            self.root = name
        if self.root == "worksheet":
            if name == "row":
                self.row = _int_attribute(attributes, "r", self.row + 1)
                self.column = 0
                if self.row > limits.max_rows:
                    raise ImportTooLarge(
                        f"a worksheet reaches row {self.row:,}; at most {limits.max_rows:,} rows "
                        "are accepted in one XLSX file: split it or save it as CSV"
                    )
            elif name == "c":
                self.column = _column_number(attributes.get("r"), self.column + 1)
                if self.column > limits.max_columns:
                    raise ImportTooLarge(
                        f"a worksheet reaches column {self.column:,}; at most "
                        f"{limits.max_columns:,} columns are accepted"
                    )
            return
        if self.root == "sst":
            if name == "si":
                self.workbook.shared_strings += 1
                if self.workbook.shared_strings > limits.max_shared_strings:
                    raise ImportTooLarge(
                        f"the workbook has more than {limits.max_shared_strings:,} distinct "
                        "texts (shared strings): split the file or save it as CSV"
                    )
            return
        self.elements += 1
        if self.elements > limits.max_part_elements:
            raise ImportTooLarge(
                f"a part of the workbook other than a worksheet holds more than "
                f"{limits.max_part_elements:,} XML elements (styles, say): refused"
            )


def _int_attribute(attributes: dict[str, str], name: str, default: int) -> int:
    value = attributes.get(name)
    return int(value) if value is not None and value.isdigit() and len(value) < 10 else default


_CELL_REFERENCE = re.compile(r"\$?([A-Za-z]{1,7})\$?\d*")


def _column_number(reference: str | None, default: int) -> int:
    """The column of an A1-style cell reference ("AB12" -> 28), or `default` without one."""
    match = _CELL_REFERENCE.fullmatch(reference or "")
    if match is None:
        return default
    number = 0
    for letter in match.group(1).upper():
        number = number * 26 + ord(letter) - ord("A") + 1
    return number


def _xlsx_records(
    workbook: Any, spool: IO[bytes] | None
) -> Generator[tuple[int, list[str]], None, None]:
    try:
        sheet = workbook.worksheets[0]
        # The extent the sheet declares is not trusted: rows are not padded to it.
        sheet.reset_dimensions()
        line = 0
        try:
            for line, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                yield line, [_cell_text(value) for value in values]
        except (zipfile.BadZipFile, KeyError, ValueError, OSError, SyntaxError) as error:
            raise ImportFileError(
                f"the workbook is damaged after row {line} ({type(error).__name__})"
            ) from None
    finally:
        workbook.close()
        if spool is not None:
            spool.close()


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return format(Decimal(repr(value)), "f")
    if isinstance(value, time | timedelta):
        return str(value)
    return str(value)
