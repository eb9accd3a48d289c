"""A report's period: a month as the notices count one, or from one day to another."""

from __future__ import annotations

from datetime import date

import pytest

from domain.errors import InvalidInput
from domain.report_periods import REPORT_PERIOD_VALID, ReportPeriod

pytestmark = pytest.mark.domain


@pytest.mark.parametrize(
    ("month", "first", "last"),
    [
        ("2026-11", date(2026, 11, 1), date(2026, 11, 30)),
        ("2028-02", date(2028, 2, 1), date(2028, 2, 29)),  # a leap year
        ("2027-02", date(2027, 2, 1), date(2027, 2, 28)),
        (" 2026-12 ", date(2026, 12, 1), date(2026, 12, 31)),
    ],
)
def test_a_month_runs_from_its_first_to_its_last_day(month, first, last):
    assert ReportPeriod.month(month) == ReportPeriod(first, last)


@pytest.mark.parametrize("month", ["2026-13", "2026-00", "0000-01", "2026-1", "2026/11", "11"])
def test_what_is_no_month_is_refused_under_its_rule(month):
    with pytest.raises(InvalidInput) as refused:
        ReportPeriod.month(month)
    assert refused.value.rule == REPORT_PERIOD_VALID


def test_a_period_holds_both_its_ends_and_is_at_most_a_leap_year_long():
    period = ReportPeriod.between(date(2028, 1, 1), date(2028, 12, 31))  # 366 days
    assert period.holds(date(2028, 1, 1)) and period.holds(date(2028, 12, 31))
    assert not period.holds(date(2027, 12, 31)) and not period.holds(date(2029, 1, 1))
    assert ReportPeriod.between(date(2026, 11, 2), date(2026, 11, 2)).holds(date(2026, 11, 2))
    assert ReportPeriod.between(date(2027, 1, 1), date(2028, 1, 1)).holds(date(2028, 1, 1))
    for first, last in (
        (date(2026, 11, 2), date(2026, 11, 1)),
        (date(2027, 1, 1), date(2028, 1, 2)),  # 367 days
    ):
        with pytest.raises(InvalidInput) as refused:
            ReportPeriod.between(first, last)
        assert refused.value.rule == REPORT_PERIOD_VALID
