"""What an import tells the agency: its counts, the rejected rows by line and reason, and
those rows as a spreadsheet; for accepted penalties, the rule that decided each one's severity
and the rows flagged for a second look."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TextIO

from domain import codes
from service.commanding.importing.columns import PENALTY
from service.commanding.importing.spreadsheet import write_csv

# A report keeps the cells of this many rejected rows at most, and of fewer if their text adds
# up to MAX_KEPT_REJECTED_CHARS (a wholly wrong file of 64 MB would otherwise be held twice);
# later ones keep their line and reason.
MAX_KEPT_REJECTED_ROWS = 10_000
MAX_KEPT_REJECTED_CHARS = 8_000_000
# A report lists the line and reason of this many rejected rows at most and counts the others
# (a file of 30 million one-character rows would otherwise hold 30 million rejections); so too
# the severities and the flags of accepted rows.
MAX_LISTED_REJECTIONS = 10_000


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

    def accepted_penalty(self, line: int, severity: str, rule: str, flag: str | None) -> None:
        self.severity_rules[rule] = self.severity_rules.get(rule, 0) + 1
        if len(self.severities) < MAX_LISTED_REJECTIONS:
            self.severities.append(RowSeverity(line, severity, rule))
        if flag is not None:
            self.flagged_count += 1
            if len(self.flagged) < MAX_LISTED_REJECTIONS:
                self.flagged.append(RowFlag(line, flag))

    def sort(self) -> None:
        """Lists by line (batches report their rows in the order the store answers)."""
        self.rejected.sort(key=lambda rejection: rejection.line)
        self.severities.sort(key=lambda row: row.line)
        self.flagged.sort(key=lambda row: row.line)

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
