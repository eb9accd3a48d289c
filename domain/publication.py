"""Publication windows: from which day to which day a record is shown to querying agencies."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

SEVERITIES = ("minor", "general", "serious")


def add_months(day: date, months: int) -> date:
    """Calendar months later; the 31st (or 29 Feb) falls back to the month's last day."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class PublicationPeriod:
    minimum_months: int
    maximum_months: int


@dataclass(frozen=True)
class PublicationEra:
    """The periods in force for decisions taken on or after `effective_from`."""

    effective_from: date
    source: str
    periods: dict[str, PublicationPeriod | None]  # None: not published


# Defaults until the versioned policy file takes over; each era cites its source.
ERAS: tuple[PublicationEra, ...] = (
    PublicationEra(
        effective_from=date(1900, 1, 1),
        source="发改办财金〔2019〕527号",
        periods={
            "minor": None,
            "general": PublicationPeriod(3, 12),
            "serious": PublicationPeriod(6, 36),
        },
    ),
    PublicationEra(
        effective_from=date(2026, 4, 1),
        source="国办发〔2025〕22号; 国家发展改革委令第36号《信用修复管理办法》",
        periods={
            "minor": None,
            "general": PublicationPeriod(3, 12),
            "serious": PublicationPeriod(12, 36),
        },
    ),
)


def era_for(decision_date: date) -> PublicationEra:
    """The rule in force on the decision date applies, not the one in force today."""
    return next(era for era in reversed(ERAS) if era.effective_from <= decision_date)


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
    severity: str, decision_date: date, declared_end: date | None = None
) -> Window | None:
    """Penalties and dishonest conduct: published from the decision date for the severity's
    period. An authority's declared end (CF_GSJZQ) is honoured within the minimum and maximum."""
    period = era_for(decision_date).periods[severity]
    if period is None:
        return None
    earliest = add_months(decision_date, period.minimum_months)
    latest = add_months(decision_date, period.maximum_months)
    end = latest if declared_end is None else min(max(declared_end, earliest), latest)
    return Window(decision_date, end)


def earliest_repair_date(severity: str, decision_date: date) -> date | None:
    period = era_for(decision_date).periods[severity]
    return None if period is None else add_months(decision_date, period.minimum_months)


def record_window(record_type: str, fields: dict) -> Window | None:
    """The publication window of a record from its own fields (None: never published).

    Penalties and dishonest conduct follow their severity's period; a penalty by simplified
    procedure (简易程序) is not "general" under the 2019 rules and is not published then.
    Licences are published for their validity, ratings for theirs, red and black list entries
    until their planned end (or exit); interviews, joint-measure feedback, watch-list entries,
    follow-ups, corrections and revocations are not published on their own."""
    decided = fields["decision_date"]
    if record_type == "PenaltyDecided":
        severity = fields["severity"]
        if fields.get("procedure") == "simplified" and era_for(decided) is ERAS[0]:
            severity = "minor"
        return conduct_window(severity, decided, fields.get("declared_publication_end"))
    if record_type in ("DishonestConductRecorded", "CommitmentBreached"):
        return conduct_window(fields["severity"], decided)
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
