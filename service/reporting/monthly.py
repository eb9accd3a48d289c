"""A month's figures together, as the console's figures page and the monthly 台账 show them: the
双公示及时率 and the 信用信息合格率 per deciding authority, the case figures, the list figures, the
联合奖惩成效清单 and the 严重违法超限超载运输失信当事人名单 of one month, for the authorities a
caller oversees, with the policy versions in force during it; and each of the three rates (三率:
及时率, 合格率 with 填报率) and the case rate over the months up to it.

Each figure is its own query (`timeliness.py`, `completeness.py`, `cases.py`, `lists.py`); this
module only asks them for the same month and authorities. A figure added later becomes a field of
`MonthFigures`, filled in `MonthlyReports.month`.

A rate here is a fraction from 0 to 1, as the charts and the 台账 take it; the 及时率 and 合格率
queries give percentages as the policy rounds them, turned into fractions by `fraction` alone."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import tzinfo
from decimal import Decimal

from sqlalchemy import Engine

from domain.months import Month
from domain.policy import PolicyBook
from domain.report_periods import ReportPeriod
from projections.cases.queries import CaseQueries
from projections.report_records.scope import ReportScope
from service.reporting.cases import CaseFigures, CaseReports
from service.reporting.completeness import (
    CompletenessReport,
    completeness_by_month,
    completeness_report,
)
from service.reporting.lists import JointMeasureList, ListFigures, ListReports, OverloadList
from service.reporting.timeliness import TimelinessReport, timeliness_by_month, timeliness_report

TREND_MONTHS = 12  # the rate chart's months, ending with the chosen one
MOST_MISSING = 5  # the fields most often missing, named per authority and in all


@dataclass(frozen=True)
class MonthFigures:
    month: Month
    period: ReportPeriod
    policy_versions: tuple[str, ...]  # the ids of the versions in force on some day of it
    rate_decimal_places: int  # of a percentage, as the version in force on its last day rounds
    timeliness: TimelinessReport  # by deciding authority
    completeness: CompletenessReport  # by deciding authority
    cases: CaseFigures
    lists: ListFigures  # regions rolled up to the city
    joint_measures: JointMeasureList
    overload: OverloadList


@dataclass(frozen=True)
class MonthlyRate:
    month: Month
    rate: float | None  # None: nothing to measure that month


def month_period(month: Month) -> ReportPeriod:
    return ReportPeriod(month.first_day, month.last_day)


def fraction(percentage: Decimal | None) -> float | None:
    """A rate as the 及时率 and 合格率 queries give it (50.00, percent) as a fraction (0.5)."""
    return None if percentage is None else float(percentage / 100)


def month_scope(period: ReportPeriod, authority_codes: Iterable[str] | None) -> ReportScope:
    """The report rows of the period decided by the given authorities (None: every one's), by
    authority."""
    codes = None if authority_codes is None else frozenset(authority_codes)
    return ReportScope(period, group_by="authority", authorities=codes)


def trend_months(last: Month, months: int) -> list[Month]:
    """The `months` months ending with `last`, oldest first."""
    chosen = [last]
    while len(chosen) < months:
        chosen.insert(0, chosen[0].preceding())
    return chosen


class MonthlyReports:
    def __init__(self, engine: Engine, case_queries: CaseQueries, policy: PolicyBook, zone: tzinfo):
        self.engine = engine
        self.policy = policy
        self.cases = CaseReports(engine, case_queries)
        self.lists = ListReports(engine, policy, zone)

    def month(
        self, month: Month, authority_codes: Iterable[str] | None, *, records_per_authority: int = 0
    ) -> MonthFigures:
        """Every figure of `month`, of the given authorities (None: every authority's), with up
        to `records_per_authority` of each authority's late and of its incomplete records (the
        page shows only their counts; the 台账 lists them)."""
        codes = None if authority_codes is None else sorted(authority_codes)
        period = month_period(month)
        return MonthFigures(
            month=month,
            period=period,
            policy_versions=tuple(
                v.id for v in self.policy.in_force_during(period.first, period.last)
            ),
            rate_decimal_places=self.policy.for_day(period.last).reporting.rates.decimal_places,
            timeliness=self.timeliness(period, codes, records_per_authority),
            completeness=self.completeness(period, codes, records_per_authority),
            cases=self.cases.figures(period, codes),
            lists=self.lists.figures(period, codes, "city"),
            joint_measures=self.lists.joint_measures(period, codes),
            overload=self.lists.overload_list(period, codes),
        )

    def timeliness(
        self, period: ReportPeriod, authority_codes: Iterable[str] | None, late_records: int
    ) -> TimelinessReport:
        """双公示及时率 of the period by deciding authority, each with up to `late_records` of its
        late records, the most late first."""
        return timeliness_report(
            self.engine,
            self.policy,
            month_scope(period, authority_codes),
            late_per_group=late_records,
        )

    def completeness(
        self, period: ReportPeriod, authority_codes: Iterable[str] | None, incomplete_records: int
    ) -> CompletenessReport:
        """信用信息合格率 of the period by deciding authority, each with the fields its records
        most often lack and up to `incomplete_records` of its incomplete records, the emptiest
        first."""
        return completeness_report(
            self.engine,
            self.policy,
            month_scope(period, authority_codes),
            top_missing=MOST_MISSING,
            incomplete_per_group=incomplete_records,
        )

    def timeliness_rates(
        self, last: Month, authority_codes: Iterable[str] | None, months: int = TREND_MONTHS
    ) -> tuple[MonthlyRate, ...]:
        """双公示及时率 of each of the `months` months ending with `last`, oldest first: one query
        over them all, grouped by decision day (`timeliness_by_month`)."""
        chosen = trend_months(last, months)
        span = ReportPeriod.between(chosen[0].first_day, last.last_day)
        found = timeliness_by_month(self.engine, self.policy, month_scope(span, authority_codes))
        return tuple(MonthlyRate(m.month, fraction(m.rate)) for m in found)

    def completeness_rates(
        self, last: Month, authority_codes: Iterable[str] | None, months: int = TREND_MONTHS
    ) -> tuple[MonthlyRate, ...]:
        """信用信息合格率 of each of the `months` months ending with `last`, oldest first: one
        query over them all, grouped by decision day (`completeness_by_month`)."""
        return self.completeness_and_fill_rates(last, authority_codes, months)[0]

    def completeness_and_fill_rates(
        self, last: Month, authority_codes: Iterable[str] | None, months: int = TREND_MONTHS
    ) -> tuple[tuple[MonthlyRate, ...], tuple[MonthlyRate, ...]]:
        """信用信息合格率 and 数据项填报率 of each of the `months` months ending with `last`,
        oldest first, from the same one query (`completeness_by_month`)."""
        chosen = trend_months(last, months)
        span = ReportPeriod.between(chosen[0].first_day, last.last_day)
        found = completeness_by_month(self.engine, self.policy, month_scope(span, authority_codes))
        return (
            tuple(MonthlyRate(m.month, fraction(m.rate)) for m in found),
            tuple(MonthlyRate(m.month, fraction(m.fill_rate)) for m in found),
        )

    def case_rates(
        self, last: Month, authority_codes: Iterable[str] | None, months: int = TREND_MONTHS
    ) -> tuple[MonthlyRate, ...]:
        """The decided-within-deadline rate of repairs and objections together, for each of the
        `months` months ending with `last`, oldest first.

        One `CaseReports.figures` over the whole run of months, its decided cases counted by the
        month of their decision: the same rate a month's own figures give (whether a case was
        decided in time does not depend on the period asked), for less than half the time,
        since a call a month reads and dates every open case twelve times (over 10,000 cases a
        year on SQLite: 0.5 s, against 1.2 s to 2.3 s for twelve calls)."""
        codes = None if authority_codes is None else sorted(authority_codes)
        chosen = trend_months(last, months)
        span = ReportPeriod.between(chosen[0].first_day, last.last_day)
        decided: dict[Month, list[bool]] = {month: [] for month in chosen}
        for row in self.cases.figures(span, codes).rows:
            if row.decided_in_period and row.decided_on is not None:
                decided[Month.of(row.decided_on)].append(bool(row.within_deadline))
        return tuple(
            MonthlyRate(month, sum(kept) / len(kept) if kept else None)
            for month, kept in decided.items()
        )
