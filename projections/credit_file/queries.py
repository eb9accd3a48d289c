"""Queries over the credit-file read model (async; the API reads nothing else)."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import date
from typing import Any
from uuid import UUID

from sqlalchemy import and_, case, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.publication import Window
from projections.tables import projection_tracking, records, subjects


def published_on(today: date):
    """Rows an agency sees today: active, with a window that contains today."""
    return and_(
        records.c.state == "active",
        records.c.publish_from.is_not(None),
        records.c.publish_from <= today,
        or_(records.c.publish_until.is_(None), records.c.publish_until > today),
    )


async def tracked_position(conn: AsyncConnection, name: str = "read_models") -> int:
    found = await conn.scalar(
        select(projection_tracking.c.position).where(projection_tracking.c.name == name)
    )
    return int(found or 0)


async def subject_exists(conn: AsyncConnection, subject_id: UUID) -> bool:
    found = await conn.scalar(select(subjects.c.version).where(subjects.c.subject_id == subject_id))
    return found is not None


async def statuses(
    conn: AsyncConnection, subject_ids: Sequence[UUID], today: date
) -> tuple[dict[UUID, dict[str, Any]], int]:
    """Current status of each known subject among `subject_ids` (unknown ones are absent), and
    the log position the read models had reached: one round trip, whatever the count."""
    tracked = (
        select(projection_tracking.c.position)
        .where(projection_tracking.c.name == "read_models")
        .scalar_subquery()
    )
    standing = and_(
        records.c.subject_id == subjects.c.subject_id,
        records.c.state == "active",
        or_(records.c.family.in_(("rating", "list")), published_on(today)),
    )
    rows = await conn.execute(
        select(
            subjects,
            tracked.label("tracked"),
            records.c.record_id,
            records.c.family,
            records.c.list_type,
            records.c.scheme,
            records.c.grade,
            records.c.score,
            records.c.valid_from,
            records.c.valid_until,
            records.c.decision_date,
            records.c.ended_on,
            records.c.authority_name,
            records.c.publish_from,
            records.c.publish_until,
            case((records.c.family == "list", records.c.details), else_=None).label("details"),
        )
        .select_from(subjects.outerjoin(records, standing))
        .where(subjects.c.subject_id.in_(list(dict.fromkeys(subject_ids))))
        .order_by(records.c.decision_date, records.c.position)
    )
    result: dict[UUID, dict[str, Any]] = {}
    latest_rating: dict[tuple[UUID, str], Any] = {}
    position = None
    for row in rows:
        position = row.tracked
        status = result.get(row.subject_id)
        if status is None:
            status = result[row.subject_id] = {
                "subject_id": row.subject_id,
                "kind": row.kind,
                "name": row.name,
                "code_masked": row.code_masked,
                "region_code": row.region_code,
                "sectors": row.sectors,
                "version": row.version,
                "last_position": row.position,
                "grades": [],
                "lists": [],
                "published_records": {"total": 0, "by_family": {}},
            }
        if row.record_id is None:
            continue
        if _published(row, today):
            counts = status["published_records"]
            counts["by_family"][row.family] = counts["by_family"].get(row.family, 0) + 1
            counts["total"] += 1
        if row.family == "rating" and row.valid_from <= today < row.valid_until:
            latest_rating[(row.subject_id, row.scheme)] = row
        elif row.family == "list" and _on_list(row, today):
            status["lists"].append(
                {
                    "list_type": row.list_type,
                    "entered_on": row.decision_date,
                    "basis": row.details["basis"],
                    "planned_end": row.details.get("planned_end"),
                    "record_id": row.record_id,
                    "authority_name": row.authority_name,
                }
            )
    for (subject_id, scheme), row in sorted(latest_rating.items(), key=lambda item: item[0][1]):
        result[subject_id]["grades"].append(
            {
                "scheme": scheme,
                "grade": row.grade,
                "score": row.score,
                "valid_from": row.valid_from,
                "valid_until": row.valid_until,
                "record_id": row.record_id,
                "authority_name": row.authority_name,
            }
        )
    if position is None:
        position = await tracked_position(conn)
    return result, int(position or 0)


def _published(row: Any, today: date) -> bool:
    """The same test as `published_on`, for rows already fetched (and known active)."""
    return (
        row.publish_from is not None
        and row.publish_from <= today
        and (row.publish_until is None or row.publish_until > today)
    )


def _on_list(row: Any, today: date) -> bool:
    planned_end = row.details.get("planned_end")
    return (row.ended_on is None or row.ended_on > today) and (
        planned_end is None or date.fromisoformat(planned_end) > today
    )


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"p": position}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """Raises ValueError for a cursor this service did not hand out."""
    padded = cursor + "=" * (-len(cursor) % 4)
    value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    if not isinstance(value, dict) or not isinstance(value.get("p"), int):
        raise ValueError("not a cursor")
    return value["p"]


FOLLOW_UP_FAMILIES = ("correction", "revocation", "list_exit", "commitment_outcome")


async def record_page(
    conn: AsyncConnection,
    subject_id: UUID,
    today: date,
    *,
    include_unpublished: bool,
    after_position: int | None,
    limit: int,
) -> tuple[list[dict[str, Any]], int | None]:
    """A page of a subject's records, newest recorded first, with each one's publication state."""
    query = select(records).where(records.c.subject_id == subject_id)
    if include_unpublished:
        query = query.where(records.c.family.not_in(FOLLOW_UP_FAMILIES))
    else:
        query = query.where(published_on(today))
    if after_position is not None:
        query = query.where(records.c.position < after_position)
    rows = list(
        (await conn.execute(query.order_by(records.c.position.desc()).limit(limit + 1))).mappings()
    )
    next_after = rows[limit - 1]["position"] if len(rows) > limit else None
    return [_record_view(row, today) for row in rows[:limit]], next_after


def publication_state(row: Any, today: date) -> str:
    if row["state"] == "revoked":
        return "revoked"
    if row["publish_from"] is None:
        return "not_published"
    return Window(row["publish_from"], row["publish_until"]).state_on(today)


def _record_view(row: Any, today: date) -> dict[str, Any]:
    return {
        "record_id": row["record_id"],
        "type": row["type"],
        "family": row["family"],
        "severity": row["severity"],
        "summary": row["summary"],
        "decision_date": row["decision_date"],
        "recorded_at": row["recorded_at"],
        "authority": {"name": row["authority_name"], "code": row["authority_code"]},
        "source_ref": row["source_ref"],
        "publication": {
            "state": publication_state(row, today),
            "from": row["publish_from"],
            "until": row["publish_until"],
        },
        "corrected": row["correction_count"] > 0,
        "ended_on": row["ended_on"],
        "details": row["details"],
        "position": row["position"],
    }
