"""The national 双公示 columns: the two layouts, and one row of either as the commands that
record it."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from domain import codes
from domain.policy import PolicyBook
from domain.publication import (
    DECLARED,
    SERVICE_DEFAULT,
    SeverityFinding,
    conduct_publication,
    declared_end_note,
)
from service.commanding.commands import DecidePenalty, GrantLicence, RegisterSubject
from service.commanding.credit_files import BatchItem
from service.commanding.importing.messages import quote_cell

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
    """One row cannot become a record; `reason` names the national column at fault."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# Column layout of the two national formats ---------------------------------------------------

REQUIRED = {
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
PREFIX = {PENALTY: "CF_", LICENCE: "XK_"}
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

# Rows to commands ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportedRow:
    """One row as the commands that record it. A penalty row also says its severity, the rule
    that decided it, and why the record is not published until the end its authority declared
    (CF_GSJZQ), if it is not: `severity` is (severity, rule, note or None)."""

    item: BatchItem
    severity: tuple[str, str, str | None] | None = None


def row_to_item(
    kind: str, line: int, row: Mapping[str, str], *, today: date, policy: PolicyBook
) -> ImportedRow:
    """Turn one row into a BatchItem, or raise RowError naming the column at fault. Subject
    codes are checked here (resident IDs against `today`); future decision dates are left to
    CreditFiles. A penalty's severity is the authority's (CF_YZCD) unless `policy`, in force on
    its decision date, decides it (see `domain.publication.conduct_severity`)."""
    if kind not in PREFIX:
        raise ValueError(f"unknown import kind {kind!r}")
    if row.get(ROW_PROBLEM):
        raise RowError(row[ROW_PROBLEM])
    cells = _Cells(row)
    empty = [name for name in REQUIRED[kind] if not cells.text(name)]
    if empty:
        raise RowError(f"empty required cell(s): {', '.join(empty)}")
    subject = _subject(PREFIX[kind], cells, today)
    if kind == LICENCE:
        return ImportedRow(BatchItem(line=line, subject=subject, record=_licence(cells)))
    record, assessed = _penalty(cells, policy)
    return ImportedRow(BatchItem(line=line, subject=subject, record=record), assessed)


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
                    raise RowError(f"{column}: {quote_cell(value)} is not a valid date") from None
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
            raise RowError(f"{column}: {quote_cell(value)} is not one of {allowed}")
        return chosen

    def items(self, column: str) -> list[str]:
        return [part.strip() for part in _LIST_SEPARATORS.split(self.text(column)) if part.strip()]


def _subject(prefix: str, cells: _Cells, today: date) -> RegisterSubject:
    category_column = f"{prefix}XDR_LB"
    category = cells.plain(category_column)
    kind = _SUBJECT_CATEGORIES.get(category)
    if kind is None:
        raise RowError(
            f"{category_column}: {quote_cell(category)} is not a subject category; use "
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
    }
    return _build(DecidePenalty, _RECORD_COLUMNS[PENALTY], fields), assessed


def _severity_rule(finding: SeverityFinding, severity_column: str) -> str:
    """What decided a row's severity, as the import report names it."""
    if finding.rule == DECLARED:
        return f"{severity_column}: the authority's own"
    if finding.rule == SERVICE_DEFAULT:
        return SERVICE_DEFAULT
    return f"policy {finding.policy_version}: {finding.rule} ({finding.because})"


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
