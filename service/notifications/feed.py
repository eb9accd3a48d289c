"""The change feed: a client's subscribed changes in log order, a page at a time after a cursor,
waiting (long-polling) a bounded time when there is nothing new yet.

A page reads the changes read model's tracked position first, then the changes up to it: every
change at or before that position is committed with it, so a cursor past it skips nothing. A
page that is not full moves the cursor to that position, so that a subscriber whose subjects
change rarely does not scan the others' changes again."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from projections.credit_file.queries import tracked_state
from projections.tables import changes
from service.access.keys import utc
from service.notifications.tables import (
    subscription_authorities,
    subscription_kinds,
    subscription_subjects,
)

CHANGES = "changes"  # the projector's name (projections/changes/projector.py)
MAX_WAIT_SECONDS = 30
MAX_PAGE = 500
# The place after every change of a position: a position's changes are far fewer.
PAST_POSITION = 2**31 - 1


@dataclass(frozen=True)
class Cursor:
    """After the change at (`position`, `ordinal`) of the log order."""

    position: int = 0
    ordinal: int = PAST_POSITION

    def encode(self) -> str:
        text = json.dumps({"p": self.position, "o": self.ordinal}, separators=(",", ":"))
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str) -> Cursor:
        """Raises ValueError for a cursor this service did not hand out."""
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            value = json.loads(base64.urlsafe_b64decode(padded.encode()))
        except (ValueError, UnicodeDecodeError) as error:
            raise ValueError("not a cursor") from error
        if not isinstance(value, dict) or set(value) != {"p", "o"}:
            raise ValueError("not a cursor")
        position, ordinal = value["p"], value["o"]
        if not all(type(n) is int for n in (position, ordinal)):
            raise ValueError("not a cursor")
        if not (0 <= position < 2**63 and 0 <= ordinal <= PAST_POSITION):
            raise ValueError("not a cursor")
        return cls(position, ordinal)


def later_in_log(
    position: ColumnElement[int], ordinal: ColumnElement[int], than: tuple[Any, Any]
) -> ColumnElement[bool]:
    """The SQL condition that (position, ordinal) comes after `than` in the log's order of
    changes: a later event's, or a later one of the same event's."""
    return or_(position > than[0], and_(position == than[0], ordinal > than[1]))


@dataclass(frozen=True)
class ChangePage:
    changes: list[dict[str, Any]]
    next: Cursor
    position: int  # the changes read model's position when the page was read


async def change_page(
    engine: AsyncEngine,
    client_id: str,
    after: Cursor,
    limit: int,
    wait_seconds: float = 0,
    authority_codes: Collection[str] = (),
) -> ChangePage:
    """The client's changes after the cursor (at most `limit`); if there are none yet, waits
    up to `wait_seconds` for one, looking again every quarter second at most. `authority_codes`
    are those the client holds now: the warnings addressed to them are its, if it subscribed."""
    deadline = time.monotonic() + min(wait_seconds, MAX_WAIT_SECONDS)
    delay = 0.02
    while True:
        page = await _read_page(engine, client_id, after, limit, authority_codes)
        if page.changes or time.monotonic() + delay > deadline:
            return page
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.25)


def _followed(client_id: str, authority_codes: Collection[str] = ()) -> ColumnElement[bool]:
    """The change is of a subject and a kind one of the client's subscriptions asks for; or
    addressed to one of the authorities the client holds (`authority_codes`) and kept by one
    of its subscriptions of addressed warnings, of a kind that subscription asks for."""
    of_subject = exists().where(
        subscription_subjects.c.client_id == client_id,
        subscription_subjects.c.subject_id == changes.c.subject_id,
        subscription_kinds.c.subscription_id == subscription_subjects.c.subscription_id,
        subscription_kinds.c.kind == changes.c.kind,
    )
    if not authority_codes:
        return of_subject
    addressed = exists().where(
        subscription_authorities.c.client_id == client_id,
        subscription_authorities.c.authority_code == changes.c.addressed_to,
        subscription_kinds.c.subscription_id == subscription_authorities.c.subscription_id,
        subscription_kinds.c.kind == changes.c.kind,
    )
    return or_(of_subject, and_(changes.c.addressed_to.in_(sorted(authority_codes)), addressed))


async def _read_page(
    engine: AsyncEngine,
    client_id: str,
    after: Cursor,
    limit: int,
    authority_codes: Collection[str] = (),
) -> ChangePage:
    followed = _followed(client_id, authority_codes)
    async with engine.connect() as conn:
        position, _ = await tracked_state(conn, (CHANGES,))
        query = (
            select(changes)
            .where(
                later_in_log(
                    changes.c.position, changes.c.ordinal, (after.position, after.ordinal)
                ),
                changes.c.position <= position,
                followed,
            )
            .order_by(changes.c.position, changes.c.ordinal)
            .limit(limit)
        )
        rows = [
            {**row, "recorded_at": utc(row["recorded_at"])}
            for row in (await conn.execute(query)).mappings()
        ]
    if len(rows) == limit:
        last = rows[-1]
        following = Cursor(last["position"], last["ordinal"])
    elif position >= after.position:  # nothing more of the client's up to that position
        following = Cursor(position, PAST_POSITION)
    else:  # a cursor ahead of a read model being rebuilt stays where it is
        following = after
    return ChangePage(rows, following, position)


async def latest_changes(
    engine: AsyncEngine, client_id: str, limit: int, authority_codes: Collection[str] = ()
) -> list[dict[str, Any]]:
    """The newest changes of the client's subscriptions (their subjects, their kinds, and the
    warnings addressed to `authority_codes`), newest first, each once: what a page shows of
    the feed (the console's, where a person reads what happened lately rather than following a
    cursor)."""
    async with engine.connect() as conn:
        position, _ = await tracked_state(conn, (CHANGES,))
        query = (
            select(changes)
            .where(changes.c.position <= position, _followed(client_id, authority_codes))
            .order_by(changes.c.position.desc(), changes.c.ordinal.desc())
            .limit(limit)
        )
        return [
            {**row, "recorded_at": utc(row["recorded_at"])}
            for row in (await conn.execute(query)).mappings()
        ]
