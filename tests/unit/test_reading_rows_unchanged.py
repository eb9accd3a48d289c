"""The import reads a row as it read it before its cheaper checks (docs/benchmarks.md, "Reading
rows with fewer instructions"): each changed step is held here to its earlier form, kept below,
on varied rows and values, good and bad; the items made and the reasons given are equal."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import codes
from service.commanding import commands
from service.commanding.importing import columns
from service.commanding.importing.columns import (
    LICENCE,
    PENALTY,
    PREFIX,
    REQUIRED,
    ROW_PROBLEM,
    RowError,
    row_to_item,
)
from tests.unit.test_importing import POLICY, TODAY, licence, penalty, person_penalty

# The earlier forms ---------------------------------------------------------------------------


def plainly_storable_before(value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    for key, item in value.items():
        if not (isinstance(key, str) and key.isprintable()):
            return False
        if isinstance(item, str):
            if not item.isprintable():
                return False
        elif isinstance(item, list):
            for part in item:
                if not (isinstance(part, str) and part.isprintable()):
                    return False
        elif not (item is None or isinstance(item, int | float | Decimal | date)):
            return False
    return True


def plain_identifier_before(value: str, max_length: int | None = None) -> str:
    value = unicodedata.normalize("NFKC", value).strip()
    if (problem := commands._invisible(value, identifier=True)) is not None:
        raise ValueError(problem)
    if max_length is not None and len(value) > max_length:
        raise ValueError(
            f"has {len(value)} characters once normalised (NFKC); at most {max_length}"
        )
    return value


class CellsBefore(columns._Cells):
    def __init__(self, row: Mapping[str, str]):
        self.cells = {column: value.strip() for column, value in row.items() if value}


def row_to_item_before(kind: str, line: int, row: Mapping[str, str]) -> columns.ImportedRow:
    if row.get(ROW_PROBLEM):
        raise RowError(row[ROW_PROBLEM])
    cells = CellsBefore(row)
    empty = [name for name in REQUIRED[kind] if not cells.text(name)]
    if empty:
        raise RowError(f"必填项为空：{'、'.join(columns.labelled(name) for name in empty)}")
    subject = columns._subject(PREFIX[kind], cells, TODAY)
    if kind == LICENCE:
        return columns.ImportedRow(
            columns.BatchItem(line=line, subject=subject, record=columns._licence(cells))
        )
    record, assessed = columns._penalty(cells, POLICY)
    return columns.ImportedRow(
        columns.BatchItem(line=line, subject=subject, record=record), assessed
    )


@contextmanager
def checked_as_before() -> Iterator[None]:
    """The commands' checks as they were: the walk of a body's texts, NFKC of every identifier,
    and the region code checked afresh each time."""
    saved = (commands._plainly_storable, commands._plain_identifier, codes.normalise_region_code)
    commands._plainly_storable = plainly_storable_before
    commands._plain_identifier = plain_identifier_before
    codes.normalise_region_code = codes.normalise_region_code.__wrapped__  # type: ignore[assignment]
    try:
        yield
    finally:
        (commands._plainly_storable, commands._plain_identifier, codes.normalise_region_code) = (
            saved
        )


def outcome(read: Any) -> tuple[str, Any]:
    try:
        imported = read()
    except RowError as error:
        return "refused", error.reason
    item = imported.item
    return "read", (
        item.line,
        type(item.subject),
        item.subject.model_dump(),
        item.subject.model_fields_set,
        type(item.record),
        item.record.model_dump(),
        item.record.model_fields_set,
        imported.severity,
    )


# Rows and values -----------------------------------------------------------------------------

# Cells that are read differently or refused, by what their column holds.
CELLS = [
    "",
    " ",
    "\u3000",
    "  x  ",
    "0",
    "2026-11-02",
    "２０２６-１１-０２",
    "2026-02-30",
    "昨天",
    "0.5万元",
    "-1",
    "1e400",
    "9" * 30,
    "罚款；警告",
    "；",
    "一般",
    "严重",
    "重大",
    "简易程序",
    "法人",
    "自然人",
    "2",
    "身份证",
    "护照",
    "'" + columns.codes.make_uscc("91410105MA0000001"),
    columns.codes.make_uscc("91990105MA0000001"),
    "91410105MA00000010",
    "ＣＦ-2026-001",
    "ﬁle",
    "郑交\u200b执罚",
    "郑交\x00执罚",
    "郑交\t执罚",
    "郑交\u202e执罚",
    "\u00a0名称\u00a0",
    "长" * 201,
    "ﷺ" * 12,
    "road_transport、waterway_transport",
    "x" * 65,
]

GOOD_ROWS = [penalty(1), person_penalty(2), licence(3)]
PENALTY_COLUMNS = [c.name for c in columns.COLUMNS[PENALTY]]
LICENCE_COLUMNS = [c.name for c in columns.COLUMNS[LICENCE]]


@st.composite
def rows(draw: st.DrawFn, of: dict[str, str] | None = None) -> tuple[str, dict[str, str]]:
    """A good row with up to four cells changed; `of` a given row instead of a good one."""
    row = dict(of if of is not None else draw(st.sampled_from(GOOD_ROWS)))
    kind = LICENCE if "XK_WSH" in row else PENALTY
    names = LICENCE_COLUMNS if kind == LICENCE else PENALTY_COLUMNS
    changes = draw(
        st.dictionaries(
            st.sampled_from([*names, "CF_YZCD", "SEVERITY", "XK_SJLY", "XK_SJLYDM"]),
            st.one_of(st.sampled_from(CELLS), st.text(max_size=12)),
            max_size=4,
        )
    )
    row.update(changes)
    return kind, row


@st.composite
def rows_in_turn(draw: st.DrawFn) -> tuple[str, list[dict[str, str]]]:
    """Rows of one file, each changed from the one before it: many name the same subject."""
    kind, row = draw(rows())
    read = [row]
    for _ in range(draw(st.integers(1, 4))):
        read.append(draw(rows(of=read[-1]))[1])
    return kind, read


@settings(max_examples=400, deadline=None)
@given(rows())
def test_a_row_is_read_as_before(kind_and_row: tuple[str, dict[str, str]]) -> None:
    kind, row = kind_and_row
    now = outcome(lambda: row_to_item(kind, 7, row, today=TODAY, policy=POLICY))
    with checked_as_before():
        before = outcome(lambda: row_to_item_before(kind, 7, row))
    assert now == before


@settings(max_examples=300, deadline=None)
@given(rows_in_turn())
def test_a_row_is_read_alike_after_rows_of_its_subject(
    kind_and_rows: tuple[str, list[dict[str, str]]],
) -> None:
    """A row whose subject's cells an earlier row had takes the registration that row made
    (`subjects_read`): the row is read as it is read alone, taken or not."""
    kind, read = kind_and_rows
    subjects_read: columns.SubjectsRead = {}
    for line, row in enumerate(read, start=2):
        reading = partial(row_to_item, kind, line, row, today=TODAY, policy=POLICY)
        alone = outcome(reading)
        after = outcome(partial(reading, subjects_read=subjects_read))
        assert after == alone


def test_a_subjects_registration_is_read_once() -> None:
    subjects_read: columns.SubjectsRead = {}
    first, second = penalty(1), {**penalty(1), "CF_WSH": "郑交执罚〔2026〕2号"}
    made = [
        row_to_item(PENALTY, line, row, today=TODAY, policy=POLICY, subjects_read=subjects_read)
        for line, row in ((2, first), (3, second))
    ]
    assert made[0].item.subject is made[1].item.subject
    assert len(subjects_read) == 1
    other = {**second, "CF_XDR_MC": "郑州另一家货运有限公司"}
    renamed = row_to_item(
        PENALTY, 4, other, today=TODAY, policy=POLICY, subjects_read=subjects_read
    )
    assert renamed.item.subject.name == "郑州另一家货运有限公司"
    assert len(subjects_read) == 2


@settings(max_examples=300, deadline=None)
@given(rows())
def test_a_rows_event_fields_are_its_records_dump(kind_and_row: tuple[str, dict[str, str]]):
    kind, row = kind_and_row
    try:
        record = row_to_item(kind, 7, row, today=TODAY, policy=POLICY).item.record
    except RowError:
        return
    dumped = record.model_dump(exclude={"type"})
    assert list(record.event_fields().items()) == list(dumped.items())


@pytest.mark.parametrize("row", GOOD_ROWS)
def test_the_good_rows_are_read(row: dict[str, str]) -> None:
    kind = LICENCE if "XK_WSH" in row else PENALTY
    assert outcome(lambda: row_to_item(kind, 2, row, today=TODAY, policy=POLICY))[0] == "read"


texts = st.one_of(st.sampled_from(CELLS), st.text(max_size=20))
flat_values = st.one_of(
    st.none(),
    texts,
    st.lists(texts, max_size=3),
    st.integers(),
    st.floats(allow_nan=False),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.dates(),
    st.booleans(),
    st.tuples(texts),
    st.dictionaries(texts, texts, max_size=2),
    st.lists(st.one_of(st.integers(), texts), max_size=2),
)
keys = st.one_of(st.sampled_from(sorted(commands._PRINTABLE_NAMES)), texts, st.integers())


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.dictionaries(keys, flat_values, max_size=6), flat_values))
def test_a_body_is_found_plainly_storable_as_before(body: Any) -> None:
    assert commands._plainly_storable(body) == plainly_storable_before(body)


@settings(max_examples=500, deadline=None)
@given(texts, st.sampled_from([None, 1, 5, 32, 200]))
def test_an_identifier_is_made_plain_as_before(text: str, max_length: int | None) -> None:
    def made(plain: Any) -> tuple[str, str]:
        try:
            return "made", plain(text, max_length)
        except ValueError as error:
            return "refused", str(error)

    assert made(commands._plain_identifier) == made(plain_identifier_before)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.sampled_from(["410105", "990105", " 110101", "41010", "4101O5"]), texts))
def test_a_region_code_is_checked_as_before(code: str) -> None:
    def checked(check: Any) -> tuple[str, str]:
        try:
            return "valid", check(code)
        except codes.InvalidCode as error:
            return "invalid", str(error)

    uncached = codes.normalise_region_code.__wrapped__
    assert checked(codes.normalise_region_code) == checked(uncached)
    assert checked(codes.normalise_region_code) == checked(uncached)  # and once cached


@settings(max_examples=400, deadline=None)
@given(rows())
def test_a_rows_subject_is_read_alone_as_the_whole_row_reads_it(
    kind_and_row: tuple[str, dict[str, str]],
) -> None:
    """An import by several processes divides the rows by the subject `row_subject_code` reads
    (service/partitioned_import.py): it must be the code the row's subject is registered under,
    and a row it finds no subject in must be refused, so that one process writes or refuses it."""
    kind, row = kind_and_row
    code = columns.row_subject_code(kind, row, TODAY)
    try:
        subject = row_to_item(kind, 7, row, today=TODAY, policy=POLICY).item.subject
    except RowError:
        return
    assert code is not None
    assert code == codes.normalise_code(subject.kind, subject.code, today=TODAY)
