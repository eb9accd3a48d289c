"""Events in, changes out: what an agency following a subject is told (domain/changes.py).

Each change is written in the page's transaction with the projector's tracked position, like
every read model's rows (projections/runner.py): a change exists exactly when its event is
committed and projected, and a crash between pages loses none and repeats none. The rows are an
outbox: the feed reads them now, deliveries to subscribers will later.

A change says what changed in the terms of a querying agency's status: a record's type, dates,
publication window, list type, objection flag; never the subject's name or code, nor a
record's details. What the event alone does not tell (the type of the record a follow-up acts
on, an entry's list type, a case's number) is read from the credit file's and the cases' read
models, which hold it unchanged since that record or case was first written; this projector
never gets ahead of them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, select

from domain.cases import ObjectionFiled, ObjectionResolved, RepairApproved
from domain.changes import (
    LIST_ENTERED,
    LIST_LEFT,
    OBJECTION_OPENED,
    OBJECTION_RESOLVED,
    RECORD_PUBLISHED,
    RECORD_REPAIRED,
    RECORD_REVOKED,
    ChangeKind,
    change_id,
)
from domain.events import ListEntered, ListExited, RecordEvent, RecordRevoked
from domain.policy import PolicyBook
from domain.publication import record_window
from projections.credit_file.projector import detail_names, to_json, typed
from projections.tables import cases, changes, records
from projections.writes import insert_rows

OBJECTION_LABEL = "异议处理中"  # as a status shows an open objection


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


class ChangeProjector:
    name = "changes"
    tables = (changes,)
    # The records and cases a follow-up or a case step names are read from those read models.
    depends_on = ("credit_file", "cases")

    def __init__(self, policy: PolicyBook):
        self.policy = policy  # a record's publication window is the policy's, as in its file

    def apply(self, conn: Connection, events: Sequence[tuple[int, Any]]) -> None:
        found: list[tuple[int, Any, ChangeKind, UUID, dict[str, Any] | None, Any]] = []
        for position, event in events:
            for kind, record_id, before, after in self.derive(event):
                found.append((position, event, kind, record_id, before, after))
        if not found:
            return
        named = {record_id for _, event, _, record_id, _, _ in found if record_id is not None}
        stored = _stored_records(conn, named)
        case_numbers = _case_numbers(
            conn, {e.case_id for _, e, _, _, _, _ in found if isinstance(e, ObjectionResolved)}
        )
        rows = []
        ordinals: dict[int, int] = {}
        for position, event, kind, record_id, before, after in found:
            ordinal = ordinals.get(position, 0)
            ordinals[position] = ordinal + 1
            record_type = (
                type(event).__name__
                if isinstance(event, RecordEvent) and event.record_id == record_id
                else stored.get(record_id, (None, None))[0]
            )
            if record_type is None:
                raise LookupError(f"change {kind.name} of record {record_id}, not in the file")
            if kind is OBJECTION_RESOLVED:
                before = {"objection": _flag(case_numbers[event.case_id])}
            if kind is LIST_LEFT:
                before = {"list_type": stored[record_id][1]}
            rows.append(
                {
                    "change_id": change_id(position, kind, record_id),
                    "position": position,
                    "ordinal": ordinal,
                    "subject_id": event.originator_id,
                    "kind": kind.name,
                    "record_id": record_id,
                    "record_type": record_type,
                    "before": before,
                    "after": after,
                    "recorded_at": event.timestamp,
                }
            )
        insert_rows(conn, changes, rows)

    def derive(
        self, event: Any
    ) -> list[tuple[ChangeKind, UUID, dict[str, Any] | None, dict[str, Any] | None]]:
        """The changes one event makes: (kind, record concerned, before, after). What needs a
        read model (a list-left's list type, a resolved objection's case number) is filled in
        by `apply`."""
        if isinstance(event, ListExited):
            ended = {"ended_on": _day(event.decision_date), "ended_by": str(event.record_id)}
            return [(LIST_LEFT, event.entry_record_id, None, ended)]
        if isinstance(event, RecordRevoked):
            revoked = {"state": "revoked", "revoked_by": str(event.record_id)}
            return [(RECORD_REVOKED, event.target_record_id, None, revoked)]
        if isinstance(event, RecordEvent):
            return self._recorded(event)
        if isinstance(event, RepairApproved):
            repaired = {"state": "repaired", "repaired_at": event.timestamp.isoformat()}
            return [(RECORD_REPAIRED, event.target_record_id, {"state": "active"}, repaired)]
        if isinstance(event, ObjectionFiled):
            flagged = {"objection": _flag(event.case_number)}
            return [(OBJECTION_OPENED, event.target_record_id, {"objection": None}, flagged)]
        if isinstance(event, ObjectionResolved):
            found: list[tuple[ChangeKind, UUID, dict[str, Any] | None, dict[str, Any] | None]]
            found = [
                (
                    OBJECTION_RESOLVED,
                    event.target_record_id,
                    None,
                    {"objection": None, "outcome": event.outcome},
                )
            ]
            if event.outcome == "revoked":
                revoked = {"state": "revoked", "revoked_by": str(event.case_id)}
                found.append((RECORD_REVOKED, event.target_record_id, None, revoked))
            return found
        return []

    def _recorded(
        self, event: RecordEvent
    ) -> list[tuple[ChangeKind, UUID, dict[str, Any] | None, dict[str, Any] | None]]:
        """A new record: published if its type and content give it a publication window (as
        the credit file computes it), and a list entry besides if it is one."""
        if event.TRAITS.follow_up:
            return []
        record_type = type(event).__name__
        names, values_of = detail_names(type(event))
        fields = typed({n: to_json(v) for n, v in zip(names, values_of(event), strict=True)})
        authority = {"authority_code": event.authority_code, "authority_name": event.authority_name}
        found: list[tuple[ChangeKind, UUID, dict[str, Any] | None, dict[str, Any] | None]] = []
        window = record_window(record_type, fields, book=self.policy)
        if window is not None:
            published = {
                "family": event.TRAITS.family,
                "severity": fields.get("severity"),
                "decision_date": _day(event.decision_date),
                "publish_from": _day(window.start),
                "publish_until": _day(window.end),
                **authority,
            }
            found.append((RECORD_PUBLISHED, event.record_id, None, published))
        if isinstance(event, ListEntered):
            entered = {
                "list_type": event.list_type,
                "decision_date": _day(event.decision_date),
                "planned_end": _day(event.planned_end),
                **authority,
            }
            found.append((LIST_ENTERED, event.record_id, None, entered))
        return found


def _flag(case_number: str) -> dict[str, str]:
    return {"case_number": case_number, "label": OBJECTION_LABEL}


def _stored_records(conn: Connection, record_ids: set[UUID]) -> dict[UUID, tuple[str, str | None]]:
    """Each named record's type, and its list type if it is a list entry."""
    found: dict[UUID, tuple[str, str | None]] = {}
    ids = list(record_ids)
    for start in range(0, len(ids), 5000):
        query = select(records.c.record_id, records.c.type, records.c.list_type).where(
            records.c.record_id.in_(ids[start : start + 5000])
        )
        for record_id, record_type, list_type in conn.execute(query):
            found[record_id] = (record_type, list_type)
    return found


def _case_numbers(conn: Connection, case_ids: set[UUID]) -> dict[UUID, str]:
    if not case_ids:
        return {}
    query = select(cases.c.case_id, cases.c.case_number).where(cases.c.case_id.in_(case_ids))
    return {case_id: number for case_id, number in conn.execute(query)}
