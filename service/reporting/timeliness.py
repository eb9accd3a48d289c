"""及时率 (the "7天合格率"): for a period and its authorities, how many licences and penalties
were decided, how many were recorded within the publication deadline of their decision, the
rate, and the late ones with how many working days late, by authority, region or sector.

Read from the report read model (projections/report_records), which measured each record under
the policy version in force on its decision date; the rate is given as the version in force on
the period's last day rounds it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy import ColumnElement, Engine, Table, and_

from domain.months import Month
from domain.policy import PolicyBook
from domain.report_periods import ReportPeriod
from projections.report_records.scope import (
    ReportScope,
    as_utc,
    counts_by_group,
    counts_by_month,
)
from projections.tables import report_records

r = report_records.c


@dataclass(frozen=True)
class LateRecord:
    """A record recorded after its deadline: when it was decided, due and recorded, and how
    many working days (calendar days, if the deadline counts those) late."""

    record_id: UUID
    type: str
    source_ref: str
    authority_code: str
    authority_name: str
    decision_date: date
    due_on: date
    recorded_on: date
    days_late: int
    due_provisional: bool  # a day counted lies in a year without an official schedule
    correction_count: int
    corrected_at: datetime | None
    revoked: bool


@dataclass(frozen=True)
class TimelinessGroup:
    """One authority's, region's or sector's figure, with its late records (the most late
    first, at most the number asked for: `late` counts them all)."""

    key: str
    name: str
    decided: int
    on_time: int
    late: int
    rate: Decimal | None  # percent on time; None when nothing was decided
    late_records: tuple[LateRecord, ...]


@dataclass(frozen=True)
class TimelinessReport:
    period: ReportPeriod
    group_by: str
    policy_version: str  # in force on the period's last day: its rounding gives the rates
    deadline_days: int  # its publication deadline, as the figure's caption states it
    working_days: bool
    families: tuple[str, ...]  # the record families it counts
    decided: int
    on_time: int
    late: int
    rate: Decimal | None
    corrected: int  # records of the figure corrected since first recorded
    groups: tuple[TimelinessGroup, ...]


@dataclass(frozen=True)
class MonthlyTimeliness:
    """One month's figure without its groups: what a rate over months draws."""

    month: Month
    decided: int
    on_time: int
    rate: Decimal | None  # rounded as the version in force on the month's last day rounds it


def timeliness_by_month(
    engine: Engine, policy: PolicyBook, scope: ReportScope
) -> tuple[MonthlyTimeliness, ...]:
    """The figure of each month of `scope`'s period, oldest first, in one query: each month's
    the same as that month's own `timeliness_report` (a record's deadline was fixed when it was
    measured, whatever the period asked)."""
    counted = counts_by_month(engine, scope, r.timeliness_counted.is_(True), r.on_time.is_(True))
    return tuple(
        MonthlyTimeliness(
            month,
            decided,
            on_time,
            policy.for_day(month.last_day).reporting.rates.percentage(on_time, decided),
        )
        for month, (decided, on_time) in counted.items()
    )


def timeliness_report(
    engine: Engine, policy: PolicyBook, scope: ReportScope, *, late_per_group: int = 20
) -> TimelinessReport:
    """The timeliness figure of `scope`, every group with up to `late_per_group` late
    records."""
    with engine.connect() as conn:
        counts = counts_by_group(conn, scope, _counted, lambda t: t.c.on_time.is_(True))
        late_rows = scope.listed(
            conn,
            _LATE_COLUMNS,
            order=lambda t: (t.c.days_late.desc(), t.c.decision_date, t.c.record_id),
            condition=lambda t: and_(_counted(t), t.c.on_time.is_(False)),
            per_group=late_per_group,
        )
    late_by_group: dict[str, list[LateRecord]] = {}
    for row in late_rows:
        fields = {c.name: row[c.name] for c in _LATE_COLUMNS}
        fields["corrected_at"] = as_utc(fields["corrected_at"])
        late_by_group.setdefault(row["key"], []).append(LateRecord(**fields))
    version = policy.for_day(scope.period.last)
    rates = version.reporting.rates
    deadline = version.deadlines.publication
    return TimelinessReport(
        period=scope.period,
        group_by=scope.group_by,
        policy_version=version.id,
        deadline_days=deadline.days,
        working_days=deadline.working_days,
        families=version.reporting.timeliness.families,
        decided=counts.counted,
        on_time=counts.met,
        late=counts.counted - counts.met,
        rate=rates.percentage(counts.met, counts.counted),
        corrected=counts.corrected,
        groups=tuple(
            TimelinessGroup(
                key=group.key,
                name=group.name,
                decided=group.counted,
                on_time=group.met,
                late=group.counted - group.met,
                rate=rates.percentage(group.met, group.counted),
                late_records=tuple(late_by_group.get(group.key, ())),
            )
            for group in counts.groups
        ),
    )


def _counted(table: Table) -> ColumnElement[bool]:
    """The rows of a family the figure counts (under the version in force on their decision
    date)."""
    return table.c.timeliness_counted.is_(True)


_LATE_COLUMNS = (
    r.record_id,
    r.type,
    r.source_ref,
    r.authority_code,
    r.authority_name,
    r.decision_date,
    r.due_on,
    r.recorded_on,
    r.days_late,
    r.due_provisional,
    r.correction_count,
    r.corrected_at,
    r.revoked,
)
