"""Streamed import of a recording agency's 双公示 batch file (CSV or XLSX) into credit records."""

from __future__ import annotations

import codecs
import csv
import io
import re
import shutil
import tempfile
import unicodedata
import xml.parsers.expat
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import IO, Any, BinaryIO, TextIO

from pydantic import ValidationError

from domain import codes
from service.access.permissions import RecordingPermit
from service.clock import local_today
from service.commands import DecidePenalty, GrantLicence, RegisterSubject
from service.credit_files import BatchItem, CreditFiles, StreamCache
from service.spreadsheet import write_csv

__all__ = [
    "LICENCE",
    "PENALTY",
    "ROW_PROBLEM",
    "ImportFileError",
    "ImportLimits",
    "ImportReport",
    "ImportTooLarge",
    "RowError",
    "RowRejection",
    "import_stream",
    "read_rows",
    "row_to_item",
]

PENALTY = "penalty"
LICENCE = "licence"
HEAD_BYTES = 64 * 1024
# A report keeps the cells of this many rejected rows at most, and of fewer if their text adds
# up to MAX_KEPT_REJECTED_CHARS (a wholly wrong file of 64 MB would otherwise be held twice);
# later ones keep their line and reason.
MAX_KEPT_REJECTED_ROWS = 10_000
MAX_KEPT_REJECTED_CHARS = 8_000_000
# A report lists the line and reason of this many rejected rows at most and counts the others
# (a file of 30 million one-character rows would otherwise hold 30 million rejections).
MAX_LISTED_REJECTIONS = 10_000
# read_rows puts a row it could not read as-is (malformed quoting, more cells than the header
# has columns) under this key, which no header column can have; row_to_item refuses the row.
ROW_PROBLEM = ""

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls (and .doc)
_LIST_SEPARATORS = re.compile(r"[；;、,，]")
_DIGIT_RUN = re.compile(r"\d{6,}")
_TIME_SUFFIX = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d*)?)?)?"
_DATE_FORMATS = tuple(
    re.compile(pattern + _TIME_SUFFIX)
    for pattern in (
        r"(\d{4})-(\d{1,2})-(\d{1,2})",
        r"(\d{4})/(\d{1,2})/(\d{1,2})",
        r"(\d{4})(\d{2})(\d{2})",
        r"(\d{4})年(\d{1,2})月(\d{1,2})日",
    )
)
_DATE_HINT = "use YYYY-MM-DD, YYYY/MM/DD, YYYYMMDD or YYYY年M月D日"

_SUBJECT_CATEGORIES = {
    "法人及非法人组织": "enterprise",
    "法人": "enterprise",
    "非法人组织": "enterprise",
    "个体工商户": "enterprise",
    "自然人": "individual",
    "1": "enterprise",  # 法人
    "2": "individual",  # 自然人
    "3": "enterprise",  # 个体工商户
}
_RESIDENT_ID_TYPES = frozenset({"", "身份证", "居民身份证"})
_SEVERITIES = {
    "轻微": "minor",
    "一般": "general",
    "严重": "serious",
    "minor": "minor",
    "general": "general",
    "serious": "serious",
}
_PROCEDURES = {
    "简易": "simplified",
    "简易程序": "simplified",
    "普通": "general",
    "普通程序": "general",
    "simplified": "simplified",
    "general": "general",
}
DEFAULT_SECTORS = ("road_transport",)


class ImportFileError(ValueError):
    """The file as a whole cannot be imported; the message says exactly why."""


class ImportTooLarge(ImportFileError):
    """The file, once unpacked, is over one of the import limits (an archive bomb, say)."""


@dataclass(frozen=True, slots=True)
class ImportLimits:
    """What one import may unpack and hold, so that no file within the upload limit can grow the
    process by more than about 100 MB (docs/security.md). The defaults are the settings'
    defaults (CREDIT_IMPORT_*)."""

    # XLSX (a zip archive): checked on the central directory, then while inflating each member.
    max_inflated_bytes: int = 256 * 1024 * 1024  # all members together, declared and actual
    max_compression_ratio: int = 200  # per member, once it inflates past RATIO_FLOOR bytes
    max_archive_members: int = 1000
    # openpyxl holds the whole shared-strings table, and about 90 bytes per row read
    max_shared_strings: int = 200_000
    max_shared_strings_bytes: int = 16 * 1024 * 1024
    max_rows: int = 250_000  # the highest row number of a worksheet
    max_columns: int = 1000  # the highest column of a worksheet or the width of a CSV header
    # Any other part (styles, theme, workbook, a picture) is read whole and turned into objects.
    max_part_bytes: int = 4 * 1024 * 1024
    max_part_elements: int = 50_000
    # Both formats: a longer cell rejects its row; a longer CSV line is skipped and rejected.
    max_cell_chars: int = 32_767  # Excel's own limit for one cell
    max_line_chars: int = 1024 * 1024

    @classmethod
    def from_settings(cls, settings: Any) -> ImportLimits:
        return cls(
            max_inflated_bytes=settings.import_max_inflated_bytes,
            max_compression_ratio=settings.import_max_compression_ratio,
            max_archive_members=settings.import_max_archive_members,
            max_shared_strings=settings.import_max_shared_strings,
            max_shared_strings_bytes=settings.import_max_shared_strings_bytes,
            max_rows=settings.import_max_rows,
            max_columns=settings.import_max_columns,
            max_part_bytes=settings.import_max_part_bytes,
            max_part_elements=settings.import_max_part_elements,
            max_cell_chars=settings.import_max_cell_chars,
            max_line_chars=settings.import_max_line_chars,
        )


# A member smaller than this when inflated is never refused for its ratio (a small, regular XML
# part such as styles.xml legitimately compresses very well).
RATIO_FLOOR = 1024 * 1024


class RowError(ValueError):
    """One row cannot become a record; `reason` names the national column at fault."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class RowRejection:
    line: int
    reason: str


@dataclass
class ImportReport:
    rows_read: int
    accepted: int
    already_present: int
    rejected: list[RowRejection] = field(default_factory=list)  # sorted by line
    kind: str = PENALTY  # "penalty" | "licence"
    # All rejected rows, listed or not (at most MAX_LISTED_REJECTIONS are listed).
    rejected_count: int = 0
    # With keep_rejected_rows: the file's columns, and the cells of (the first) rejected rows.
    columns: list[str] = field(default_factory=list)
    rejected_rows: dict[int, dict[str, str]] = field(default_factory=dict)

    def write_rejected_csv(self, out: TextIO) -> None:
        """The rejected rows as a spreadsheet: line, reason, then the row's own cells under the
        file's column names, so the agency can correct them where it keeps them. ID numbers, and
        whatever may hold one, are masked: the agency has them in its own file."""
        empty: dict[str, str] = {}
        mask = codes.mask_id_numbers
        write_csv(
            out,
            ["line", "reason", *self.columns],
            (
                [
                    r.line,
                    r.reason,
                    *(mask(self.rejected_rows.get(r.line, empty).get(c, "")) for c in self.columns),
                ]
                for r in self.rejected
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rows_read": self.rows_read,
            "accepted": self.accepted,
            "already_present": self.already_present,
            "rejected_count": max(self.rejected_count, len(self.rejected)),
            "rejected": [{"line": r.line, "reason": r.reason} for r in self.rejected],
        }


# Column layout of the two national formats ---------------------------------------------------

_REQUIRED = {
    PENALTY: (
        "CF_XDR_MC",
        "CF_XDR_LB",
        "CF_WSH",
        "CF_WFXW",
        "CF_SY",
        "CF_YJ",
        "CF_CFLB",
        "CF_NR",
        "CF_JDRQ",
        "CF_CFJG",
        "CF_CFJGDM",
    ),
    LICENCE: (
        "XK_XDR_MC",
        "XK_XDR_LB",
        "XK_XKWS",
        "XK_WSH",
        "XK_XKLB",
        "XK_NR",
        "XK_JDRQ",
        "XK_YXQZ",
        "XK_XKJG",
        "XK_XKJGDM",
    ),
}
_PREFIX = {PENALTY: "CF_", LICENCE: "XK_"}
# Command field -> national column, to name the column in a validation error.
_RECORD_COLUMNS = {
    PENALTY: {
        "source_ref": "CF_WSH",
        "violation_type": "CF_WFXW",
        "facts": "CF_SY",
        "legal_basis": "CF_YJ",
        "penalty_categories": "CF_CFLB",
        "content": "CF_NR",
        "fine_amount": "CF_NR_FK",
        "confiscated_amount": "CF_NR_WFFF",
        "licence_action": "CF_NR_ZKDX",
        "decision_date": "CF_JDRQ",
        "declared_publication_end": "CF_GSJZQ",
        "authority_name": "CF_CFJG",
        "authority_code": "CF_CFJGDM",
        "severity": "CF_YZCD",
        "procedure": "CF_CXLX",
    },
    LICENCE: {
        "document_name": "XK_XKWS",
        "source_ref": "XK_WSH",
        "licence_type": "XK_XKLB",
        "certificate_name": "XK_XKZS",
        "licence_number": "XK_XKBH",
        "content": "XK_NR",
        "decision_date": "XK_JDRQ",
        "valid_from": "XK_YXQZ",
        "valid_until": "XK_YXQZI",
        "authority_name": "XK_XKJG",
        "authority_code": "XK_XKJGDM",
    },
}


# Reading rows --------------------------------------------------------------------------------


def read_rows(
    stream: BinaryIO, filename: str, limits: ImportLimits | None = None
) -> tuple[str, Iterator[tuple[int, dict[str, str]]]]:
    """Detect the file's kind from its header and stream its non-blank data rows.

    Line numbers are those a spreadsheet shows (header = 1); blank rows are skipped but
    counted. Raises ImportFileError for a file that cannot be imported at all (ImportTooLarge
    for one over `limits`)."""
    limits = limits or ImportLimits()
    start = _tell(stream)
    head, at_eof = _read_head(stream)
    if filename.lower().endswith(".xlsx") or head.startswith(_ZIP_MAGIC):
        rows = _xlsx_rows(stream, head, start, limits)
    elif head.startswith(_OLE_MAGIC):
        raise ImportFileError(
            "legacy Excel .xls files are not supported: save the sheet as .xlsx or as CSV"
        )
    else:
        rows = _csv_rows(stream, head, at_eof, limits)
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


def _csv_rows(
    stream: IO[bytes], head: bytes, at_eof: bool, limits: ImportLimits
) -> Generator[tuple[int, list[str] | str], None, None]:
    """(line, cells) per CSV record, or (line, reason) for a record the csv module refused."""
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
) -> Generator[tuple[int, list[str] | str], None, None]:
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
                f"the line is longer than {lines.limit:,} characters and was not read "
                "(a missing line break, or a quoted cell never closed?)",
            )
            reader = csv.reader(lines, strict=True)  # start afresh on the next line
            continue
        except csv.Error as error:
            line += 1
            if "unexpected end of data" in str(error):
                yield (
                    line,
                    (
                        "a quoted cell opened on this line is never closed, so the rest of the "
                        "file was read into it and not imported"
                    ),
                )
                return
            if "field larger than field limit" in str(error):
                yield (
                    line,
                    f"a cell is longer than {csv.field_size_limit():,} characters "
                    "(a quoted cell never closed?)",
                )
                continue
            yield line, f"malformed CSV: {error}"
            continue
        except UnicodeDecodeError:
            label = "UTF-8" if encoding.startswith("utf-8") else "GBK/GB18030"
            raise ImportFileError(
                f"the file is not valid {label} text after line {line}: save it again with "
                "one encoding throughout (rows before that line were imported)"
            ) from None
        line += 1
        yield line, cells


def _xlsx_rows(
    stream: IO[bytes], head: bytes, start: int | None, limits: ImportLimits
) -> Generator[tuple[int, list[str] | str], None, None]:
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
    if len(name) <= 60 and name.isascii() and name.isprintable() and not _DIGIT_RUN.search(name):
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


def _header(rows: Iterator[tuple[int, list[str] | str]]) -> list[str]:
    for line, cells in rows:
        if isinstance(cells, str):
            raise ImportFileError(f"the header (line {line}) cannot be read: {cells}")
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
    shown = ", ".join(_shown(n) for n in names[:6] if n) or "nothing"
    hint = ""
    if len(names) == 1 and ("\t" in names[0] or ";" in names[0]):
        hint = " (the file seems separated by tabs or semicolons; CSV needs commas)"
    raise ImportFileError(
        "unknown format: the first row is not a 双公示 header (CF_* columns for penalties, "
        f"XK_* for licences); found {shown}{hint}"
    )


def _check_columns(kind: str, names: list[str]) -> None:
    present = set(names)
    missing = [name for name in _REQUIRED[kind] if name not in present]
    label = "penalty (行政处罚)" if kind == PENALTY else "licence (行政许可)"
    if missing:
        raise ImportFileError(
            f"missing required column(s) for a {label} file: {', '.join(missing)}"
        )
    prefix = _PREFIX[kind]
    if f"{prefix}XDR_SHXYM" not in present and f"{prefix}XDR_ZJHM" not in present:
        raise ImportFileError(
            f"a {label} file needs the column {prefix}XDR_SHXYM (organisations) or "
            f"{prefix}XDR_ZJHM (natural persons)"
        )


def _records(
    names: list[str], rows: Iterator[tuple[int, list[str] | str]], limits: ImportLimits
) -> Iterator[tuple[int, dict[str, str]]]:
    columns = [(index, name) for index, name in enumerate(names) if name]
    width = len(names)
    longest = limits.max_cell_chars
    try:
        for line, cells in rows:
            if isinstance(cells, str):
                yield line, {ROW_PROBLEM: cells}
                continue
            if not any(cell.strip() for cell in cells):
                continue
            count = len(cells)
            row = {name: cells[index] if index < count else "" for index, name in columns}
            extra = sum(1 for cell in cells[width:] if cell.strip())
            if extra:
                row[ROW_PROBLEM] = (
                    f"the row has {extra} non-empty cell(s) beyond the header's {width} "
                    "columns (an unquoted comma inside a cell?)"
                )
            for index, cell in enumerate(cells):
                if len(cell) > longest:
                    name = (names[index] if index < width else "") or f"column {index + 1}"
                    row[ROW_PROBLEM] = (
                        f"{name}: the cell has {len(cell):,} characters; at most {longest:,} "
                        "are accepted"
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


# Rows to commands ----------------------------------------------------------------------------


def row_to_item(kind: str, line: int, row: Mapping[str, str], *, today: date) -> BatchItem:
    """Turn one row into a BatchItem, or raise RowError naming the column at fault. Subject
    codes are checked here (resident IDs against `today`); future decision dates are left to
    CreditFiles."""
    if kind not in _PREFIX:
        raise ValueError(f"unknown import kind {kind!r}")
    if row.get(ROW_PROBLEM):
        raise RowError(row[ROW_PROBLEM])
    cells = _Cells(row)
    empty = [name for name in _REQUIRED[kind] if not cells.text(name)]
    if empty:
        raise RowError(f"empty required cell(s): {', '.join(empty)}")
    subject = _subject(_PREFIX[kind], cells, today)
    record = _penalty(cells) if kind == PENALTY else _licence(cells)
    return BatchItem(line=line, subject=subject, record=record)


class _Cells:
    def __init__(self, row: Mapping[str, str]):
        self.row = row

    def text(self, column: str) -> str:
        return (self.row.get(column) or "").strip()

    def optional(self, column: str) -> str | None:
        return self.text(column) or None

    def plain(self, column: str) -> str:
        """For codes, dates and numbers: full-width characters folded to ASCII."""
        value = self.text(column)
        return value if value.isascii() else unicodedata.normalize("NFKC", value).strip()

    def first(self, *columns: str) -> tuple[str, str]:
        for column in columns:
            value = self.text(column)
            if value:
                return column, value
        return columns[0], ""

    def date(self, column: str) -> date | None:
        value = self.plain(column)
        if not value:
            return None
        for pattern in _DATE_FORMATS:
            match = pattern.fullmatch(value)
            if match:
                year, month, day = (int(part) for part in match.groups())
                try:
                    return date(year, month, day)
                except ValueError:
                    raise RowError(f"{column}: {_shown(value)} is not a valid date") from None
        raise RowError(f"{column}: not a date; {_DATE_HINT}")

    def amount(self, column: str) -> Decimal | None:
        value = self.plain(column).removesuffix("万元").strip()
        if not value:
            return None
        try:
            amount = Decimal(value)
        except InvalidOperation:
            amount = Decimal("NaN")
        if not amount.is_finite():
            raise RowError(f"{column}: not a number (the amount is in 万元)")
        if amount < 0:
            raise RowError(f"{column}: must not be negative")
        return amount

    def choice(self, columns: tuple[str, ...], choices: dict[str, str], default: str) -> str:
        column, value = self.first(*columns)
        if not value:
            return default
        chosen = choices.get(value) or choices.get(value.lower())
        if chosen is None:
            allowed = ", ".join(choices)
            raise RowError(f"{column}: {_shown(value)} is not one of {allowed}")
        return chosen

    def items(self, column: str) -> list[str]:
        return [part.strip() for part in _LIST_SEPARATORS.split(self.text(column)) if part.strip()]


def _subject(prefix: str, cells: _Cells, today: date) -> RegisterSubject:
    category_column = f"{prefix}XDR_LB"
    category = cells.plain(category_column)
    kind = _SUBJECT_CATEGORIES.get(category)
    if kind is None:
        raise RowError(
            f"{category_column}: {_shown(category)} is not a subject category; use "
            "法人及非法人组织, 法人, 非法人组织, 个体工商户 or 自然人 (or the codes 1, 2, 3)"
        )
    if kind == "enterprise":
        code_column = f"{prefix}XDR_SHXYM"
        region_hint = "characters 3-8, the region code"
    else:
        code_column = f"{prefix}XDR_ZJHM"
        region_hint = "characters 1-6, the region code"
        id_type = cells.text(f"{prefix}XDR_ZJLX")
        if id_type not in _RESIDENT_ID_TYPES:
            raise RowError(
                f"{prefix}XDR_ZJLX: only resident ID cards are accepted for natural persons"
            )
    raw_code = cells.plain(code_column).removeprefix("'").strip()
    if not raw_code:
        raise RowError(f"{code_column}: required for a subject of category {category}")
    try:
        code = codes.normalise_code(kind, raw_code, today=today)
    except codes.InvalidCode as error:  # its reason never repeats the code
        raise RowError(f"{code_column}: {error}") from None
    region = code[2:8] if kind == "enterprise" else code[:6]
    sector_items = cells.items("SECTOR")
    columns = {
        "name": f"{prefix}XDR_MC",
        "kind": category_column,
        "code": code_column,
        "region_code": f"{code_column} ({region_hint})",
        "sectors": "SECTOR",
    }
    return _build(
        RegisterSubject,
        columns,
        {
            "kind": kind,
            "code": code,
            "name": cells.text(f"{prefix}XDR_MC"),
            "region_code": region,
            "sectors": sector_items or list(DEFAULT_SECTORS),
        },
    )


def _authority_code(cells: _Cells, column: str) -> str:
    return cells.plain(column).removeprefix("'").strip()


def _penalty(cells: _Cells) -> DecidePenalty:
    columns = _RECORD_COLUMNS[PENALTY]
    severity_columns = ("CF_YZCD", "SEVERITY")
    procedure_columns = ("CF_CXLX", "PROCEDURE")
    return _build(
        DecidePenalty,
        columns,
        {
            "type": "PenaltyDecided",
            "severity": cells.choice(severity_columns, _SEVERITIES, "general"),
            "procedure": cells.choice(procedure_columns, _PROCEDURES, "general"),
            "decision_date": cells.date("CF_JDRQ"),
            "authority_name": cells.text("CF_CFJG"),
            "authority_code": _authority_code(cells, "CF_CFJGDM"),
            "source_ref": cells.text("CF_WSH"),
            "violation_type": cells.text("CF_WFXW"),
            "facts": cells.text("CF_SY"),
            "legal_basis": cells.text("CF_YJ"),
            "penalty_categories": cells.items("CF_CFLB"),
            "content": cells.text("CF_NR"),
            "fine_amount": cells.amount("CF_NR_FK"),
            "confiscated_amount": cells.amount("CF_NR_WFFF"),
            "licence_action": cells.optional("CF_NR_ZKDX"),
            "declared_publication_end": cells.date("CF_GSJZQ"),
        },
    )


def _licence(cells: _Cells) -> GrantLicence:
    return _build(
        GrantLicence,
        _RECORD_COLUMNS[LICENCE],
        {
            "type": "LicenceGranted",
            "decision_date": cells.date("XK_JDRQ"),
            "authority_name": cells.text("XK_XKJG"),
            "authority_code": _authority_code(cells, "XK_XKJGDM"),
            "source_ref": cells.text("XK_WSH"),
            "licence_type": cells.text("XK_XKLB"),
            "document_name": cells.text("XK_XKWS"),
            "content": cells.text("XK_NR"),
            "valid_from": cells.date("XK_YXQZ"),
            "valid_until": cells.date("XK_YXQZI"),
            "certificate_name": cells.optional("XK_XKZS"),
            "licence_number": cells.optional("XK_XKBH"),
        },
    )


def _build(model: Any, columns: Mapping[str, str], fields: dict[str, Any]) -> Any:
    try:
        return model.model_validate(fields)
    except ValidationError as error:
        raise RowError(_validation_reason(error, columns)) from None


def _validation_reason(error: ValidationError, columns: Mapping[str, str]) -> str:
    """One short reason naming the national column; never the input (it may be personal)."""
    problems = error.errors(include_url=False, include_context=False, include_input=False)
    first = problems[0]
    field_name = str(first["loc"][0]) if first["loc"] else ""
    message = first["msg"].removeprefix("Value error, ")
    if not field_name:  # a check of the whole row names its field first ("source_ref: ...")
        named, separator, rest = message.partition(": ")
        if separator and named.split(".")[0] in columns:
            field_name, message = named.split(".")[0], rest
    column = columns.get(field_name, field_name or "row")
    more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
    return f"{column}: {message}{more}"


def _shown(value: str) -> str:
    """Quote a cell in a message unless it might be an ID number or is too long to help."""
    if not value:
        return "an empty cell"
    if len(value) > 30 or _DIGIT_RUN.search(value):
        return f"a value of {len(value)} characters"
    return repr(value)


# The import ----------------------------------------------------------------------------------


def import_stream(
    stream: BinaryIO,
    filename: str,
    files: CreditFiles,
    *,
    recorded_by: str,
    batch_size: int = 1000,
    on_progress: Callable[[int], None] | None = None,
    permit: RecordingPermit | None = None,
    keep_rejected_rows: bool = False,
    limits: ImportLimits | None = None,
) -> ImportReport:
    """Import a whole file, one transaction per `batch_size` rows. Bad rows become rejections
    and never stop the import; a whole-file problem raises ImportFileError before anything is
    written (or, for an encoding error found mid-file, after the rows before it).

    With `keep_rejected_rows`, the report also keeps the cells of the first
    MAX_KEPT_REJECTED_ROWS rejected rows (for `write_rejected_csv`). `limits` bound what the
    file may unpack to and hold (ImportTooLarge, before anything is written)."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    kind, rows = read_rows(stream, filename, limits)
    today = local_today(files.clock, files.zone)
    report = ImportReport(rows_read=0, accepted=0, already_present=0, rejected=[], kind=kind)
    reasons: dict[str, str] = {}  # one string per distinct reason, however many rows share it
    batch: list[BatchItem] = []
    unreported = 0
    streams = StreamCache()  # a subject seen in one batch is not read again in the next

    in_batch: dict[int, dict[str, str]] = {}  # the rows of the current batch, if kept

    kept_chars = 0

    def reject(line: int, reason: str, row: dict[str, str] | None = None) -> None:
        nonlocal kept_chars
        report.rejected_count += 1
        if len(report.rejected) >= MAX_LISTED_REJECTIONS:
            return
        if reason not in reasons:  # a reason may quote a cell: never an ID number in full
            reasons[reason] = codes.mask_id_numbers(reason)
        report.rejected.append(RowRejection(line, reasons[reason]))
        if row is not None and len(report.rejected_rows) < MAX_KEPT_REJECTED_ROWS:
            cells = {k: v for k, v in row.items() if k != ROW_PROBLEM}
            size = sum(len(value) for value in cells.values())
            if kept_chars + size <= MAX_KEPT_REJECTED_CHARS:
                kept_chars += size
                report.rejected_rows[line] = cells

    def flush() -> None:
        nonlocal unreported
        if batch:
            for outcome in files.append_batch(
                batch, recorded_by=recorded_by, cache=streams, permit=permit
            ):
                if outcome.status == "accepted":
                    report.accepted += 1
                elif outcome.status == "already_present":
                    report.already_present += 1
                else:
                    reject(outcome.line, outcome.reason or "rejected", in_batch.get(outcome.line))
            batch.clear()
            in_batch.clear()
        unreported = 0
        if on_progress is not None:
            on_progress(report.rows_read)

    try:
        for line, row in rows:
            report.rows_read += 1
            unreported += 1
            if keep_rejected_rows and not report.columns:
                report.columns = [name for name in row if name != ROW_PROBLEM]
            try:
                batch.append(row_to_item(kind, line, row, today=today))
                if keep_rejected_rows:
                    in_batch[line] = row
            except RowError as error:
                reject(line, error.reason, row if keep_rejected_rows else None)
            if unreported >= batch_size:
                flush()
        if unreported:
            flush()
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()
    report.rejected.sort(key=lambda rejection: rejection.line)
    return report
