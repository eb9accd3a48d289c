"""Queries on the case read model: the applicant's view by case number and 查询码, with its
current deadline in working days, and the open cases for the deciding agency and the credit
office. Answers only: every decision on a case is taken on the subject's stream."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine, select

from domain.cases import CASE_NUMBER, code_hash
from domain.policy import PolicyBook
from domain.working_days import Deadline, WorkingDayCalendar
from projections.tables import cases


class CaseQueries:
    def __init__(
        self,
        engine: Engine,
        policy: PolicyBook,
        calendar: WorkingDayCalendar,
        today: Callable[[], date],
    ):
        self.engine = engine
        self.policy = policy
        self.calendar = calendar
        self.today = today

    def find(self, case_number: str) -> dict[str, Any] | None:
        if not CASE_NUMBER.fullmatch(case_number.strip()):
            return None  # not one this service hands out (and nothing a database should see)
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    select(cases).where(cases.c.case_number == case_number.strip().upper())
                )
                .mappings()
                .first()
            )
        return dict(row) if row else None

    def for_applicant(self, case_number: str, query_code: str) -> dict[str, Any] | None:
        """The case if the query code matches; a wrong code looks exactly like no case."""
        case = self.find(case_number)
        expected = case["query_code_hash"] if case else code_hash("decoy", "decoy")
        matches = hmac.compare_digest(expected, code_hash(case_number.strip().upper(), query_code))
        return case if case and matches else None

    def deadline(self, case: dict[str, Any], status: str | None = None) -> Deadline | None:
        """The case's deadline while it stands in `status` (by default its own), under the
        deadlines of the policy in force on its filing day: an objection's counts calendar days
        from filing; a repair's is the whole case's, counted in working days from filing, and
        once accepted the sooner of that and the decision's, counted from the day the
        application was last complete. None while the materials are with the applicant.

        A decided repair was decided while accepted: `status="accepted"` is the deadline its
        decision was due by."""
        deadlines = self.policy.for_day(case["filed_on"]).deadlines
        status = status or case["status"]
        if case["kind"] == "objection":
            due = case["filed_on"] + timedelta(days=deadlines.objection.days)
            return Deadline(due, provisional=False, basis="")
        case_end = self.calendar.add_working_days(case["filed_on"], deadlines.repair_case.days)
        if status == "filed":
            return case_end
        if status == "accepted":
            decision = self.calendar.add_working_days(
                _last_complete(case), deadlines.repair_decision.days
            )
            return min((decision, case_end), key=lambda d: d.due)
        return None

    def days_over(self, case: dict[str, Any], due: date, day: date) -> int:
        """How far past `due` a case of this kind is on `day`: working days for a repair,
        days for an objection (as its deadline counts); 0 when not past it."""
        if day <= due:
            return 0
        if case["kind"] == "repair":
            return self.calendar.working_days_between(due, day)[0]
        return (day - due).days

    def view(self, case: dict[str, Any], today: date | None = None) -> dict[str, Any]:
        """The case with its current deadline (working days, Chinese holidays counted)."""
        today = today or self.today()
        open_case = case["status"] in ("filed", "accepted")
        deadline = self.deadline(case) if open_case else None
        due = deadline.due if deadline else None
        provisional = deadline.provisional if deadline else False
        basis = deadline.basis if deadline else ""
        overdue_days = self.days_over(case, due, today) if due is not None else 0
        return {
            "case_number": case["case_number"],
            "kind": case["kind"],
            "status": case["status"],
            "record_id": case["target_record_id"],
            "authority_code": case["authority_code"],  # the deciding agency (谁认定、谁修复)
            "filed_on": case["filed_on"],
            "accepted_on": case["accepted_on"],
            "closed_on": case["closed_on"],
            "outcome": case["outcome"],
            "missing": case["missing"],
            "steps": case["steps"],
            "due": due if open_case else None,
            "due_provisional": provisional and open_case,
            "due_basis": basis if open_case else "",
            "overdue": overdue_days > 0,
            "overdue_days": overdue_days,
        }

    def listing(
        self, *, overdue_only: bool, authority_codes: list[str] | None, limit: int = 500
    ) -> list[dict[str, Any]]:
        query = select(cases).where(cases.c.status.in_(("filed", "accepted", "returned")))
        if authority_codes is not None:
            query = query.where(cases.c.authority_code.in_(authority_codes))
        with self.engine.connect() as conn:
            rows = [
                dict(r)
                for r in conn.execute(query.order_by(cases.c.filed_on).limit(limit)).mappings()
            ]
        views = [self.view(row) for row in rows]
        return [v for v in views if v["overdue"] or not overdue_only]


# The steps that decide a case: a repair approved or denied, an objection resolved.
DECISIONS = ("RepairApproved", "RepairDenied", "ObjectionResolved")


def decided_on(case: dict[str, Any]) -> date | None:
    """The day a case was decided, from its steps: a repair approved and later revoked (false
    materials) was decided on its approval, which `closed_on` no longer shows."""
    return next(
        (date.fromisoformat(s["on"]) for s in case["steps"] if s["step"] in DECISIONS), None
    )


def _last_complete(case: dict[str, Any]) -> date:
    """The day the application was last complete: filed, or materials last supplied."""
    supplied = [
        s["on"] for s in case["steps"] if s["step"] in ("RepairApplied", "CaseMaterialsSupplied")
    ]
    return date.fromisoformat(supplied[-1]) if supplied else case["filed_on"]
