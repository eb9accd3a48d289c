"""Working days under the 2026 official schedule, an operator-loaded year, and the fallback on
the statutory holidays for a year without a schedule."""

from datetime import date, datetime, timedelta

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.statutory_holidays import STATUTORY_HOLIDAYS
from domain.working_days import Deadline, WorkingDayCalendar, YearSchedule

pytestmark = pytest.mark.domain

CC = "chinese-calendar 1.11.0"
ORDER_795 = STATUTORY_HOLIDAYS[-1].source
NO_2027 = f"statutory holidays of {ORDER_795} and weekends (no official schedule for 2027 yet)"

# TEST DATA, made up for these tests: NOT the State Council's 2027 notice (not out yet).
# Shaped like a real one: New Year 1/1-1/3; Spring Festival 2/6-2/14 with Saturday 2/20
# worked; Labour Day 5/1-5/5 with 4/25 (Sun) and 5/8 (Sat) worked; National Day
# 10/1-10/7 with 9/26 (Sun) and 10/9 (Sat) worked. Weekend days inside a holiday run
# are listed, as notices list whole runs.
FAKE_2027_SOURCE = "测试数据 fake-2027 (not an official notice)"
FAKE_2027 = {
    "year": 2027,
    "source": FAKE_2027_SOURCE,
    "holidays": [
        *(f"2027-01-{d:02d}" for d in range(1, 4)),
        *(f"2027-02-{d:02d}" for d in range(6, 15)),
        *(f"2027-05-{d:02d}" for d in range(1, 6)),
        *(f"2027-10-{d:02d}" for d in range(1, 8)),
    ],
    "adjusted_working_days": ["2027-02-20", "2027-04-25", "2027-05-08", "2027-09-26", "2027-10-09"],
}
FAKE_2027_BASIS = f"schedule {FAKE_2027_SOURCE} for 2027"


@pytest.fixture
def cal():
    return WorkingDayCalendar()


@pytest.fixture
def cal_2027():
    return WorkingDayCalendar([YearSchedule.from_mapping(FAKE_2027)])


def days(first, last):
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def test_chinese_calendar_still_lacks_2027():
    # The 2027 "no schedule" tests below rest on this; if it fails, the package has learnt
    # 2027: move those tests to the first year it does not know.
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2027, 1, 4))


# --- 2026, as DOMAIN.md states it ------------------------------------------------------

OFF_2026 = [
    *days(date(2026, 1, 1), date(2026, 1, 3)),
    *days(date(2026, 2, 15), date(2026, 2, 23)),
    *days(date(2026, 4, 4), date(2026, 4, 6)),
    *days(date(2026, 5, 1), date(2026, 5, 5)),
    *days(date(2026, 6, 19), date(2026, 6, 21)),
    *days(date(2026, 9, 25), date(2026, 9, 27)),
    *days(date(2026, 10, 1), date(2026, 10, 7)),
]
WORKED_WEEKENDS_2026 = [
    date(2026, 1, 4),
    date(2026, 2, 14),
    date(2026, 2, 28),
    date(2026, 5, 9),
    date(2026, 9, 20),
    date(2026, 10, 10),
]


@pytest.mark.parametrize("day", OFF_2026, ids=str)
def test_2026_holidays_are_days_off(cal, day):
    assert cal.is_working_day(day) == (False, False)


@pytest.mark.parametrize("day", WORKED_WEEKENDS_2026, ids=str)
def test_2026_adjusted_weekend_days_are_working_days(cal, day):
    assert day.weekday() >= 5
    assert cal.is_working_day(day) == (True, False)


def test_2026_has_no_other_exceptions_to_the_weekend_rule(cal):
    weekday_off, weekend_worked = set(), set()
    for day in days(date(2026, 1, 1), date(2026, 12, 31)):
        working, provisional = cal.is_working_day(day)
        assert not provisional
        if day.weekday() < 5 and not working:
            weekday_off.add(day)
        if day.weekday() >= 5 and working:
            weekend_worked.add(day)
    assert weekday_off == {day for day in OFF_2026 if day.weekday() < 5}
    assert weekend_worked == set(WORKED_WEEKENDS_2026)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2026, 2, 24), True),  # first Tuesday after Spring Festival
        (date(2026, 2, 22), False),  # a Sunday inside the run
        (date(2026, 10, 8), True),
        (date(2026, 10, 11), False),  # the Sunday after the worked Saturday
        (date(2026, 12, 31), True),
    ],
)
def test_2026_ordinary_days(cal, day, working):
    assert cal.is_working_day(day) == (working, False)


# --- deadlines inside chinese-calendar's years -----------------------------------------


@pytest.mark.parametrize(
    ("start", "n", "due"),
    [
        # Spring Festival: 2/13 Fri, 2/14 Sat (worked), then 2/15-2/23 off, 2/24
        (date(2026, 2, 12), 3, date(2026, 2, 24)),
        (date(2026, 2, 13), 1, date(2026, 2, 14)),
        # 双公示, 7 working days from a decision on Mon 2026-09-28:
        # 9/29, 9/30, [10/1-10/7 off], 10/8, 10/9, 10/10 (Sat, worked), [10/11], 10/12, 10/13
        (date(2026, 9, 28), 7, date(2026, 10, 13)),
        # repair case, 10 working days from Tue 2026-04-28 across Labour Day:
        # 4/29, 4/30, [5/1-5/5], 5/6, 5/7, 5/8, 5/9 (Sat, worked), [5/10], 5/11 ... 5/14
        (date(2026, 4, 28), 10, date(2026, 5, 14)),
        # repair decision, 3 working days from Thu 2026-09-24: [9/25-9/27], 9/28, 9/29, 9/30
        (date(2026, 9, 24), 3, date(2026, 9, 30)),
        # New Year 2026: [1/1-1/3], Sunday 1/4 is worked
        (date(2025, 12, 31), 1, date(2026, 1, 4)),
        (date(2026, 1, 4), 1, date(2026, 1, 5)),
    ],
    ids=str,
)
def test_add_working_days_under_the_2026_schedule(cal, start, n, due):
    assert cal.add_working_days(start, n) == Deadline(due, provisional=False, basis=CC)


@pytest.mark.parametrize(
    ("start", "due"),
    [
        (date(2026, 2, 14), date(2026, 2, 14)),  # worked Saturday: itself
        (date(2026, 2, 15), date(2026, 2, 24)),  # inside Spring Festival: the next working day
        (date(2026, 10, 11), date(2026, 10, 12)),  # plain Sunday
    ],
    ids=str,
)
def test_zero_working_days_is_the_start_or_the_next_working_day(cal, start, due):
    assert cal.add_working_days(start, 0) == Deadline(due, provisional=False, basis=CC)


def test_negative_working_days_are_refused(cal):
    with pytest.raises(ValueError, match="-1"):
        cal.add_working_days(date(2026, 3, 2), -1)


def test_a_datetime_is_refused_rather_than_compared_as_a_date(cal):
    with pytest.raises(TypeError):
        cal.is_working_day(datetime(2026, 1, 1, 9, 0))
    with pytest.raises(TypeError):
        cal.add_working_days(datetime(2026, 1, 1, 9, 0), 3)


# --- 2027 and 2028 without a schedule: the statutory holidays ------------------------------
#
# 《全国年节及纪念日放假办法》 art. 2 as revised by 国务院令第795号 (in force 2025-01-01) fixes
# 13 days; the State Council's notice adds the 调休 and the make-up days (art. 6, 7) later.
# The lunar and solar-term dates below are written out by hand, not computed: 春节 2027 is
# 2/6 (除夕 2/5), 2028 is 1/26 (除夕 1/25); 清明 4/5 and 4/4; 端午 6/9 and 5/28; 中秋 9/15 and
# 10/3 (on 国庆节's third day in 2028).

STATUTORY_2027 = {
    date(2027, 1, 1): "元旦 (Fri)",
    date(2027, 2, 5): "除夕 (Fri)",
    date(2027, 2, 6): "正月初一 (Sat)",
    date(2027, 2, 7): "正月初二 (Sun)",
    date(2027, 2, 8): "正月初三 (Mon)",
    date(2027, 4, 5): "清明 (Mon)",
    date(2027, 5, 1): "劳动节 (Sat)",
    date(2027, 5, 2): "劳动节 (Sun)",
    date(2027, 6, 9): "端午 (Wed)",
    date(2027, 9, 15): "中秋 (Wed)",
    date(2027, 10, 1): "国庆节 (Fri)",
    date(2027, 10, 2): "国庆节 (Sat)",
    date(2027, 10, 3): "国庆节 (Sun)",
}
STATUTORY_2028 = {
    date(2028, 1, 1): "元旦 (Sat)",
    date(2028, 1, 25): "除夕 (Tue)",
    date(2028, 1, 26): "正月初一 (Wed)",
    date(2028, 1, 27): "正月初二 (Thu)",
    date(2028, 1, 28): "正月初三 (Fri)",
    date(2028, 4, 4): "清明 (Tue)",
    date(2028, 5, 1): "劳动节 (Mon)",
    date(2028, 5, 2): "劳动节 (Tue)",
    date(2028, 5, 28): "端午 (Sun)",
    date(2028, 10, 1): "国庆节 (Sun)",
    date(2028, 10, 2): "国庆节 (Mon)",
    date(2028, 10, 3): "国庆节 and 中秋 (Tue)",
}


def test_2027_new_year_is_a_day_off_without_a_schedule_and_provisional(cal):
    assert cal.is_working_day(date(2027, 1, 1)) == (False, True)  # a Friday
    assert cal.is_working_day(date(2027, 1, 2)) == (False, True)
    assert cal.is_working_day(date(2027, 1, 4)) == (True, True)


@pytest.mark.parametrize("day", [*STATUTORY_2027, *STATUTORY_2028], ids=str)
def test_a_statutory_holiday_is_a_day_off_without_a_schedule_and_provisional(cal, day):
    assert cal.is_working_day(day) == (False, True)


@pytest.mark.parametrize("statutory", [STATUTORY_2027, STATUTORY_2028], ids=["2027", "2028"])
def test_without_a_schedule_the_statutory_holidays_are_the_only_weekdays_off(cal, statutory):
    (year,) = {day.year for day in statutory}
    weekday_off, weekend_worked = set(), set()
    for day in days(date(year, 1, 1), date(year, 12, 31)):
        working, provisional = cal.is_working_day(day)
        assert provisional
        if day.weekday() < 5 and not working:
            weekday_off.add(day)
        if day.weekday() >= 5 and working:
            weekend_worked.add(day)
    assert weekday_off == {day for day in statutory if day.weekday() < 5}
    assert weekend_worked == set()  # 调休 only comes with the notice


@pytest.mark.parametrize(
    "day",
    [
        date(2027, 2, 9),  # Tue after 初三: the notice will likely make it a make-up day off
        date(2027, 5, 3),  # Mon after a Labour Day on the weekend (art. 6 补假, day not fixed)
        date(2027, 10, 4),  # Mon after National Day
    ],
    ids=str,
)
def test_days_the_law_does_not_fix_stay_working_days_until_the_schedule(cal, day):
    assert cal.is_working_day(day) == (True, True)


@pytest.mark.parametrize(
    ("start", "n", "due"),
    [
        # 12/31, [1/1 元旦, 1/2-1/3], 1/4, 1/5
        (date(2026, 12, 30), 3, date(2027, 1, 5)),
        # 12/29, 12/30, 12/31, 1/4, 1/5, 1/6, 1/7
        (date(2026, 12, 28), 7, date(2027, 1, 7)),
    ],
    ids=str,
)
def test_a_deadline_into_2027_without_a_schedule_is_provisional(cal, start, n, due):
    assert cal.add_working_days(start, n) == Deadline(
        due, provisional=True, basis=f"{CC}; {NO_2027}"
    )


def test_a_deadline_that_stops_on_31_december_is_not_provisional(cal):
    assert cal.add_working_days(date(2026, 12, 30), 1) == Deadline(
        date(2026, 12, 31), provisional=False, basis=CC
    )


@pytest.mark.parametrize(
    ("start", "n", "due"),
    [
        (date(2027, 1, 2), 0, date(2027, 1, 4)),
        # Thu 2/4: [2/5 除夕 - 2/8 初三], 2/9, 2/10, 2/11
        (date(2027, 2, 4), 3, date(2027, 2, 11)),
        # Fri 4/2: [4/3-4/4], [4/5 清明], 4/6
        (date(2027, 4, 2), 1, date(2027, 4, 6)),
        # Tue 6/8: [6/9 端午], 6/10; Tue 9/14: [9/15 中秋], 9/16
        (date(2027, 6, 8), 1, date(2027, 6, 10)),
        (date(2027, 9, 14), 1, date(2027, 9, 16)),
        # Thu 9/30: [10/1-10/3], 10/4
        (date(2027, 9, 30), 1, date(2027, 10, 4)),
    ],
    ids=str,
)
def test_a_deadline_wholly_in_2027_without_a_schedule(cal, start, n, due):
    assert cal.add_working_days(start, n) == Deadline(due, provisional=True, basis=NO_2027)


def test_the_fallback_names_the_revision_of_the_law_it_used(cal):
    assert "国务院令第795号" in cal.add_working_days(date(2027, 4, 2), 1).basis


def test_a_year_past_the_lunar_tables_counts_weekends_only_and_says_so(cal):
    assert cal.add_working_days(date(2101, 1, 1), 0) == Deadline(
        date(2101, 1, 3),
        provisional=True,
        basis="weekends only (no official schedule for 2101 yet)",
    )


@pytest.mark.parametrize(
    ("start", "n", "due", "basis"),
    [
        # 12/31, [1/1-1/3 off under the loaded schedule], 1/4, 1/5
        (date(2026, 12, 30), 3, date(2027, 1, 5), f"{CC}; {FAKE_2027_BASIS}"),
        # 12/29, 12/30, 12/31, 1/4, 1/5, 1/6, 1/7
        (date(2026, 12, 28), 7, date(2027, 1, 7), f"{CC}; {FAKE_2027_BASIS}"),
        # 2/5, [2/6-2/14], 2/15, 2/16
        (date(2027, 2, 4), 3, date(2027, 2, 16), FAKE_2027_BASIS),
        # Saturday 2/20 is worked under the loaded schedule
        (date(2027, 2, 19), 1, date(2027, 2, 20), FAKE_2027_BASIS),
        # 双公示 from Tue 9/28: 9/29, 9/30, [10/1-10/7], 10/8, 10/9 (Sat), [10/10], 10/11-10/13
        (date(2027, 9, 28), 7, date(2027, 10, 13), FAKE_2027_BASIS),
    ],
    ids=str,
)
def test_a_loaded_2027_schedule_is_honoured_and_not_provisional(cal_2027, start, n, due, basis):
    assert cal_2027.add_working_days(start, n) == Deadline(due, provisional=False, basis=basis)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2027, 1, 1), False),  # Friday holiday
        (date(2027, 2, 10), False),  # Wednesday in Spring Festival
        (date(2027, 2, 20), True),  # adjusted Saturday
        (date(2027, 4, 25), True),  # adjusted Sunday
        (date(2027, 2, 21), False),  # plain Sunday
        (date(2027, 3, 1), True),  # plain Monday
        # Statutory days this test schedule leaves out: the loaded schedule decides, not art. 2
        (date(2027, 2, 5), True),  # 除夕
        (date(2027, 4, 5), True),  # 清明
        (date(2027, 6, 9), True),  # 端午
        (date(2027, 9, 15), True),  # 中秋
    ],
)
def test_a_loaded_2027_schedule_decides_each_day(cal_2027, day, working):
    assert cal_2027.is_working_day(day) == (working, False)


def test_a_loaded_schedule_replaces_chinese_calendar_for_its_year():
    # A counterfactual 2026 (test data) to show which source wins: only 3/2 is off.
    schedule = YearSchedule(
        year=2026,
        holidays=frozenset({date(2026, 3, 2)}),
        adjusted_working_days=frozenset(),
        source="测试数据 counterfactual 2026",
    )
    cal = WorkingDayCalendar([schedule])
    assert cal.is_working_day(date(2026, 3, 2)) == (False, False)
    assert cal.is_working_day(date(2026, 2, 16)) == (True, False)  # not in this schedule
    assert cal.is_working_day(date(2025, 12, 31)) == (True, False)  # chinese-calendar's year
    assert cal.add_working_days(date(2026, 2, 27), 1) == Deadline(
        date(2026, 3, 3), provisional=False, basis="schedule 测试数据 counterfactual 2026 for 2026"
    )


def test_two_schedules_for_one_year_are_refused():
    schedule = YearSchedule.from_mapping(FAKE_2027)
    other = YearSchedule.from_mapping({**FAKE_2027, "source": "another notice"})
    with pytest.raises(ValueError, match="two schedules for 2027"):
        WorkingDayCalendar([schedule, other])


# --- working_days_between ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (date(2026, 2, 12), date(2026, 2, 24), (3, False)),
        (date(2026, 2, 24), date(2026, 2, 12), (-3, False)),
        (date(2026, 2, 12), date(2026, 2, 12), (0, False)),
        (date(2026, 2, 14), date(2026, 2, 15), (0, False)),  # (start, end] holds only 2/15, off
        (date(2026, 2, 14), date(2026, 2, 13), (-1, False)),  # -(2/13, 2/14]: worked Saturday
        (date(2026, 9, 30), date(2026, 10, 8), (1, False)),
        (date(2026, 9, 28), date(2026, 10, 13), (7, False)),
        (date(2026, 10, 13), date(2026, 9, 28), (-7, False)),
        (date(2026, 12, 31), date(2027, 1, 5), (2, True)),  # [1/1 元旦], 1/4, 1/5
        (date(2027, 1, 5), date(2026, 12, 31), (-2, True)),
        (date(2027, 2, 4), date(2027, 2, 9), (1, True)),  # [除夕 2/5 - 初三 2/8], 2/9
        (date(2026, 12, 30), date(2026, 12, 31), (1, False)),
    ],
    ids=str,
)
def test_working_days_between_without_a_schedule(cal, start, end, expected):
    assert cal.working_days_between(start, end) == expected


def test_working_days_between_with_a_loaded_2027_schedule(cal_2027):
    assert cal_2027.working_days_between(date(2026, 12, 31), date(2027, 1, 5)) == (2, False)
    assert cal_2027.working_days_between(date(2027, 1, 5), date(2026, 12, 31)) == (-2, False)
    assert cal_2027.working_days_between(date(2027, 2, 5), date(2027, 2, 20)) == (6, False)


# --- YearSchedule.from_mapping ------------------------------------------------------------


def test_from_mapping_builds_the_schedule():
    schedule = YearSchedule.from_mapping(FAKE_2027)
    assert schedule.year == 2027
    assert schedule.source == FAKE_2027_SOURCE
    assert len(schedule.holidays) == 3 + 9 + 5 + 7
    assert date(2027, 2, 14) in schedule.holidays
    assert schedule.adjusted_working_days == frozenset(
        {
            date(2027, 2, 20),
            date(2027, 4, 25),
            date(2027, 5, 8),
            date(2027, 9, 26),
            date(2027, 10, 9),
        }
    )


def with_(**changes):
    return {**FAKE_2027, **changes}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (with_(holidays=["2027-01-01", "2028-01-01"]), "2028-01-01 is outside the year"),
        (with_(adjusted_working_days=["2026-12-26"]), "2026-12-26 is outside the year"),
        (with_(adjusted_working_days=["2027-02-13"]), "2027-02-13 .* both as holiday"),
        (with_(adjusted_working_days=["2027-03-03"]), "2027-03-03 .* not on a weekend"),
        (with_(holidays=["2027-02-30"]), "'2027-02-30' is not a YYYY-MM-DD date"),
        (with_(holidays=["2027/01/01"]), "'2027/01/01' is not a YYYY-MM-DD date"),
        (with_(holidays=["20270101"]), "'20270101' is not a YYYY-MM-DD date"),
        (with_(holidays=[20270101]), "20270101 is not a YYYY-MM-DD date"),
        (with_(holidays="2027-01-01"), "holidays must be a list"),
        (with_(year="2027"), "year must be an integer"),
        (with_(source=""), "source must name the notice"),
        ({k: v for k, v in FAKE_2027.items() if k != "source"}, "lacks source"),
        (with_(adjusted_workdays=[]), "unknown keys adjusted_workdays"),
    ],
)
def test_from_mapping_names_the_bad_entry(data, message):
    with pytest.raises(ValueError, match=message):
        YearSchedule.from_mapping(data)


# --- the round trip, as a property ----------------------------------------------------------

CALENDARS = {
    "no 2027/2028 schedule": WorkingDayCalendar(),
    "test 2027 schedule": WorkingDayCalendar([YearSchedule.from_mapping(FAKE_2027)]),
}


@given(
    start=st.dates(min_value=date(2024, 1, 1), max_value=date(2028, 12, 31)),
    n=st.integers(min_value=0, max_value=40),
    which=st.sampled_from(sorted(CALENDARS)),
)
def test_counting_back_gives_the_number_added(start, n, which):
    """For any start and n >= 0, with due = add_working_days(start, n).due:
    due is a working day; working_days_between(start, due) == n, except n == 0 on a
    non-working start, where due is the next working day and the count is 1; and for
    n >= 1 due is the first such day (one day earlier only n - 1 have passed) and both
    calls agree on the provisional flag."""
    cal = CALENDARS[which]
    deadline = cal.add_working_days(start, n)
    due = deadline.due
    start_works = cal.is_working_day(start)[0]
    assert cal.is_working_day(due)[0]
    count, provisional = cal.working_days_between(start, due)
    if n == 0:
        assert due == start if start_works else due > start
        assert count == (0 if start_works else 1)
    else:
        assert count == n
        assert cal.working_days_between(start, due - timedelta(days=1))[0] == n - 1
        assert provisional == deadline.provisional
    assert deadline.provisional == any(
        cal.is_working_day(day)[1] for day in days(start if n == 0 else start + timedelta(1), due)
    )


# --- the years' running counts against a walk day by day --------------------------------------


def walked_deadline(cal, start, n):
    """add_working_days as it counted before the years' running counts: day by day, from the
    day each day's `_lookup` gives (working, provisional, basis)."""
    day, remaining = (start, 1) if n == 0 else (start + timedelta(days=1), n)
    bases: dict[str, None] = {}
    provisional = False
    while True:
        working, uncertain, basis = cal._lookup(day)
        bases[basis] = None
        provisional = provisional or uncertain
        if working:
            remaining -= 1
            if remaining == 0:
                return Deadline(due=day, provisional=provisional, basis="; ".join(bases))
        day += timedelta(days=1)


def walked_between(cal, start, end):
    sign = -1 if end < start else 1
    start, end = min(start, end), max(start, end)
    count, provisional = 0, False
    for day in days(start + timedelta(days=1), end):
        working, uncertain, _ = cal._lookup(day)
        count += working
        provisional = provisional or uncertain
    return sign * count, provisional


# 2024-2026 from chinese-calendar, 2027 a loaded schedule (holidays and 调休 make-up days) or the
# statutory holidays, 2028-2029 the statutory holidays (provisional).
SPAN = (date(2024, 1, 1), date(2029, 12, 31))


@pytest.mark.parametrize("which", sorted(CALENDARS))
def test_deadlines_by_running_counts_are_those_of_the_walk(which):
    cal = CALENDARS[which]
    for start in days(*SPAN):
        for n in (0, 1, 7) if start.toordinal() % 11 else (0, 1, 7, 20, 260, 700):
            assert cal.add_working_days(start, n) == walked_deadline(cal, start, n), (start, n)


@pytest.mark.parametrize("which", sorted(CALENDARS))
def test_working_days_between_by_running_counts_is_the_walk(which):
    cal = CALENDARS[which]
    starts = list(days(*SPAN))
    for at, start in enumerate(starts):
        for end in (starts[(at * 37) % len(starts)], start + timedelta(days=at % 400)):
            # one walk for both directions: the walk back is the same days, counted negative
            count, provisional = walked_between(cal, start, end)
            assert cal.working_days_between(start, end) == (count, provisional)
            assert cal.working_days_between(end, start) == (-count, provisional)


def test_a_make_up_day_and_a_holiday_across_a_year_end_by_running_counts(cal_2027):
    # 12/31 (Thu) to 1/4: 1/1-1/3 off under the loaded schedule; the deadline names both bases.
    deadline = cal_2027.add_working_days(date(2026, 12, 30), 2)
    assert deadline == Deadline(date(2027, 1, 4), False, f"{CC}; {FAKE_2027_BASIS}")
    # 2/20 (Sat) is worked: 2/19 (Fri) + 1 working day is that Saturday.
    assert cal_2027.add_working_days(date(2027, 2, 19), 1).due == date(2027, 2, 20)
    assert cal_2027.working_days_between(date(2027, 2, 5), date(2027, 2, 20)) == (6, False)


@given(
    start=st.dates(min_value=date(1995, 1, 1), max_value=date(2105, 12, 31)),
    n=st.integers(min_value=0, max_value=400),
    back=st.integers(min_value=-900, max_value=900),
    which=st.sampled_from(sorted(CALENDARS)),
)
@settings(deadline=None)  # a year's first count reads its lunar festivals: slow on a busy machine
def test_running_counts_agree_with_the_walk_over_the_tables_years(start, n, back, which):
    """Any year: before and past chinese-calendar's data and the lunar tables."""
    cal = CALENDARS[which]
    assert cal.add_working_days(start, n) == walked_deadline(cal, start, n)
    end = start + timedelta(days=back)
    assert cal.working_days_between(start, end) == walked_between(cal, start, end)


def test_the_last_year_a_date_has_is_counted_as_the_walk_counts_it(cal):
    # Counting a year's days must not step past its last: 9999-12-31 has no next day.
    start, end = date(9999, 1, 4), date(9999, 12, 30)
    assert cal.add_working_days(start, 5) == walked_deadline(cal, start, 5)
    assert cal.working_days_between(start, end) == walked_between(cal, start, end)
    assert cal.working_days_between(start, date(9999, 12, 31))[0] == (
        walked_between(cal, start, end)[0] + cal.is_working_day(date(9999, 12, 31))[0]
    )
