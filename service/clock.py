"""Time, injectable: the service asks a clock, tests and demo data hand in their own."""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo

CHINA = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that says what it is told; for tests and for back-dated demo data."""

    def __init__(self, moment: datetime):
        self.moment = moment

    def now(self) -> datetime:
        return self.moment


def local_today(clock: Clock, zone: tzinfo = CHINA) -> date:
    """Legal dates are Chinese calendar days, whatever the server's timezone."""
    return clock.now().astimezone(zone).date()
