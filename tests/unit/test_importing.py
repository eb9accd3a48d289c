import codecs
import csv
import gc
import io
import json
import re
import time
import zipfile
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import BinaryIO, cast
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from eventsourcing.application import AggregateNotFoundError
from stdnum.cn import ric

from domain import codes
from domain.codes import make_uscc
from domain.errors import RuleViolated, SubjectKindMismatch
from domain.publication import record_window
from domain.rule_texts import RULE_TEXTS_ZH
from domain.subject import (
    ONE_OPEN_ENTRY_PER_LIST,
    ONE_RECORD_PER_DECISION,
    RECORD_SECTOR_OF_SUBJECT,
)
from service.access.permissions import NotPermitted, RecordingPermit
from service.clock import FixedClock
from service.commanding.commands import DecidePenalty, GrantLicence, RegisterSubject
from service.commanding.credit_files import CreditFiles
from service.commanding.identity import SubjectIds
from service.commanding.importing import batch, columns
from service.commanding.importing.batch import (
    IMPORT_GC_THRESHOLD,
    _fewer_collections,
    import_stream,
)
from service.commanding.importing.columns import RowError, row_to_item
from service.commanding.importing.limits import ImportFileError
from service.commanding.importing.messages import quote_cell_zh
from service.commanding.importing.report import ImportReport, RowRejection, refusal_reason
from service.commanding.importing.sniffing import read_rows
from service.policy import load_policy
from service.settings import DEFAULT_TIMEZONE
from service.store.database import Database
from service.store.ledger import open_ledger

# The rules' words a rejection quotes (domain/rule_texts.py), without their full stop.
USCC_INVALID = RULE_TEXTS_ZH[codes.USCC_VALID].removesuffix("。")
RESIDENT_ID_INVALID = RULE_TEXTS_ZH[codes.RESIDENT_ID_VALID].removesuffix("。")
REGION_INVALID = RULE_TEXTS_ZH[codes.REGION_CODE_VALID].removesuffix("。")
DATE_HINT = "日期请写作 YYYY-MM-DD、YYYY/MM/DD、YYYYMMDD 或 YYYY年M月D日"


NOW = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)  # 12:00 on 2026-11-20 in China
ZONE = ZoneInfo(DEFAULT_TIMEZONE)
TODAY = date(2026, 11, 20)
AUTHORITY = make_uscc("11410100" + "MB0123456")
AUTHORITY_NAME = "郑州市交通运输综合行政执法支队"


def uscc(n: int, region: str = "410105") -> str:
    return make_uscc("91" + region + f"MA{n:07d}")


def resident_id(seq: int, region: str = "110101", birth: str = "19850312") -> str:
    first17 = region + birth + f"{seq % 1000:03d}"
    return first17 + ric.calc_check_digit(first17 + "0")


PENALTY_HEADER = [
    "CF_XDR_MC",
    "CF_XDR_LB",
    "CF_XDR_SHXYM",
    "CF_XDR_ZJLX",
    "CF_XDR_ZJHM",
    "CF_WSH",
    "CF_WFXW",
    "CF_SY",
    "CF_YJ",
    "CF_CFLB",
    "CF_NR",
    "CF_NR_FK",
    "CF_NR_WFFF",
    "CF_NR_ZKDX",
    "CF_JDRQ",
    "CF_GSJZQ",
    "CF_CFJG",
    "CF_CFJGDM",
]
LICENCE_HEADER = [
    "XK_XDR_MC",
    "XK_XDR_LB",
    "XK_XDR_SHXYM",
    "XK_XDR_ZJHM",
    "XK_XKWS",
    "XK_WSH",
    "XK_XKLB",
    "XK_XKZS",
    "XK_XKBH",
    "XK_NR",
    "XK_JDRQ",
    "XK_YXQZ",
    "XK_YXQZI",
    "XK_XKJG",
    "XK_XKJGDM",
]


POLICY = load_policy()


def read_row(kind: str, line: int, row: dict[str, str]):
    """The BatchItem of one row, read on TODAY under the shipped policy."""
    return row_to_item(kind, line, row, today=TODAY, policy=POLICY).item


def penalty(n: int, **cells: str) -> dict[str, str]:
    row = {
        "CF_XDR_MC": f"郑州顺达货运有限公司{n}",
        "CF_XDR_LB": "法人及非法人组织",
        "CF_XDR_SHXYM": uscc(n),
        "CF_WSH": f"郑交执罚〔2026〕{n}号",
        "CF_WFXW": "超限运输",
        "CF_SY": "车辆超限运输，超限率12%",
        "CF_YJ": "《公路安全保护条例》第六十四条",
        "CF_CFLB": "罚款；警告",
        "CF_NR": "罚款0.5万元",
        "CF_NR_FK": "0.5",
        "CF_JDRQ": "2026-11-02",
        "CF_CFJG": AUTHORITY_NAME,
        "CF_CFJGDM": AUTHORITY,
    }
    row.update(cells)
    return row


def person_penalty(n: int, **cells: str) -> dict[str, str]:
    person = {
        "CF_XDR_MC": f"张三{n}",
        "CF_XDR_LB": "自然人",
        "CF_XDR_SHXYM": "",
        "CF_XDR_ZJLX": "身份证",
        "CF_XDR_ZJHM": resident_id(n),
    }
    return penalty(n, **{**person, **cells})


def licence(n: int, **cells: str) -> dict[str, str]:
    row = {
        "XK_XDR_MC": f"洛阳通达客运有限公司{n}",
        "XK_XDR_LB": "法人及非法人组织",
        "XK_XDR_SHXYM": uscc(n, "410302"),
        "XK_XKWS": "道路运输经营许可决定书",
        "XK_WSH": f"豫交运许〔2026〕{n}号",
        "XK_XKLB": "普通",
        "XK_XKZS": "道路运输经营许可证",
        "XK_XKBH": f"豫交运管许可洛字410302{n:06d}号",
        "XK_NR": "道路旅客运输经营",
        "XK_JDRQ": "2026/11/3",
        "XK_YXQZ": "20261103",
        "XK_YXQZI": "2030年11月2日",
        "XK_XKJG": "洛阳市交通运输局",
        "XK_XKJGDM": AUTHORITY,
    }
    row.update(cells)
    return row


def csv_bytes(header, rows, *, encoding="utf-8", bom=False) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(name, "") for name in header])
    data = text.getvalue().encode(encoding)
    return codecs.BOM_UTF8 + data if bom else data


@pytest.fixture
def ledger(empty_sqlite: Database):
    database = empty_sqlite
    ledger = open_ledger(database)
    yield ledger
    ledger.close()


@pytest.fixture
def files(ledger):
    return CreditFiles(ledger, SubjectIds("test-key"), FixedClock(NOW, ZONE), load_policy())


def position(ledger) -> int:
    return ledger.recorder.max_notification_id() or 0


def run(files, data: bytes, filename: str = "batch.csv", **options) -> ImportReport:
    return import_stream(io.BytesIO(data), filename, files, recorded_by="importer@test", **options)


def subject(files, ledger, code: str):
    return ledger.repository.get(files.subject_id_for_code(code))


def events(files, ledger, code: str) -> list:
    return list(ledger.repository.event_store.get(files.subject_id_for_code(code)))


def penalties(files, ledger, code: str) -> list:
    return [e for e in events(files, ledger, code) if type(e).__name__ == "PenaltyDecided"]


def rejections(report: ImportReport) -> list[tuple[int, str]]:
    return [(r.line, r.reason) for r in report.rejected]


# --- Encodings and formats ------------------------------------------------------------------


def test_utf8_csv_imports_enterprises_and_natural_persons(files, ledger):
    rows = [
        penalty(1, CF_XDR_SHXYM=uscc(1, "330106")),
        person_penalty(2),
        penalty(3, CF_XDR_LB="3", CF_CFLB="罚款;警告、没收违法所得,责令停业整顿"),
    ]
    report = run(files, csv_bytes(PENALTY_HEADER, rows))

    assert (report.kind, report.rows_read, report.accepted, report.already_present) == (
        "penalty",
        3,
        3,
        0,
    )
    assert report.rejected == []
    assert position(ledger) == 6  # three registrations, three penalties

    enterprise = subject(files, ledger, uscc(1, "330106"))
    assert (enterprise.kind, enterprise.name, enterprise.region_code, enterprise.sectors) == (
        "enterprise",
        "郑州顺达货运有限公司1",
        "330106",
        ["road_transport"],
    )
    person = subject(files, ledger, resident_id(2))
    assert (person.kind, person.name, person.region_code) == ("individual", "张三2", "110101")
    assert subject(files, ledger, uscc(3)).kind == "enterprise"

    [decided] = penalties(files, ledger, uscc(1, "330106"))
    assert decided.decision_date == date(2026, 11, 2)
    assert decided.source_ref == "郑交执罚〔2026〕1号"
    assert decided.fine_amount == Decimal("0.5")
    assert decided.confiscated_amount is None
    assert decided.penalty_categories == ["罚款", "警告"]
    assert (decided.severity, decided.procedure) == ("general", "general")
    assert (decided.authority_code, decided.authority_name) == (AUTHORITY, AUTHORITY_NAME)
    assert decided.facts == "车辆超限运输，超限率12%"
    [third] = penalties(files, ledger, uscc(3))
    assert third.penalty_categories == ["罚款", "警告", "没收违法所得", "责令停业整顿"]


def test_utf8_with_bom_reads_the_first_column(files, ledger):
    data = csv_bytes(PENALTY_HEADER, [penalty(1)], bom=True)
    kind, rows = read_rows(io.BytesIO(data), "batch.csv")
    [(line, row)] = list(rows)
    assert (kind, line, row["CF_XDR_MC"]) == ("penalty", 2, "郑州顺达货运有限公司1")

    report = run(files, data)
    assert (report.accepted, report.rejected) == (1, [])
    assert subject(files, ledger, uscc(1)).name == "郑州顺达货运有限公司1"


@pytest.mark.parametrize(
    ("encoding", "name"), [("gbk", "郑州顺达货运有限公司"), ("gb18030", "𠀀记运输有限公司")]
)
def test_gbk_and_gb18030_csv(files, ledger, encoding, name):
    data = csv_bytes(PENALTY_HEADER, [penalty(1, CF_XDR_MC=name)], encoding=encoding)
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # really not UTF-8
    report = run(files, data)
    assert (report.accepted, report.rejected) == (1, [])
    assert subject(files, ledger, uscc(1)).name == name
    assert penalties(files, ledger, uscc(1))[0].legal_basis == "《公路安全保护条例》第六十四条"


# What a cell of a test workbook holds: text, a number, a date or nothing.
SpreadsheetCell = str | int | float | date | None


def spreadsheet_penalty(n: int, **cells: SpreadsheetCell) -> dict[str, SpreadsheetCell]:
    return {**penalty(n), **cells}


def xlsx_bytes(header: list[str], rows: Iterable[Mapping[str, SpreadsheetCell] | None]) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None  # a new workbook has one sheet
    sheet.append(header)
    for row in rows:
        if row is None:
            sheet.append([])
            continue
        sheet.append([row.get(name) for name in header])
    # Stored as text, exactly as a cell typed with a leading apostrophe in Excel would be.
    for cells in sheet.iter_rows():
        for cell in cells:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


class NonSeekable(io.RawIOBase):
    def __init__(self, data: bytes):
        self._data = io.BytesIO(data)

    def readable(self):
        return True

    def readinto(self, buffer):
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


@pytest.mark.parametrize("seekable", [True, False])
def test_xlsx_with_date_and_number_cells(files, ledger, seekable):
    header = [*PENALTY_HEADER, "CF_YZCD"]
    rows = [
        spreadsheet_penalty(
            1,
            CF_JDRQ=datetime(2026, 11, 2, 0, 0),
            CF_NR_FK=0.5,
            CF_NR_WFFF=2,
            CF_XDR_LB=1,
            CF_YZCD="严重",
        ),
        None,  # a blank row: skipped but counted
        spreadsheet_penalty(
            2, CF_JDRQ=date(2026, 10, 30), CF_NR_FK=1e-05, CF_SY="=cmd|' /C calc'!A0"
        ),
        spreadsheet_penalty(3, CF_SY=None),
    ]
    data = xlsx_bytes(header, rows)
    # It stands in for a pipe, a BinaryIO that cannot seek; it does not derive from typing's class.
    stream = io.BytesIO(data) if seekable else cast(BinaryIO, NonSeekable(data))
    report = import_stream(stream, "upload.bin", files, recorded_by="importer@test")

    assert (report.kind, report.rows_read, report.accepted) == ("penalty", 3, 2)
    assert rejections(report) == [(5, "必填项为空：CF_SY 违法事实")]
    [first] = penalties(files, ledger, uscc(1))
    assert first.decision_date == date(2026, 11, 2)
    assert (first.fine_amount, first.confiscated_amount) == (Decimal("0.5"), Decimal("2"))
    assert first.severity == "serious"
    [second] = penalties(files, ledger, uscc(2))
    assert second.decision_date == date(2026, 10, 30)
    assert second.fine_amount == Decimal("0.00001")
    assert second.facts == "=cmd|' /C calc'!A0"


def test_xlsx_line_numbers_count_blank_rows(files):
    data = xlsx_bytes(PENALTY_HEADER, [None, penalty(1), None, None, penalty(2)])
    kind, rows = read_rows(io.BytesIO(data), "f.xlsx")
    assert kind == "penalty"
    assert [line for line, _ in rows] == [3, 6]


def test_licence_csv(files, ledger):
    rows = [licence(1), licence(2, XK_YXQZI="", XK_XKZS="", XK_XKBH="")]
    report = run(files, csv_bytes(LICENCE_HEADER, rows))
    assert (report.kind, report.rows_read, report.accepted, report.rejected) == (
        "licence",
        2,
        2,
        [],
    )
    holder = subject(files, ledger, uscc(1, "410302"))
    assert (holder.region_code, holder.name) == ("410302", "洛阳通达客运有限公司1")
    [granted] = [
        e for e in events(files, ledger, uscc(1, "410302")) if type(e).__name__ == "LicenceGranted"
    ]
    assert granted.decision_date == date(2026, 11, 3)
    assert (granted.valid_from, granted.valid_until) == (date(2026, 11, 3), date(2030, 11, 2))
    assert granted.licence_number == "豫交运管许可洛字410302000001号"
    assert (granted.document_name, granted.licence_type) == ("道路运输经营许可决定书", "普通")
    [bare] = [
        e for e in events(files, ledger, uscc(2, "410302")) if type(e).__name__ == "LicenceGranted"
    ]
    assert (bare.valid_until, bare.certificate_name, bare.licence_number) == (None, None, None)


def test_licence_valid_until_before_valid_from_is_rejected_by_the_domain(files):
    rows = [licence(1, XK_YXQZI="2026-11-01")]
    report = run(files, csv_bytes(LICENCE_HEADER, rows))
    assert rejections(report) == [(2, "XK_YXQZI 有效期至：有效期至须晚于有效期自。")]


# --- Good and bad rows mixed -----------------------------------------------------------------


def bad_check_char(code: str) -> str:
    return code[:17] + ("0" if code[17] != "0" else "1")


FIFTEEN_DIGIT_ID = "110101850312123"
WRONG_CHECK_ID = resident_id(9)[:17] + ("0" if resident_id(9)[17] != "0" else "1")


def mixed_rows() -> list[dict[str, str]]:
    wrong_authority = bad_check_char(AUTHORITY)
    return [
        penalty(1),  # line 2: good
        penalty(2, CF_XDR_SHXYM=bad_check_char(uscc(2))),  # 3
        penalty(3, CF_JDRQ="2026-12-01"),  # 4: in the future
        penalty(4, CF_SY=""),  # 5
        penalty(5, CF_NR_FK="-1"),  # 6
        penalty(6, CF_XDR_LB="公司"),  # 7
        person_penalty(7, CF_XDR_ZJHM=FIFTEEN_DIGIT_ID),  # 8
        person_penalty(8),  # 9: good
        penalty(10, CF_CFJGDM=wrong_authority),  # 10
        person_penalty(11, CF_XDR_ZJLX="护照"),  # 11
        person_penalty(9, CF_XDR_ZJHM=WRONG_CHECK_ID),  # 12
        penalty(12, CF_XDR_LB=resident_id(12)),  # 13: an ID typed into the wrong column
    ]


def test_mixed_file_accepts_good_rows_and_rejects_each_bad_row(files, ledger):
    before = position(ledger)
    report = run(files, csv_bytes(PENALTY_HEADER, mixed_rows()))

    expected_authority_char = AUTHORITY[17]
    wrong_char = bad_check_char(AUTHORITY)[17]
    assert (report.rows_read, report.accepted, report.already_present) == (12, 2, 0)
    categories = "请填写法人及非法人组织、法人、非法人组织、个体工商户或自然人（或代码 1、2、3）"
    assert rejections(report) == [
        (
            3,
            f"CF_XDR_SHXYM 统一社会信用代码：{USCC_INVALID}（check character should be "
            f"{uscc(2)[17]!r}, got {bad_check_char(uscc(2))[17]!r}）",
        ),
        (4, "CF_JDRQ 处罚决定日期：决定日期不能晚于今天。"),
        (5, "必填项为空：CF_SY 违法事实"),
        (6, "CF_NR_FK 罚款金额（万元）：金额不能为负数"),
        (7, f"CF_XDR_LB 行政相对人类别：“公司”不是行政相对人类别；{categories}"),
        (
            8,
            f"CF_XDR_ZJHM 证件号码：{RESIDENT_ID_INVALID}（only 18-digit resident ID numbers "
            "are accepted, got a 15-digit legacy number）",
        ),
        (
            10,
            f"CF_CFJGDM 处罚机关统一社会信用代码：{USCC_INVALID}（check character should be "
            f"{expected_authority_char!r}, got {wrong_char!r}）",
        ),
        (11, "CF_XDR_ZJLX 证件类型：自然人只接受居民身份证"),
        (
            12,
            f"CF_XDR_ZJHM 证件号码：{RESIDENT_ID_INVALID}（the check digit (last character) "
            "does not match）",
        ),
        (13, f"CF_XDR_LB 行政相对人类别：一个 18 个字符的值不是行政相对人类别；{categories}"),
    ]
    # Only the two good rows were written: two registrations, two penalties.
    assert position(ledger) == before + 4
    for code in (uscc(3), uscc(4), uscc(5), uscc(6), uscc(10), uscc(12), resident_id(11)):
        with pytest.raises(AggregateNotFoundError):
            subject(files, ledger, code)
    assert subject(files, ledger, resident_id(8)).kind == "individual"
    # No reason ever carries a resident ID number (or any long run of digits).
    for rejection in report.rejected:
        assert not re.search(r"\d{6,}", rejection.reason), rejection


def test_reimport_counts_everything_as_already_present(files, ledger):
    data = csv_bytes(PENALTY_HEADER, mixed_rows())
    first = run(files, data)
    after_first = position(ledger)

    second = run(files, data)
    assert (second.rows_read, second.accepted, second.already_present) == (12, 0, first.accepted)
    assert first.accepted == 2
    assert rejections(second) == rejections(first)
    assert position(ledger) == after_first


@pytest.mark.parametrize("batch_size", [1000, 1])
def test_same_decision_number_twice_in_one_file(files, ledger, batch_size):
    data = csv_bytes(PENALTY_HEADER, [penalty(1), penalty(2), penalty(1)])
    report = run(files, data, batch_size=batch_size)
    assert (report.accepted, report.already_present, report.rejected) == (2, 1, [])
    assert len(penalties(files, ledger, uscc(1))) == 1


def test_same_decision_number_with_different_content_is_rejected(files, ledger):
    data = csv_bytes(PENALTY_HEADER, [penalty(1), penalty(1, CF_NR_FK="0.8")])
    report = run(files, data)
    assert report.accepted == 1
    [(line, reason)] = rejections(report)
    assert line == 3
    assert reason == "CF_WSH 行政处罚决定书文号：" + RULE_TEXTS_ZH[ONE_RECORD_PER_DECISION]
    assert penalties(files, ledger, uscc(1))[0].fine_amount == Decimal("0.5")


# --- Severity of rows without one (national CF_* files carry none) ---------------------------

# A national row as agencies send it: 未取得道路运输经营许可擅自从事道路客运经营, 5万元 and the
# gains confiscated, the authority's declared end three years on; no severity column.
UNLICENSED_PASSENGER_TRANSPORT = {
    "CF_WFXW": "未取得道路运输经营许可，擅自从事道路客运经营",
    "CF_SY": "当事人驾驶豫A12345小型客车，未取得道路运输经营许可，擅自从事道路旅客运输经营",
    "CF_YJ": "《中华人民共和国道路运输条例》第六十三条",
    "CF_CFLB": "罚款；没收违法所得",
    "CF_NR": "罚款5万元，没收违法所得0.12万元",
    "CF_NR_FK": "5",
    "CF_NR_WFFF": "0.12",
    "CF_JDRQ": "2025-11-20",
    "CF_GSJZQ": "2028-11-20",
}


def window_of(decided) -> tuple[date, date | None] | None:
    fields = {name: getattr(decided, name) for name in decided.__dataclass_fields__}
    window = record_window("PenaltyDecided", fields, book=POLICY)
    return None if window is None else (window.start, window.end)


def test_a_national_row_keeps_its_declared_three_years_under_order_58(files, ledger):
    report = run(files, csv_bytes(PENALTY_HEADER, [penalty(1, **UNLICENSED_PASSENGER_TRANSPORT)]))
    assert (report.accepted, report.rejected, report.flagged) == (1, [], [])
    [decided] = penalties(files, ledger, uscc(1))
    assert (decided.severity, decided.declared_publication_end) == ("general", date(2028, 11, 20))
    # 令第58号: three years at most whatever the severity; still published on 2026-11-20
    assert window_of(decided) == (date(2025, 11, 20), date(2028, 11, 20))
    assert [(r.line, r.severity, r.rule) for r in report.severities] == [
        (2, "general", "service default: general")
    ]


def test_a_declared_end_only_serious_conduct_may_have_makes_the_row_serious(files, ledger):
    row = penalty(1, **{**UNLICENSED_PASSENGER_TRANSPORT, "CF_JDRQ": "2026-05-20"})
    row["CF_GSJZQ"] = "2029-05-20"
    report = run(files, csv_bytes(PENALTY_HEADER, [row]))
    [decided] = penalties(files, ledger, uscc(1))
    assert decided.severity == "serious"
    assert window_of(decided) == (date(2026, 5, 20), date(2029, 5, 20))
    assert report.severity_rules == {
        "policy 2026-36: penalty_severity.declared_end_beyond_general_maximum_is_serious "
        "(CF_GSJZQ 2029-05-20 > 2027-05-20)": 1
    }
    assert report.flagged == []


def test_a_declared_end_beyond_every_maximum_is_flagged_and_kept_as_sent(files, ledger):
    rows = [
        penalty(1, CF_JDRQ="2026-05-01", CF_GSJZQ="2030-01-01"),
        penalty(2, CF_JDRQ="2026-05-01", CF_GSJZQ="2028-01-01", CF_YZCD="一般"),
    ]
    report = run(files, csv_bytes([*PENALTY_HEADER, "CF_YZCD"], rows))
    [first] = penalties(files, ledger, uscc(1))
    [second] = penalties(files, ledger, uscc(2))
    # the record keeps the date as declared; it is published until the law's maximum
    assert (first.severity, first.declared_publication_end) == ("serious", date(2030, 1, 1))
    assert window_of(first) == (date(2026, 5, 1), date(2029, 5, 1))
    # a severity the authority gave stands: its declared end is beyond general's maximum
    assert (second.severity, second.declared_publication_end) == ("general", date(2028, 1, 1))
    assert window_of(second) == (date(2026, 5, 1), date(2027, 5, 1))
    assert [(flag.line, flag.flag) for flag in report.flagged] == [
        (
            2,
            "CF_GSJZQ 2030-01-01 is beyond the maximum of 36 months for serious conduct under "
            "policy 2026-36: published until 2029-05-01",
        ),
        (
            3,
            "CF_GSJZQ 2028-01-01 is beyond the maximum of 12 months for general conduct under "
            "policy 2026-36: published until 2027-05-01",
        ),
    ]
    assert report.flagged_count == 2
    assert [(r.line, r.severity, r.rule) for r in report.severities] == [
        (
            2,
            "serious",
            "policy 2026-36: penalty_severity.declared_end_beyond_general_maximum_is_serious "
            "(CF_GSJZQ 2030-01-01 > 2027-05-01)",
        ),
        (3, "general", "CF_YZCD: the authority's own"),
    ]


def test_a_licence_revocation_or_a_warning_alone_decides_the_severity(files, ledger):
    rows = [
        penalty(1, CF_NR_ZKDX="吊销道路运输经营许可证"),
        penalty(2, CF_CFLB="吊销许可证"),
        penalty(3, CF_CFLB="警告", CF_NR_FK="", CF_NR="警告"),
        penalty(4, CF_CFLB="罚款", CF_CXLX="简易程序", CF_YZCD="严重"),
        penalty(5, CF_CFLB="罚款；暂扣许可证件"),
    ]
    report = run(files, csv_bytes([*PENALTY_HEADER, "CF_YZCD", "CF_CXLX"], rows))
    assert report.accepted == 5
    severities = [penalties(files, ledger, uscc(n))[0].severity for n in range(1, 6)]
    assert severities == ["serious", "serious", "minor", "minor", "general"]
    assert report.severity_rules == {
        "policy 2026-36: penalty_severity.serious_when_any (吊销许可证件)": 2,
        "policy 2026-36: penalty_severity.minor_when_only (警告)": 1,
        "policy 2026-36: penalty_severity.simplified_procedure_is_minor (简易程序)": 1,
        "service default: general": 1,
    }
    # minor conduct is not published: a warning's record has no window
    assert window_of(penalties(files, ledger, uscc(3))[0]) is None


def test_severities_are_reported_for_accepted_rows_only(files, ledger):
    rows = [penalty(1), penalty(2, CF_SY=""), penalty(3, CF_JDRQ="2027-01-01")]
    report = run(files, csv_bytes(PENALTY_HEADER, rows))
    assert [rejection.line for rejection in report.rejected] == [3, 4]
    assert [row.line for row in report.severities] == [2]
    assert run(files, csv_bytes(PENALTY_HEADER, rows)).severities == []  # already present


def test_formula_like_cells_are_kept_verbatim(files, ledger):
    formula = "=cmd|' /C calc'!A0"
    rows = [
        penalty(
            1, CF_SY=formula, CF_NR="@SUM(A1:A9)", CF_WFXW="+超限运输", CF_NR_ZKDX="-暂扣道路运输证"
        )
    ]
    report = run(files, csv_bytes(PENALTY_HEADER, rows))
    assert (report.accepted, report.rejected) == (1, [])
    [decided] = penalties(files, ledger, uscc(1))
    assert decided.facts == formula
    assert decided.content == "@SUM(A1:A9)"
    assert decided.violation_type == "+超限运输"
    assert decided.licence_action == "-暂扣道路运输证"
    assert len(subject(files, ledger, uscc(1)).records) == 1


# --- Whole-file problems ---------------------------------------------------------------------


def test_missing_required_columns_write_nothing(files, ledger):
    header = [name for name in PENALTY_HEADER if name not in ("CF_YJ", "CF_CFJGDM")]
    data = csv_bytes(header, [penalty(1), penalty(2)])
    with pytest.raises(ImportFileError) as raised:
        run(files, data)
    assert str(raised.value) == (
        "missing required column(s) for a penalty (行政处罚) file: CF_YJ, CF_CFJGDM"
    )
    assert position(ledger) == 0


def test_no_subject_code_column_at_all(files):
    header = [n for n in PENALTY_HEADER if n not in ("CF_XDR_SHXYM", "CF_XDR_ZJHM")]
    with pytest.raises(ImportFileError, match=r"CF_XDR_SHXYM \(organisations\) or CF_XDR_ZJHM"):
        run(files, csv_bytes(header, [penalty(1)]))


def test_duplicate_column_names(files, ledger):
    header = [*PENALTY_HEADER, " cf_sy "]
    with pytest.raises(ImportFileError) as raised:
        run(files, csv_bytes(header, [penalty(1)]))
    assert str(raised.value) == "duplicate column name(s) in the header: CF_SY"
    assert position(ledger) == 0


def garbage_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "not a workbook")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 40, "x.csv", "NUL bytes"),
        (
            bytes((0x80 + i * 7) % 256 or 1 for i in range(5000)),
            "x.csv",
            "neither UTF-8 nor GBK/GB18030",
        ),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "x.xls", "legacy Excel .xls"),
        (garbage_zip(), "x.csv", "not a readable XLSX workbook"),
        (csv_bytes(PENALTY_HEADER, [penalty(1)]), "x.xlsx", "not a readable XLSX workbook"),
        (codecs.BOM_UTF16_LE + "CF_XDR_MC".encode("utf-16-le"), "x.csv", "UTF-16"),
        (b"", "x.csv", "no header row"),
        (b"\r\n,,,\r\n", "x.csv", "no header row"),
        (b"name,code\r\nfoo,bar\r\n", "x.csv", "unknown format"),
        (b"CF_XDR_MC,XK_XDR_MC\r\n", "x.csv", "mixes penalty"),
    ],
)
def test_unreadable_files(files, ledger, data, filename, message):
    with pytest.raises(ImportFileError, match=message):
        run(files, data, filename)
    assert position(ledger) == 0


def test_unknown_format_message_does_not_echo_id_numbers(files):
    data = f"张三,{resident_id(1)}\r\n".encode()
    with pytest.raises(ImportFileError) as raised:
        run(files, data)
    assert resident_id(1) not in str(raised.value)
    assert "'张三', a value of 18 characters" in str(raised.value)


def test_encoding_error_mid_file_refuses_the_file_with_the_line_and_writes_nothing(files, ledger):
    ascii_rows = [
        penalty(
            n,
            CF_XDR_MC=f"Company {n}",
            CF_WSH=f"ZJ-2026-{n}",
            CF_SY="overload",
            CF_YJ="art. 64",
            CF_CFLB="fine",
            CF_NR="fine",
            CF_CFJG="ZZ bureau",
            CF_WFXW="overload",
        )
        for n in range(1, 501)
    ]
    data = csv_bytes(PENALTY_HEADER, ascii_rows)
    assert len(data) > 64 * 1024
    data += csv_bytes(PENALTY_HEADER, [penalty(401)], encoding="gbk").split(b"\r\n", 1)[1]
    with pytest.raises(ImportFileError, match=r"not valid UTF-8 text after line \d+"):
        run(files, data, batch_size=100)
    assert position(ledger) == 0  # the file is read through before any row is written


# --- Reading rows ----------------------------------------------------------------------------


def test_read_rows_header_normalisation_blank_rows_and_line_numbers():
    header = ",".join(f" {name.lower()} " for name in PENALTY_HEADER) + ",,\r\n"
    body = csv_bytes(PENALTY_HEADER, [penalty(1), penalty(2)]).split(b"\r\n", 1)[1]
    first, second = body.split(b"\r\n")[:2]
    data = header.encode() + b"\r\n" + first + b"\r\n" + b",,,,\r\n" + second + b"\r\n\r\n"
    kind, read = read_rows(io.BytesIO(data), "batch.CSV")
    rows = list(read)
    assert kind == "penalty"
    assert [line for line, _ in rows] == [3, 5]
    assert set(rows[0][1]) == set(PENALTY_HEADER)
    assert rows[1][1]["CF_WSH"] == "郑交执罚〔2026〕2号"


def test_read_rows_detects_licences():
    kind, rows = read_rows(io.BytesIO(csv_bytes(LICENCE_HEADER, [licence(1)])), "l.csv")
    assert kind == "licence"
    assert [line for line, _ in rows] == [2]


def test_read_rows_streams_instead_of_loading_the_file():
    row = csv_bytes(PENALTY_HEADER, [penalty(1)]).split(b"\r\n", 1)[1]
    header = csv_bytes(PENALTY_HEADER, [])

    class Endless(io.RawIOBase):
        """50 MB of rows, generated on demand; counts what was read."""

        def __init__(self):
            self.served = 0
            self.pending = header

        def readable(self):
            return True

        def readinto(self, buffer):
            if self.served >= 50_000_000:
                return 0
            while len(self.pending) < len(buffer):
                self.pending += row * 64
            size = len(buffer)
            buffer[:size] = self.pending[:size]
            self.pending = self.pending[size:]
            self.served += size
            return size

    source = Endless()
    kind, rows = read_rows(io.BufferedReader(source), "big.csv")
    for _ in range(1000):
        next(rows)
    assert kind == "penalty"
    assert source.served < 2_000_000
    rows.close()


def test_quoting_problems_become_row_rejections(files):
    body = csv_bytes(PENALTY_HEADER, [penalty(1)]).decode()
    header, good = body.split("\r\n")[:2]
    shifted = good.replace("车辆超限运输，超限率12%", "车辆超限运输,超限率12%")
    malformed = good.replace("超限运输,", '"超限"运输,', 1)
    unclosed = (
        csv_bytes(PENALTY_HEADER, [penalty(4)])
        .decode()
        .split("\r\n")[1]
        .replace("罚款0.5万元", '"罚款0.5万元')
    )
    good2 = csv_bytes(PENALTY_HEADER, [penalty(2)]).decode().split("\r\n")[1]
    good3 = csv_bytes(PENALTY_HEADER, [penalty(3)]).decode().split("\r\n")[1]
    lines = [header, good, shifted, malformed, good2, unclosed, good3]
    report = run(files, ("\r\n".join(lines) + "\r\n").encode())

    assert report.accepted == 2
    assert rejections(report) == [
        (3, "该行在表头的 18 列之外还有 1 个非空单元格（单元格内的逗号未加引号？）"),
        (4, "CSV 格式有误（',' expected after '\"'）"),
        (6, "该行有一个以引号开始的单元格没有结束，文件其余部分都被读入该单元格，未导入"),
    ]


# --- Rows to commands ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-02",
        "2026/11/2",
        "20261102",
        "2026年11月2日",
        "2026-11-02 00:00:00",
        "２０２６-１１-０２",
    ],
)
def test_decision_date_formats(text):
    item = read_row("penalty", 7, penalty(1, CF_JDRQ=text))
    assert item.line == 7
    assert item.record.decision_date == date(2026, 11, 2)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("02/11/2026", f"CF_JDRQ 处罚决定日期：不是日期；{DATE_HINT}"),
        ("2026-02-30", "CF_JDRQ 处罚决定日期：“2026-02-30”不是有效的日期"),
        ("2026.11.02", f"CF_JDRQ 处罚决定日期：不是日期；{DATE_HINT}"),
    ],
)
def test_bad_dates(text, reason):
    with pytest.raises(RowError) as raised:
        read_row("penalty", 2, penalty(1, CF_JDRQ=text))
    assert raised.value.reason == reason


@pytest.mark.parametrize(
    ("category", "kind"),
    [
        ("法人及非法人组织", "enterprise"),
        ("法人", "enterprise"),
        ("非法人组织", "enterprise"),
        ("个体工商户", "enterprise"),
        ("1", "enterprise"),
        ("3", "enterprise"),
    ],
)
def test_enterprise_categories(category, kind):
    item = read_row("penalty", 2, penalty(1, CF_XDR_LB=category))
    assert (item.subject.kind, item.subject.code, item.subject.region_code) == (
        kind,
        uscc(1),
        "410105",
    )


@pytest.mark.parametrize("category", ["自然人", "2"])
def test_natural_person_categories(category):
    item = read_row("penalty", 2, person_penalty(1, CF_XDR_LB=category, CF_XDR_ZJLX=""))
    assert (item.subject.kind, item.subject.code, item.subject.region_code) == (
        "individual",
        resident_id(1),
        "110101",
    )


def test_natural_person_needs_an_id_number():
    with pytest.raises(RowError) as raised:
        read_row("penalty", 2, person_penalty(1, CF_XDR_ZJHM=""))
    assert raised.value.reason == "CF_XDR_ZJHM 证件号码：行政相对人类别为自然人时必填"


def test_birth_date_after_today_is_refused_without_the_number():
    number = "110101" + "20261201" + "123"
    number += ric.calc_check_digit(number + "0")
    with pytest.raises(RowError) as raised:
        read_row("penalty", 2, person_penalty(1, CF_XDR_ZJHM=number))
    assert raised.value.reason == (
        f"CF_XDR_ZJHM 证件号码：{RESIDENT_ID_INVALID}（the birth date is in the future）"
    )


@pytest.mark.parametrize(
    ("cells", "severity", "procedure"),
    [
        ({}, "general", "general"),
        ({"CF_YZCD": "严重"}, "serious", "general"),
        ({"CF_YZCD": "轻微", "CF_CXLX": "简易"}, "minor", "simplified"),
        ({"SEVERITY": "Minor", "PROCEDURE": "simplified"}, "minor", "simplified"),
        ({"CF_YZCD": "", "SEVERITY": "serious", "CF_CXLX": "普通程序"}, "serious", "general"),
    ],
)
def test_severity_and_procedure(cells, severity, procedure):
    item = read_row("penalty", 2, penalty(1, **cells))
    assert isinstance(item.record, DecidePenalty)
    assert (item.record.severity, item.record.procedure) == (severity, procedure)


def test_unknown_severity():
    with pytest.raises(RowError) as raised:
        read_row("penalty", 2, penalty(1, CF_YZCD="较重"))
    assert raised.value.reason == (
        "CF_YZCD 严重程度：“较重”不是可填的值；可填：轻微、一般、严重、minor、general、serious"
    )


def test_sector_column_and_amount_with_unit():
    row = penalty(
        1,
        SECTOR="road_transport；highway_construction",
        CF_NR_FK="1.25万元",
        CF_GSJZQ="2027-11-01",
        CF_NR_ZKDX="暂扣道路运输证",
    )
    item = read_row("penalty", 2, row)
    assert item.subject.sectors == ["road_transport", "highway_construction"]
    assert isinstance(item.record, DecidePenalty)
    assert item.record.fine_amount == Decimal("1.25")
    assert item.record.declared_publication_end == date(2027, 11, 1)
    assert item.record.licence_action == "暂扣道路运输证"


@pytest.mark.parametrize(
    ("cells", "reason"),
    [
        ({"CF_NR_FK": "五千元"}, "CF_NR_FK 罚款金额（万元）：不是数字（金额以万元计）"),
        (
            {"CF_NR_WFFF": "NaN"},
            "CF_NR_WFFF 没收违法所得、没收非法财物的金额（万元）：不是数字（金额以万元计）",
        ),
        ({"CF_NR_FK": "0.1234567"}, "CF_NR_FK 罚款金额（万元）：小数位数过多：最多 6 位"),
        ({"CF_CFLB": "；、"}, "CF_CFLB 处罚类别：不能为空"),
        (
            {"CF_CFJGDM": "114101"},
            f"CF_CFJGDM 处罚机关统一社会信用代码：{USCC_INVALID}（must be 18 characters, got 6）",
        ),
        ({"CF_WSH": "号" * 201}, "CF_WSH 行政处罚决定书文号：过长：最多 200 个字符"),
        (
            {"CF_SJLYDM": "114101"},
            f"CF_SJLYDM 数据来源单位统一社会信用代码：{USCC_INVALID}（must be 18 characters, "
            "got 6）",
        ),
        ({"CF_YXQ": "长期"}, f"CF_YXQ 处罚有效期：不是日期；{DATE_HINT}"),
        ({"CF_FRDB": "张" * 201}, "CF_FRDB 法定代表人：过长：最多 200 个字符"),
        (
            {"CF_XDR_SHXYM": make_uscc("91000000MA0000001")},
            "CF_XDR_SHXYM 统一社会信用代码（第 3-8 位，行政区划码）："
            f"{REGION_INVALID}（'00' is not a province-level code）",
        ),
        (  # a check of the service's own keeps its words
            {"CF_XDR_MC": "宏达\u200b运输"},
            "CF_XDR_MC 行政相对人名称：取值无效（contains the invisible character U+200B "
            "(ZERO WIDTH SPACE) at position 3: retype it）",
        ),
    ],
)
def test_validation_reasons_name_the_national_column(cells, reason):
    with pytest.raises(RowError) as raised:
        read_row("penalty", 2, penalty(1, **cells))
    assert raised.value.reason == reason


def test_several_empty_required_cells_are_named_together():
    with pytest.raises(RowError) as raised:
        read_row("penalty", 2, penalty(1, CF_SY=" ", CF_YJ="", CF_CFJG=""))
    assert raised.value.reason == "必填项为空：CF_SY 违法事实、CF_YJ 处罚依据、CF_CFJG 处罚机关"


def test_licence_row_to_item_maps_every_field():
    item = read_row("licence", 4, licence(1))
    record = item.record
    assert record.type == "LicenceGranted"
    assert isinstance(record, GrantLicence)
    assert (record.source_ref, record.authority_code, record.authority_name) == (
        "豫交运许〔2026〕1号",
        AUTHORITY,
        "洛阳市交通运输局",
    )
    assert (record.certificate_name, record.content) == ("道路运输经营许可证", "道路旅客运输经营")
    assert item.subject.region_code == "410302"


# The standard's columns beyond those every row needs: the legal representative (with the
# type and number of their ID, which are read past), the penalty's 有效期, the data source and
# its code, the remarks.
REPRESENTATIVE_ID = resident_id(77, "410105", "19700101")
PENALTY_FURTHER = ["CF_FRDB", "CF_FR_ZJLX", "CF_FR_ZJHM", "CF_YXQ", "CF_SJLY", "CF_SJLYDM", "BZ"]


def test_the_standards_further_penalty_columns_are_kept_on_the_record(files, ledger):
    further = {
        "CF_FRDB": "王建国",
        "CF_FR_ZJLX": "身份证",
        "CF_FR_ZJHM": REPRESENTATIVE_ID,
        "CF_YXQ": "2027/11/1",
        "CF_SJLY": "郑州市交通运输局",
        "CF_SJLYDM": AUTHORITY,
        "BZ": "当事人已缴纳罚款",
    }
    rows = [penalty(1, **further), penalty(2), penalty(3, **further, CF_JDRQ="2026-13-01")]
    report = run(files, csv_bytes(PENALTY_HEADER + PENALTY_FURTHER, rows), keep_rejected_rows=True)
    assert (report.accepted, [line for line, _ in rejections(report)]) == (2, [4])
    # A rejected row's cells are echoed with the representative's ID number masked.
    sheet = io.StringIO()
    report.write_rejected_csv(sheet)
    assert "王建国" in sheet.getvalue()
    assert REPRESENTATIVE_ID not in sheet.getvalue()
    assert codes.mask_resident_id(REPRESENTATIVE_ID) in sheet.getvalue()
    [kept] = penalties(files, ledger, uscc(1))
    assert (kept.legal_representative, kept.effective_until, kept.remarks) == (
        "王建国",
        date(2027, 11, 1),
        "当事人已缴纳罚款",
    )
    assert (kept.data_source_name, kept.data_source_code) == ("郑州市交通运输局", AUTHORITY)
    # The representative's ID number is in no stored event.
    stored = ledger.recorder.select_notifications(start=1, limit=100)
    assert any(uscc(1).encode() in n.state for n in stored)  # codes are stored as text
    assert not [n for n in stored if REPRESENTATIVE_ID.encode() in n.state]
    # A row without them: the same columns, empty.
    [bare] = penalties(files, ledger, uscc(2))
    assert [
        getattr(bare, name)
        for name in (
            "legal_representative",
            "effective_until",
            "data_source_name",
            "data_source_code",
            "remarks",
        )
    ] == [None] * 5


def test_the_standards_further_licence_columns_in_either_spelling(files, ledger):
    header = [*LICENCE_HEADER, "XK_FRDB", "XK_LYDW", "XK_LYDWDM", "XK_SJLY", "XK_SJLYDM", "BZ"]
    rows = [
        licence(1, XK_FRDB="李红", XK_LYDW="洛阳市交通运输局", XK_LYDWDM=AUTHORITY, BZ="新办"),
        # The data source as the penalty layout spells it, which some licence files follow.
        licence(2, XK_SJLY="洛阳市交通运输局", XK_SJLYDM=AUTHORITY),
        licence(3, XK_SJLYDM="114101"),
    ]
    report = run(files, csv_bytes(header, rows))
    assert report.accepted == 2
    assert rejections(report) == [
        (
            4,
            f"XK_SJLYDM 数据来源单位统一社会信用代码：{USCC_INVALID}（must be 18 characters, "
            "got 6）",
        )
    ]

    def granted(n: int):
        [found] = [
            e
            for e in events(files, ledger, uscc(n, "410302"))
            if type(e).__name__ == "LicenceGranted"
        ]
        return (
            found.legal_representative,
            found.data_source_name,
            found.data_source_code,
            found.remarks,
        )

    assert granted(1) == ("李红", "洛阳市交通运输局", AUTHORITY, "新办")
    assert granted(2) == (None, "洛阳市交通运输局", AUTHORITY, None)


# --- Progress and report ---------------------------------------------------------------------


def test_progress_and_batches(files, ledger):
    sizes: list[int] = []
    original = files.append_batch

    def spy(items, **options):
        sizes.append(len(items))
        return original(items, **options)

    files.append_batch = spy
    seen: list[int] = []
    read: list[int] = []
    rows = [penalty(1), penalty(2), penalty(3, CF_SY=""), penalty(4), penalty(5)]
    data = csv_bytes(PENALTY_HEADER, rows)
    report = run(files, data, batch_size=2, on_progress=seen.append, on_reading=read.append)
    assert read == [2, 4, 5]  # the file read through, then the rows done batch by batch
    assert seen == [0, 2, 4, 5]
    # Batches of two rows at most (by rows read: the rejected row counts, and is written in none).
    assert sum(sizes) == 4 and max(sizes) == 2 and len(sizes) in (2, 3)
    assert (report.rows_read, report.accepted) == (5, 4)


def test_report_to_dict_is_json_friendly():
    report = ImportReport(
        rows_read=3,
        accepted=1,
        already_present=1,
        rejected=[RowRejection(4, "CF_SY: x")],
        kind="penalty",
    )
    report.accepted_penalty(2, "serious", "policy 2026-36: x", "CF_GSJZQ y")
    assert json.loads(json.dumps(report.to_dict())) == {
        "kind": "penalty",
        "rows_read": 3,
        "accepted": 1,
        "already_present": 1,
        "rejected_count": 1,
        "rejected": [{"line": 4, "reason": "CF_SY: x"}],
        "severity_rules": {"policy 2026-36: x": 1},
        "severities": [{"line": 2, "severity": "serious", "rule": "policy 2026-36: x"}],
        "flagged_count": 1,
        "flagged": [{"line": 2, "flag": "CF_GSJZQ y"}],
    }


def test_header_only_file_reads_no_rows(files):
    report = run(files, csv_bytes(PENALTY_HEADER, []))
    assert (report.rows_read, report.accepted, report.rejected) == (0, 0, [])


# --- Volume ----------------------------------------------------------------------------------


def test_twenty_thousand_rows(files, ledger):
    count = 20_000

    def person_id(n: int) -> str:  # unique: the sequence number and the birth date vary
        birth = (date(1970, 1, 1) + timedelta(days=n // 1000)).strftime("%Y%m%d")
        return resident_id(n, birth=birth)

    rows = (
        penalty(n) if n % 2 else person_penalty(n, CF_XDR_ZJHM=person_id(n))
        for n in range(1, count + 1)
    )
    data = csv_bytes(PENALTY_HEADER, rows)
    started = time.perf_counter()
    report = run(files, data)
    elapsed = time.perf_counter() - started
    print(
        f"\n{count} rows ({len(data) / 1e6:.1f} MB) in {elapsed:.2f}s: "
        f"{count / elapsed:,.0f} rows/s"
    )
    assert report.rejected == []
    assert (report.rows_read, report.accepted, report.already_present) == (count, count, 0)
    assert position(ledger) == 2 * count  # each row: a new subject and its penalty
    assert elapsed < 60


def test_a_subjects_rows_spread_through_the_file_are_decided_without_reading_it_back(
    files, ledger, monkeypatch
):
    """Each subject's three rows are 60 rows apart and the import keeps four subjects between
    batches of ten rows: decided in the file's order, each batch would read its subjects back
    from the store. Grouped by subject, none is."""
    monkeypatch.setattr(batch, "IMPORT_SUBJECTS_KEPT", 4)
    monkeypatch.setattr(batch, "IMPORT_RECORDS_KEPT", 8)
    read_back: list[int] = []
    load_many = ledger.load_many

    def counted(subject_ids, **options):
        found = load_many(subject_ids, **options)
        read_back.append(len(found))
        return found

    monkeypatch.setattr(ledger, "load_many", counted)
    rows = [
        penalty(n % 60, CF_WSH=f"郑交执罚〔2026〕{n}号", CF_JDRQ=f"2026-{1 + n // 60:02}-01")
        for n in range(180)
    ]
    report = run(files, csv_bytes(PENALTY_HEADER, rows), batch_size=10)
    assert (report.accepted, report.rejected) == (180, [])
    assert read_back and sum(read_back) == 0
    assert len(events(files, ledger, uscc(7))) == 4  # its registration and its three penalties


@pytest.mark.parametrize("bound", [1_000, 5])
def test_a_subjects_registration_is_checked_once_while_kept_and_the_kept_are_bounded(
    files, monkeypatch, bound
):
    """Twenty subjects of three rows each, in batches of ten: kept without a bound, each
    subject's registration is checked once; kept up to five, the registrations are begun again
    after a batch passes the bound (never more than a batch past it), and some checked again."""
    monkeypatch.setattr(batch, "IMPORT_REGISTRATIONS_KEPT", bound)
    registrations_checked: list[str] = []
    build = columns._build

    def checking(model, named, fields):
        if model is RegisterSubject:
            registrations_checked.append(fields["code"])
        return build(model, named, fields)

    kept: list[int] = []
    read = batch.row_to_item

    def reading(*arguments, subjects_read, **options):
        kept.append(len(subjects_read))
        return read(*arguments, subjects_read=subjects_read, **options)

    monkeypatch.setattr(columns, "_build", checking)
    monkeypatch.setattr(batch, "row_to_item", reading)
    rows = [penalty(n % 20, CF_WSH=f"郑交执罚〔2026〕{n}号") for n in range(60)]
    report = run(files, csv_bytes(PENALTY_HEADER, rows), batch_size=10)
    assert (report.accepted, report.rejected) == (60, [])
    assert len(set(registrations_checked)) == 20
    if bound >= 20:
        assert len(registrations_checked) == 20
    else:
        assert 20 < len(registrations_checked) < 60
    assert max(kept) <= bound + 10


@pytest.mark.parametrize("filename", ["batch.csv", "batch.xlsx"])
def test_the_callers_stream_is_left_open(files, filename):
    rows = [penalty(1)]
    data = (
        csv_bytes(PENALTY_HEADER, rows)
        if filename.endswith(".csv")
        else xlsx_bytes(PENALTY_HEADER, rows)
    )
    stream = io.BytesIO(data)
    report = import_stream(stream, filename, files, recorded_by="importer@test")
    gc.collect()
    assert report.accepted == 1
    assert not stream.closed


def test_a_new_subject_takes_its_name_from_its_first_accepted_row(files, ledger):
    code = uscc(77)
    rows = [
        penalty(77, CF_XDR_MC="错误的名称", CF_JDRQ="2026-11-30"),  # rejected: future date
        penalty(78, CF_XDR_SHXYM=code, CF_XDR_MC="正确的名称"),
    ]
    report = run(files, csv_bytes(PENALTY_HEADER, rows))
    assert (report.accepted, [line for line, _ in rejections(report)]) == (1, [2])
    assert subject(files, ledger, code).name == "正确的名称"


# --- Reasons in Chinese, for the agency's clerks ---------------------------------------------

OTHER_AUTHORITY = make_uscc("11410100" + "MB0654321")


@pytest.mark.parametrize(
    ("refusal", "permit", "reason"),
    [
        (
            NotPermitted("authority … is not one this client may record for"),
            RecordingPermit(frozenset({OTHER_AUTHORITY}), frozenset({"road_transport"})),
            "CF_CFJGDM 处罚机关统一社会信用代码：导入者无权为该机关记录信用信息",
        ),
        (
            NotPermitted("the subject is in no sector this client may record for"),
            RecordingPermit(frozenset({AUTHORITY}), frozenset({"waterway_transport"})),
            "SECTOR 行业：该主体不在导入者可记录的行业内",
        ),
        (
            SubjectKindMismatch("this code is already registered as a individual"),
            None,
            "CF_XDR_LB 行政相对人类别：该代码已登记为另一类主体",
        ),
        (  # a rule whose field has no column of its own: the rule's words alone
            RuleViolated("the subject is already on the black list", rule=ONE_OPEN_ENTRY_PER_LIST),
            None,
            RULE_TEXTS_ZH[ONE_OPEN_ENTRY_PER_LIST],
        ),
        (  # no rule, so no Chinese text: the English detail, said to be a refusal
            RuleViolated("something new refused"),
            None,
            "记录被拒绝：something new refused",
        ),
    ],
)
def test_a_refusal_by_the_store_is_told_in_chinese_naming_its_column(refusal, permit, reason):
    item = read_row("penalty", 2, penalty(1))
    assert refusal_reason("penalty", item, refusal, permit) == reason


@pytest.mark.parametrize(
    ("cell", "quoted"),
    [
        ("", "空值"),
        ("较重", "“较重”"),
        ("x" * 31, "一个 31 个字符的值"),
        (resident_id(1), "一个 18 个字符的值"),
    ],
)
def test_a_reason_quotes_a_cell_unless_it_may_be_an_id_number(cell, quoted):
    assert quote_cell_zh(cell) == quoted


# --- The sector a row's record is filed in ----------------------------------------------------


def test_a_row_is_filed_in_the_sector_its_file_names_and_in_none_without_one(files, ledger):
    """RECORD_SECTOR (not in the national standard) files the record; a national file, which
    has no such column, files it in none, even where the importer and the subject share one
    sector only. A sector the importer is not granted, or the subject is not in, refuses the
    row, naming the column."""
    permit = RecordingPermit(frozenset({AUTHORITY}), frozenset({"road_transport", "taxi"}))
    header = [*PENALTY_HEADER, "SECTOR", "RECORD_SECTOR"]
    both = "road_transport；waterway_transport"
    rows = [
        penalty(1, SECTOR=both, RECORD_SECTOR="road_transport"),
        penalty(2, SECTOR=both, RECORD_SECTOR=""),
        penalty(3, SECTOR=both, RECORD_SECTOR="waterway_transport"),
        penalty(4, SECTOR=both, RECORD_SECTOR="taxi"),
    ]
    report = run(files, csv_bytes(header, rows), permit=permit)
    assert report.accepted == 2
    assert [(r.line, r.reason) for r in report.rejected] == [
        (4, "RECORD_SECTOR 记录所属行业：导入者无权在该行业记录信用信息"),
        (5, f"RECORD_SECTOR 记录所属行业：{RULE_TEXTS_ZH[RECORD_SECTOR_OF_SUBJECT]}"),
    ]
    [filed] = penalties(files, ledger, uscc(1))
    [unfiled] = penalties(files, ledger, uscc(2))
    assert (filed.sector, unfiled.sector) == ("road_transport", None)


def test_an_import_collects_less_often_until_the_last_running_import_ends():
    """The collector's threshold is raised while an import runs, and restored only when the
    last of several imports running at once (uploads, in the API's threads) has ended."""
    before = gc.get_threshold()
    with _fewer_collections():
        raised = gc.get_threshold()
        assert raised == (max(IMPORT_GC_THRESHOLD, before[0]), *before[1:])
        with _fewer_collections():
            assert gc.get_threshold() == raised
        assert gc.get_threshold() == raised  # the first import still runs
    assert gc.get_threshold() == before


def test_an_import_restores_the_threshold_when_it_fails(files):
    before = gc.get_threshold()
    with pytest.raises(ImportFileError):
        run(files, b"name,code\nx,y\n")
    with pytest.raises(ZeroDivisionError), _fewer_collections():
        1 / 0  # noqa: B018
    assert gc.get_threshold() == before
