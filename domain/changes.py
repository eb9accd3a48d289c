"""The change catalogue (变动通知): what an agency may be told about a subject it follows, each
kind with a stable name that subscriptions, the change feed and (later) webhooks carry.

A change is derived from one event of the log; its id follows from the event's position, the
kind and the record it concerns, so that rebuilding the changes from the log gives the same ids
and a subscriber can tell a change it has seen from a new one."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID, uuid5

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
    "the subject's grade under a rating scheme changed",
    derived=False,
)
LIST_ENTERED = ChangeKind(
    "list.entered",
    "列入名单",
    "the subject was put on the red (守信激励), black (严重失信) or watch (重点关注) list",
)
LIST_LEFT = ChangeKind(
    "list.left",
    "移出名单",
    "a list entry of the subject was closed by an exit decision",
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
    "an early warning (信用预警) was raised for the subject",
    derived=False,
)

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
        OBJECTION_OPENED,
        OBJECTION_RESOLVED,
        WARNING_RAISED,
    )
}


def change_id(position: int, kind: ChangeKind, concerning: UUID) -> UUID:
    """The stable id of the change of this kind that the event at `position` made to the record
    (or subject) `concerning`: one event may change several records in the same way."""
    return uuid5(CHANGE_NAMESPACE, f"{position}/{kind.name}/{concerning}")
