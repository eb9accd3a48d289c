"""The change catalogue (变动通知): what an agency may be told about a subject it follows, each
kind with a stable name that subscriptions, the change feed and (later) webhooks carry.

A change is derived from one event of the log; its id follows from the event's position, the
kind and the record it concerns, so that rebuilding the changes from the log gives the same ids
and a subscriber can tell a change it has seen from a new one."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid5

from domain.credit_status import CreditStatus, GradeResult, Warning
from domain.errors import Rule

# The namespace of change ids (a fixed, random UUID: never change it, or every id changes).
CHANGE_NAMESPACE = UUID("6f1d2c3e-8a4b-4c7d-9e2f-0b1a2c3d4e5f")


@dataclass(frozen=True)
class ChangeKind:
    """One kind of change: its stable `name` (`<thing>.<what happened>`), its name in Chinese
    for pages, what it tells, and whether the projection derives it yet."""

    name: str
    title: str
    description: str
    derived: bool = True


GRADE_CHANGED = ChangeKind(
    "grade.changed",
    "信用等级变动",
    "the subject's grade under a rating scheme changed: by an event, or with time (a rating's "
    "validity ended, a black-list entry reached its planned end), told at that day's close",
)
LIST_ENTERED = ChangeKind(
    "list.entered",
    "列入名单",
    "the subject was put on the red (守信激励), black (严重失信) or watch (重点关注) list",
)
LIST_LEFT = ChangeKind(
    "list.left",
    "移出名单",
    "a list entry of the subject was closed by an exit decision, lapsed because the record it "
    "rests on was repaired or revoked, or reached its planned end (told at that day's close)",
)
RECORD_PUBLISHED = ChangeKind(
    "record.published",
    "信息公示",
    "a record of the subject that is published (it has a publication window) was recorded",
)
RECORD_REPAIRED = ChangeKind(
    "record.repaired",
    "信用修复",
    "a record's repair (信用修复) was approved: it is no longer published, shared or used",
)
RECORD_REVOKED = ChangeKind(
    "record.revoked",
    "信息撤销",
    "a record was revoked, by a revocation or by an objection resolved so",
)
OBJECTION_OPENED = ChangeKind(
    "objection.opened",
    "异议处理中",
    "an objection (异议) was filed against a record: it shows 异议处理中 until resolved",
)
OBJECTION_RESOLVED = ChangeKind(
    "objection.resolved",
    "异议处理完毕",
    "an objection was resolved: the record corrected, revoked, or upheld",
)
WARNING_RAISED = ChangeKind(
    "warning.raised",
    "信用预警",
    "an early warning (信用预警) was raised for the subject: told when it starts, addressed to "
    "the authority that recorded the record it rests on",
)
RECORD_REINSTATED = ChangeKind(
    "record.reinstated",
    "修复撤销",
    "a record's repair was revoked (it rested on false materials): the record stands again",
)

# The kinds a change may be addressed to an authority by: only a warning names one.
ADDRESSED_KINDS = frozenset({WARNING_RAISED.name})
# A client follows the warnings addressed to its own authorities only: those it was granted
# (a recorder's), never another agency's (谁认定、谁修复 read the other way: each authority is
# told what concerns the records it made).
ADDRESSED_TO_OWN_AUTHORITIES = Rule("addressed-to-own-authorities")

# Every kind, by name, in the order the documentation lists them.
CHANGE_KINDS: dict[str, ChangeKind] = {
    kind.name: kind
    for kind in (
        GRADE_CHANGED,
        LIST_ENTERED,
        LIST_LEFT,
        RECORD_PUBLISHED,
        RECORD_REPAIRED,
        RECORD_REVOKED,
        RECORD_REINSTATED,
        OBJECTION_OPENED,
        OBJECTION_RESOLVED,
        WARNING_RAISED,
    )
}


def change_id(position: int, kind: ChangeKind, concerning: UUID) -> UUID:
    """The stable id of the change of this kind that the event at `position` made to the record
    (or subject) `concerning`: one event may change several records in the same way."""
    return uuid5(CHANGE_NAMESPACE, f"{position}/{kind.name}/{concerning}")


def notice_id(change: UUID, client_id: str) -> UUID:
    """The stable id of the notice telling one client to stop using the record a repair or a
    revocation (the change) concerns: the same when the notices are derived again."""
    return uuid5(CHANGE_NAMESPACE, f"notice/{change}/{client_id}")


# What a subject's status told its followers last (its grades and its warnings), kept between
# events so that a grade or a warning is told when it changes, not each time it is evaluated.
Told = dict[str, dict[str, dict[str, Any]]]


def told_of(status: CreditStatus) -> Told:
    """The part of a status that changes are told of: each scheme's grade, each warning."""
    return told_from(status.grades, status.warnings)


def told_from(grades: Iterable[GradeResult], warnings: Iterable[Warning]) -> Told:
    """What `told_of` tells of a status with these grades and warnings
    (`credit_status.grades_and_warnings`)."""
    return {
        "grades": {g.scheme: _grade_view(g) for g in grades},
        "warnings": {warning_key(w): _warning_view(w) for w in warnings},
    }


def warning_key(warning: Warning) -> str:
    """What makes a warning the same one while it holds: its kind and what it is about (the
    scheme whose grade it is close to leaving, the commitment falling due); a repetition of
    conduct is one warning however many conducts it counts."""
    return f"{warning.kind}/{warning.scheme or warning.record_id or ''}"


def grade_changes(
    before: Told, after: Told
) -> list[tuple[str, dict[str, Any] | None, dict[str, Any] | None]]:
    """(scheme, grade before, grade after) for each scheme whose grade is not what it was: a
    grade given, lost (the rating's validity over) or moved; a score moving within its grade is
    no change of grade."""
    found = []
    for scheme in sorted(set(before["grades"]) | set(after["grades"])):
        old, new = before["grades"].get(scheme), after["grades"].get(scheme)
        if (old or {}).get("grade") != (new or {}).get("grade"):
            found.append((scheme, old, new))
    return found


def warnings_raised(before: Told, after: Told) -> list[dict[str, Any]]:
    """The warnings that hold now and did not before, in the status's order."""
    return [view for key, view in after["warnings"].items() if key not in before["warnings"]]


def _grade_view(grade: GradeResult) -> dict[str, Any]:
    return {
        "scheme": grade.scheme,
        "grade": grade.grade,
        "score": str(grade.value) if grade.value is not None else None,
        "rating_record_id": grade.base_record_id,
        "base_grade": grade.base_grade,
        "valid_from": grade.valid_from.isoformat(),
        "valid_until": grade.valid_until.isoformat(),
        "adjusted_by": [a.record_id for a in grade.adjustments],
        "capped_by": grade.capped_by,
        "forced_by": grade.forced_by,
    }


def _warning_view(warning: Warning) -> dict[str, Any]:
    return {
        "warning": warning.kind,
        "detail": warning.detail,
        "record_id": warning.record_id,
        "scheme": warning.scheme,
    }
