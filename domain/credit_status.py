"""A subject's credit status on a day, from its records under the policy in force that day:
grades with every adjustment behind them, list memberships, supervision tier, early warnings.
A pure function, so the live answer, an as-of answer and a from-scratch fold agree."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from domain.events import CONDUCT_TYPES
from domain.policy import PolicyBook, PolicyVersion, RiseCap, Scheme
from domain.publication import add_months, published_on


@dataclass(frozen=True)
class RecordFact:
    """What the rules need to know of one record, whether read from the read model or folded
    from events. `state` is "active", or one in which it counts for nothing (revoked, repaired,
    lapsed with the record it rests on)."""

    record_id: str
    type: str
    decision_date: date
    state: str = "active"
    severity: str | None = None
    procedure: str | None = None
    scheme: str | None = None
    grade: str | None = None
    score: Decimal | None = None
    valid_from: date | None = None
    valid_until: date | None = None
    list_type: str | None = None
    basis: str | None = None
    planned_end: date | None = None
    basis_record_id: str | None = None  # a list entry's conduct record
    ended_on: date | None = None
    due_date: date | None = None
    publish_from: date | None = None
    publish_until: date | None = None

    def published_on(self, day: date) -> bool:
        return published_on(day, self.publish_from, self.publish_until, self.state)


@dataclass(frozen=True)
class Adjustment:
    record_id: str
    amount: Decimal  # subtracted from a score, added to deducted points
    rule: str


@dataclass(frozen=True)
class GradeResult:
    scheme: str
    grade: str
    value: Decimal | None  # the adjusted score (or deducted points) behind the grade
    base_record_id: str
    base_grade: str
    base_value: Decimal | None
    valid_from: date
    valid_until: date
    adjustments: tuple[Adjustment, ...] = ()
    capped_by: str | None = None  # why the grade is not the one the rating would give
    forced_by: str | None = None


@dataclass(frozen=True)
class Membership:
    list_type: str
    entered_on: date
    basis: str
    planned_end: date | None
    record_id: str | None  # None: derived from the records by a policy rule
    derived: bool = False


@dataclass(frozen=True)
class Warning:
    kind: str  # close_to_lower_grade | repeated_conduct | commitment_due | commitment_overdue
    detail: str
    record_id: str | None = None
    scheme: str | None = None  # a close_to_lower_grade warning's rating scheme


@dataclass(frozen=True)
class CreditStatus:
    evaluated_on: date
    policy_version: str
    grades: tuple[GradeResult, ...]
    lists: tuple[Membership, ...]
    tier: str
    sampling_ratio: Decimal
    warnings: tuple[Warning, ...] = field(default=())


def evaluate(facts: list[RecordFact], book: PolicyBook, on: date) -> CreditStatus:
    policy = book.for_day(on)
    known = _known(facts, on)
    lists = _lists(known, policy, on)
    grades = _grades(known, policy, on, lambda: any(m.list_type == "black" for m in lists))
    published_conduct = {
        f.severity for f in known if f.type in CONDUCT_TYPES and f.published_on(on) and f.severity
    }
    tier = policy.supervision_tier(
        lists=[m.list_type for m in lists],
        published_conduct=published_conduct,
        grades={g.scheme: g.grade for g in grades},
    )
    return CreditStatus(
        evaluated_on=on,
        policy_version=policy.id,
        grades=grades,
        lists=lists,
        tier=tier.name,
        sampling_ratio=tier.sampling_ratio,
        warnings=_warnings(known, grades, policy, on),
    )


def grades_and_warnings(
    facts: list[RecordFact], book: PolicyBook, on: date
) -> tuple[tuple[GradeResult, ...], tuple[Warning, ...]]:
    """The grades and warnings `evaluate` gives, and nothing else of the status: what a change
    tells of it (domain/changes.py), worked out at each event of a subject while the changes are
    derived. The lists count only as far as a black-list entry forces a grade, and only for a
    subject with a rating; the supervision tier is not worked out."""
    policy = book.for_day(on)
    known = _known(facts, on)
    grades = _grades(known, policy, on, lambda: _on_black(known, on))
    return grades, _warnings(known, grades, policy, on)


def _known(facts: list[RecordFact], on: date) -> list[RecordFact]:
    """The facts that count on `on`: in decision order (then id), whatever order the records
    came in, so that the answer is the same from the read model and from a fold of the events."""
    return sorted(
        (f for f in facts if f.state == "active" and f.decision_date <= on),
        key=lambda f: (f.decision_date, f.record_id),
    )


def _grades(
    known: list[RecordFact], policy: PolicyVersion, on: date, on_black: Callable[[], bool]
) -> tuple[GradeResult, ...]:
    # A scheme without a rating of its own gives no grade (`_grade`): most subjects have none,
    # and their status is evaluated at each of their events during a rebuild.
    rated = {f.scheme for f in known if f.type == "RatingIssued"}
    if not rated:
        return ()
    black = on_black()
    return tuple(
        grade
        for name, scheme in policy.schemes.items()
        if name in rated and (grade := _grade(name, scheme, known, on, black)) is not None
    )


def _on_black(known: list[RecordFact], on: date) -> bool:
    """Whether a black-list entry holds the subject on `on`, as `_lists` finds its members."""
    return any(f.list_type == "black" for f in _entries_in_force(known, on))


def _entries_in_force(known: list[RecordFact], on: date) -> Iterator[RecordFact]:
    """The list entries decided for the subject that hold it on `on`."""
    counted = {f.record_id for f in known}
    return (
        f
        for f in known
        if f.type == "ListEntered"
        and f.list_type
        and entry_in_force(f.decision_date, f.ended_on, f.planned_end, on)
        # an entry resting on a record that was repaired or revoked lapses with it
        and (f.basis_record_id is None or f.basis_record_id in counted)
    )


def conduct_horizon(others: list[RecordFact], book: PolicyBook, on: date) -> date:
    """The day after which a conduct record decided by `on` may weigh on the status that day
    (the watch-list and warning windows, deductions since a rating in force). An older one
    counts only while it is published (supervision tier) or as a list entry's basis: anything
    else `evaluate` would not look at. `others` are the non-conduct facts (the ratings)."""
    policy = book.for_day(on)
    horizon = add_months(
        on, -max(policy.lists.watch.window_months, policy.warnings.repeat_window_months)
    )
    for f in others:
        if (
            f.type == "RatingIssued"
            and f.state == "active"
            and f.decision_date <= on
            and f.valid_from is not None
            and f.valid_until is not None
            and f.valid_from <= on < f.valid_until
        ):
            horizon = min(horizon, f.decision_date)
    return horizon


def _grade(
    name: str, scheme: Scheme, known: list[RecordFact], on: date, on_black: bool
) -> GradeResult | None:
    ratings = sorted(
        (f for f in known if f.type == "RatingIssued" and f.scheme == name),
        key=lambda f: (f.decision_date, f.valid_from or f.decision_date),
    )
    current = next(
        (
            r
            for r in reversed(ratings)
            if r.valid_from and r.valid_until and r.valid_from <= on < r.valid_until
        ),
        None,
    )
    if (
        current is None
        or current.grade not in scheme.grades
        # the rating found has both dates: said again for the type checker
        or current.valid_from is None
        or current.valid_until is None
    ):
        return None
    adjustments = tuple(
        Adjustment(
            f.record_id,
            scheme.adjustments.deduction[f.severity],
            f"{name}.adjustments.deduction.{f.severity}",
        )
        for f in known
        if f.type in CONDUCT_TYPES
        and f.severity is not None
        and f.severity in scheme.adjustments.deduction
        and current.decision_date < f.decision_date <= on
        and scheme.adjustments.deduction[f.severity] > 0
    )
    grade, value = current.grade, current.score
    if value is not None and not scheme.holds(value):
        # Recorded before scores were checked against the bands: a score the scheme has no
        # grade for tells nothing, and the rating stands on its grade, as one without a score.
        value = None
    if value is not None:
        total = sum((a.amount for a in adjustments), Decimal(0))
        if scheme.measure == "score":
            value = max(value - total, scheme.score_min or Decimal(0))
        else:
            value = value + total
        grade = scheme.grade_for(value)
    capped_by = forced_by = None
    rise_cap = scheme.rise_cap
    if (
        rise_cap is not None
        and (best_allowed := _best_allowed(scheme, rise_cap, ratings, current)) is not None
        and scheme.rank(grade) < scheme.rank(best_allowed)
    ):
        grade = best_allowed
        capped_by = f"{name}.rise_cap.grades_per_cycle = {rise_cap.grades_per_cycle}"
    if on_black and scheme.adjustments.black_list_forces_lowest_grade:
        grade = scheme.lowest_grade
        forced_by = f"{name}.adjustments.black_list_forces_lowest_grade"
    return GradeResult(
        scheme=name,
        grade=grade,
        value=value,
        base_record_id=current.record_id,
        base_grade=current.grade,
        base_value=current.score,
        valid_from=current.valid_from,
        valid_until=current.valid_until,
        adjustments=adjustments,
        capped_by=capped_by,
        forced_by=forced_by,
    )


def _best_allowed(
    scheme: Scheme, cap: RiseCap, ratings: list[RecordFact], current: RecordFact
) -> str | None:
    """The best grade `current` may stand at under the scheme's rise cap (逐级上升), or None if
    no earlier rating caps it: `grades_per_cycle` above the grade that the last rating of an
    earlier cycle stood at, for each cycle between the two. That grade is the rating's own, as
    capped in its turn: an issued AA held at C one cycle stands at B at most the next. A rating
    earlier in its own cycle does not cap it: both answer to the cycle before."""
    stood_at: list[tuple[int, str]] = []  # (cycle, grade stood at) of each earlier rating
    for rating in ratings:
        if rating.grade is None or rating.grade not in scheme.grades:
            continue
        cycle = cap.cycle_of(rating.decision_date)
        before = [(c, grade) for c, grade in stood_at if c < cycle]
        best_allowed = None
        if before:
            last_cycle, last_grade = before[-1]
            rise = cap.grades_per_cycle * (cycle - last_cycle)
            best_allowed = scheme.grades[max(scheme.rank(last_grade) - rise, 0)]
        if rating is current:
            return best_allowed
        grade = rating.grade
        if best_allowed is not None and scheme.rank(grade) < scheme.rank(best_allowed):
            grade = best_allowed
        stood_at.append((cycle, grade))
    return None


def entry_in_force(
    entered_on: date, ended_on: date | None, planned_end: date | None, on: date
) -> bool:
    """Whether a list entry holds a subject on the list on `on`, as far as its dates go: from its
    decision date until the day it was exited (ListExited) or its planned end, neither included.
    (Whether it stands at all, not revoked nor lapsed with its basis, is its state's.)"""
    return (
        entered_on <= on
        and (ended_on is None or ended_on > on)
        and (planned_end is None or planned_end > on)
    )


def red_suspended(list_types: Iterable[str]) -> bool:
    """Black wins: 守信激励 presupposes no serious dishonesty (国发〔2016〕33号), so a red-list
    membership is suspended while a black-list one lasts, and shows again after it, if the red
    entry has not ended in the meantime."""
    return "black" in list_types


def _lists(known: list[RecordFact], policy: PolicyVersion, on: date) -> tuple[Membership, ...]:
    members = [
        Membership(f.list_type, f.decision_date, f.basis or "", f.planned_end, f.record_id)
        for f in _entries_in_force(known, on)
        if f.list_type
    ]
    if red_suspended(m.list_type for m in members):
        members = [m for m in members if m.list_type != "red"]
    watch = policy.lists.watch
    if not any(m.list_type == "watch" for m in members):
        since = add_months(on, -watch.window_months)
        recent = [f for f in known if f.type in CONDUCT_TYPES and f.decision_date > since]
        minors = [f for f in recent if f.severity == "minor"]
        graver = [f for f in recent if f.severity in watch.entry_severities]
        if graver or len(minors) >= watch.minor_repeats:
            basis = (
                f"{len(minors)} minor conducts within {watch.window_months} months"
                if len(minors) >= watch.minor_repeats
                else f"{graver[-1].severity} conduct within {watch.window_months} months"
            )
            entered = max(f.decision_date for f in (graver or minors))
            members.append(
                Membership("watch", entered, f"{policy.id}: {basis}", None, None, derived=True)
            )
    return tuple(sorted(members, key=lambda m: (m.list_type, m.entered_on)))


def red_list_obstacles(facts: list[RecordFact], book: PolicyBook, on: date) -> tuple[str, ...]:
    """What keeps a subject off the red list (守信激励) on `on`, under the criteria of the policy
    in force that day; nothing, when it may be put on it. A red-list entry presupposes no
    serious dishonesty (国发〔2016〕33号): not on the black list, no published serious conduct;
    and, as the policy sets them, no dishonest conduct within `clean_months` and the top grade
    in every scheme the subject holds a grade in that day."""
    policy = book.for_day(on)
    criteria = policy.lists.red
    status = evaluate(facts, book, on)
    obstacles = [
        f"on the black list (entry {m.record_id}, since {m.entered_on})"
        for m in status.lists
        if m.list_type == "black"
    ]
    conduct = sorted(
        (
            f
            for f in facts
            if f.type in CONDUCT_TYPES and f.state == "active" and f.decision_date <= on
        ),
        key=lambda f: (f.decision_date, f.record_id),
    )
    since = add_months(on, -criteria.clean_months)
    recent = [f for f in conduct if f.decision_date > since]
    obstacles += [
        f"serious conduct {f.record_id} of {f.decision_date} is published"
        for f in conduct
        if f.severity == "serious" and f.published_on(on) and f.decision_date <= since
    ]
    obstacles += [
        f"{f.severity} conduct {f.record_id} of {f.decision_date} is within "
        f"{criteria.clean_months} months"
        for f in recent
    ]
    if criteria.requires_top_grade:
        obstacles += [
            f"{g.scheme} grade {g.grade} is not the top grade {top}"
            for g in status.grades
            if g.grade != (top := policy.schemes[g.scheme].grades[0])
        ]
    return tuple(obstacles)


def _warnings(
    known: list[RecordFact], grades: tuple[GradeResult, ...], policy: PolicyVersion, on: date
) -> tuple[Warning, ...]:
    rules = policy.warnings
    warnings = []
    for result in grades:
        scheme = policy.schemes[result.scheme]
        margin = rules.grade_margin_points.get(result.scheme)
        if result.value is None or margin is None or result.grade == scheme.lowest_grade:
            continue
        band = next(b for b in scheme.bands if b.grade == result.grade)
        distance = (
            result.value - band.minimum
            if scheme.measure == "score"
            else (band.maximum - result.value if band.maximum is not None else None)
        )
        if distance is not None and distance < margin:
            warnings.append(
                Warning(
                    "close_to_lower_grade",
                    f"{result.scheme}: {result.value} is within {margin} of the next lower grade",
                    scheme=result.scheme,
                )
            )
    since = add_months(on, -rules.repeat_window_months)
    recent = [f for f in known if f.type in CONDUCT_TYPES and f.decision_date > since]
    if len(recent) >= rules.repeat_count:
        warnings.append(
            Warning(
                "repeated_conduct",
                f"{len(recent)} conducts within {rules.repeat_window_months} months",
            )
        )
    for f in known:
        if f.type != "CommitmentMade" or f.due_date is None:
            continue
        if f.ended_on is not None and f.ended_on <= on:  # fulfilled or breached by then
            continue
        days_left = (f.due_date - on).days
        if days_left < 0:
            warnings.append(
                Warning(
                    "commitment_overdue", f"due {f.due_date}, {-days_left} days ago", f.record_id
                )
            )
        elif days_left <= rules.commitment_due_days:
            warnings.append(
                Warning("commitment_due", f"due {f.due_date}, in {days_left} days", f.record_id)
            )
    return tuple(warnings)


def next_time_change(facts: list[RecordFact], book: PolicyBook, on: date) -> date | None:
    """The first day after `on` on which time alone may change what `evaluate` tells of these
    records (a grade, a warning, a list membership), or None if no day will: a decision date
    not yet reached, a rating's validity starting or over, a list entry at its planned end or
    exit, a conduct leaving the watch-list or warning window, a commitment entering its due
    window, falling overdue or ended, and the next policy version. Never later than such a
    change, at times earlier (the day after the status is the same): whoever follows the status
    by time looks again on that day, and not before. A record's publication ending moves only
    the supervision tier, which no change tells."""
    policy = book.for_day(on)
    days: list[date | None] = [v.effective_from for v in book.versions]
    windows = {policy.lists.watch.window_months, policy.warnings.repeat_window_months}
    for f in facts:
        if f.state != "active":
            continue  # out on every day from now: only an event brings it back
        days += [f.decision_date, f.valid_from, f.valid_until, f.planned_end, f.ended_on]
        if f.type in CONDUCT_TYPES:
            days += [_leaves_window(f.decision_date, months) for months in windows]
        if f.type == "CommitmentMade" and f.due_date is not None:
            due_from = f.due_date - timedelta(days=policy.warnings.commitment_due_days)
            days += [due_from, f.due_date + timedelta(days=1)]
    later = [d for d in days if d is not None and d > on]
    return min(later, default=None)


# Asked again for every conduct record at each evaluation of its subject: a subject of
# thousands of records spent a third of its projection here.
@functools.lru_cache(maxsize=65536)
def _leaves_window(decided: date, months: int) -> date:
    """The first day on which a record decided on `decided` is no longer within the last
    `months` months (a day `d` counts those decided after `add_months(d, -months)`)."""
    day = add_months(decided, months)
    while add_months(day, -months) < decided:  # a 31st falls back to a shorter month's end
        day += timedelta(days=1)
    return day
