"""The national 双公示 columns: the two layouts, and one row of either as the commands that
record it."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple, get_args

from pydantic import ValidationError

from domain import codes
from domain.completeness import Indicator
from domain.policy import PolicyBook
from domain.publication import (
    DECLARED,
    SERVICE_DEFAULT,
    SeverityFinding,
    conduct_publication,
    declared_end_note,
)
from domain.rule_texts import rule_text_zh
from service.commanding.commands import DecidePenalty, GrantLicence, RegisterSubject
from service.commanding.credit_files import BatchItem
from service.commanding.importing.messages import quote_cell_zh

PENALTY = "penalty"
LICENCE = "licence"

# read_rows puts a row it could not read as-is (malformed quoting, more cells than the header
# has columns) under this key, which no header column can have; row_to_item refuses the row.
ROW_PROBLEM = ""

_LIST_SEPARATORS = re.compile(r"[；;、,，]")

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
_DATE_HINT_ZH = "日期请写作 YYYY-MM-DD、YYYY/MM/DD、YYYYMMDD 或 YYYY年M月D日"

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


class RowError(ValueError):
    """One row cannot become a record; `reason`, in Chinese for the agency's clerks, names the
    national column at fault with its 中文名称 (`labelled`)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# Column layout of the two national formats ---------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A column of a 双公示 file: its name and its title (标准字段名 and 中文名称 in the national
    行政许可和行政处罚等信用信息数据标准), whether every row needs it, the command field its
    cells fill (`subject.<field>` for the subject's registration), how a cell is read where
    that field's own description does not say, whether the standard has it at all, and the
    kinds of subject whose records it is for (None: every kind's)."""

    name: str
    title: str
    fills: str | None = None
    required: bool = False
    reading: str = ""
    national: bool = True
    kinds: frozenset[str] | None = None


def _choices(choices: Mapping[str, str]) -> str:
    """How a choice column's cells are read: each value and the cells that give it."""
    cells: dict[str, list[str]] = {}
    for cell, value in choices.items():
        cells.setdefault(value, []).append(cell)
    return "; ".join(f"{', '.join(given)}: {value}" for value, given in cells.items())


# The kinds of subject whose records name a legal representative (法定代表人): organisations
# (enterprises, as which a 个体工商户 is recorded too, and public bodies), not persons or vehicles.
ORGANISATIONS = frozenset({"enterprise", "public_body"})
# Why the legal representative's ID columns are read past: see _representative_columns.
_NOT_KEPT = (
    "read past, never stored: the representative's personal data, not the credit subject's; the "
    "record needs no such number, and 双公示 publishes only the name"
)


def _representative_columns(prefix: str) -> tuple[Column, ...]:
    """The organisation's legal representative: the name is kept and published with the record,
    as 双公示 publishes it; the type and number of the representative's ID are not kept at all.
    They are a natural person's personal data (《个人信息保护法》第四条), not that of the credit
    subject, whose own code identifies it; collecting only what the purpose needs
    (第六条) leaves them out, so they are no indicators either."""
    return (
        Column(
            f"{prefix}FRDB",
            "法定代表人",
            "legal_representative",
            reading="an indicator of completeness of an organisation's records only",
            kinds=ORGANISATIONS,
        ),
        Column(f"{prefix}FR_ZJLX", "法定代表人证件类型", reading=_NOT_KEPT),
        Column(f"{prefix}FR_ZJHM", "法定代表人证件号码", reading=_NOT_KEPT),
    )


# Other spellings of a column that files carry: the licence layout's data source is LYDW in the
# published implementations of the standard, SJLY (as in the penalty layout) in some files.
ALSO_AS = {"XK_LYDW": "XK_SJLY", "XK_LYDWDM": "XK_SJLYDM"}


def _also(column: str) -> str:
    return f"also as {ALSO_AS[column]}" if column in ALSO_AS else ""


def _source_columns(name: str, code: str) -> tuple[Column, ...]:
    """The unit that supplied the data, its code, and the remarks: the last of both layouts."""
    return (
        Column(name, "数据来源单位", "data_source_name", reading=_also(name)),
        Column(
            code,
            "数据来源单位统一社会信用代码",
            "data_source_code",
            reading=_also(code),
        ),
        Column("BZ", "备注", "remarks"),
    )


def _subject_columns(prefix: str) -> tuple[Column, ...]:
    """The subject's columns, the same in both layouts but for their prefix."""
    return (
        Column(f"{prefix}XDR_MC", "行政相对人名称", "subject.name", required=True),
        Column(
            f"{prefix}XDR_LB",
            "行政相对人类别",
            "subject.kind",
            required=True,
            reading=_choices(_SUBJECT_CATEGORIES),
        ),
        Column(
            f"{prefix}XDR_SHXYM",
            "统一社会信用代码",
            "subject.code",
            reading="an enterprise's code, required for one; its characters 3-8 give the "
            "region code",
        ),
        Column(
            f"{prefix}XDR_ZJLX",
            "证件类型",
            reading="an individual's ID type: empty, 身份证 or 居民身份证 (resident ID cards only)",
        ),
        Column(
            f"{prefix}XDR_ZJHM",
            "证件号码",
            "subject.code",
            reading="an individual's resident ID, required for one; its first 6 digits give the "
            "region code",
        ),
        Column(
            "SECTOR",
            "行业",
            "subject.sectors",
            reading="separated by ； ; 、 , or ，; empty: " + ", ".join(DEFAULT_SECTORS),
            national=False,
        ),
    )


def _record_sector_column() -> Column:
    # Not in the national standard: a file may say the sector each record was filed in.
    return Column(
        "RECORD_SECTOR",
        "记录所属行业",
        "sector",
        reading="one of the subject's sectors and of the importer's; empty: none",
        national=False,
    )


_DATE = f"a date: {_DATE_HINT}"
_AMOUNT = "a number in 万元 (a trailing 万元 is allowed)"
_LIST = "separated by ； ; 、 , or ，"
COLUMNS: dict[str, tuple[Column, ...]] = {
    PENALTY: (
        *_subject_columns("CF_"),
        *_representative_columns("CF_"),
        Column("CF_WSH", "行政处罚决定书文号", "source_ref", required=True),
        Column("CF_WFXW", "违法行为类型", "violation_type", required=True),
        Column("CF_SY", "违法事实", "facts", required=True),
        Column("CF_YJ", "处罚依据", "legal_basis", required=True),
        Column("CF_CFLB", "处罚类别", "penalty_categories", required=True, reading=_LIST),
        Column("CF_NR", "处罚内容", "content", required=True),
        Column("CF_NR_FK", "罚款金额（万元）", "fine_amount", reading=_AMOUNT),
        Column(
            "CF_NR_WFFF",
            "没收违法所得、没收非法财物的金额（万元）",
            "confiscated_amount",
            reading=_AMOUNT,
        ),
        Column("CF_NR_ZKDX", "暂扣或吊销证照名称及编号", "licence_action"),
        Column("CF_JDRQ", "处罚决定日期", "decision_date", required=True, reading=_DATE),
        Column("CF_YXQ", "处罚有效期", "effective_until", reading=_DATE),
        Column("CF_GSJZQ", "公示截止期", "declared_publication_end", reading=_DATE),
        Column("CF_CFJG", "处罚机关", "authority_name", required=True),
        Column("CF_CFJGDM", "处罚机关统一社会信用代码", "authority_code", required=True),
        *_source_columns("CF_SJLY", "CF_SJLYDM"),
        Column(
            "CF_YZCD",
            "严重程度",
            "severity",
            reading=f"{_choices(_SEVERITIES)}; empty: general; also as SEVERITY",
            national=False,
        ),
        Column(
            "CF_CXLX",
            "程序类型",
            "procedure",
            reading=f"{_choices(_PROCEDURES)}; empty: general; also as PROCEDURE",
            national=False,
        ),
        _record_sector_column(),
    ),
    LICENCE: (
        *_subject_columns("XK_"),
        *_representative_columns("XK_"),
        Column("XK_XKWS", "行政许可决定文书名称", "document_name", required=True),
        Column("XK_WSH", "行政许可决定文书号", "source_ref", required=True),
        Column("XK_XKLB", "许可类别", "licence_type", required=True),
        Column("XK_XKZS", "许可证书名称", "certificate_name"),
        Column("XK_XKBH", "许可编号", "licence_number"),
        Column("XK_NR", "许可内容", "content", required=True),
        Column("XK_JDRQ", "许可决定日期", "decision_date", required=True, reading=_DATE),
        Column("XK_YXQZ", "有效期自", "valid_from", required=True, reading=_DATE),
        Column("XK_YXQZI", "有效期至", "valid_until", reading=_DATE),
        Column("XK_XKJG", "许可机关", "authority_name", required=True),
        Column("XK_XKJGDM", "许可机关统一社会信用代码", "authority_code", required=True),
        # The licence layout names its data source LYDW where the penalty one says SJLY.
        *_source_columns("XK_LYDW", "XK_LYDWDM"),
        _record_sector_column(),
    ),
}
REQUIRED = {kind: tuple(c.name for c in columns if c.required) for kind, columns in COLUMNS.items()}
TITLES = {column.name: column.title for columns in COLUMNS.values() for column in columns}
TITLES.update({alias: TITLES[column] for column, alias in ALSO_AS.items()})


def labelled(column: str) -> str:
    """A column as a rejection names it: its name and its 中文名称 (CF_JDRQ 处罚决定日期)."""
    title = TITLES.get(column)
    return f"{column} {title}" if title else column


PREFIX = {PENALTY: "CF_", LICENCE: "XK_"}
# The command a row of each layout records, beside its subject's RegisterSubject.
COMMANDS: dict[str, type[DecidePenalty] | type[GrantLicence]] = {
    PENALTY: DecidePenalty,
    LICENCE: GrantLicence,
}


def national_indicators() -> dict[str, tuple[Indicator, ...]]:
    """The national standard's indicator fields of each record type a layout records (合格率):
    one per field of the record or of its subject that the layout's national columns fill, in
    the layout's order. The two code columns (SHXYM for an organisation, ZJHM for a person) fill
    the one subject code, so they are one indicator, filled by whichever applies; ZJLX, the type
    of a person's ID, fills no field of its own (only resident IDs are taken) and goes with it.
    An indicator of only some kinds of subject says which (the legal representative: of an
    organisation's records)."""
    found: dict[str, tuple[Indicator, ...]] = {}
    for kind, columns in COLUMNS.items():
        by_field: dict[str, list[Column]] = {}
        for column in columns:
            if column.national and column.fills:
                by_field.setdefault(column.fills, []).append(column)
        (record_type,) = get_args(COMMANDS[kind].model_fields["type"].annotation)
        found[record_type] = tuple(
            Indicator(
                "/".join(c.name for c in same),
                "/".join(c.title for c in same),
                field_name,
                same[0].kinds,
            )
            for field_name, same in by_field.items()
        )
    return found


# Command field -> national column, to name the column in a validation error.
_RECORD_COLUMNS = {
    kind: {c.fills: c.name for c in columns if c.fills and not c.fills.startswith("subject.")}
    for kind, columns in COLUMNS.items()
}


def record_column(kind: str, field: str) -> str | None:
    """The national column that fills a record field of a row of this kind, if one does."""
    return _RECORD_COLUMNS[kind].get(field)


# Rows to commands ----------------------------------------------------------------------------


class ImportedRow(NamedTuple):
    """One row as the commands that record it (a named tuple: see BatchItem). A penalty row
    also says its severity, the rule that decided it, and why the record is not published until
    the end its authority declared (CF_GSJZQ), if it is not: `severity` is (severity, rule, note
    or None)."""

    item: BatchItem
    severity: tuple[str, str, str | None] | None = None


# A subject's registration as rows read it, by its cells: (prefix, kind, code, name, sectors).
SubjectsRead = dict[tuple[str, str, str, str, tuple[str, ...]], RegisterSubject]


def row_to_item(
    kind: str,
    line: int,
    row: Mapping[str, str],
    *,
    today: date,
    policy: PolicyBook,
    subjects_read: SubjectsRead | None = None,
) -> ImportedRow:
    """Turn one row into a BatchItem, or raise RowError naming the column at fault. Subject
    codes are checked here (resident IDs against `today`); future decision dates are left to
    CreditFiles. A penalty's severity is the authority's (CF_YZCD) unless `policy`, in force on
    its decision date, decides it (see `domain.publication.conduct_severity`).

    `subjects_read` keeps the subjects' registrations this reading made, for the caller to
    bound: a row whose subject cells are those of a row read before takes its registration,
    checked already, instead of checking it again (a subject has several rows in a file)."""
    if kind not in PREFIX:
        raise ValueError(f"unknown import kind {kind!r}")
    if row.get(ROW_PROBLEM):
        raise RowError(row[ROW_PROBLEM])
    cells = _Cells(row)
    empty = [name for name in REQUIRED[kind] if name not in cells.cells]
    if empty:
        raise RowError(f"必填项为空：{'、'.join(labelled(name) for name in empty)}")
    subject = _subject(PREFIX[kind], cells, today, subjects_read)
    if kind == LICENCE:
        return ImportedRow(BatchItem(line=line, subject=subject, record=_licence(cells)))
    record, assessed = _penalty(cells, policy)
    return ImportedRow(BatchItem(line=line, subject=subject, record=record), assessed)


class _Cells:
    def __init__(self, row: Mapping[str, str]):
        # Each cell stripped once: a row's cells are read some forty times. Only cells with
        # more than spaces are kept, so a column is empty exactly when it is not here.
        self.cells = {
            column: text for column, value in row.items() if value and (text := value.strip())
        }

    def text(self, column: str) -> str:
        return self.cells.get(column, "")

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
                    raise RowError(
                        f"{labelled(column)}：{quote_cell_zh(value)}不是有效的日期"
                    ) from None
        raise RowError(f"{labelled(column)}：不是日期；{_DATE_HINT_ZH}")

    def amount(self, column: str) -> Decimal | None:
        value = self.plain(column).removesuffix("万元").strip()
        if not value:
            return None
        try:
            amount = Decimal(value)
        except InvalidOperation:
            amount = Decimal("NaN")
        if not amount.is_finite():
            raise RowError(f"{labelled(column)}：不是数字（金额以万元计）")
        if amount < 0:
            raise RowError(f"{labelled(column)}：金额不能为负数")
        return amount

    def choice(self, columns: tuple[str, ...], choices: dict[str, str], default: str) -> str:
        column, value = self.first(*columns)
        if not value:
            return default
        chosen = choices.get(value) or choices.get(value.lower())
        if chosen is None:
            allowed = "、".join(choices)
            raise RowError(
                f"{labelled(column)}：{quote_cell_zh(value)}不是可填的值；可填：{allowed}"
            )
        return chosen

    def items(self, column: str) -> list[str]:
        return [part.strip() for part in _LIST_SEPARATORS.split(self.text(column)) if part.strip()]


def row_subject_code(kind: str, row: Mapping[str, str], today: date) -> str | None:
    """The code of the subject a row names, normalised, read as `row_to_item` reads it but at a
    small part of its cost; None if the row names no valid one (`row_to_item` refuses it)."""
    try:
        return _subject_code(PREFIX[kind], _Cells(row), today)[1]
    except RowError:
        return None


def _subject_code(prefix: str, cells: _Cells, today: date) -> tuple[str, str, str, str]:
    """The subject's kind and normalised code, and the category and code columns' names."""
    category_column = f"{prefix}XDR_LB"
    category = cells.plain(category_column)
    kind = _SUBJECT_CATEGORIES.get(category)
    if kind is None:
        raise RowError(
            f"{labelled(category_column)}：{quote_cell_zh(category)}不是行政相对人类别；请填写"
            "法人及非法人组织、法人、非法人组织、个体工商户或自然人（或代码 1、2、3）"
        )
    if kind == "enterprise":
        code_column = f"{prefix}XDR_SHXYM"
    else:
        code_column = f"{prefix}XDR_ZJHM"
        id_type = cells.text(f"{prefix}XDR_ZJLX")
        if id_type not in _RESIDENT_ID_TYPES:
            raise RowError(f"{labelled(f'{prefix}XDR_ZJLX')}：自然人只接受居民身份证")
    raw_code = cells.plain(code_column).removeprefix("'").strip()
    if not raw_code:
        raise RowError(f"{labelled(code_column)}：行政相对人类别为{category}时必填")
    try:
        code = codes.normalise_code(kind, raw_code, today=today)
    except codes.InvalidCode as error:  # its reason never repeats the code
        raise RowError(_invalid_code(code_column, error)) from None
    return kind, code, category_column, code_column


def _subject(
    prefix: str, cells: _Cells, today: date, read: SubjectsRead | None = None
) -> RegisterSubject:
    kind, code, category_column, code_column = _subject_code(prefix, cells, today)
    name = cells.text(f"{prefix}XDR_MC")
    sector_items = cells.items("SECTOR")
    key = (prefix, kind, code, name, tuple(sector_items))
    if read is not None and (known := read.get(key)) is not None:
        return known
    region_hint = "第 3-8 位，行政区划码" if kind == "enterprise" else "第 1-6 位，行政区划码"
    region = code[2:8] if kind == "enterprise" else code[:6]
    try:
        codes.normalise_region_code(region)
    except codes.InvalidCode as error:  # told here in the rule's words, as the code's are
        raise RowError(_invalid_code(code_column, error, f"（{region_hint}）")) from None
    columns = {
        "name": f"{prefix}XDR_MC",
        "kind": category_column,
        "code": code_column,
        "region_code": f"{labelled(code_column)}（{region_hint}）",
        "sectors": "SECTOR",
    }
    subject: RegisterSubject = _build(
        RegisterSubject,
        columns,
        {
            "kind": kind,
            "code": code,
            "name": name,
            "region_code": region,
            "sectors": sector_items or list(DEFAULT_SECTORS),
        },
    )
    if read is not None:
        read[key] = subject
    return subject


def _invalid_code(column: str, error: codes.InvalidCode, where: str = "") -> str:
    """A code refused under its kind's rule, in that rule's words, then the checker's own
    finding (the character expected, the length found), which only its English names; `where`
    says which part of the cell is at fault. The finding never repeats the code."""
    told = rule_text_zh(error.rule)
    finding = f"{told.removesuffix('。')}（{error.reason}）" if told else error.reason
    return f"{labelled(column)}{where}：{finding}"


def _authority_code(cells: _Cells, column: str) -> str:
    """The deciding authority's USCC, checked here to be told in the rule's words (the command
    checks it again, as for an API request)."""
    code = cells.plain(column).removeprefix("'").strip()
    if code:
        try:
            codes.normalise_uscc(code)
        except codes.InvalidCode as error:
            raise RowError(_invalid_code(column, error)) from None
    return code


def _penalty(
    cells: _Cells, policy: PolicyBook
) -> tuple[DecidePenalty, tuple[str, str, str | None] | None]:
    """The penalty of a row, and its severity with the rule that decided it and the note on its
    declared end. A row's severity column (CF_YZCD, or SEVERITY) is the authority's; without
    one, the policy decides (national files carry none)."""
    severity_column, declared = cells.first("CF_YZCD", "SEVERITY")
    severity = cells.choice((severity_column,), _SEVERITIES, "general") if declared else None
    procedure = cells.choice(("CF_CXLX", "PROCEDURE"), _PROCEDURES, "general")
    decided = cells.date("CF_JDRQ")
    categories = cells.items("CF_CFLB")
    licence_action = cells.optional("CF_NR_ZKDX")
    declared_end = cells.date("CF_GSJZQ")
    assessed = None
    if decided is not None:  # else the command below names CF_JDRQ
        publication = conduct_publication(
            severity,
            decided,
            policy,
            procedure=procedure,
            categories=categories,
            licence_action=licence_action,
            declared_end=declared_end,
        )
        severity = publication.severity.severity
        assessed = (
            severity,
            _severity_rule(publication.severity, severity_column),
            declared_end_note(publication, declared_end),
        )
    fields = {
        "type": "PenaltyDecided",
        "severity": severity,
        "procedure": procedure,
        "decision_date": decided,
        "authority_name": cells.text("CF_CFJG"),
        "authority_code": _authority_code(cells, "CF_CFJGDM"),
        "source_ref": cells.text("CF_WSH"),
        "violation_type": cells.text("CF_WFXW"),
        "facts": cells.text("CF_SY"),
        "legal_basis": cells.text("CF_YJ"),
        "penalty_categories": categories,
        "content": cells.text("CF_NR"),
        "fine_amount": cells.amount("CF_NR_FK"),
        "confiscated_amount": cells.amount("CF_NR_WFFF"),
        "licence_action": licence_action,
        "declared_publication_end": declared_end,
        "effective_until": cells.date("CF_YXQ"),
        "sector": cells.optional("RECORD_SECTOR"),
        **_standard_fields(cells, "CF_FRDB", "CF_SJLY", "CF_SJLYDM"),
    }
    return _build(COMMANDS[PENALTY], _RECORD_COLUMNS[PENALTY], fields), assessed


def _severity_rule(finding: SeverityFinding, severity_column: str) -> str:
    """What decided a row's severity, as the import report names it."""
    if finding.rule == DECLARED:
        return f"{severity_column}: the authority's own"
    if finding.rule == SERVICE_DEFAULT:
        return SERVICE_DEFAULT
    return f"policy {finding.policy_version}: {finding.rule} ({finding.because})"


def _licence(cells: _Cells) -> GrantLicence:
    return _build(
        COMMANDS[LICENCE],
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
            "sector": cells.optional("RECORD_SECTOR"),
            **_standard_fields(cells, "XK_FRDB", "XK_LYDW", "XK_LYDWDM"),
        },
    )


def _standard_fields(cells: _Cells, representative: str, source: str, code: str) -> dict[str, Any]:
    """The fields both layouts have beyond their own: the legal representative, the data source
    and its code, the remarks; each None when its cell is empty."""
    _, source_name = cells.first(source, *_aliases(source))
    code_column, _ = cells.first(code, *_aliases(code))
    return {
        "legal_representative": cells.optional(representative),
        "data_source_name": source_name or None,
        "data_source_code": _authority_code(cells, code_column) or None,
        "remarks": cells.optional("BZ"),
    }


def _aliases(column: str) -> tuple[str, ...]:
    return (ALSO_AS[column],) if column in ALSO_AS else ()


def _build(model: Any, columns: Mapping[str, str], fields: dict[str, Any]) -> Any:
    try:
        return model.model_validate(fields)
    except ValidationError as error:
        raise RowError(_validation_reason(error, columns)) from None


# What a command's field check says, in Chinese, by pydantic's error type and its context. A
# check of this service's own (a value error: an invisible character, a code) keeps its words.
_CHECKS_ZH = {
    "string_too_short": "不能为空",
    "string_too_long": "过长：最多 {max_length} 个字符",
    "too_long": "项数过多：最多 {max_length} 项",
    "too_short": "不能为空",
    "greater_than_equal": "不能小于 {ge}",
    "decimal_max_digits": "数字位数过多：最多 {max_digits} 位",
    "decimal_max_places": "小数位数过多：最多 {decimal_places} 位",
    "decimal_whole_digits": "整数位数过多：最多 {whole_digits} 位",
    "decimal_parsing": "不是数字",
    "date_type": "不是日期",
    "date_parsing": "不是日期",
    "literal_error": "不是可填的值；可填：{expected}",
    "missing": "缺少此项",
}


def _check_zh(problem: Any, message: str) -> str:
    template = _CHECKS_ZH.get(problem["type"])
    if template is None:
        return f"取值无效（{message}）"
    return template.format(**problem.get("ctx", {}))


def _validation_reason(error: ValidationError, columns: Mapping[str, str]) -> str:
    """One short reason naming the national column; never the input (it may be personal)."""
    problems = error.errors(include_url=False, include_context=True, include_input=False)
    first = problems[0]
    field_name = str(first["loc"][0]) if first["loc"] else ""
    message = first["msg"].removeprefix("Value error, ")
    if not field_name:  # a check of the whole row names its field first ("source_ref: ...")
        named, separator, rest = message.partition(": ")
        if separator and named.split(".")[0] in columns:
            field_name, message = named.split(".")[0], rest
    column = labelled(columns[field_name]) if field_name in columns else field_name or "该行"
    more = f"（另有 {len(problems) - 1} 处问题）" if len(problems) > 1 else ""
    return f"{column}：{_check_zh(first, message)}{more}"
