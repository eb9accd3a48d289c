"""Case events in, case rows out (one row per case, its steps as a timeline)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, bindparam, insert, select, update

from domain.cases import (
    TRANSITIONS,
    CaseAccepted,
    CaseEvent,
    CaseMaterialsReturned,
    CaseMaterialsSupplied,
    ObjectionFiled,
    ObjectionResolved,
    RepairApplied,
)
from projections.tables import cases, records

CHINA = ZoneInfo("Asia/Shanghai")  # a step's date is the Beijing date it was recorded on
FINAL = ("approved", "denied", "revoked", "resolved")
UPDATABLE = ("status", "accepted_on", "closed_on", "outcome", "missing", "steps", "position")


def _step(event: CaseEvent) -> dict[str, Any]:
    detail = {
        name: value
        for name in ("missing", "evidence", "reasons", "outcome", "grounds")
        if (value := getattr(event, name, None)) is not None
    }
    return {
        "step": type(event).__name__,
        "on": event.timestamp.astimezone(CHINA).date().isoformat(),
        "at": event.timestamp.isoformat(),
        "by": event.by,
        **detail,
    }


class CaseProjector:
    name = "cases"
    tables = (cases,)

    def apply(self, conn: Connection, events: Sequence[tuple[int, Any]]) -> None:
        new: dict[UUID, dict[str, Any]] = {}
        stored: dict[UUID, dict[str, Any]] = {}
        for position, event in events:
            if not isinstance(event, CaseEvent):
                continue
            if isinstance(event, RepairApplied | ObjectionFiled):
                authority = conn.execute(
                    select(records.c.authority_code).where(
                        records.c.record_id == event.target_record_id
                    )
                ).scalar_one()
                new[event.case_id] = {
                    "case_id": event.case_id,
                    "case_number": event.case_number,
                    "kind": "repair" if isinstance(event, RepairApplied) else "objection",
                    "subject_id": event.originator_id,
                    "target_record_id": event.target_record_id,
                    "authority_code": authority,
                    "query_code_hash": event.query_code_hash,
                    "status": "filed",
                    "filed_on": _day(event),
                    "accepted_on": None,
                    "closed_on": None,
                    "outcome": None,
                    "missing": [],
                    "steps": [_step(event)],
                    "position": position,
                }
                continue
            row = new.get(event.case_id) or stored.get(event.case_id)
            if row is None:
                found = (
                    conn.execute(select(cases).where(cases.c.case_id == event.case_id))
                    .mappings()
                    .one()
                )
                row = stored[event.case_id] = {**found, "steps": list(found["steps"])}
            row["status"] = TRANSITIONS[row["status"]][type(event)]
            row["steps"] = [*row["steps"], _step(event)]
            row["position"] = position
            if isinstance(event, CaseMaterialsReturned):
                row["missing"] = list(event.missing)
            elif isinstance(event, CaseMaterialsSupplied):
                row["missing"] = []
            elif isinstance(event, CaseAccepted):
                row["accepted_on"] = _day(event)
            if row["status"] in FINAL:
                row["closed_on"] = _day(event)
                row["outcome"] = (
                    event.outcome if isinstance(event, ObjectionResolved) else row["status"]
                )
        if new:
            conn.execute(insert(cases), list(new.values()))
        if stored:
            conn.execute(
                update(cases).where(cases.c.case_id == bindparam("b_case_id")),
                [
                    {"b_case_id": cid, **{c: row[c] for c in UPDATABLE}}
                    for cid, row in stored.items()
                ],
            )


def _day(event: CaseEvent):
    return event.timestamp.astimezone(CHINA).date()
