"""Dependencies: the services built at start-up, the caller, today's date, read-your-writes.

Cheap dependencies are `async def` on purpose: FastAPI runs a plain `def` dependency in a
worker thread, which costs more than the work itself."""

from __future__ import annotations

import asyncio
import time
from datetime import date
from typing import Annotated

from fastapi import Depends, Query, Request

from api.errors import Problem
from projections.credit_file.queries import tracked_position
from service.bootstrap import Services
from service.clock import local_today


async def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


async def today(services: ServicesDep) -> date:
    return local_today(services.clock)


TodayDep = Annotated[date, Depends(today)]


async def read_your_writes(
    services: ServicesDep,
    min_position: Annotated[
        int | None,
        Query(
            ge=0,
            description="Wait (bounded) until the read models reflect this log position, "
            "as returned by a write.",
        ),
    ] = None,
) -> None:
    """Read-your-writes: wait until the projections have reached `min_position`."""
    if min_position is None:
        return
    deadline = time.monotonic() + services.settings.read_your_writes_timeout_seconds
    delay = 0.002
    while True:
        async with services.read_engine.connect() as conn:
            position = await tracked_position(conn)
        if position >= min_position:
            return
        if time.monotonic() >= deadline:
            raise Problem(
                503,
                "projection-behind",
                f"the read models are at position {position}, not yet at {min_position}; retry",
                headers={"Retry-After": "1"},
                position=position,
            )
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)


ReadYourWrites = Depends(read_your_writes)
