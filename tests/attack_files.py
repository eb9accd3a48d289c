"""Hostile upload files for the attack tests, made quickly and small on disk: XLSX zip bombs
(shared strings that inflate to a gigabyte, a header that lies about a member's size, a DTD
entity bomb, a sheet that reaches row 1,048,576) and CSVs with an enormous line or cell."""

from __future__ import annotations

import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tests.builders import PENALTY_FILE_HEADER, penalty_file, penalty_file_row

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" '
    'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    "</Types>"
)
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<workbook xmlns="{MAIN}" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>'
)
SST_HEAD = f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{MAIN}">'.encode()
SHEET_HEAD = f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN}"><sheetData>'.encode()
SHEET_TAIL = b"</sheetData></worksheet>"
# A header row of the national penalty columns, as inline strings.
HEADER_ROW = (
    '<row r="1">'
    + "".join(
        f'<c r="{chr(65 + i)}1" t="inlineStr"><is><t>{name}</t></is></c>'
        for i, name in enumerate(PENALTY_FILE_HEADER)
    )
    + "</row>"
).encode()

# Writes one part of the archive; what it returns (a byte count, say) is ignored.
Writer = Callable[[IO[bytes]], object]


def _chunks(write: IO[bytes], part: bytes, total: int) -> None:
    """`part` repeated up to `total` bytes, written in pieces of about 1 MB."""
    block = part * max(1, (1024 * 1024) // len(part))
    written = 0
    while written + len(block) <= total:
        write.write(block)
        written += len(block)
    write.write(part * ((total - written) // len(part)))


def xlsx(path: Path, shared_strings: Writer, sheet: Writer, *, level: int = 9) -> Path:
    """A workbook openpyxl would open, its shared strings and sheet written by the callers."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _ROOT_RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        with archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
            shared_strings(part)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part:
            sheet(part)
    return path


def _header_sheet(part: IO[bytes]) -> None:
    part.write(SHEET_HEAD + HEADER_ROW + SHEET_TAIL)


def shared_strings_bomb(path: Path, inflated: int = 1024**3) -> Path:
    """About 1 MB on disk whose shared strings really inflate to `inflated` bytes (1 GiB)."""
    block = b"<si><t>AAAAAAAAAAAAAAAAAAAAAAAAAAAA</t></si>" * 25_000  # 1,025,000 bytes
    times = max(1, (inflated - len(SST_HEAD) - 6) // len(block))
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = compressor.compress(SST_HEAD) + compressor.flush(zlib.Z_FULL_FLUSH)
    # A full flush starts the compressor afresh, so every identical block compresses to the
    # same bytes: the gigabyte is compressed once, in one block, and its output repeated.
    first = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    assert first == again
    tail = compressor.compress(b"</sst>") + compressor.flush()
    crc = zlib.crc32(SST_HEAD)
    for _ in range(times):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(b"</sst>", crc)
    size = len(SST_HEAD) + times * len(block) + len(b"</sst>")
    strings = _Member("xl/sharedStrings.xml", head + first * times + tail, crc, size)
    path.write_bytes(
        _zip(
            [
                *_standard_members(),
                strings,
                _member("xl/worksheets/sheet1.xml", SHEET_HEAD + HEADER_ROW + SHEET_TAIL),
            ]
        )
    )
    return path


@dataclass(frozen=True)
class _Member:
    name: str
    deflated: bytes
    crc: int
    size: int  # what the headers declare the member inflates to


def _member(name: str, data: bytes | str, *, declared: int | None = None) -> _Member:
    raw = data.encode() if isinstance(data, str) else data
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated = compressor.compress(raw) + compressor.flush()
    return _Member(name, deflated, zlib.crc32(raw), len(raw) if declared is None else declared)


def _standard_members() -> list[_Member]:
    return [
        _member("[Content_Types].xml", _CONTENT_TYPES),
        _member("_rels/.rels", _ROOT_RELS),
        _member("xl/workbook.xml", _WORKBOOK),
        _member("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS),
    ]


def _zip(members: list[_Member]) -> bytes:
    """A zip archive (deflated members, no zip64) written field by field, so that a test can
    put in it what zipfile would not write: a member compressed once and repeated, or a size
    its header declares falsely."""
    out = bytearray()
    central = bytearray()
    for member in members:
        name = member.name.encode()
        offset = len(out)
        fields = (20, 0, 8, 0, 0x21, member.crc, len(member.deflated), member.size, len(name))
        out += struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", *fields, 0) + name + member.deflated
        central += struct.pack(
            "<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, *fields, 0, 0, 0, 0, 0, offset
        )
        central += name
    end = struct.pack(
        "<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(members), len(members), len(central), len(out), 0
    )
    return bytes(out + central + end)


def many_shared_strings(path: Path, count: int) -> Path:
    def strings(part: IO[bytes]) -> None:
        part.write(SST_HEAD)
        for start in range(0, count, 10_000):
            part.write(
                b"".join(
                    b"<si><t>%x</t></si>" % n for n in range(start, min(count, start + 10_000))
                )
            )
        part.write(b"</sst>")

    return xlsx(path, strings, _header_sheet)


def dtd_entity_bomb(path: Path) -> Path:
    """The billion laughs: ten levels of entities, ten references each, in 1 KB."""
    entities = '<!ENTITY a0 "laugh">' + "".join(
        f'<!ENTITY a{n} "{f"&a{n - 1};" * 10}">' for n in range(1, 10)
    )
    body = (
        f'<?xml version="1.0"?><!DOCTYPE sst [{entities}]>'
        f'<sst xmlns="{MAIN}"><si><t>&a9;</t></si></sst>'
    ).encode()
    return xlsx(path, lambda part: part.write(body), _header_sheet)


def far_row_sheet(path: Path, row: int = 1_048_576, column: str = "A") -> Path:
    """A header, then one cell at row `row` (openpyxl would fill every row in between)."""

    def sheet(part: IO[bytes]) -> None:
        cell = f'<row r="{row}"><c r="{column}{row}" t="inlineStr"><is><t>x</t></is></c></row>'
        part.write(SHEET_HEAD + HEADER_ROW + cell.encode() + SHEET_TAIL)

    return xlsx(path, lambda part: part.write(SST_HEAD + b"</sst>"), sheet)


def at_the_limits(path: Path, strings: int, string_bytes: int, rows: int) -> Path:
    """The worst a workbook may hold and still pass the archive checks: `strings` distinct
    shared strings filling `string_bytes`, and `rows` rows of cells using them (each row is
    then rejected: it has no record's required cells)."""
    width = max(1, string_bytes // strings - len(b"<si><t></t></si>") - 8)

    def shared(part: IO[bytes]) -> None:
        part.write(SST_HEAD)
        for start in range(0, strings, 5_000):
            part.write(
                b"".join(
                    b"<si><t>%08x%s</t></si>" % (n, b"z" * width)
                    for n in range(start, min(strings, start + 5_000))
                )
            )
        part.write(b"</sst>")

    def sheet(part: IO[bytes]) -> None:
        part.write(SHEET_HEAD + HEADER_ROW)
        for start in range(2, rows + 1, 5_000):
            part.write(
                b"".join(
                    b'<row r="%d"><c r="A%d" t="s"><v>%d</v></c>'
                    b'<c r="B%d" t="s"><v>%d</v></c></row>'
                    % (n, n, n % strings, n, (n * 7) % strings)
                    for n in range(start, min(rows + 1, start + 5_000))
                )
            )
        part.write(SHEET_TAIL)

    return xlsx(path, shared, sheet)


def lying_header(path: Path) -> Path:
    """Shared strings of 8 MiB whose headers declare 1,000 bytes."""
    strings = SST_HEAD + b"<si><t>abcdefgh</t></si>" * (8 * 1024 * 1024 // 24) + b"</sst>"
    members = [
        *_standard_members(),
        _member("xl/sharedStrings.xml", strings, declared=1000),
        _member("xl/worksheets/sheet1.xml", SHEET_HEAD + HEADER_ROW + SHEET_TAIL),
    ]
    path.write_bytes(_zip(members))
    return path


def csv_long_line(path: Path, size: int = 60 * 1024 * 1024, *, in_header: bool = False) -> Path:
    """A CSV whose second line (or first) is `size` bytes with no line break at all."""
    with path.open("wb") as out:
        if not in_header:
            out.write(penalty_file([]))
        _chunks(out, b"x" * 4096, size)
    return path


def csv_with_cells(path: Path, rows: Iterable[list[str]]) -> Path:
    path.write_bytes(penalty_file(list(rows)))
    return path


def csv_huge_cell(path: Path, chars: int = 40_000) -> Path:
    return csv_with_cells(path, [penalty_file_row(1, CF_SY="超" * chars), penalty_file_row(2)])


def ratio_bomb(path: Path) -> Path:
    """200 MB of shared strings (under the total limit) from about 0.6 MB."""
    return shared_strings_bomb(path, 200 * 1024 * 1024)


BOMBS: dict[str, Callable[[Path], Path]] = {
    "shared-strings-1gb": shared_strings_bomb,
    "ratio-200mb": ratio_bomb,
    "lying-header": lying_header,
    "dtd-entities": dtd_entity_bomb,
    "far-row": far_row_sheet,
    "csv-60mb-line": csv_long_line,
    "csv-huge-cell": csv_huge_cell,
}
