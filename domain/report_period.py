"""The period a figure of the credit office covers: the decision dates from one day to another,
both included (a month: its first to its last day), at most a year, so that a figure is always
an answer of the read model's indexes and never a scan of everything."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from domain.errors import InvalidInput, Rule

REPORT_PERIOD_VALID = Rule("report-period-valid")
MAX_PERIOD_DAYS = 366


@dataclass(frozen=True)
class ReportPeriod:
    start: date
    end: date  # included

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise InvalidInput(
                f"the period ends ({self.end}) before it starts ({self.start})",
                rule=REPORT_PERIOD_VALID,
            )
        if (self.end - self.start).days >= MAX_PERIOD_DAYS:
            raise InvalidInput(
                f"the period from {self.start} to {self.end} is longer than {MAX_PERIOD_DAYS} "
                "days: ask for a year or less at a time",
                rule=REPORT_PERIOD_VALID,
            )
