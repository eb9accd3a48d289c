"""Working-day arithmetic under China's statutory holidays and adjusted working days (调休)."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import cast

import chinese_calendar

from domain.statutory_holidays import statutory_days_off

CHINESE_CALENDAR_BASIS = f"chinese-calendar {chinese_calendar.__version__}"
_ONE_DAY = timedelta(days=1)
_SATURDAY = 5


def _is_weekend(day: date) -> bool:
    return day.weekday() >= _SATURDAY


def _listing(days: Iterable[date]) -> str:
    return ", ".join(f"{day.isoformat()} ({day.strftime('%a')})" for day in days)


def _require_date(day: object) -> date:
    # A datetime never equals a date, so it would silently miss every schedule entry.
    if isinstance(day, datetime) or not isinstance(day, date):
        raise TypeError(f"expected a datetime.date, got {type(day).__name__}: {day!r}")
    return day


@lru_cache(maxsize=16384)
def _chinese_calendar_is_workday(day: date) -> bool | None:
    """True/False from the package's data; None for a year it has no data for."""
    # is_workday rescans the package's whole holiday table on every call, hence the cache.
    try:
        return bool(chinese_calendar.is_workday(day))  # the package is untyped
    except NotImplementedError:
        # Callers have already checked the type, so this is the "no data for year" case.
        return None


@dataclass(frozen=True)
class YearSchedule:
    """An operator-loaded official schedule for one year (the State Council notice)."""

    year: int
    holidays: frozenset[date]  # days off; weekend days inside a holiday run may be listed too
    adjusted_working_days: frozenset[date]  # 调休: weekend days that are working days
    source: str  # e.g. "国办发明电〔2026〕x号"

    def __post_init__(self) -> None:
        if isinstance(self.year, bool) or not isinstance(self.year, int):
            raise ValueError(f"year must be an integer, got {self.year!r}")
        if not isinstance(self.source, str) or not self.source.strip():
            raise ValueError(f"schedule for {self.year}: source must name the notice")
        for field in ("holidays", "adjusted_working_days"):
            days = getattr(self, field)
            if not isinstance(days, frozenset):
                raise ValueError(f"schedule for {self.year}: {field} must be a frozenset")
            for day in sorted(days, key=repr):
                if isinstance(day, datetime) or not isinstance(day, date):
                    raise ValueError(f"schedule for {self.year}: {field} entry {day!r} is no date")
                if day.year != self.year:
                    raise ValueError(
                        f"schedule for {self.year}: {field} entry {day.isoformat()} "
                        "is outside the year"
                    )
        both = sorted(self.holidays & self.adjusted_working_days)
        if both:
            raise ValueError(
                f"schedule for {self.year}: {_listing(both)} listed both as holiday "
                "and as adjusted working day"
            )
        # A weekday is a working day anyway: listing it as 调休 is a typo, not data.
        weekdays = sorted(day for day in self.adjusted_working_days if not _is_weekend(day))
        if weekdays:
            raise ValueError(
                f"schedule for {self.year}: adjusted working day(s) {_listing(weekdays)} "
                "not on a weekend"
            )

    @classmethod
    def from_mapping(cls, data: Mapping[str, object]) -> YearSchedule:
        """Parse {"year", "source", "holidays": ["YYYY-MM-DD", ...], "adjusted_working_days"}."""
        if not isinstance(data, Mapping):
            raise ValueError(f"a year schedule must be a mapping, got {type(data).__name__}")
        expected = {"year", "source", "holidays", "adjusted_working_days"}
        missing, unknown = expected - data.keys(), data.keys() - expected
        if missing:
            raise ValueError(f"year schedule lacks {', '.join(sorted(missing))}")
        if unknown:
            # A misspelt key would otherwise drop a whole list of days without a word.
            raise ValueError(
                f"year schedule has unknown keys {', '.join(sorted(map(str, unknown)))}"
            )
        year = data["year"]
        if isinstance(year, bool) or not isinstance(year, int):
            raise ValueError(f"year must be an integer, got {year!r}")
        return cls(
            year=year,
            holidays=_parse_days(data["holidays"], "holidays", year),
            adjusted_working_days=_parse_days(
                data["adjusted_working_days"], "adjusted_working_days", year
            ),
            source=cast(str, data["source"]),  # __post_init__ rejects anything else
        )


def _parse_days(values: object, field: str, year: int) -> frozenset[date]:
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise ValueError(f"schedule for {year}: {field} must be a list of dates")
    days = set()
    for value in values:
        if isinstance(value, date) and not isinstance(value, datetime):
            days.add(value)
            continue
        day = None
        if isinstance(value, str):
            with suppress(ValueError):
                day = date.fromisoformat(value)
        # fromisoformat also takes "20270101"; insist on one spelling so typos stand out.
        if day is None or day.isoformat() != value:
            raise ValueError(
                f"schedule for {year}: {field} entry {value!r} is not a YYYY-MM-DD date"
            )
        days.add(day)
    return frozenset(days)


@dataclass(frozen=True)
class _YearIndex:
    """One year's days as running counts: `working[k]` and `provisional[k]` are the working
    and the provisional days among its first k days, so a count over any span of the year is
    one subtraction and the n-th working day one bisection. `runs` gives the basis of each run
    of days that share one, as (index of its first day, basis): one run in a year, as a rule."""

    first: date
    working: tuple[int, ...]
    provisional: tuple[int, ...]
    runs: tuple[tuple[int, str], ...]

    def index(self, day: date) -> int:
        return (day - self.first).days

    def bases(self, lo: int, hi: int) -> Iterator[str]:
        """The bases of the days lo to hi - 1, in the order they are met."""
        for at, (first, basis) in enumerate(self.runs):
            following = self.runs[at + 1][0] if at + 1 < len(self.runs) else len(self.working)
            if first < hi and following > lo:
                yield basis


@dataclass(frozen=True)
class Deadline:
    due: date
    provisional: bool  # some day counted fell in a year with no official schedule: 调休 unknown
    basis: str  # which calendars the count used, for the case file and the applicant


class WorkingDayCalendar:
    """Loaded schedules first, then chinese-calendar's data; for a year in neither, the statutory
    holidays and weekends, provisional: the schedule's 调休 and make-up days are not known yet."""

    def __init__(self, schedules: Iterable[YearSchedule] = ()) -> None:
        self._schedules: dict[int, YearSchedule] = {}
        for schedule in schedules:
            if schedule.year in self._schedules:
                # Two notices for one year: picking either would be a silent guess.
                raise ValueError(
                    f"two schedules for {schedule.year}: "
                    f"{self._schedules[schedule.year].source!r} and {schedule.source!r}"
                )
            self._schedules[schedule.year] = schedule
        # Built on first use: a rebuild counts for each new (decision, recording) date pair,
        # and walking the days between them one by one was most of it.
        self._years: dict[int, _YearIndex] = {}

    def _year(self, year: int) -> _YearIndex:
        """The running counts of one year's working and provisional days (see _YearIndex)."""
        found = self._years.get(year)
        if found is None:
            first = date(year, 1, 1)
            working, provisional = [0], [0]
            runs: list[tuple[int, str]] = []
            # By offset, not by the next day: the day after 9999-12-31 is no date.
            for offset in range((date(year, 12, 31) - first).days + 1):
                works, uncertain, basis = self._lookup(first + offset * _ONE_DAY)
                if not runs or runs[-1][1] != basis:
                    runs.append((offset, basis))
                working.append(working[-1] + works)
                provisional.append(provisional[-1] + uncertain)
            found = _YearIndex(first, tuple(working), tuple(provisional), tuple(runs))
            self._years[year] = found
        return found

    def _lookup(self, day: date) -> tuple[bool, bool, str]:
        """(working?, provisional?, basis) for one day."""
        schedule = self._schedules.get(day.year)
        if schedule is not None:
            if day in schedule.holidays:
                working = False
            elif day in schedule.adjusted_working_days:
                working = True
            else:
                working = not _is_weekend(day)
            return working, False, f"schedule {schedule.source} for {schedule.year}"
        known = _chinese_calendar_is_workday(day)
        if known is not None:
            return known, False, CHINESE_CALENDAR_BASIS
        statutory = statutory_days_off(day.year)
        if statutory is None:
            return (
                not _is_weekend(day),
                True,
                f"weekends only (no official schedule for {day.year} yet)",
            )
        return (
            not _is_weekend(day) and day not in statutory.days,
            True,
            f"statutory holidays of {'; '.join(statutory.sources)} and weekends "
            f"(no official schedule for {day.year} yet)",
        )

    def is_working_day(self, day: date) -> tuple[bool, bool]:
        """(working?, provisional?)"""
        working, provisional, _ = self._lookup(_require_date(day))
        return working, provisional

    def add_working_days(self, start: date, days: int) -> Deadline:
        """The day on which `days` working days after `start` have passed.

        Counting starts the day after `start`; 0 gives `start` itself if it is a working day,
        else the next working day.
        """
        _require_date(start)
        if isinstance(days, bool) or not isinstance(days, int):
            raise TypeError(f"days must be an integer, got {days!r}")
        if days < 0:
            raise ValueError(f"days must not be negative, got {days}")
        if days == 0:
            day, remaining = start, 1  # examine start itself, then move on until a working day
        else:
            day, remaining = start + _ONE_DAY, days
        bases: dict[str, None] = {}  # insertion-ordered set: bases in the order they were met
        provisional, year, at = False, self._year(day.year), (day - date(day.year, 1, 1)).days
        while True:
            left = year.working[-1] - year.working[at]
            # the first k whose count reaches the one asked (day k - 1), or the year's end
            end = (
                bisect_left(year.working, year.working[at] + remaining, at + 1)
                if left >= remaining
                else len(year.working) - 1
            )
            bases.update(dict.fromkeys(year.bases(at, end)))
            provisional = provisional or year.provisional[end] > year.provisional[at]
            if left >= remaining:
                due = year.first + (end - 1) * _ONE_DAY
                return Deadline(due=due, provisional=provisional, basis="; ".join(bases))
            remaining -= left
            year, at = self._year(year.first.year + 1), 0

    def working_days_between(self, start: date, end: date) -> tuple[int, bool]:
        """Working days in (start, end] and the provisional flag; negative for (end, start]."""
        _require_date(start)
        _require_date(end)
        sign = 1
        if end < start:
            start, end, sign = end, start, -1
        count, provisional = 0, False
        first = start + _ONE_DAY
        for year_number in range(first.year, end.year + 1):
            year = self._year(year_number)
            lo = year.index(first) if year_number == first.year else 0
            hi = year.index(end) + 1 if year_number == end.year else len(year.working) - 1
            count += year.working[hi] - year.working[lo]
            provisional = provisional or year.provisional[hi] > year.provisional[lo]
        return sign * count, provisional
