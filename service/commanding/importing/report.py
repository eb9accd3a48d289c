"""What an import tells the agency: its counts, the rejected rows by line and reason, and
those rows as a spreadsheet; for accepted penalties, the rule that decided each one's severity
and the rows flagged for a second look."""

from __future__ import annotations

import heapq
import operator
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from domain import codes
from domain import subject as rules
from domain.errors import DomainError, SubjectKindMismatch
from domain.rule_texts import rule_text_zh
from service.access.permissions import NotPermitted, RecordingPermit
from service.commanding.credit_files import BatchItem
from service.commanding.importing.columns import PENALTY, PREFIX, labelled, record_column
from service.commanding.importing.spreadsheet import write_csv

# A report keeps the cells of the first rejected rows by line: this many at most, and fewer if
# their text adds up to MAX_KEPT_REJECTED_CHARS (a wholly wrong file of 64 MB would otherwise be
# held twice); later ones keep their line and reason.
MAX_KEPT_REJECTED_ROWS = 10_000
MAX_KEPT_REJECTED_CHARS = 8_000_000
# A report lists the line and reason of this many rejected rows at most, the first by line, and
# counts the others (a file of 30 million one-character rows would otherwise hold 30 million
# rejections); so too the severities and the flags of accepted rows.
MAX_LISTED_REJECTIONS = 10_000

_NO_LINE = sys.maxsize  # past every line


# The record field a refusal of a row under these rules is about, to name its column.
_FIELD_REFUSED = {
    rules.DECISION_DATE_NOT_IN_FUTURE: "decision_date",
    rules.DATES_ARE_DATES: "decision_date",
    rules.ONE_RECORD_PER_DECISION: "source_ref",
    rules.VALIDITY_ENDS_AFTER_START: "valid_until",
    rules.SEVERITY_KNOWN: "severity",
    rules.RECORD_SECTOR_OF_SUBJECT: "sector",
}


def refusal_reason(
    kind: str, item: BatchItem, refusal: DomainError, permit: RecordingPermit | None
) -> str:
    """Why the store refused a row, in Chinese, naming its column: the refusal's rule in the
    rule's own words (domain/rule_texts.py), or what the permit or the subject's kind says."""
    prefix = PREFIX[kind]
    if isinstance(refusal, NotPermitted):
        if permit is not None and item.record.authority_code not in permit.authority_codes:
            authority = record_column(kind, "authority_code") or "authority_code"
            return f"{labelled(authority)}：导入者无权为该机关记录信用信息"
        if permit is not None and item.record.sector not in (None, *permit.sectors):
            return f"{labelled('RECORD_SECTOR')}：导入者无权在该行业记录信用信息"
        return f"{labelled('SECTOR')}：该主体不在导入者可记录的行业内"
    if isinstance(refusal, SubjectKindMismatch):
        return f"{labelled(prefix + 'XDR_LB')}：该代码已登记为另一类主体"
    told = rule_text_zh(refusal.rule)
    if told is None:
        return f"记录被拒绝：{refusal.detail}"
    field = _FIELD_REFUSED.get(refusal.rule) if refusal.rule is not None else None
    column = record_column(kind, field) if field is not None else None
    if column is None:
        return told
    return f"{labelled(column)}：{told}"


@dataclass(slots=True)
class RowRejection:
    line: int
    reason: str


@dataclass(slots=True)
class RowSeverity:
    """The severity an accepted penalty row was recorded with, and the rule that decided it."""

    line: int
    severity: str
    rule: str


@dataclass(slots=True)
class RowFlag:
    """An accepted row the agency should look at again: e.g. a declared end (CF_GSJZQ) the law
    does not allow, and the end the record is published until instead."""

    line: int
    flag: str


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
    # Accepted penalty rows: how many each rule gave their severity, and (the first
    # MAX_LISTED_REJECTIONS) the severity and rule of each; the flagged ones, counted and listed.
    severity_rules: dict[str, int] = field(default_factory=dict)
    severities: list[RowSeverity] = field(default_factory=list)
    flagged_count: int = 0
    flagged: list[RowFlag] = field(default_factory=list)
    # Rows are told in any order (an import decides them subject by subject): the lists hold up
    # to twice their bound and are cut to the first by line when full, and `sort` cuts them at
    # the end; a row at or past a list's `_past` line can no longer be among its first.
    _past: dict[str, int] = field(default_factory=dict, repr=False, compare=False)
    # The characters of the cells kept in rejected_rows, their lines (negated: a heap of the
    # last first), and the line from which no row's cells can be kept (keep_rejected_cells).
    _kept_chars: int = field(default=0, repr=False, compare=False)
    _kept_lines: list[int] = field(default_factory=list, repr=False, compare=False)
    _cells_past: int = field(default=_NO_LINE, repr=False, compare=False)

    def lists(self, line: int) -> bool:
        """Whether a rejection of this line can still be among those the report lists."""
        return line < self._past.get("rejected", _NO_LINE)

    def reject(self, line: int, reason: str, cells: dict[str, str] | None) -> None:
        """Count a rejected row, list its line and reason, and keep its cells if given."""
        self.rejected_count += 1
        if self._listed("rejected", self.rejected, RowRejection(line, reason)) and cells:
            self.keep_rejected_cells(line, cells)

    def accepted_penalty(self, line: int, severity: str, rule: str, flag: str | None) -> None:
        self.severity_rules[rule] = self.severity_rules.get(rule, 0) + 1
        self._listed("severities", self.severities, RowSeverity(line, severity, rule))
        if flag is not None:
            self.flagged_count += 1
            self._listed("flagged", self.flagged, RowFlag(line, flag))

    def _listed(self, name: str, rows: list[Any], row: Any) -> bool:
        past = self._past.get(name, _NO_LINE)
        if row.line >= past:
            return False
        rows.append(row)
        if len(rows) >= 2 * MAX_LISTED_REJECTIONS:
            self._past[name] = _cut(rows)
        return True

    @classmethod
    def merged(cls, shares: Sequence[ImportReport]) -> ImportReport:
        """One report of a file imported by several processes, each of which wrote and reported
        its own rows (each read, and counted, the whole file): the counts summed, the lists
        joined by line and cut where one process's would be. The cells of rejected rows are
        kept for the first rows by line within the same bounds, as one process keeps them."""
        report = cls(
            rows_read=max(share.rows_read for share in shares),
            accepted=sum(share.accepted for share in shares),
            already_present=sum(share.already_present for share in shares),
            kind=shares[0].kind,
            rejected_count=sum(share.rejected_count for share in shares),
            columns=next((share.columns for share in shares if share.columns), []),
            flagged_count=sum(share.flagged_count for share in shares),
        )
        for share in shares:
            for rule, rows in share.severity_rules.items():
                report.severity_rules[rule] = report.severity_rules.get(rule, 0) + rows
        by_line = operator.attrgetter("line")
        report.rejected = heapq.nsmallest(
            MAX_LISTED_REJECTIONS, (r for share in shares for r in share.rejected), key=by_line
        )
        report.severities = heapq.nsmallest(
            MAX_LISTED_REJECTIONS, (r for share in shares for r in share.severities), key=by_line
        )
        report.flagged = heapq.nsmallest(
            MAX_LISTED_REJECTIONS, (r for share in shares for r in share.flagged), key=by_line
        )
        # Each share kept the cells of its first rejected rows within the bounds, so the first
        # rows of all within the bounds are among them, up to the first row a share did not keep.
        kept = {line: cells for share in shares for line, cells in share.rejected_rows.items()}
        for rejection in report.rejected:
            if rejection.line not in kept:
                break
            report.keep_rejected_cells(rejection.line, kept[rejection.line])
        return report

    def keep_rejected_cells(self, line: int, cells: dict[str, str]) -> None:
        """Keep a rejected row's cells: the report keeps those of the first rejected rows by
        line, as many as MAX_KEPT_REJECTED_ROWS and MAX_KEPT_REJECTED_CHARS allow together,
        whatever the order the rows are told in. A row kept may give way to an earlier one."""
        if line >= self._cells_past:
            return
        self.rejected_rows[line] = cells
        self._kept_chars += sum(len(value) for value in cells.values())
        heapq.heappush(self._kept_lines, -line)
        while (
            len(self.rejected_rows) > MAX_KEPT_REJECTED_ROWS
            or self._kept_chars > MAX_KEPT_REJECTED_CHARS
        ):
            last = -heapq.heappop(self._kept_lines)
            given_way = self.rejected_rows.pop(last)
            self._kept_chars -= sum(len(value) for value in given_way.values())
            self._cells_past = last

    def sort(self) -> None:
        """Lists by line, each cut to its bound (rows are told in the order they are decided)."""
        for name, rows in (
            ("rejected", self.rejected),
            ("severities", self.severities),
            ("flagged", self.flagged),
        ):
            self._past[name] = _cut(rows)

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
            "severity_rules": dict(self.severity_rules),
            "severities": [
                {"line": r.line, "severity": r.severity, "rule": r.rule} for r in self.severities
            ],
            "flagged_count": max(self.flagged_count, len(self.flagged)),
            "flagged": [{"line": r.line, "flag": r.flag} for r in self.flagged],
        }


def _cut(rows: list[Any]) -> int:
    """Sort `rows` by line and cut them to MAX_LISTED_REJECTIONS; the first line cut, or
    _NO_LINE if none was."""
    rows.sort(key=operator.attrgetter("line"))
    past = rows[MAX_LISTED_REJECTIONS].line if len(rows) > MAX_LISTED_REJECTIONS else _NO_LINE
    del rows[MAX_LISTED_REJECTIONS:]
    return past
