"""Dependencies: the services built at start-up, the caller, today's date, read-your-writes."""

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


def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def recording_client(request: Request) -> str:
    """Who is writing. Until clients authenticate, every write is attributed to 'anonymous'."""
    return "anonymous"


ClientDep = Annotated[str, Depends(recording_client)]


def today(services: ServicesDep) -> date:
    return local_today(services.clock)


TodayDep = Annotated[date, Depends(today)]


async def projected_position(
    services: ServicesDep,
    min_position: Annotated[
        int | None,
        Query(
            ge=0,
            description="Wait (bounded) until the read models reflect this log position, "
            "as returned by a write.",
        ),
    ] = None,
) -> int:
    """Read-your-writes: wait until the projections have reached `min_position`."""
    deadline = time.monotonic() + services.settings.read_your_writes_timeout_seconds
    delay = 0.002
    while True:
        async with services.read_engine.connect() as conn:
            position = await tracked_position(conn)
        if min_position is None or position >= min_position:
            return position
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


PositionDep = Annotated[int, Depends(projected_position)]
