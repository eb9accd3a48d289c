"""Publication windows: from which day to which day a record is shown to querying agencies."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from typing import Any

from domain.policy import PolicyBook


def add_months(day: date, months: int) -> date:
    """Calendar months later; the 31st (or 29 Feb) falls back to the month's last day."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Window:
    start: date
    end: date | None  # exclusive; None means published until something ends it

    def state_on(self, day: date) -> str:
        if day < self.start:
            return "scheduled"
        if self.end is not None and day >= self.end:
            return "expired"
        return "published"


def conduct_window(
    severity: str,
    decision_date: date,
    book: PolicyBook,
    *,
    procedure: str | None = None,
    declared_end: date | None = None,
) -> Window | None:
    """Penalties and dishonest conduct: published from the decision date for the period of the
    policy in force on the decision date (not today's). An authority's declared end (CF_GSJZQ)
    is honoured within the minimum and maximum."""
    period = book.for_day(decision_date).publication.period_for(severity, procedure)
    # A published period has both bounds (the policy loader guarantees it).
    if not period.published or period.minimum_months is None or period.maximum_months is None:
        return None
    earliest = add_months(decision_date, period.minimum_months)
    latest = add_months(decision_date, period.maximum_months)
    end = latest if declared_end is None else min(max(declared_end, earliest), latest)
    return Window(decision_date, end)


def earliest_repair_date(severity: str, decision_date: date, book: PolicyBook) -> date | None:
    """Repair (信用修复) may be applied for once the minimum publication period has passed."""
    period = book.for_day(decision_date).publication.period_for(severity)
    if not period.published or period.minimum_months is None:
        return None
    return add_months(decision_date, period.minimum_months)


def record_window(record_type: str, fields: dict[str, Any], *, book: PolicyBook) -> Window | None:
    """The publication window of a record from its own fields (None: never published).

    Penalties and dishonest conduct follow their severity's period under the policy in force on
    the decision date (a simplified-procedure penalty counts as minor where that policy says so).
    Licences are published for their validity, ratings for theirs, red and black list entries
    until their planned end (or exit); interviews, joint-measure feedback, watch-list entries,
    follow-ups, corrections and revocations are not published on their own."""
    decided = fields["decision_date"]
    if record_type == "PenaltyDecided":
        return conduct_window(
            fields["severity"],
            decided,
            book,
            procedure=fields.get("procedure"),
            declared_end=fields.get("declared_publication_end"),
        )
    if record_type in ("DishonestConductRecorded", "CommitmentBreached"):
        return conduct_window(fields["severity"], decided, book)
    if record_type == "LicenceGranted":
        return Window(decided, fields.get("valid_until"))
    if record_type == "LicenceRevoked":
        return Window(decided, None)
    if record_type == "RatingIssued":
        return Window(fields["valid_from"], fields["valid_until"])
    if record_type == "ListEntered":
        if fields["list_type"] == "watch":
            return None
        return Window(decided, fields.get("planned_end"))
    if record_type in ("CommitmentMade", "CommendationGranted"):
        return Window(decided, None)
    return None
