"""合格率 and 填报率: for a period and its authorities, how many licences and penalties are
complete (at least the policy's share of the national standard's indicator fields filled), the
share of complete records (合格率), the share of the indicator fields of all those records that
are filled (填报率, 数据项填报率), the fields most often missing, and the records below the
threshold, so that each authority can correct them, by authority, region or sector.

Read from the report read model (projections/report_records), which measured each record under
the policy version in force on its decision date; the rates are given as the version in force
on the period's last day rounds them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy import ColumnElement, Engine, Table, and_, func, select

from domain.completeness import Indicator
from domain.months import Month
from domain.policy import PolicyBook, RateRounding
from domain.report_periods import ReportPeriod
from projections.report_records.projector import missing_columns
from projections.report_records.scope import (
    ReportScope,
    as_utc,
    counts_by_group,
    counts_by_month,
)
from projections.tables import report_records
from service.commanding.importing.columns import national_indicators

r = report_records.c


@dataclass(frozen=True)
class MissingField:
    """An indicator field (its national column and 中文名称) and how many records lack it."""

    column: str
    title: str
    records: int


@dataclass(frozen=True)
class IncompleteRecord:
    """A record below the threshold: what it fills of the standard's fields and what it lacks."""

    record_id: UUID
    type: str
    source_ref: str
    authority_code: str
    authority_name: str
    decision_date: date
    recorded_on: date
    fields_filled: int
    fields_total: int
    share: Decimal  # percent of the indicator fields filled
    missing: tuple[MissingField, ...]  # each with records = 1
    correction_count: int
    corrected_at: datetime | None
    revoked: bool


@dataclass(frozen=True)
class CompletenessGroup:
    """One authority's, region's or sector's figure, the fields its records most often lack,
    and its incomplete records (the emptiest first, at most the number asked for: `incomplete`
    counts them all)."""

    key: str
    name: str
    records: int
    complete: int
    incomplete: int
    rate: Decimal | None  # percent complete; None when there is no record
    fields_filled: int  # indicator fields its records fill, summed over them
    fields_expected: int  # indicator fields the standard names for them, summed
    fill_rate: Decimal | None  # 填报率: filled / expected, in percent; None when no record
    most_missing: tuple[MissingField, ...]
    incomplete_records: tuple[IncompleteRecord, ...]


@dataclass(frozen=True)
class CompletenessReport:
    period: ReportPeriod
    group_by: str
    policy_version: str  # in force on the period's last day: its rounding gives the rates
    threshold: Decimal  # its completeness threshold, as the figure's caption states it
    records: int
    complete: int
    incomplete: int
    rate: Decimal | None
    fields_filled: int
    fields_expected: int
    fill_rate: Decimal | None  # 填报率, over every record (not an average of their shares)
    corrected: int  # records of the figure corrected since first recorded
    most_missing: tuple[MissingField, ...]
    groups: tuple[CompletenessGroup, ...]


def indicator_titles(indicators: Mapping[str, Sequence[Indicator]]) -> dict[str, str]:
    """Each indicator column's 中文名称."""
    return {i.column: i.title for found in indicators.values() for i in found}


@dataclass(frozen=True)
class MonthlyCompleteness:
    """One month's figure without its groups: what a rate over months draws."""

    month: Month
    records: int
    complete: int
    rate: Decimal | None  # rounded as the version in force on the month's last day rounds it
    fields_filled: int
    fields_expected: int
    fill_rate: Decimal | None  # 填报率, rounded alike


def completeness_by_month(
    engine: Engine, policy: PolicyBook, scope: ReportScope
) -> tuple[MonthlyCompleteness, ...]:
    """The figure of each month of `scope`'s period, oldest first, in one query: each month's
    the same as that month's own `completeness_report` (a record was measured under the version
    in force on its decision date, whatever the period asked)."""
    counted = counts_by_month(engine, scope, r.fields_total > 0, r.complete.is_(True), _SUMMED)
    found = []
    for month, (records, complete, filled, expected) in counted.items():
        rates = policy.for_day(month.last_day).reporting.rates
        found.append(
            MonthlyCompleteness(
                month,
                records,
                complete,
                rates.percentage(complete, records),
                filled,
                expected,
                rates.percentage(filled, expected),
            )
        )
    return tuple(found)


def completeness_report(
    engine: Engine,
    policy: PolicyBook,
    scope: ReportScope,
    *,
    top_missing: int = 5,
    incomplete_per_group: int = 20,
    indicators: Mapping[str, Sequence[Indicator]] | None = None,
) -> CompletenessReport:
    """The completeness figure of `scope`: every group with its `top_missing` most often
    missing fields and up to `incomplete_per_group` incomplete records."""
    titles = indicator_titles(national_indicators() if indicators is None else indicators)
    read = scope.table(grouped=True)
    t = read.c
    key = scope.key().label("key")
    # The sets of missing fields are few (the optional fields' combinations): counted by the
    # database per set, split into fields here.
    gaps = (
        select(key, t.missing_fields, func.count().label("records"))
        .select_from(read)
        .where(scope.where(read, _measured(read), t.missing_fields != ""))
        .group_by(key, t.missing_fields)
    )
    with engine.connect() as conn:
        counts = counts_by_group(conn, scope, _measured, lambda t: t.c.complete.is_(True), _SUMMED)
        gap_rows = conn.execute(gaps).all()
        # Overall, a record counts once however many sectors it is in: counted apart.
        whole_gaps: list[tuple[str, int]] = (
            [
                (text, count)
                for text, count in conn.execute(
                    select(r.missing_fields, func.count())
                    .where(scope.where(report_records, _measured(report_records)))
                    .where(r.missing_fields != "")
                    .group_by(r.missing_fields)
                )
            ]
            if scope.group_by == "sector"
            else [(text, count) for _, text, count in gap_rows]
        )
        incomplete_rows = scope.listed(
            conn,
            _INCOMPLETE_COLUMNS,
            # the emptiest first
            order=lambda t: (
                t.c.fields_filled * 1.0 / t.c.fields_total,
                t.c.decision_date,
                t.c.record_id,
            ),
            condition=lambda t: and_(_measured(t), t.c.complete.is_(False)),
            per_group=incomplete_per_group,
        )
    version = policy.for_day(scope.period.last)
    rates = version.reporting.rates

    def field(column: str, count: int) -> MissingField:
        return MissingField(column, titles.get(column, column), count)

    def most(counter: Counter[str]) -> tuple[MissingField, ...]:
        ranked_fields = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
        return tuple(field(c, n) for c, n in ranked_fields[:top_missing])

    missing_by_group: dict[str, Counter[str]] = {}
    overall: Counter[str] = Counter()
    for group_key, text, count in gap_rows:
        for column in missing_columns(text):
            missing_by_group.setdefault(group_key, Counter())[column] += count
    for text, count in whole_gaps:
        for column in missing_columns(text):
            overall[column] += count
    by_group: dict[str, list[IncompleteRecord]] = {}
    for row in incomplete_rows:
        by_group.setdefault(row["key"], []).append(_incomplete(row, rates, field))
    return CompletenessReport(
        period=scope.period,
        group_by=scope.group_by,
        policy_version=version.id,
        threshold=version.reporting.completeness.threshold,
        records=counts.counted,
        complete=counts.met,
        incomplete=counts.counted - counts.met,
        rate=rates.percentage(counts.met, counts.counted),
        fields_filled=counts.sums[0],
        fields_expected=counts.sums[1],
        fill_rate=rates.percentage(*counts.sums),
        corrected=counts.corrected,
        most_missing=most(overall),
        groups=tuple(
            CompletenessGroup(
                key=group.key,
                name=group.name,
                records=group.counted,
                complete=group.met,
                incomplete=group.counted - group.met,
                rate=rates.percentage(group.met, group.counted),
                fields_filled=group.sums[0],
                fields_expected=group.sums[1],
                fill_rate=rates.percentage(*group.sums),
                most_missing=most(missing_by_group.get(group.key, Counter())),
                incomplete_records=tuple(by_group.get(group.key, ())),
            )
            for group in counts.groups
        ),
    )


# 填报率 (数据项填报率): the indicator fields filled over those expected, summed over the records,
# so a record counts by its fields, not as one share among others.
_SUMMED = ("fields_filled", "fields_total")


def _measured(table: Table) -> ColumnElement[bool]:
    """The rows of a type the standard names indicator fields of."""
    return table.c.fields_total > 0


def _incomplete(row, rates: RateRounding, field) -> IncompleteRecord:
    share = rates.percentage(row["fields_filled"], row["fields_total"])
    assert share is not None  # measured rows only: fields_total > 0
    return IncompleteRecord(
        record_id=row["record_id"],
        type=row["type"],
        source_ref=row["source_ref"],
        authority_code=row["authority_code"],
        authority_name=row["authority_name"],
        decision_date=row["decision_date"],
        recorded_on=row["recorded_on"],
        fields_filled=row["fields_filled"],
        fields_total=row["fields_total"],
        share=share,
        missing=tuple(field(column, 1) for column in missing_columns(row["missing_fields"])),
        correction_count=row["correction_count"],
        corrected_at=as_utc(row["corrected_at"]),
        revoked=row["revoked"],
    )


_INCOMPLETE_COLUMNS = (
    r.record_id,
    r.type,
    r.source_ref,
    r.authority_code,
    r.authority_name,
    r.decision_date,
    r.recorded_on,
    r.fields_filled,
    r.fields_total,
    r.missing_fields,
    r.correction_count,
    r.corrected_at,
    r.revoked,
)
