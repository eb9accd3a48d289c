"""The demo's repair and objection cases (信用修复, 异议) over its last thirteen months: which
published records they concern and on which day each step is taken, planned from the demo's
records, then filed and decided through the case desk on their days, as the applicant and the
deciding agency would. The domain judges every step: a repair applied for before the minimum
publication period is refused here as it is over the API, and the demo stops on it."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain.policy import PolicyBook
from domain.publication import add_months, conduct_fields, conduct_publication
from domain.working_days import WorkingDayCalendar
from service.access.permissions import RecordingPermit
from service.clock import FixedClock
from service.commanding.cases import CaseDesk, ObjectionApplication, RepairApplication

__all__ = ["CASE_MONTHS", "CaseDocket", "CaseTarget", "plan_cases"]

CASE_MONTHS = 13  # the credit office's rate runs over twelve months: a month more to spare
# How many of the records that may have a case get one.
_REPAIR_SHARE = 0.45
_OBJECTION_SHARE = 0.3
# Cases left open on the demo's last day: past their deadline, and still within it.
_OVERDUE = {"repair": 3, "objection": 2}
_PENDING = {"repair": 2, "objection": 2}
_DECIDED_BEFORE_END = 8  # days: a decided case is filed at least this long before the end
_WORKING_DAYS = WorkingDayCalendar()  # the calendar the case read model counts deadlines with


@dataclass(frozen=True)
class CaseTarget:
    """A conduct record of the demo that a case may concern: a penalty or a finding of
    dishonest conduct, nothing else rests on or acts on it, so repairing or revoking it changes
    no later record."""

    subject_id: UUID
    subject_code: str
    applicant: str  # the subject's name, or who acts for it
    record_id: UUID
    record_type: str
    authority_code: str  # the deciding agency (谁认定、谁修复)
    decision: date
    recorded: date
    details: Mapping[str, Any]  # the record's fields as the demo recorded them


@dataclass(frozen=True)
class _Step:
    day: date
    action: str  # "file", "supply", or a step of the deciding agency (service.commanding.cases)
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class _Case:
    kind: str  # "repair" | "objection"
    target: CaseTarget
    steps: list[_Step]
    number: str | None = None
    query_code: str | None = None
    skipped: bool = False  # filed by an earlier run of the demo over the same store


def plan_cases(
    targets: Iterable[CaseTarget], policy: PolicyBook, rng: random.Random, end: date
) -> CaseDocket:
    """Repairs of general conduct records once their minimum publication period is over, and
    objections to records soon after they were published, filed over the last CASE_MONTHS
    months: most decided within their deadlines, some late, some denied, a few still open on
    `end` (past their deadline or within it)."""
    first = add_months(end, -CASE_MONTHS)
    ordered = sorted(targets, key=lambda t: (t.decision, str(t.record_id)))
    rng.shuffle(ordered)
    cases: list[_Case] = []
    open_left = {("overdue", k): n for k, n in _OVERDUE.items()}
    open_left.update({("pending", k): n for k, n in _PENDING.items()})
    for target in ordered:
        repair = _repair_days(target, policy, first, end)
        kind = "repair" if repair else "objection"
        window = repair or _objection_days(target, first, end)
        share = _REPAIR_SHARE if repair else _OBJECTION_SHARE
        if window is None or not rng.random() < share:
            continue
        case = None
        for state in ("overdue", "pending"):
            if open_left[state, kind] and (
                case := _open_case(kind, target, window, end, state, rng)
            ):
                open_left[state, kind] -= 1
                break
        case = case or _decided_case(kind, target, window, end, rng)
        if case is not None:
            cases.append(case)
    return CaseDocket(cases)


def _repair_days(
    target: CaseTarget, policy: PolicyBook, first: date, end: date
) -> tuple[date, date] | None:
    """The days repair of a general record may be applied for within the demo's months: from
    the end of its minimum publication period, while it is still published (as the policy in
    force on its decision date has it)."""
    if target.details.get("severity") != "general":
        return None
    publication = conduct_publication(
        "general",
        target.decision,
        policy,
        **conduct_fields(target.record_type, dict(target.details)),
    )
    window, earliest = publication.window, publication.earliest_repair
    if window is None or earliest is None:
        return None
    last = end - timedelta(days=1)
    if window.end is not None:
        last = min(last, window.end - timedelta(days=1))
    start = max(earliest, first, target.recorded + timedelta(days=1))
    return (start, last) if start <= last else None


def _objection_days(target: CaseTarget, first: date, end: date) -> tuple[date, date] | None:
    """An objection comes soon after the record is published, within two months."""
    start = max(first, target.recorded + timedelta(days=3))
    last = min(end - timedelta(days=1), target.recorded + timedelta(days=60))
    return (start, last) if start <= last else None


def _workday_in(window: tuple[date, date], rng: random.Random) -> date | None:
    start, last = window
    if last < start:
        return None
    day = start + timedelta(days=rng.randint(0, (last - start).days))
    while not _WORKING_DAYS.is_working_day(day)[0] and day < last:
        day += timedelta(days=1)
    return day if _WORKING_DAYS.is_working_day(day)[0] else None


def _after(day: date, working_days: int) -> date:
    """The working day `working_days` after `day` (as a deadline of so many working days)."""
    return _WORKING_DAYS.add_working_days(day, working_days).due


def _open_case(
    kind: str,
    target: CaseTarget,
    window: tuple[date, date],
    end: date,
    state: str,
    rng: random.Random,
) -> _Case | None:
    """A case still open on the demo's last day: `overdue` filed weeks before it and never
    decided, `pending` filed in its last few days (open within its deadline)."""
    start, last = window
    if state == "overdue":
        around = (max(start, end - timedelta(days=50)), min(last, end - timedelta(days=25)))
    else:
        around = (max(start, end - timedelta(days=5)), last)
    filed = _workday_in(around, rng)
    if filed is None:
        return None
    steps = [_Step(filed, "file")]
    if state == "overdue" and rng.random() < 0.6:
        steps.append(_Step(_after(filed, 1), "accept"))
    return _Case(kind, target, steps)


def _decided_case(
    kind: str, target: CaseTarget, window: tuple[date, date], end: date, rng: random.Random
) -> _Case | None:
    """A case decided before the demo's last day (a filing day is tried again if not)."""
    start, last = window
    for _attempt in range(5):
        filed = _workday_in((start, min(last, end - timedelta(days=_DECIDED_BEFORE_END))), rng)
        if filed is None:
            return None
        steps = [_Step(filed, "file")]
        if kind == "repair":
            steps += _repair_steps(filed, rng)
        else:
            steps += _objection_steps(target, filed, rng)
        if steps[-1].day < end:
            return _Case(kind, target, steps)
    return None


def _repair_steps(filed: date, rng: random.Random) -> list[_Step]:
    """Accepted and decided within the decision's three working days of a complete application
    (most), returned for materials first (some), or decided late (a few); now and then denied."""
    roll = rng.random()
    steps = []
    complete = filed
    if roll < 0.15:
        returned = _after(filed, 1)
        complete = _after(returned, rng.randint(1, 3))
        steps += [
            _Step(returned, "return", {"missing": [rng.choice(_MISSING)]}),
            _Step(complete, "supply", {"evidence": ["整改情况报告（盖章）.pdf"]}),
        ]
    accepted = complete if rng.random() < 0.5 else _after(complete, 1)
    late = roll > 0.85
    decided = _after(complete, rng.randint(4, 8) if late else rng.randint(1, 3))
    steps.append(_Step(accepted, "accept"))
    if rng.random() < 0.15:
        steps.append(_Step(decided, "deny", {"reasons": rng.choice(_DENIALS)}))
    else:
        steps.append(_Step(decided, "approve", {"reasons": _APPROVAL}))
    return steps


def _objection_steps(target: CaseTarget, filed: date, rng: random.Random) -> list[_Step]:
    """Resolved within the twenty days (most) or after them (a few): upheld, the record
    corrected (a fine entered wrong) or revoked (the decision annulled)."""
    steps = []
    if rng.random() < 0.6:
        steps.append(_Step(_after(filed, rng.randint(1, 3)), "accept"))
    late = rng.random() < 0.15
    resolved = filed + timedelta(days=rng.randint(22, 35) if late else rng.randint(6, 19))
    resolved = max(resolved, steps[-1].day if steps else filed)
    fine = target.details.get("fine_amount")
    roll = rng.random()
    if roll < 0.25 and isinstance(fine, Decimal):
        right = (fine / 2).normalize()
        reasons = f"经核对行政处罚决定书，罚款金额应为{right}万元，公示为{fine}万元，予以更正"
        changes = {"fine_amount": str(right)}
        corrected = {"outcome": "corrected", "reasons": reasons, "changes": changes}
        steps.append(_Step(resolved, "resolve", corrected))
    elif roll < 0.35:
        steps.append(
            _Step(resolved, "resolve", {"outcome": "revoked", "reasons": _REVOKED, "changes": None})
        )
    else:
        steps.append(
            _Step(resolved, "resolve", {"outcome": "upheld", "reasons": _UPHELD, "changes": None})
        )
    return steps


_MISSING = ("整改情况报告（需加盖单位公章）", "罚款缴纳凭证原件扫描件", "法定代表人身份证明")
_APPROVAL = "失信行为已纠正、行政处罚决定已履行，并已签署信用修复承诺书，准予信用修复，停止公示"
_DENIALS = (
    "经核查，当事人尚未缴清罚款，不予信用修复",
    "经现场核查，整改未到位，不予信用修复",
)
_UPHELD = "经核查，公示信息与行政处罚决定书一致，异议不成立，维持原记录"
_REVOKED = "经核查，该行政处罚决定已经行政复议撤销，撤销该条信用记录"
_CORRECTIONS = {
    "PenaltyDecided": ["已按行政处罚决定书缴纳罚款", "违法行为已整改完毕并提交整改报告"],
    "DishonestConductRecorded": ["失信行为已纠正并消除不良影响", "已参加信用修复培训"],
}
_EVIDENCE = ["罚款缴纳凭证.pdf", "整改情况报告.pdf", "信用修复承诺书.pdf"]
_OBJECTIONS = (
    ("wrong_content", "公示的罚款金额与行政处罚决定书载明的金额不一致"),
    ("wrong_content", "公示的违法事实与实际情况不符，车辆当日已办理超限运输许可"),
    ("wrong_period", "公示期限计算有误，应自决定之日起计算"),
)


class CaseDocket:
    """The planned cases, taken day by day as the demo's clock passes their days."""

    def __init__(self, cases: list[_Case]):
        self.cases = cases
        self._steps: dict[date, list[tuple[_Case, _Step]]] = defaultdict(list)
        for case in cases:
            for step in case.steps:
                self._steps[step.day].append((case, step))

    @property
    def days(self) -> set[date]:
        return set(self._steps)

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(case.kind for case in self.cases).items()))

    def take(self, day: date, desk: CaseDesk, clock: FixedClock, first: datetime) -> None:
        """The day's steps, in the order planned, the first at `first`, two minutes apart."""
        for n, (case, step) in enumerate(self._steps.get(day, ())):
            if case.skipped:
                continue
            clock.moment = first + timedelta(minutes=2 * n)
            try:
                self._take(case, step, desk)
            except Exception as error:  # the demo stops on a refused step, naming it
                raise RuntimeError(
                    f"demo {case.kind} case ({step.action} on {day}) on record "
                    f"{case.target.record_id} was refused: {error}"
                ) from error

    def _take(self, case: _Case, step: _Step, desk: CaseDesk) -> None:
        target = case.target
        if step.action == "file":
            subject = desk.files.subject(target.subject_id)
            if any(c["target"] == str(target.record_id) for c in subject.cases.values()):
                case.skipped = True  # a run before this one filed it
                return
            filed = (
                desk.apply_for_repair(_repair(target))
                if case.kind == "repair"
                else (desk.file_objection(_objection(target, case)))
            )
            case.number, case.query_code = filed.case_number, filed.query_code
            return
        assert case.number is not None and case.query_code is not None
        if step.action == "supply":
            desk.supply_materials(case.number, case.query_code, list(step.fields["evidence"]))
            return
        permit = RecordingPermit(frozenset({target.authority_code}), frozenset())
        desk.take_step(case.number, step.action, permit=permit, fields=dict(step.fields))


def _repair(target: CaseTarget) -> RepairApplication:
    return RepairApplication(
        subject_code=target.subject_code,
        record_id=target.record_id,
        corrections=_CORRECTIONS[target.record_type],
        commitment_signed=True,
        evidence=_EVIDENCE,
        applicant=target.applicant,
    )


def _objection(target: CaseTarget, case: _Case) -> ObjectionApplication:
    resolve = next((s for s in case.steps if s.action == "resolve"), None)
    corrected = resolve is not None and resolve.fields.get("outcome") == "corrected"
    grounds, statement = _OBJECTIONS[0 if corrected else target.record_id.int % len(_OBJECTIONS)]
    return ObjectionApplication(
        subject_code=target.subject_code,
        record_id=target.record_id,
        grounds=grounds,
        statement=statement,
        evidence=["行政处罚决定书.pdf"],
        applicant=target.applicant,
    )
