"""The period a report's query parameters name: `month=YYYY-MM`, or `from` and `to` (both days
included); neither, the month of today (the service's time zone)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, Query

from api.deps import TodayDep
from domain.errors import InvalidInput
from domain.report_periods import REPORT_PERIOD_VALID, ReportPeriod

Month = Annotated[
    str | None,
    Query(
        description="The month reported on, YYYY-MM (default: this month)",
        pattern=r"^\d{4}-\d{2}$",
        examples=["2026-11"],
    ),
]


async def period(
    today: TodayDep,
    month: Month = None,
    first: Annotated[
        date | None,
        Query(
            alias="from",
            description="The period's first day (with `to`, instead of `month`)",
            examples=["2026-10-01"],
        ),
    ] = None,
    last: Annotated[
        date | None,
        Query(
            alias="to",
            description="The period's last day, included (with `from`)",
            examples=["2026-12-31"],
        ),
    ] = None,
) -> ReportPeriod:
    if month is not None and (first or last):
        raise InvalidInput(
            "name the period by month, or by from and to, not both", rule=REPORT_PERIOD_VALID
        )
    if (first is None) != (last is None):
        raise InvalidInput("a period needs both from and to", rule=REPORT_PERIOD_VALID)
    if first is not None and last is not None:
        return ReportPeriod.between(first, last)
    return ReportPeriod.month(month or f"{today:%Y-%m}")


async def month_period(today: TodayDep, month: Month = None) -> ReportPeriod:
    return ReportPeriod.month(month or f"{today:%Y-%m}")


Period = Annotated[ReportPeriod, Depends(period)]
MonthPeriod = Annotated[ReportPeriod, Depends(month_period)]
