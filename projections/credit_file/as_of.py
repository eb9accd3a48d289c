"""Status as of a past day: the subject's events recorded by then, folded with the projector's
own record logic, evaluated under the policy in force that day."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any
from uuid import UUID

from domain.cases import CaseEvent
from domain.credit_status import evaluate
from domain.events import RecordEvent, SubjectRegistered
from domain.policy import PolicyBook
from projections.credit_file.projector import CreditFileProjector
from projections.credit_file.queries import RULE_TYPES, record_fact, status_view


def fold(
    events: Iterable[tuple[int, Any]], policy: PolicyBook
) -> tuple[dict[str, Any] | None, dict[UUID, dict]]:
    """The subject row and its record rows, as the projector would have written them."""
    projector = CreditFileProjector(policy)
    subject: dict[str, Any] | None = None
    rows: dict[UUID, dict[str, Any]] = {}
    for position, event in events:
        if isinstance(event, SubjectRegistered):
            subject = {
                "subject_id": event.originator_id,
                "kind": event.kind,
                "name": event.name,
                "code_masked": event.code_masked,
                "region_code": event.region_code,
                "sectors": list(event.sectors),
            }
        elif isinstance(event, RecordEvent):
            projector.apply_record(event, position, rows, rows.get)
        elif isinstance(event, CaseEvent):
            projector.apply_case_effect(event, rows.get)
        if subject is not None:
            subject["version"], subject["last_position"] = event.originator_version, position
    return subject, rows


def status_as_of(
    events: Iterable[tuple[int, Any]], recorded_before: datetime, on: date, policy: PolicyBook
) -> dict[str, Any] | None:
    """What the service would have answered on `on`, from what was recorded before
    `recorded_before` (the end of that day, for an as-of query)."""
    subject, rows = fold(((p, e) for p, e in events if e.timestamp < recorded_before), policy)
    if subject is None:
        return None
    active = [SimpleNamespace(**row) for row in rows.values() if row["state"] == "active"]
    published: dict[str, int] = {}
    for row in active:
        if (
            row.publish_from is not None
            and row.publish_from <= on
            and (row.publish_until is None or on < row.publish_until)
        ):
            published[row.family] = published.get(row.family, 0) + 1
    facts = [record_fact(row) for row in active if row.type in RULE_TYPES]
    authorities = {str(row.record_id): row.authority_name for row in active}
    return {
        **subject,
        "published_records": {"total": sum(published.values()), "by_family": published},
        **status_view(evaluate(facts, policy, on), authorities),
        "position": subject["last_position"],
        "evaluated_on": on,
    }
