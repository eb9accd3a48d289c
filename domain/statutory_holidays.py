"""The days off that 《全国年节及纪念日放假办法》 art. 2 fixes, revision by revision: what a year is
known to hold before the State Council publishes its schedule (with its 调休) for that year."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import chinese_calendar
from borax.calendars.lunardate import InvalidLunarDateError, LunarDate


@dataclass(frozen=True)
class SolarDay:
    """A day of the Gregorian calendar (公历), e.g. 10月1日."""

    month: int
    day: int

    def in_year(self, year: int) -> date:
        return date(year, self.month, self.day)


@dataclass(frozen=True)
class LunarDay:
    """A day of the Chinese lunar calendar (农历), never of a leap month: 正月初一 is
    LunarDay(1, 1).

    A lunar year begins in January or February, so its festivals up to 中秋 fall in the Gregorian
    year it begins in."""

    month: int
    day: int

    def in_year(self, year: int) -> date:
        day: date = LunarDate(year, self.month, self.day).to_solar_date()  # borax is untyped
        return day


@dataclass(frozen=True)
class LunarNewYearsEve:
    """除夕: the last day of the lunar year, the eve of 正月初一 (the twelfth month has 29 or 30
    days, so no fixed lunar date names it)."""

    def in_year(self, year: int) -> date:
        return LunarDay(1, 1).in_year(year) - timedelta(days=1)


@dataclass(frozen=True)
class SolarTermDay:
    """The day a solar term (节气) falls on in China: 清明 is 4 or 5 April."""

    name: str

    def in_year(self, year: int) -> date:
        terms = chinese_calendar.get_solar_terms(date(year, 1, 1), date(year, 12, 31))
        day: date = next(term_day for term_day, name in terms if name == self.name)  # untyped
        return day


DayRule = SolarDay | LunarDay | LunarNewYearsEve | SolarTermDay


@dataclass(frozen=True)
class Festival:
    """One item of art. 2: a festival and the days it gives every citizen off."""

    name: str
    days: tuple[DayRule, ...]


@dataclass(frozen=True)
class HolidayMeasures:
    """One revision of 《全国年节及纪念日放假办法》: its art. 2, complete, from the day it took
    effect."""

    effective_from: date
    source: str
    festivals: tuple[Festival, ...]


_EVE = LunarNewYearsEve()
_QINGMING = Festival("清明节", (SolarTermDay("清明"),))  # 农历清明当日
_DRAGON_BOAT = Festival("端午节", (LunarDay(5, 5),))  # 农历端午当日
_MID_AUTUMN = Festival("中秋节", (LunarDay(8, 15),))  # 农历中秋当日
_NATIONAL_DAY = Festival("国庆节", (SolarDay(10, 1), SolarDay(10, 2), SolarDay(10, 3)))

# Art. 2 of each revision since 清明, 端午 and 中秋 became days off. Before 2008 no revision is
# listed here: such a year without a schedule counts weekends only.
STATUTORY_HOLIDAYS: tuple[HolidayMeasures, ...] = (
    HolidayMeasures(
        effective_from=date(2008, 1, 1),
        source="《全国年节及纪念日放假办法》第二条（国务院令第513号修订，2008年1月1日施行）",
        festivals=(
            Festival("新年", (SolarDay(1, 1),)),
            Festival("春节", (_EVE, LunarDay(1, 1), LunarDay(1, 2))),
            _QINGMING,
            Festival("劳动节", (SolarDay(5, 1),)),
            _DRAGON_BOAT,
            _MID_AUTUMN,
            _NATIONAL_DAY,
        ),
    ),
    HolidayMeasures(
        effective_from=date(2014, 1, 1),
        source="《全国年节及纪念日放假办法》第二条（国务院令第644号修订，2014年1月1日施行）",
        festivals=(
            Festival("新年", (SolarDay(1, 1),)),
            Festival("春节", (LunarDay(1, 1), LunarDay(1, 2), LunarDay(1, 3))),
            _QINGMING,
            Festival("劳动节", (SolarDay(5, 1),)),
            _DRAGON_BOAT,
            _MID_AUTUMN,
            _NATIONAL_DAY,
        ),
    ),
    HolidayMeasures(
        effective_from=date(2025, 1, 1),
        source="《全国年节及纪念日放假办法》第二条（国务院令第795号修订，2025年1月1日施行）",
        festivals=(
            Festival("元旦", (SolarDay(1, 1),)),
            Festival("春节", (_EVE, LunarDay(1, 1), LunarDay(1, 2), LunarDay(1, 3))),
            _QINGMING,
            Festival("劳动节", (SolarDay(5, 1), SolarDay(5, 2))),
            _DRAGON_BOAT,
            _MID_AUTUMN,
            _NATIONAL_DAY,
        ),
    ),
)


@dataclass(frozen=True)
class StatutoryDaysOff:
    """The days art. 2 gives off in one year, and the revision(s) that gave them."""

    days: frozenset[date]
    sources: tuple[str, ...]


@lru_cache(maxsize=256)
def statutory_days_off(year: int) -> StatutoryDaysOff | None:
    """Each day of `year` that the revision in force on it gives off; None for a year no listed
    revision reaches, or one beyond the lunar tables (1900-2100)."""
    days: set[date] = set()
    sources: dict[str, None] = {}  # insertion-ordered set
    ends = [measures.effective_from for measures in STATUTORY_HOLIDAYS[1:]] + [date.max]
    for measures, until in zip(STATUTORY_HOLIDAYS, ends, strict=True):
        if not measures.effective_from.year <= year <= until.year:
            continue
        try:
            candidates = [rule.in_year(year) for f in measures.festivals for rule in f.days]
        except (InvalidLunarDateError, NotImplementedError):
            return None  # the lunar or solar-term tables end: nothing certain but weekends
        in_force = {day for day in candidates if measures.effective_from <= day < until}
        if in_force:
            days |= in_force
            sources[measures.source] = None
    if not sources:
        return None
    return StatutoryDaysOff(days=frozenset(days), sources=tuple(sources))
