"""Routes that answer their plainest request without FastAPI's dependency solving.

Solving a route's dependencies costs a status read more CPU than its query: FastAPI walks the
dependency tree per request, recomputing cache keys, scopes and each parameter's model. A route
of this class may name a fast path for its endpoint: a function that either declines at once
(None, before it has done anything) or answers the request by calling the same checks the
dependencies would, in the same order. What it declines (parameters to validate, an override
in the tests, tracing), FastAPI solves as for any route; the OpenAPI document and every
validation error still come from the declared signature."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from fastapi.telemetry import get_telemetry_data

FastPath = Callable[[Request], Awaitable[Response | None]]
# Endpoint -> its fast path. Registered before the route is built (decorators apply bottom up).
FAST_PATHS: dict[Callable[..., Any], FastPath] = {}


def fast_path(answer: FastPath) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register `answer` as the fast path of the endpoint decorated (below the route's
    decorator, so that it is registered before FastAPI builds the route)."""

    def register(endpoint: Callable[..., Any]) -> Callable[..., Any]:
        FAST_PATHS[endpoint] = answer
        return endpoint

    return register


class FastPathRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        solved = super().get_route_handler()
        answer = FAST_PATHS.get(self.endpoint)
        if answer is None:
            return solved

        async def handler(request: Request) -> Response:
            # Overridden dependencies (tests) and tracing's dependency spans need the solver.
            if not request.app.dependency_overrides and get_telemetry_data() is None:
                response = await answer(request)
                if response is not None:
                    return response
            return await solved(request)

        return handler
