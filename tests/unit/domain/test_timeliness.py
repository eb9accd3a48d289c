"""及时率 of one record: due on the 7th working day after its decision, late by working days."""

from __future__ import annotations

from datetime import date

import pytest

from domain.policy import Deadline
from domain.timeliness import Timeliness, timeliness
from domain.working_days import WorkingDayCalendar

pytestmark = pytest.mark.domain
SEVEN_WORKING_DAYS = Deadline(7, True, "test")
CALENDAR = WorkingDayCalendar()


@pytest.mark.parametrize(
    ("decided", "recorded", "expected"),
    [
        # Decided the day before 国庆节 (10-01..10-07 off, 10-10 a working Saturday): the 7
        # working days are 10-08, 09, 10, 12, 13, 14, 15.
        ("2026-09-30", "2026-09-30", Timeliness(date(2026, 10, 15), True, 0, False)),
        ("2026-09-30", "2026-10-15", Timeliness(date(2026, 10, 15), True, 0, False)),
        ("2026-09-30", "2026-10-16", Timeliness(date(2026, 10, 15), False, 1, False)),
        # Recorded on a Saturday off: as if on the Monday after.
        ("2026-09-30", "2026-10-17", Timeliness(date(2026, 10, 15), False, 2, False)),
        ("2026-09-30", "2026-10-19", Timeliness(date(2026, 10, 15), False, 2, False)),
        # Decided on a Friday: the working Saturday 10-10 is its first working day.
        ("2026-10-09", "2026-10-19", Timeliness(date(2026, 10, 19), True, 0, False)),
        # Decided on a Sunday: counting starts on the Monday.
        ("2026-11-01", "2026-11-11", Timeliness(date(2026, 11, 10), False, 1, False)),
    ],
)
def test_due_on_the_seventh_working_day_after_the_decision(decided, recorded, expected):
    found = timeliness(
        date.fromisoformat(decided), date.fromisoformat(recorded), SEVEN_WORKING_DAYS, CALENDAR
    )
    assert found == expected


def test_a_deadline_into_a_year_without_a_schedule_is_provisional():
    # 2026-12-28 (Mon): 29, 30, 31, then 2027-01-01 is 元旦 by law, 01-04 .. 01-07.
    found = timeliness(date(2026, 12, 28), date(2027, 1, 8), SEVEN_WORKING_DAYS, CALENDAR)
    assert found == Timeliness(date(2027, 1, 7), False, 1, True)


def test_a_deadline_in_calendar_days_counts_every_day():
    found = timeliness(date(2026, 9, 30), date(2026, 10, 10), Deadline(7, False, "t"), CALENDAR)
    assert found == Timeliness(date(2026, 10, 7), False, 3, False)
