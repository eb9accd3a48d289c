"""Repair and objection cases as the credit office counts them (修复、异议办理情况), per deciding
authority (谁认定、谁修复): filed and decided in a period, decided within their deadlines, overdue
now, and the median working days from filing to decision. Deadlines are the case read model's
own (projections/cases/queries.py), never counted a second way."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from statistics import median
from typing import Any
from uuid import UUID

from sqlalchemy import Engine, and_, or_, select

from domain.report_periods import ReportPeriod
from projections.cases.queries import CaseQueries, decided_on
from projections.tables import cases, records

CASE_KINDS = ("repair", "objection")
ALL_KINDS = "all"


@dataclass(frozen=True)
class CaseRow:
    """One case behind the figures: filed or decided in the period, or overdue now."""

    case_number: str
    kind: str  # "repair" (信用修复) | "objection" (异议)
    status: str
    authority_code: str  # the deciding authority: the one that made the record
    authority_name: str
    record_id: UUID  # the record the case is about
    filed_on: date
    decided_on: date | None
    outcome: str | None
    # The deadline: for a decided case the one its decision was due by, for an open one the one
    # it is due by now; None while the materials are with the applicant (the clock stands).
    due: date | None
    due_provisional: bool  # counted across a year with no official holiday schedule yet
    within_deadline: bool | None  # decided: on or before `due`; None while open
    working_days_to_decision: int | None  # from filing (not counted) to decision (counted)
    overdue_days: int  # open and past its deadline today: by how much, as its deadline counts
    filed_in_period: bool
    decided_in_period: bool


@dataclass(frozen=True)
class CaseCounts:
    """The figures of one kind of case (or of both: kind "all")."""

    kind: str
    filed: int
    decided: int
    decided_within_deadline: int
    overdue_now: int
    median_working_days_to_decision: float | None  # None: nothing decided in the period

    @property
    def within_deadline_rate(self) -> float | None:
        """按期办结率: the share of the cases decided in the period that were decided within
        their deadline, from 0 to 1; None when none was decided (no rate, not a zero)."""
        return self.decided_within_deadline / self.decided if self.decided else None


@dataclass(frozen=True)
class AuthorityCases:
    """One deciding authority's figures: repair, objection and all, in that order."""

    authority_code: str
    authority_name: str
    counts: tuple[CaseCounts, ...]


@dataclass(frozen=True)
class CaseFigures:
    period: ReportPeriod
    counted_on: date  # the day "overdue now" is judged on
    total: tuple[CaseCounts, ...]  # every authority shown: repair, objection, all
    authorities: tuple[AuthorityCases, ...]  # by authority code
    rows: tuple[CaseRow, ...]  # by filing day, then case number


class CaseReports:
    def __init__(self, engine: Engine, case_queries: CaseQueries):
        self.engine = engine
        self.case_queries = case_queries

    def figures(self, period: ReportPeriod, authority_codes: Iterable[str] | None) -> CaseFigures:
        """The case figures of `period`, of the cases the given authorities decide (None: every
        authority's). Reads the cases that may count: filed by the period's end and not closed
        before its start, and every open case (overdue now)."""
        today = self.case_queries.today()
        query = (
            select(cases, records.c.authority_name)
            .join(records, records.c.record_id == cases.c.target_record_id)
            .where(
                or_(
                    cases.c.closed_on.is_(None),
                    and_(cases.c.filed_on <= period.last, cases.c.closed_on >= period.first),
                )
            )
        )
        if authority_codes is not None:
            query = query.where(cases.c.authority_code.in_(list(authority_codes)))
        with self.engine.connect() as conn:
            found = [dict(row) for row in conn.execute(query).mappings()]
        rows = [
            row
            for case in found
            if (row := self._row(case, period, today)).filed_in_period
            or row.decided_in_period
            or row.overdue_days > 0
        ]
        rows.sort(key=lambda r: (r.filed_on, r.case_number))
        names: dict[str, str] = {}
        for row in rows:
            names.setdefault(row.authority_code, row.authority_name)
        return CaseFigures(
            period=period,
            counted_on=today,
            total=_counts(rows),
            authorities=tuple(
                AuthorityCases(
                    code, names[code], _counts([r for r in rows if r.authority_code == code])
                )
                for code in sorted(names)
            ),
            rows=tuple(rows),
        )

    def _row(self, case: dict[str, Any], period: ReportPeriod, today: date) -> CaseRow:
        decided = decided_on(case)
        if decided is not None:
            # A repair is decided while accepted; an objection's deadline is its own in any status.
            deadline = self.case_queries.deadline(case, "accepted")
            working_days = self.case_queries.calendar.working_days_between(
                case["filed_on"], decided
            )[0]
        else:
            deadline = self.case_queries.deadline(case)
            working_days = None
        due = deadline.due if deadline else None
        open_case = case["closed_on"] is None
        return CaseRow(
            case_number=case["case_number"],
            kind=case["kind"],
            status=case["status"],
            authority_code=case["authority_code"],
            authority_name=case["authority_name"],
            record_id=case["target_record_id"],
            filed_on=case["filed_on"],
            decided_on=decided,
            outcome=_outcome(case),
            due=due,
            due_provisional=deadline.provisional if deadline else False,
            within_deadline=None if decided is None or due is None else decided <= due,
            working_days_to_decision=working_days,
            overdue_days=self.case_queries.days_over(case, due, today)
            if open_case and due is not None
            else 0,
            filed_in_period=period.holds(case["filed_on"]),
            decided_in_period=decided is not None and period.holds(decided),
        )


def _outcome(case: dict[str, Any]) -> str | None:
    """What the decision was: a repair approved and later revoked was approved when decided."""
    if case["status"] == "revoked":
        return "approved"
    return case["outcome"]


def _counts(rows: list[CaseRow]) -> tuple[CaseCounts, ...]:
    def of(kind: str, chosen: list[CaseRow]) -> CaseCounts:
        decided = [r for r in chosen if r.decided_in_period]
        days = [
            r.working_days_to_decision for r in decided if r.working_days_to_decision is not None
        ]
        return CaseCounts(
            kind=kind,
            filed=sum(r.filed_in_period for r in chosen),
            decided=len(decided),
            decided_within_deadline=sum(bool(r.within_deadline) for r in decided),
            overdue_now=sum(r.overdue_days > 0 for r in chosen),
            median_working_days_to_decision=float(median(days)) if days else None,
        )

    return (
        *(of(kind, [r for r in rows if r.kind == kind]) for kind in CASE_KINDS),
        of(ALL_KINDS, rows),
    )
