"""Replay verification for auditors: start a check in the background, follow its progress, read
the differences it found by subject and field. One check runs at a time; asking for another
meanwhile answers 409 naming the running one."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Query, Response, status
from starlette.concurrency import run_in_threadpool

from api.auth import Auditor
from api.deps import ServicesDep
from api.docs import header_docs
from api.errors import AUTHENTICATED, ReplayCheckNotFound, ReplayCheckRunning, problems
from api.schemas import ReplayCheck, ReplayCheckList
from service.replay.jobs import CheckRunning

router = APIRouter(prefix="/v1/audit", tags=["auditing"], responses=problems(*AUTHENTICATED))


def check_url(check_id: UUID | str) -> str:
    return f"{router.prefix}/replay-checks/{check_id}"


@router.post(
    "/replay-checks",
    operation_id="startReplayCheck",
    summary="Start rebuilding the read models to compare them",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        202: {
            "description": "The check started; follow it at `Location`",
            "model": ReplayCheck,
            "headers": header_docs({"Location": "the check's own URL, to follow it"}),
        },
        **problems(409),
    },
)
async def start_replay_check(services: ServicesDep, caller: Auditor, response: Response) -> dict:
    """Rebuild every read model from the event log into a scratch database and compare it
    with the live one, in the background: 202 with the check's id and `Location`; follow it
    there. The live read models are only read (a snapshot), so queries go on as usual."""
    try:
        check = await run_in_threadpool(services.replay_checks.start, caller.client_id)
    except CheckRunning as running:
        found = running.check_id
        extra: dict[str, Any] = {}
        if found is not None:
            extra = {"running_check": str(found), "running_check_url": check_url(found)}
        raise ReplayCheckRunning(
            "a replay check is running; follow it, or start another when it has finished",
            **extra,
        ) from None
    response.headers["Location"] = check_url(check["check_id"])
    return check


@router.get(
    "/replay-checks",
    operation_id="listReplayChecks",
    summary="The latest replay checks",
    responses={200: {"description": "The checks", "model": ReplayCheckList}, **problems(422)},
)
async def list_replay_checks(
    services: ServicesDep,
    _: Auditor,
    limit: Annotated[int, Query(ge=1, le=100, description="how many checks")] = 20,
) -> dict:
    """The latest checks, newest first (their differences are on each check's own page)."""
    return {"checks": await run_in_threadpool(services.replay_checks.recent, limit)}


@router.get(
    "/replay-checks/{check_id}",
    operation_id="getReplayCheck",
    summary="A replay check's state and the differences it found",
    responses={200: {"description": "The check", "model": ReplayCheck}, **problems(404, 422)},
)
async def replay_check(
    check_id: Annotated[UUID, Path(description="The check's id, from startReplayCheck")],
    services: ServicesDep,
    _: Auditor,
) -> dict:
    """State (running, passed, failed, error), events replayed of the total, times, and the
    differences: table, key, subject, field, live and replayed values (the first 1,000;
    `difference_count` counts them all)."""
    check = await run_in_threadpool(services.replay_checks.get, check_id)
    if check is None:
        raise ReplayCheckNotFound(f"no replay check {check_id}")
    return check
