"""Dependencies: the services built at start-up, the caller, today's date, read-your-writes.

Cheap dependencies are `async def` on purpose: FastAPI runs a plain `def` dependency in a
worker thread, which costs more than the work itself."""

from __future__ import annotations

import asyncio
import time
from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from api.errors import InvalidRequest, ProjectionBehind, ProjectionStopped
from projections.credit_file.queries import tracked_state
from service.bootstrap import Services

# Positions, sizes, versions and sequence numbers are 64-bit in the store: a larger number can
# name nothing there, and must be refused as input rather than fail in the database.
MAX_INT64 = 2**63 - 1

# Path parameters several operations share.
SubjectId = Annotated[
    UUID,
    Path(
        description="The subject's id, as registerSubject or a lookup by code answered it (a "
        "keyed hash of its code: no ID number is ever in a URL)",
        examples=["5f0c7a8e-3b1d-5c2a-9e4f-6a7b8c9d0e1f"],
    ),
]
ClientId = Annotated[str, Path(description="The API client's id", examples=["zz-zhifa-01"])]


async def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


async def today(request: Request) -> date:
    return request.app.state.services.clock.today()


TodayDep = Annotated[date, Depends(today)]


def read_your_writes(*read_models: str) -> Any:
    """Read-your-writes: a dependency that waits (bounded) until the named read models have
    reached `min_position`. A route waits only on the read models it reads: one stopped on a
    failure holds up no other."""

    async def wait(
        request: Request,
        min_position: Annotated[
            int | None,
            Query(
                ge=0,
                le=MAX_INT64,
                description="Wait (bounded) until the read models reflect this log position, "
                "as returned by a write.",
            ),
        ] = None,
    ) -> None:
        if min_position is not None:
            await reached(request.app.state.services, read_models, min_position)

    return Depends(wait)


async def reached(services: Services, read_models: tuple[str, ...], min_position: int) -> None:
    """Wait (bounded) until the named read models reflect the write at `min_position`: a
    route's `min_position`, or a page that shows what it has just written."""
    deadline = time.monotonic() + services.settings.read_your_writes_timeout_seconds
    delay = 0.002
    head = None
    while True:
        async with services.read_engine.connect() as conn:
            position, stopped = await tracked_state(conn, read_models)
        if position >= min_position:
            return
        if head is None:
            # A position past the log's head was never returned by a write: waiting is futile.
            head = await run_in_threadpool(services.ledger.recorder.max_notification_id) or 0
            if min_position > head:
                raise InvalidRequest(
                    f"min_position {min_position} is beyond the log's head ({head}): "
                    "pass a position a write returned",
                )
        if stopped:
            # Stopped on a failure: it moves on only once an operator resumes it.
            raise ProjectionStopped(
                f"the read model {', '.join(stopped)} is stopped at position {position} "
                f"on a failure (see /health), not yet at {min_position}; retry later",
                position=position,
            )
        if time.monotonic() >= deadline:
            raise ProjectionBehind(
                f"the read models are at position {position}, not yet at {min_position}; retry",
                position=position,
            )
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)


# The read models, by their projectors' names (service/bootstrap.py builds the projectors).
CREDIT_FILE, CASES, REPORTS = "credit_file", "cases", "report_records"
ReadYourWrites = read_your_writes(CREDIT_FILE)
CaseReadYourWrites = read_your_writes(CASES)
ReportReadYourWrites = read_your_writes(REPORTS)
