"""The period a credit-office figure covers (报告期): a calendar month, as the notices ask the
monthly 台账 and lists for, or any run of days from one date to another, both included."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from domain.errors import InvalidInput, Rule

REPORT_PERIOD_VALID = Rule("report-period-valid")
# A year and a day at most: a figure over a longer run answers no question the notices ask, and
# every day of it costs working-day arithmetic per case.
MAX_DAYS = 366
_MONTH = re.compile(r"(\d{4})-(\d{2})")


@dataclass(frozen=True)
class ReportPeriod:
    """From `first` to `last`, both days included."""

    first: date
    last: date

    @classmethod
    def month(cls, text: str) -> ReportPeriod:
        """A month written YYYY-MM, e.g. 2026-11: its first to its last day."""
        found = _MONTH.fullmatch(text.strip())
        if found is None or not 1 <= int(found[2]) <= 12 or int(found[1]) < 1:
            raise InvalidInput(
                f"month {text!r} is not a month written YYYY-MM", rule=REPORT_PERIOD_VALID
            )
        year, month = int(found[1]), int(found[2])
        return cls(date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1]))

    @classmethod
    def between(cls, first: date, last: date) -> ReportPeriod:
        if last < first:
            raise InvalidInput(
                f"the period ends ({last.isoformat()}) before it starts ({first.isoformat()})",
                rule=REPORT_PERIOD_VALID,
            )
        if (last - first).days + 1 > MAX_DAYS:
            raise InvalidInput(
                f"the period from {first.isoformat()} to {last.isoformat()} is longer than "
                f"{MAX_DAYS} days",
                rule=REPORT_PERIOD_VALID,
            )
        return cls(first, last)

    def holds(self, day: date) -> bool:
        return self.first <= day <= self.last

    @property
    def day_before(self) -> date:
        return self.first - timedelta(days=1)
