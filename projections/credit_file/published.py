"""Whether a record is published on a day, in SQL: `domain.publication.published_on` for the
rows of the records table and of its history (record_revisions), so that every query asks it
the same way; and `domain.publication.stands_on`, whether a row counts on a past valid day."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, or_
from sqlalchemy.sql.elements import BindParameter

from domain.publication import ACTIVE, OUT_FROM_A_REPAIR


def published_on(
    table: Table, day: date | BindParameter[Any], *, standing: ColumnElement[bool] | None = None
) -> ColumnElement[bool]:
    """Rows published on `day`: standing that day (by default, in state active; the history
    gives its own test: active, or repaired only after that day) with a publication window
    [publish_from, publish_until) that holds the day."""
    columns = table.c
    return and_(
        columns.state == ACTIVE if standing is None else standing,
        columns.publish_from.is_not(None),
        columns.publish_from <= day,
        or_(columns.publish_until.is_(None), columns.publish_until > day),
    )


def standing_on(table: Table, day_ends: datetime) -> ColumnElement[bool]:
    """Rows that count on the valid day ending at `day_ends`: active, or taken out by a repair
    (their own, or their basis's) approved only after that day (a lapse with no repair time,
    its basis revoked, counts on no day)."""
    columns = table.c
    return or_(
        columns.state == ACTIVE,
        and_(columns.state.in_(OUT_FROM_A_REPAIR), columns.repaired_at >= day_ends),
    )
