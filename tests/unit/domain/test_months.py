"""Months as reporting periods: parsed from what a month field sends, their first and last days
(leap years included), the last full month before a day, and their order."""

from __future__ import annotations

from datetime import date

import pytest

from domain.months import Month


def test_a_month_knows_its_days_and_its_neighbours():
    february = Month.parse("2028-02")
    assert (february.first_day, february.last_day) == (date(2028, 2, 1), date(2028, 2, 29))
    assert Month(2026, 2).last_day == date(2026, 2, 28)
    assert Month(2026, 12).following() == Month(2027, 1)
    assert Month(2027, 1).preceding() == Month(2026, 12)
    assert Month(2026, 11).contains(date(2026, 11, 30)) and not Month(2026, 11).contains(
        date(2026, 12, 1)
    )
    assert (str(Month(2026, 3)), Month(2026, 3).chinese) == ("2026-03", "2026年3月")
    assert Month(2026, 12) < Month(2027, 1) < Month(2027, 2)


@pytest.mark.parametrize(
    ("today", "last_full"),
    [
        (date(2026, 11, 20), Month(2026, 10)),
        (date(2026, 1, 1), Month(2025, 12)),
        (date(2026, 3, 31), Month(2026, 2)),
    ],
)
def test_the_last_full_month_is_the_one_before_todays(today, last_full):
    assert Month.last_full_before(today) == last_full


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-1", "26-11", "2026/11", "", "x"])
def test_anything_but_a_real_year_and_month_is_refused(text):
    with pytest.raises(ValueError):
        Month.parse(text)
