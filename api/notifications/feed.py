"""The change feed route: what a subscriber that takes no webhooks reads instead, a page at a
time after a cursor, long-polling when nothing is new."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.auth import READ, Purpose, Reader, log_reads, require
from api.deps import ServicesDep
from api.errors import AUTHENTICATED, InvalidCursor, problems
from api.notifications.schemas import Change, ChangeFeedPage
from service.notifications.feed import MAX_PAGE, MAX_WAIT_SECONDS, Cursor, change_page

router = APIRouter(
    prefix="/v1",
    tags=["notifications"],
    dependencies=[require(READ)],
    responses=problems(*AUTHENTICATED, 400, 422),
)


@router.get(
    "/feeds/changes",
    operation_id="readChangeFeed",
    summary="The changes of the subjects the caller follows, in log order",
    response_model=ChangeFeedPage,
)
async def change_feed(
    services: ServicesDep,
    caller: Reader,
    why: Purpose,
    after: Annotated[
        str | None,
        Query(
            max_length=200,
            description="`next` of the page before (default: from the start of the log)",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="changes per page")] = 100,
    wait: Annotated[
        float,
        Query(
            ge=0,
            le=MAX_WAIT_SECONDS,
            description="if nothing is new, wait up to this many seconds for a change "
            f"(long-polling, at most {MAX_WAIT_SECONDS}); the answer comes as soon as one is "
            "there, or empty at the end",
        ),
    ] = 0,
) -> ChangeFeedPage:
    """The changes of the calling client's subscriptions (their subjects, their kinds; with
    `addressed_to_us`, the warnings addressed to the client's authorities) after the cursor,
    in the order of the log; each change once, however many of the client's subscriptions
    cover it. A change carries what a status answer shows (types, dates,
    publication, list type, the objection flag), never a name, a code or a record's details.
    Each subject of a page is written to its access log (查询留痕) with the `X-Purpose` stated."""
    try:
        cursor = Cursor.decode(after) if after else Cursor()
    except ValueError:
        raise InvalidCursor() from None
    waited = min(wait, services.settings.feed_max_wait_seconds)
    page = await change_page(
        services.read_engine,
        caller.client_id,
        cursor,
        limit,
        waited,
        authority_codes=caller.client.authority_codes,
    )
    told: dict = {}
    for change in page.changes:
        told.setdefault(change["subject_id"], {"change_ids": []})["change_ids"].append(
            str(change["change_id"])
        )
    await log_reads(services, caller, why, "changes", told)
    return ChangeFeedPage(
        changes=[Change(**change) for change in _public(page.changes)],
        next=page.next.encode(),
        position=page.position,
    )


def _public(rows: list[dict]) -> list[dict]:
    """The columns a change is shown with (its order within its event stays internal)."""
    return [{k: v for k, v in row.items() if k != "ordinal"} for row in rows]
