"""Lists and joint measures as the credit office reports them: subjects on the red, black and watch
lists at the end of a period by sector and region, with the entries and exits in it; the monthly
联合奖惩成效清单 (every joint reward or punishment applied); the monthly list of seriously dishonest
subjects in overload control (严重违法超限超载运输失信当事人名单). Read from the credit file's
records and subjects; a list entry holds a subject on its list as the status rules say
(`domain.credit_status.entry_in_force`, `domain.publication.stands_on`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, tzinfo
from typing import Any
from uuid import UUID

from sqlalchemy import Engine, or_, select

from domain.credit_status import entry_in_force, red_suspended
from domain.events import LIST_TYPES
from domain.policy import PolicyBook
from domain.publication import OUT_FROM_A_REPAIR, REVOKED, stands_on
from domain.report_periods import ReportPeriod
from projections.credit_file.as_of import end_of_day
from projections.tables import records, subjects
from service.reporting.subjects import SUBJECT_COLUMNS, ListedSubject, listed_subject

# How far a region code (GB/T 2260, 6 digits) is rolled up: to its province (the first 2
# digits), its city (the first 4) or kept as the county it is.
REGION_LEVELS = {"province": 2, "city": 4, "county": 6}
# How an entry stopped holding its subject on the list.
EXITED, EXPIRED, LAPSED = "exited", "expired", "lapsed"


@dataclass(frozen=True)
class ListEntryRow:
    """One list entry (ListEntered) behind a figure."""

    record_id: UUID
    list_type: str  # "red" | "black" | "watch"
    subject: ListedSubject
    entered_on: date  # its decision date
    planned_end: date | None
    # The first day it no longer held the subject on the list, if that day has come by the
    # period's end: exited (ListExited), expired (its planned end) or lapsed (the record it rests
    # on was repaired); None while it holds.
    left_on: date | None
    how_left: str | None
    basis: str
    authority_code: str  # the authority that decided the entry
    authority_name: str
    source_ref: str  # its decision number


@dataclass(frozen=True)
class ListBreakdown:
    """One sector's or one region's share of a list's figures."""

    key: str  # a sector as subjects are registered with it, or a region code rolled up
    on_list_at_end: int  # subjects
    entries: int
    exits: int


@dataclass(frozen=True)
class ListFigure:
    list_type: str
    on_list_at_end: int  # subjects on the list on the period's last day
    entries: int  # entries decided in the period
    exits: int  # entries that stopped holding their subject in the period
    by_sector: tuple[ListBreakdown, ...]  # a subject counts in each of its sectors
    by_region: tuple[ListBreakdown, ...]
    members: tuple[ListEntryRow, ...]  # the entry holding each subject on it at the end
    entered: tuple[ListEntryRow, ...]
    exited: tuple[ListEntryRow, ...]


@dataclass(frozen=True)
class ListFigures:
    period: ReportPeriod
    region_level: str  # "province" | "city" | "county"
    lists: tuple[ListFigure, ...]  # red, black, watch


@dataclass(frozen=True)
class JointMeasureRow:
    """One joint reward or punishment applied (联合奖惩反馈): subject, measure, agency, time,
    matter (seed 001: 被执行主体、执行措施、执行部门、执行时间、具体事项)."""

    record_id: UUID
    subject: ListedSubject
    measure_type: str  # "reward" | "punishment"
    measure: str
    applying_agency: str
    applied_on: date  # the decision date of the measure
    matter: str
    authority_code: str  # the authority that recorded the feedback
    authority_name: str
    source_ref: str


@dataclass(frozen=True)
class JointMeasureList:
    """联合奖惩成效清单 of a period (the notices ask it monthly)."""

    period: ReportPeriod
    rewards: int
    punishments: int
    rows: tuple[JointMeasureRow, ...]  # by day applied, then agency


@dataclass(frozen=True)
class OverloadRow:
    """A black-list entry on the 严重违法超限超载运输失信当事人名单, and why it is."""

    entry: ListEntryRow
    identified_by: str  # "basis_conduct" (its basis record's conduct) | "list_name" (its basis)
    basis_conduct: str | None  # the conduct or violation type of its basis record


@dataclass(frozen=True)
class OverloadList:
    """严重违法超限超载运输失信当事人名单 of a period: the entries decided in it, those that stopped
    holding their subject in it, and every subject on it at its end."""

    period: ReportPeriod
    entered: tuple[OverloadRow, ...]
    exited: tuple[OverloadRow, ...]
    on_list_at_end: tuple[OverloadRow, ...]


@dataclass(frozen=True)
class _Entry:
    row: ListEntryRow
    state: str
    repaired_at: datetime | None
    ended_on: date | None
    basis_record_id: str | None


class ListReports:
    def __init__(self, engine: Engine, policy: PolicyBook, zone: tzinfo):
        self.engine = engine
        self.policy = policy
        self.zone = zone  # a repair's moment, and so a lapse, falls on a day in this zone

    # Lists ------------------------------------------------------------------------------------
    def figures(
        self,
        period: ReportPeriod,
        authority_codes: Iterable[str] | None,
        region_level: str = "city",
    ) -> ListFigures:
        """Each list's figures for the period, of the entries the given authorities decided
        (None: every authority's). Whether black suspends red is judged on every entry, as a
        subject's status is."""
        digits = REGION_LEVELS[region_level]
        entries = self._entries(period, LIST_TYPES)
        at_end = [e for e in entries if self._holds(e, period.last)]
        on_black = {e.row.subject.subject_id for e in at_end if red_suspended([e.row.list_type])}
        members: dict[tuple[str, UUID], ListEntryRow] = {}
        for entry in sorted(at_end, key=lambda e: e.row.entered_on):
            row = entry.row
            if row.list_type == "red" and row.subject.subject_id in on_black:
                continue
            members.setdefault((row.list_type, row.subject.subject_id), row)
        chosen = _of_authorities(authority_codes)
        figures = []
        for list_type in LIST_TYPES:
            on_list = [r for (t, _), r in members.items() if t == list_type and chosen(r)]
            entered = [
                e.row
                for e in entries
                if e.row.list_type == list_type
                and chosen(e.row)
                and period.holds(e.row.entered_on)
                and self._holds(e, e.row.entered_on)
            ]
            exited = [
                e.row
                for e in entries
                if e.row.list_type == list_type
                and chosen(e.row)
                and e.row.left_on is not None
                and period.holds(e.row.left_on)
                and self._holds(e, e.row.entered_on)
            ]
            figures.append(
                ListFigure(
                    list_type=list_type,
                    on_list_at_end=len(on_list),
                    entries=len(entered),
                    exits=len(exited),
                    by_sector=_breakdown(on_list, entered, exited, lambda s: s.sectors),
                    by_region=_breakdown(
                        on_list, entered, exited, lambda s: (_rolled_up(s.region_code, digits),)
                    ),
                    members=tuple(sorted(on_list, key=_entry_order)),
                    entered=tuple(sorted(entered, key=_entry_order)),
                    exited=tuple(sorted(exited, key=_entry_order)),
                )
            )
        return ListFigures(period, region_level, tuple(figures))

    # 超限超载严重失信 -------------------------------------------------------------------------
    def overload_list(
        self, period: ReportPeriod, authority_codes: Iterable[str] | None
    ) -> OverloadList:
        """The black-list entries the policy in force on each one's decision date names as the
        严重违法超限超载运输失信当事人名单 (`lists.overload`): by the conduct of the record it
        rests on, or by the list its stated basis names."""
        chosen = _of_authorities(authority_codes)
        entries = [e for e in self._entries(period, ("black",)) if chosen(e.row)]
        conduct = self._basis_conduct({e.basis_record_id for e in entries if e.basis_record_id})
        on_list: list[tuple[_Entry, OverloadRow]] = []
        for entry in entries:
            rule = self.policy.for_day(entry.row.entered_on).lists.overload
            named = conduct.get(entry.basis_record_id or "")
            if rule.names_conduct(named):
                on_list.append((entry, OverloadRow(entry.row, "basis_conduct", named)))
            elif rule.names_list(entry.row.basis):
                on_list.append((entry, OverloadRow(entry.row, "list_name", named)))

        def rows(keep: Any) -> tuple[OverloadRow, ...]:
            kept = [row for entry, row in on_list if keep(entry)]
            return tuple(sorted(kept, key=lambda r: _entry_order(r.entry)))

        return OverloadList(
            period=period,
            entered=rows(
                lambda e: period.holds(e.row.entered_on) and self._holds(e, e.row.entered_on)
            ),
            exited=rows(
                lambda e: (
                    e.row.left_on is not None
                    and period.holds(e.row.left_on)
                    and self._holds(e, e.row.entered_on)
                )
            ),
            on_list_at_end=rows(lambda e: self._holds(e, period.last)),
        )

    # 联合奖惩成效清单 ---------------------------------------------------------------------------
    def joint_measures(
        self, period: ReportPeriod, authority_codes: Iterable[str] | None
    ) -> JointMeasureList:
        """Every joint reward or punishment applied in the period (its decision date), as
        recorded by the given authorities (None: every one's); a revoked record applied none."""
        query = (
            select(records, *SUBJECT_COLUMNS)
            .join(subjects, subjects.c.subject_id == records.c.subject_id)
            .where(
                records.c.type == "JointMeasureApplied",
                records.c.decision_date >= period.first,
                records.c.decision_date <= period.last,
                records.c.state != REVOKED,
            )
        )
        if authority_codes is not None:
            query = query.where(records.c.authority_code.in_(list(authority_codes)))
        with self.engine.connect() as conn:
            found = conn.execute(query).mappings().all()
        rows = sorted(
            (
                JointMeasureRow(
                    record_id=row["record_id"],
                    subject=listed_subject(row),
                    measure_type=row["details"]["measure_type"],
                    measure=row["details"]["measure"],
                    applying_agency=row["details"]["applying_agency"],
                    applied_on=row["decision_date"],
                    matter=row["details"]["matter"],
                    authority_code=row["authority_code"],
                    authority_name=row["authority_name"],
                    source_ref=row["source_ref"],
                )
                for row in found
            ),
            key=lambda r: (r.applied_on, r.applying_agency, r.subject.name, str(r.record_id)),
        )
        return JointMeasureList(
            period=period,
            rewards=sum(r.measure_type == "reward" for r in rows),
            punishments=sum(r.measure_type == "punishment" for r in rows),
            rows=tuple(rows),
        )

    # Reading ----------------------------------------------------------------------------------
    def _entries(self, period: ReportPeriod, list_types: Iterable[str]) -> list[_Entry]:
        """The list entries that may count in the period: decided by its end, not revoked, and
        not exited before it began (an index on type and decision date finds them)."""
        query = (
            select(records, *SUBJECT_COLUMNS)
            .join(subjects, subjects.c.subject_id == records.c.subject_id)
            .where(
                records.c.type == "ListEntered",
                records.c.decision_date <= period.last,
                records.c.list_type.in_(list(list_types)),
                records.c.state != REVOKED,
                or_(records.c.ended_on.is_(None), records.c.ended_on >= period.first),
            )
        )
        with self.engine.connect() as conn:
            found = conn.execute(query).mappings().all()
        return [self._entry(row, period) for row in found]

    def _entry(self, row: Any, period: ReportPeriod) -> _Entry:
        details = row["details"]
        planned_end = _day(details.get("planned_end"))
        repaired_at = row["repaired_at"]
        if repaired_at is not None and repaired_at.tzinfo is None:
            repaired_at = repaired_at.replace(tzinfo=UTC)  # SQLite keeps no zone: it is UTC
        ends = [(row["ended_on"], EXITED), (planned_end, EXPIRED)]
        if row["state"] in OUT_FROM_A_REPAIR and repaired_at is not None:
            ends.append((repaired_at.astimezone(self.zone).date(), LAPSED))
        known = sorted((day, how) for day, how in ends if day is not None and day <= period.last)
        left_on, how_left = known[0] if known else (None, None)
        return _Entry(
            row=ListEntryRow(
                record_id=row["record_id"],
                list_type=row["list_type"],
                subject=listed_subject(row),
                entered_on=row["decision_date"],
                planned_end=planned_end,
                left_on=left_on,
                how_left=how_left,
                basis=details.get("basis") or "",
                authority_code=row["authority_code"],
                authority_name=row["authority_name"],
                source_ref=row["source_ref"],
            ),
            state=row["state"],
            repaired_at=repaired_at,
            ended_on=row["ended_on"],
            basis_record_id=details.get("basis_record_id"),
        )

    def _holds(self, entry: _Entry, day: date) -> bool:
        """Whether the entry holds its subject on its list on `day`: in force by its dates, and
        standing that day (not revoked, not lapsed with a basis repaired by then)."""
        return entry_in_force(
            entry.row.entered_on, entry.ended_on, entry.row.planned_end, day
        ) and stands_on(entry.state, entry.repaired_at, end_of_day(day, self.zone))

    def _basis_conduct(self, record_ids: set[str]) -> dict[str, str]:
        """The conduct type of each basis record (a penalty's violation type), by record id."""
        ids = []
        for named in record_ids:
            try:
                ids.append(UUID(named))
            except ValueError:
                continue  # a basis named as text that is no record id names no record
        if not ids:
            return {}
        query = select(records.c.record_id, records.c.type, records.c.details).where(
            records.c.record_id.in_(ids)
        )
        with self.engine.connect() as conn:
            found = conn.execute(query).all()
        conduct = {}
        for record_id, _, details in found:
            named_conduct = details.get("conduct_type") or details.get("violation_type")
            if named_conduct:
                conduct[str(record_id)] = named_conduct
        return conduct


def _day(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _rolled_up(region_code: str, digits: int) -> str:
    """A region code at a coarser level: 410105 to its city 410100 or its province 410000."""
    return region_code[:digits].ljust(6, "0")


def _of_authorities(authority_codes: Iterable[str] | None) -> Any:
    codes = None if authority_codes is None else frozenset(authority_codes)
    return lambda row: codes is None or row.authority_code in codes


def _entry_order(row: ListEntryRow) -> tuple[date, str, str]:
    return (row.entered_on, row.subject.name, str(row.record_id))


def _breakdown(
    on_list: list[ListEntryRow],
    entered: list[ListEntryRow],
    exited: list[ListEntryRow],
    keys: Any,
) -> tuple[ListBreakdown, ...]:
    """Each key's figures, a row counting under every key `keys` gives its subject."""
    counted: dict[str, ListBreakdown] = {}

    def count(rows: list[ListEntryRow], field: str) -> None:
        for row in rows:
            for key in keys(row.subject):
                before = counted.get(key, ListBreakdown(key, 0, 0, 0))
                counted[key] = replace(before, **{field: getattr(before, field) + 1})

    count(on_list, "on_list_at_end")
    count(entered, "entries")
    count(exited, "exits")
    return tuple(counted[key] for key in sorted(counted))
