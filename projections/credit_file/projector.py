"""Events in, rows out: subjects and records, applied a page at a time (asynchronous projection).

Inserts of a page go out as one executemany per table; follow-ups (exits, revocations,
corrections) update rows that may be in the same page or already stored."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, bindparam, insert, select, update

from domain.cases import CaseEvent, ObjectionFiled, ObjectionResolved, RepairApproved, RepairRevoked
from domain.events import COMMON_FIELDS, RecordEvent, SubjectRegistered
from domain.policy import PolicyBook
from domain.publication import record_window
from projections.tables import records, subjects

DATE_FIELDS = frozenset(
    {
        "decision_date",
        "valid_from",
        "valid_until",
        "due_date",
        "planned_end",
        "declared_publication_end",
    }
)
# Follow-ups and the field naming the record they end.
ENDING_FIELDS = {
    "ListExited": "entry_record_id",
    "LicenceRevoked": "licence_record_id",
    "CommitmentFulfilled": "commitment_record_id",
    "CommitmentBreached": "commitment_record_id",
}
SUMMARY_FIELDS = {
    "LicenceGranted": ("licence_type", "document_name"),
    "LicenceRevoked": ("reason",),
    "PenaltyDecided": ("violation_type",),
    "DishonestConductRecorded": ("conduct_type",),
    "CommitmentMade": ("commitment_type",),
    "CommitmentFulfilled": ("note",),
    "CommitmentBreached": ("description",),
    "RatingIssued": ("scheme", "grade"),
    "ListEntered": ("list_type", "basis"),
    "ListExited": ("reason",),
    "InterviewHeld": ("interview_type", "matter"),
    "CommendationGranted": ("title",),
    "JointMeasureApplied": ("measure_type", "measure"),
    "RecordCorrected": ("reason",),
    "RecordRevoked": ("reason",),
}
UPDATABLE = (
    "objection_case",
    "state",
    "revoked_by",
    "ended_on",
    "ended_by",
    "correction_count",
    "corrected_at",
    "severity",
    "decision_date",
    "publish_from",
    "publish_until",
    "list_type",
    "scheme",
    "grade",
    "score",
    "valid_from",
    "valid_until",
    "summary",
    "details",
)


def to_json(value: Any) -> Any:
    if isinstance(value, date | UUID | Decimal):
        return str(value) if not isinstance(value, date) else value.isoformat()
    if isinstance(value, list):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value


def typed(details: dict[str, Any]) -> dict[str, Any]:
    """Details as the rules want them: dates as dates."""
    return {
        k: date.fromisoformat(v) if k in DATE_FIELDS and isinstance(v, str) else v
        for k, v in details.items()
    }


def derived_columns(
    record_type: str, details: dict[str, Any], policy: PolicyBook
) -> dict[str, Any]:
    """Columns that follow from a record's content (recomputed after a correction)."""
    fields = typed(details)
    window = record_window(record_type, fields, book=policy)
    score = fields.get("score") if record_type == "RatingIssued" else None
    return {
        "severity": fields.get("severity"),
        "decision_date": fields["decision_date"],
        "publish_from": window.start if window else None,
        "publish_until": window.end if window else None,
        "list_type": fields.get("list_type") if record_type == "ListEntered" else None,
        "scheme": fields.get("scheme"),
        "grade": fields.get("grade"),
        "score": Decimal(score) if score is not None else None,
        "valid_from": fields.get("valid_from"),
        "valid_until": fields.get("valid_until"),
        "summary": " · ".join(str(fields[f]) for f in SUMMARY_FIELDS[record_type] if fields.get(f))[
            :500
        ],
        "details": details,
    }


class CreditFileProjector:
    name = "credit_file"
    tables = (subjects, records)

    def __init__(self, policy: PolicyBook):
        self.policy = policy

    def apply(self, conn: Connection, events: Sequence[tuple[int, Any]]) -> None:
        new_subjects: dict[UUID, dict[str, Any]] = {}
        new_records: dict[UUID, dict[str, Any]] = {}
        stored: dict[UUID, dict[str, Any]] = {}  # rows loaded from the table and changed
        heads: dict[UUID, tuple[int, int]] = {}

        def row_of(record_id: UUID) -> dict[str, Any] | None:
            if record_id in new_records:
                return new_records[record_id]
            if record_id not in stored:
                found = (
                    conn.execute(select(records).where(records.c.record_id == record_id))
                    .mappings()
                    .first()
                )
                if found is None:
                    return None
                stored[record_id] = dict(found)
            return stored[record_id]

        for position, event in events:
            heads[event.originator_id] = (event.originator_version, position)
            if isinstance(event, SubjectRegistered):
                new_subjects[event.originator_id] = {
                    "subject_id": event.originator_id,
                    "kind": event.kind,
                    "code_masked": event.code_masked,
                    "name": event.name,
                    "region_code": event.region_code,
                    "sectors": list(event.sectors),
                    "registered_at": event.timestamp,
                }
            elif isinstance(event, RecordEvent):
                self.apply_record(event, position, new_records, row_of)
            elif isinstance(event, CaseEvent):
                self.apply_case_effect(event, row_of)

        if new_subjects:
            for subject_id, row in new_subjects.items():
                row["version"], row["position"] = heads.pop(subject_id)
            conn.execute(insert(subjects), list(new_subjects.values()))
        if new_records:
            conn.execute(insert(records), list(new_records.values()))
        if stored:
            conn.execute(
                update(records).where(records.c.record_id == bindparam("b_record_id")),
                [
                    {"b_record_id": rid, **{c: row[c] for c in UPDATABLE}}
                    for rid, row in stored.items()
                ],
            )
        if heads:
            conn.execute(
                update(subjects).where(subjects.c.subject_id == bindparam("b_subject_id")),
                [
                    {"b_subject_id": sid, "version": v, "position": p}
                    for sid, (v, p) in heads.items()
                ],
            )

    def apply_record(self, event: RecordEvent, position: int, new_records, row_of) -> None:
        """One record event onto rows held in `new_records` (or found by `row_of`): pure over
        the dicts, so an as-of fold of the events reuses it exactly."""
        record_type = type(event).__name__
        details = {
            f.name: to_json(getattr(event, f.name))
            for f in dataclasses.fields(event)
            if f.name not in COMMON_FIELDS or f.name == "decision_date"
        }
        new_records[event.record_id] = {
            "record_id": event.record_id,
            "subject_id": event.originator_id,
            "position": position,
            "version": event.originator_version,
            "type": record_type,
            "family": event.FAMILY,
            "authority_name": event.authority_name,
            "authority_code": event.authority_code,
            "source_ref": event.source_ref,
            "recorded_at": event.timestamp,
            "recorded_by": event.recorded_by,
            "state": "active",
            "revoked_by": None,
            "ended_on": None,
            "ended_by": None,
            "correction_count": 0,
            "corrected_at": None,
            "objection_case": None,
            **derived_columns(record_type, details, self.policy),
        }
        if record_type in ENDING_FIELDS:
            target_id = getattr(event, ENDING_FIELDS[record_type])
            target = row_of(target_id) if target_id is not None else None
            if target is not None:
                target["ended_on"] = event.decision_date
                target["ended_by"] = event.record_id
                _clip_publication(target)
        elif record_type == "RecordRevoked":
            target = row_of(event.target_record_id)
            if target is not None:
                target["state"] = "revoked"
                target["revoked_by"] = event.record_id
        elif record_type == "RecordCorrected":
            target = row_of(event.target_record_id)
            if target is not None:
                _correct(target, event.changes, event.timestamp, self.policy)

    def apply_case_effect(self, event: CaseEvent, row_of) -> None:
        """What a case step does to the record it concerns: an open objection flags it
        (异议处理中); an approved repair takes it out of publication, grades and lists; a revoked
        repair brings it back; a resolved objection corrects, revokes or clears it."""
        target = row_of(event.target_record_id)
        if target is None:
            return
        if isinstance(event, ObjectionFiled):
            target["objection_case"] = event.case_number
        # A revocation is final: a repair decided or withdrawn afterwards leaves it revoked.
        elif isinstance(event, RepairApproved) and target["state"] == "active":
            target["state"] = "repaired"
        elif isinstance(event, RepairRevoked) and target["state"] == "repaired":
            target["state"] = "active"
        elif isinstance(event, ObjectionResolved):
            target["objection_case"] = None
            if event.outcome == "revoked":
                target["state"] = "revoked"
            elif event.outcome == "corrected" and event.changes:
                _correct(target, event.changes, event.timestamp, self.policy)


def _correct(row: dict[str, Any], changes: dict[str, Any], at: Any, policy: PolicyBook) -> None:
    """New content for a record: derived columns recomputed, the history keeps the event."""
    row.update(derived_columns(row["type"], {**row["details"], **changes}, policy))
    row["correction_count"] += 1
    row["corrected_at"] = at
    _clip_publication(row)


def _clip_publication(row: dict[str, Any]) -> None:
    """An exit or revocation of a licence ends publication on its date, if that is sooner.
    Commitment outcomes end the commitment but leave its publication as it was."""
    if row["type"] == "CommitmentMade" or row["ended_on"] is None or row["publish_from"] is None:
        return
    if row["publish_until"] is None or row["ended_on"] < row["publish_until"]:
        row["publish_until"] = max(row["ended_on"], row["publish_from"])
