"""Queries over the credit-file read model (async; the API reads nothing else)."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import date
from typing import Any
from uuid import UUID

from sqlalchemy import and_, func, or_, select
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
) -> dict[UUID, dict[str, Any]]:
    """Current status of each known subject among `subject_ids` (unknown ones are absent)."""
    ids = list(dict.fromkeys(subject_ids))
    found = (await conn.execute(select(subjects).where(subjects.c.subject_id.in_(ids)))).mappings()
    result: dict[UUID, dict[str, Any]] = {
        row["subject_id"]: {
            "subject_id": row["subject_id"],
            "kind": row["kind"],
            "name": row["name"],
            "code_masked": row["code_masked"],
            "region_code": row["region_code"],
            "sectors": row["sectors"],
            "version": row["version"],
            "last_position": row["position"],
            "grades": [],
            "lists": [],
            "published_records": {"total": 0, "by_family": {}},
        }
        for row in found
    }
    if not result:
        return result
    known = list(result)

    standing = await conn.execute(
        select(records)
        .where(
            records.c.subject_id.in_(known),
            records.c.family.in_(("rating", "list")),
            records.c.state == "active",
        )
        .order_by(records.c.decision_date, records.c.position)
    )
    latest_rating: dict[tuple[UUID, str], dict[str, Any]] = {}
    for row in standing.mappings():
        if row["family"] == "rating":
            if row["valid_from"] <= today < row["valid_until"]:
                latest_rating[(row["subject_id"], row["scheme"])] = row
        elif (row["ended_on"] is None or row["ended_on"] > today) and (
            row["details"].get("planned_end") is None
            or date.fromisoformat(row["details"]["planned_end"]) > today
        ):
            result[row["subject_id"]]["lists"].append(
                {
                    "list_type": row["list_type"],
                    "entered_on": row["decision_date"],
                    "basis": row["details"]["basis"],
                    "planned_end": row["details"].get("planned_end"),
                    "record_id": row["record_id"],
                    "authority_name": row["authority_name"],
                }
            )
    for (subject_id, scheme), row in sorted(latest_rating.items(), key=lambda item: item[0][1]):
        result[subject_id]["grades"].append(
            {
                "scheme": scheme,
                "grade": row["grade"],
                "score": row["score"],
                "valid_from": row["valid_from"],
                "valid_until": row["valid_until"],
                "record_id": row["record_id"],
                "authority_name": row["authority_name"],
            }
        )

    counts = await conn.execute(
        select(records.c.subject_id, records.c.family, func.count())
        .where(records.c.subject_id.in_(known), published_on(today))
        .group_by(records.c.subject_id, records.c.family)
    )
    for subject_id, family, count in counts:
        published = result[subject_id]["published_records"]
        published["by_family"][family] = count
        published["total"] += count
    return result


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
