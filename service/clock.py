"""Time, injectable and in one zone: the moment now, and today's legal date in the service's zone.

Built once by the composition root from `Settings.timezone`; tests and demo data hand in a
`FixedClock` in that same zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo


class Clock:
    """The system's time. Legal dates are calendar days in `zone` (CREDIT_TIMEZONE), whatever
    the server's own time zone: a decision recorded at 00:30 Beijing time is that day's."""

    def __init__(self, zone: tzinfo):
        self.zone = zone

    def now(self) -> datetime:
        return datetime.now(UTC)

    def date_of(self, moment: datetime) -> date:
        """The legal date of a moment."""
        return moment.astimezone(self.zone).date()

    def today(self) -> date:
        return self.date_of(self.now())


class FixedClock(Clock):
    """A clock that says what it is told; for tests and for back-dated demo data."""

    def __init__(self, moment: datetime, zone: tzinfo):
        super().__init__(zone)
        self.moment = moment

    def now(self) -> datetime:
        return self.moment
