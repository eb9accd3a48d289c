"""The statutory holidays of 《全国年节及纪念日放假办法》 art. 2, held against the official
schedules."""

from datetime import date

import chinese_calendar
import pytest
from borax.calendars.lunardate import TermUtils

from domain.statutory_holidays import (
    STATUTORY_HOLIDAYS,
    HolidayMeasures,
    statutory_days_off,
)

pytestmark = pytest.mark.domain

# chinese-calendar's names for the festivals of art. 2
CHINESE_CALENDAR_NAMES = {
    "新年": "New Year's Day",
    "元旦": "New Year's Day",
    "春节": "Spring Festival",
    "清明节": "Tomb-sweeping Day",
    "劳动节": "Labour Day",
    "端午节": "Dragon Boat Festival",
    "中秋节": "Mid-autumn Festival",
    "国庆节": "National Day",
}


def revision(order: str) -> HolidayMeasures:
    (measures,) = [m for m in STATUTORY_HOLIDAYS if order in m.source]
    return measures


def days_per_festival(measures: HolidayMeasures) -> dict[str, int]:
    return {festival.name: len(festival.days) for festival in measures.festivals}


def test_each_revision_lists_the_days_of_its_article_2():
    # 513号: 11 days, the Spring Festival from 除夕; 644号: 11 days, from 正月初一;
    # 795号: 13 days, 除夕 to 初三 and 5月1日、2日.
    assert days_per_festival(revision("第513号")) == {
        "新年": 1, "春节": 3, "清明节": 1, "劳动节": 1, "端午节": 1, "中秋节": 1, "国庆节": 3,
    }  # fmt: skip
    assert days_per_festival(revision("第644号")) == days_per_festival(revision("第513号"))
    assert days_per_festival(revision("第795号")) == {
        "元旦": 1, "春节": 4, "清明节": 1, "劳动节": 2, "端午节": 1, "中秋节": 1, "国庆节": 3,
    }  # fmt: skip
    assert [m.effective_from for m in STATUTORY_HOLIDAYS] == [
        date(2008, 1, 1),
        date(2014, 1, 1),
        date(2025, 1, 1),
    ]


@pytest.mark.parametrize(
    ("day", "statutory"),
    [
        (date(2013, 2, 9), True),  # 除夕 under 513号
        (date(2013, 2, 12), False),  # 正月初三: not yet
        (date(2014, 1, 30), False),  # 除夕 dropped by 644号
        (date(2014, 2, 2), True),  # 正月初三 under 644号
        (date(2024, 2, 9), False),  # 除夕, the last year of 644号
        (date(2024, 5, 2), False),
        (date(2025, 1, 28), True),  # 除夕 restored by 795号
        (date(2025, 1, 31), True),  # 正月初三
        (date(2025, 5, 2), True),  # added by 795号
        (date(2025, 5, 3), False),
    ],
    ids=str,
)
def test_each_day_follows_the_revision_in_force_on_it(day, statutory):
    known = statutory_days_off(day.year)
    assert known is not None
    assert (day in known.days) is statutory


def test_every_statutory_day_is_a_day_off_in_every_official_schedule():
    """2008-2026: the days computed from art. 2 (lunar dates, the 清明 term) are days off, under
    the same festival's name, in every State Council schedule chinese-calendar holds."""
    for year in range(2008, 2027):
        known = statutory_days_off(year)
        assert known is not None
        in_force = next(m for m in reversed(STATUTORY_HOLIDAYS) if m.effective_from.year <= year)
        assert known.sources == (in_force.source,)
        festivals_on: dict[date, set[str]] = {}
        for festival in in_force.festivals:
            for rule in festival.days:
                festivals_on.setdefault(rule.in_year(year), set()).add(festival.name)
        assert set(festivals_on) == known.days
        for day, names in festivals_on.items():
            is_holiday, name = chinese_calendar.get_holiday_detail(day)
            assert is_holiday, f"{day} ({names}) is a working day in the {year} schedule"
            if day.weekday() >= 5 and name is None:
                continue  # the package names no festival on a weekend day (端午 2012-06-23)
            # Two festivals can meet (中秋 on 10月1日 in 2020): either name will do.
            assert name in {CHINESE_CALENDAR_NAMES[n] for n in names}, (day, names, name)


def test_qingming_agrees_with_an_independent_table_of_solar_terms():
    # chinese-calendar computes the term by formula; borax reads it from a table.
    for year in range(2027, 2100):
        known = statutory_days_off(year)
        assert known is not None
        qingming = TermUtils.nth_term_day(year, term_name="清明")
        assert qingming in known.days, year
        assert qingming.month == 4 and qingming.day in (4, 5)


def test_no_revision_listed_before_2008_and_none_past_the_lunar_tables():
    assert statutory_days_off(2007) is None
    assert statutory_days_off(2101) is None
    assert statutory_days_off(2100) is not None
