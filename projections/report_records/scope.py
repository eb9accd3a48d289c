"""Which report rows a figure reads, and how it groups them: the decision dates of a period,
the authorities asked for (or a recorder may see), a region, and the group each row falls in
(its authority, its authority's region, or each sector of its subject), read from the report
rows or, by sector, from their sector rows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Engine,
    Table,
    and_,
    case,
    false,
    func,
    select,
)

from domain.months import Month
from domain.report_periods import ReportPeriod
from projections.tables import report_record_sectors, report_records

GROUPINGS = ("authority", "region", "sector")


@dataclass(frozen=True)
class ReportScope:
    """A figure's rows: those decided in `period`, of the `authorities` given (None: all), of
    authorities registered in `region` (a division code or its prefix: 41 a province, 4101 a
    city), grouped by `group_by`."""

    period: ReportPeriod
    group_by: str = "authority"
    authorities: frozenset[str] | None = None
    region: str | None = None

    def __post_init__(self) -> None:
        if self.group_by not in GROUPINGS:
            raise ValueError(f"group_by {self.group_by!r} is not one of {', '.join(GROUPINGS)}")
        if self.region is not None and not (self.region.isascii() and self.region.isdigit()):
            raise ValueError(f"region {self.region!r} is not a division code or a prefix of one")

    def table(self, *, grouped: bool) -> Table:
        """The table a figure reads: the report rows, or, grouped by sector, their sector rows,
        which carry every column that selects and counts a record (a record counts in each of
        its sectors, so only the groups are read from them; the totals count each record once,
        from the report rows)."""
        if grouped and self.group_by == "sector":
            return report_record_sectors
        return report_records

    def where(self, table: Table, *more: ColumnElement[bool]) -> ColumnElement[bool]:
        """The scope's rows of `table` (`table(...)`) that also meet `more`."""
        r = table.c
        conditions = [r.decision_date >= self.period.first, r.decision_date <= self.period.last]
        if self.authorities is not None:
            # A recorder with no authority sees nothing: IN () is false, and said so portably.
            conditions.append(
                r.authority_code.in_(sorted(self.authorities)) if self.authorities else false()
            )
        if self.region:
            # A range, not LIKE: the index serves it under any collation.
            conditions.append(r.region_code >= self.region)
            if self.region.strip("9"):
                following = str(int(self.region) + 1).zfill(len(self.region))
                conditions.append(r.region_code < following)
        return and_(*conditions, *more)

    def key(self) -> ColumnElement[Any]:
        """The group a row of `table(grouped=True)` falls in."""
        if self.group_by == "authority":
            return report_records.c.authority_code
        if self.group_by == "region":
            return report_records.c.region_code
        return report_record_sectors.c.sector

    def listed(
        self,
        conn: Connection,
        columns: Sequence[Column[Any]],
        order: Callable[[Table], Sequence[ColumnElement[Any]]],
        condition: Callable[[Table], ColumnElement[bool]],
        per_group: int,
    ) -> list[dict[str, Any]]:
        """The first `per_group` rows of each group that meet `condition`, by `order` (both
        given of the table read), group by group: each as its group's `key` and `columns` of its
        report row (the record_id among them)."""
        read = self.table(grouped=True)
        key = self.key().label("key")
        rank = func.row_number().over(partition_by=key, order_by=order(read)).label("rank")
        where = self.where(read, condition(read))
        if read is report_records:
            ranked = select(key, *columns, rank).where(where).subquery()
            query = (
                select(ranked.c.key, *(ranked.c[c.name] for c in columns))
                .where(ranked.c.rank <= per_group)
                .order_by(ranked.c.key, ranked.c.rank)
            )
            return [dict(row) for row in conn.execute(query).mappings()]
        # Ranked on the sector rows, then only the records kept are looked up by key: joined in
        # SQL, the planner cannot tell how few the ranking keeps and reads every report row.
        ranked = select(key, read.c.record_id, rank).select_from(read).where(where).subquery()
        kept = conn.execute(
            select(ranked.c.key, ranked.c.record_id)
            .where(ranked.c.rank <= per_group)
            .order_by(ranked.c.key, ranked.c.rank)
        ).all()
        ids = list({row.record_id for row in kept})
        found: dict[Any, dict[str, Any]] = {}
        for start in range(0, len(ids), 5000):
            query = select(*columns).where(
                report_records.c.record_id.in_(ids[start : start + 5000])
            )
            found.update({row["record_id"]: dict(row) for row in conn.execute(query).mappings()})
        return [{"key": row.key, **found[row.record_id]} for row in kept]

    def name(self) -> ColumnElement[Any]:
        """The group's name, as an aggregate over its rows: an authority's name (the greatest,
        should its records spell it differently); a region or a sector is named by its code."""
        if self.group_by == "authority":
            return func.max(report_records.c.authority_name)
        return func.max(self.key())


def counts_by_month(
    engine: Engine,
    scope: ReportScope,
    counted: ColumnElement[bool],
    met: ColumnElement[bool],
    summed: Sequence[str] = (),
) -> dict[Month, tuple[int, ...]]:
    """Of the rows of `scope` that `counted` keeps, how many there are and how many `met`, then
    the sum of each column named in `summed`, for each month its period touches (zeros for a
    month without any), oldest first.

    One query over the whole period, grouped by decision day and added up here by month: a
    year has at most 366 days, and grouping by the day is the same SQL on PostgreSQL and
    SQLite, where taking a date's month apart is not."""
    r = report_records.c
    by_day = (
        select(
            r.decision_date,
            func.count(),
            func.sum(case((met, 1), else_=0)),
            *(func.sum(r[name]) for name in summed),
        )
        .where(scope.where(report_records, counted))
        .group_by(r.decision_date)
    )
    months = [Month.of(scope.period.first)]
    while months[-1] < Month.of(scope.period.last):
        months.append(months[-1].following())
    found: dict[Month, tuple[int, ...]] = dict.fromkeys(months, (0,) * (2 + len(summed)))
    with engine.connect() as conn:
        for day, *counts in conn.execute(by_day):
            month = Month.of(day)
            found[month] = tuple(
                before + int(count or 0) for before, count in zip(found[month], counts, strict=True)
            )
    return found


@dataclass(frozen=True)
class GroupCounts:
    """A group's rows that a figure counts, how many of them met it, and how many of them were
    corrected since first recorded."""

    key: str
    name: str
    counted: int
    met: int
    corrected: int
    sums: tuple[int, ...] = ()  # of the columns `counts_by_group` was asked to sum, in order


@dataclass(frozen=True)
class FigureCounts:
    """A figure's counts over all the rows of its scope, and by group (ordered by key)."""

    counted: int
    met: int
    corrected: int
    groups: tuple[GroupCounts, ...]
    sums: tuple[int, ...] = ()


def counts_by_group(
    conn: Connection,
    scope: ReportScope,
    counted: Callable[[Table], ColumnElement[bool]],
    met: Callable[[Table], ColumnElement[bool]],
    summed: Sequence[str] = (),
) -> FigureCounts:
    """Of the rows of `scope` that `counted` keeps (of the table read), how many there are, how
    many `met`, how many were corrected and the sum of each column named in `summed`, in each
    group and in all."""

    def counts(table: Table) -> tuple[ColumnElement[Any], ...]:
        return (
            func.count(),
            func.sum(case((met(table), 1), else_=0)),
            func.sum(case((table.c.correction_count > 0, 1), else_=0)),
            *(func.sum(table.c[name]) for name in summed),
        )

    def whole(values: Sequence[Any]) -> tuple[int, ...]:
        return tuple(int(value or 0) for value in values)

    read = scope.table(grouped=True)
    key = scope.key().label("key")
    grouped = (
        select(key, scope.name().label("name"), *counts(read))
        .select_from(read)
        .where(scope.where(read, counted(read)))
        .group_by(key)
        .order_by(key)
    )
    groups = tuple(
        GroupCounts(group, name, rows, int(kept or 0), int(corrected or 0), whole(sums))
        for group, name, rows, kept, corrected, *sums in conn.execute(grouped)
    )
    # Grouped by sector, a record may be in several groups or none: the totals are counted
    # apart; otherwise they are the groups' sums.
    if scope.group_by == "sector":
        total = select(*counts(report_records)).where(
            scope.where(report_records, counted(report_records))
        )
        rows, kept, corrected, *sums = conn.execute(total).one()
        return FigureCounts(rows, int(kept or 0), int(corrected or 0), groups, whole(sums))
    return FigureCounts(
        sum(g.counted for g in groups),
        sum(g.met for g in groups),
        sum(g.corrected for g in groups),
        groups,
        tuple(sum(g.sums[i] for g in groups) for i in range(len(summed))),
    )


def as_utc(moment: datetime | None) -> datetime | None:
    """A recorded time read back (SQLite returns it without its zone, which is UTC)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
