"""The notice routes (repair propagation, 国家发展改革委令第36号): an agency (`credit:read`) reads
the notices telling it to stop using a record that was repaired or revoked after it read it, and
acknowledges each; another client's notice is not found."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query
from starlette.concurrency import run_in_threadpool

from api.auth import READ, Reader, require
from api.deps import ServicesDep
from api.errors import AUTHENTICATED, NoticeAlreadyAcknowledged, NoticeNotFound, problems
from api.notifications.schemas import Notice, NoticeList
from service.notifications import notices as kept
from service.notifications.notices import MAX_PAGE, AlreadyAcknowledged

router = APIRouter(
    prefix="/v1",
    tags=["notifications"],
    dependencies=[require(READ)],
    responses=problems(*AUTHENTICATED, 422),
)
NoticeId = Annotated[
    UUID,
    Path(
        description="The notice's id, as the notices list gave it",
        examples=["3a7c2e91-5b4d-5f6a-8c0e-1d2f3a4b5c6d"],
    ),
]
NOT_HERE = "no notice of this client has this id"


def _shown(notice: kept.Notice) -> Notice:
    return Notice(
        notice_id=notice.notice_id,
        change_id=notice.change_id,
        kind=notice.kind,
        subject_id=notice.subject_id,
        record_id=notice.record_id,
        last_read_at=notice.last_read_at,
        recorded_at=notice.recorded_at,
        acknowledged_at=notice.acknowledged_at,
        position=notice.position,
    )


@router.get(
    "/notices",
    operation_id="listNotices",
    summary="The calling client's notices to stop using repaired or revoked records",
    response_model=NoticeList,
)
async def list_notices(
    services: ServicesDep,
    caller: Reader,
    after: Annotated[
        int, Query(ge=0, le=2**62, description="only notices after this log position")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="at most this many notices")] = 100,
) -> NoticeList:
    """Each record repaired or revoked after this client read its subject's file (as the
    access log shows) gives it one notice: it must stop sharing and using the record, and say
    so with `POST /v1/notices/{notice_id}/acknowledgement`. Oldest first; never another
    client's."""
    found = await run_in_threadpool(
        services.notices.of_client, caller.client_id, after=after, limit=limit
    )
    shown = [_shown(notice) for notice in found]
    return NoticeList(notices=shown, next=shown[-1].position if shown else after)


@router.post(
    "/notices/{notice_id}/acknowledgement",
    operation_id="acknowledgeNotice",
    summary="Confirm that the notice's record is no longer used",
    response_model=Notice,
    responses=problems(404, 409),
)
async def acknowledge_notice(notice_id: NoticeId, services: ServicesDep, caller: Reader) -> Notice:
    """The calling client confirms it stopped sharing and using the notice's record; the case
    that repaired or revoked it counts the confirmation. A second acknowledgement is refused
    (409): the first one's time stands. Another client's notice is not found (404)."""
    try:
        found = await run_in_threadpool(
            services.notices.acknowledge, caller.client_id, notice_id, now=services.clock.now()
        )
    except AlreadyAcknowledged:
        raise NoticeAlreadyAcknowledged("this notice was acknowledged before") from None
    if found is None:
        raise NoticeNotFound(NOT_HERE)
    return _shown(found)
