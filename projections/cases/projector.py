"""Case events in, case rows out (one row per case, its steps as a timeline)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, tzinfo
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, select

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
from projections.writes import KEYS, AmongKeys, insert_rows, update_rows

FINAL = ("approved", "denied", "revoked", "resolved")
UPDATABLE = ("status", "accepted_on", "closed_on", "outcome", "missing", "steps", "position")


def _step(event: CaseEvent, zone: tzinfo) -> dict[str, Any]:
    detail = {
        name: value
        for name in ("missing", "evidence", "reasons", "outcome", "grounds")
        if (value := getattr(event, name, None)) is not None
    }
    return {
        "step": type(event).__name__,
        "on": _day(event, zone).isoformat(),
        "at": event.timestamp.isoformat(),
        "by": event.by,
        **detail,
    }


class CaseProjector:
    name = "cases"
    tables = (cases,)
    # A filing reads its record's deciding agency from the credit file's records: the cases
    # read model never gets ahead of that one (the runner caps it at its position).
    depends_on = ("credit_file",)
    # A case is a run of steps in its subject's stream, about a record of that subject.
    per_subject = True

    def __init__(self, zone: tzinfo):
        self.zone = zone  # a step's date is the date it was recorded on in the service's zone

    def apply(self, conn: Connection, events: Sequence[tuple[int, Any]]) -> None:
        steps = [(position, e) for position, e in events if isinstance(e, CaseEvent)]
        if not steps:
            return
        filings = [e for _, e in steps if isinstance(e, RepairApplied | ObjectionFiled)]
        # What this page needs from the tables, read in one query each.
        authorities = _authority_codes(conn, {e.target_record_id for e in filings})
        loaded = _load_cases(conn, {e.case_id for _, e in steps} - {e.case_id for e in filings})
        new: dict[UUID, dict[str, Any]] = {}
        stored: dict[UUID, dict[str, Any]] = {}
        for position, event in steps:
            if isinstance(event, RepairApplied | ObjectionFiled):
                new[event.case_id] = {
                    "case_id": event.case_id,
                    "case_number": event.case_number,
                    "kind": "repair" if isinstance(event, RepairApplied) else "objection",
                    "subject_id": event.originator_id,
                    "target_record_id": event.target_record_id,
                    "authority_code": authorities[event.target_record_id],
                    "query_code_hash": event.query_code_hash,
                    "status": "filed",
                    "filed_on": _day(event, self.zone),
                    "accepted_on": None,
                    "closed_on": None,
                    "outcome": None,
                    "missing": [],
                    "steps": [_step(event, self.zone)],
                    "position": position,
                }
                continue
            row = new.get(event.case_id) or stored.get(event.case_id)
            if row is None:
                if event.case_id not in loaded:
                    raise LookupError(f"case {event.case_id} has a step but was never filed")
                found = loaded[event.case_id]
                row = stored[event.case_id] = {**found, "steps": list(found["steps"])}
            row["status"] = TRANSITIONS[row["status"]][type(event)]
            row["steps"] = [*row["steps"], _step(event, self.zone)]
            row["position"] = position
            if isinstance(event, CaseMaterialsReturned):
                row["missing"] = list(event.missing)
            elif isinstance(event, CaseMaterialsSupplied):
                row["missing"] = []
            elif isinstance(event, CaseAccepted):
                row["accepted_on"] = _day(event, self.zone)
            if row["status"] in FINAL:
                row["closed_on"] = _day(event, self.zone)
                row["outcome"] = (
                    event.outcome if isinstance(event, ObjectionResolved) else row["status"]
                )
        insert_rows(conn, cases, list(new.values()))
        update_rows(
            conn,
            cases,
            "case_id",
            [{"case_id": cid, **{c: row[c] for c in UPDATABLE}} for cid, row in stored.items()],
        )


# Built once (projections/writes.py, `AmongKeys`, says why).
_AUTHORITY_CODES = AmongKeys(
    lambda among: select(records.c.record_id, records.c.authority_code).where(
        among(records.c.record_id)
    )
)
_CASES = AmongKeys(lambda among: select(cases).where(among(cases.c.case_id)))


def _authority_codes(conn: Connection, record_ids: set[UUID]) -> dict[UUID, str]:
    """The deciding agency of each record a new case concerns (every one must be stored)."""
    found = (
        {
            row.record_id: row.authority_code
            for row in conn.execute(_AUTHORITY_CODES.on(conn), {KEYS: list(record_ids)})
        }
        if record_ids
        else {}
    )
    if missing := record_ids - found.keys():
        raise LookupError(f"cases filed against records not in the read model: {missing}")
    return found


def _load_cases(conn: Connection, case_ids: set[UUID]) -> dict[UUID, dict[str, Any]]:
    if not case_ids:
        return {}
    rows = conn.execute(_CASES.on(conn), {KEYS: list(case_ids)}).mappings()
    return {row["case_id"]: dict(row) for row in rows}


def _day(event: CaseEvent, zone: tzinfo) -> date:
    return event.timestamp.astimezone(zone).date()
