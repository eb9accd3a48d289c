"""Routes that answer their plainest request without FastAPI's dependency solving.

Solving a route's dependencies costs a status read more CPU than its query: FastAPI walks the
dependency tree per request, recomputing cache keys, scopes and each parameter's model. A route
of this class may name a fast path for its endpoint: a function that either declines at once
(None, before it has done anything) or answers the request by calling the same checks the
dependencies would, in the same order. What it declines (parameters to validate, an override
in the tests, tracing), FastAPI solves as for any route; the OpenAPI document and every
validation error still come from the declared signature. A fast path names the dependencies it
checks itself, and a route on which FastAPI would solve any other is refused when it is built:
a check added to the route or its router later cannot be skipped unnoticed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.telemetry import get_telemetry_data

FastPath = Callable[[Request], Awaitable[Response | None]]
# Endpoint -> its fast path and the dependencies that path checks itself. Registered before the
# route is built (decorators apply bottom up).
FAST_PATHS: dict[Callable[..., Any], tuple[FastPath, frozenset[Any]]] = {}


class FastPathIncomplete(Exception):
    """A route's dependencies are not all checked by its fast path: a check added to the route
    or its router would be skipped by the fast path, so the app refuses to start."""


def fast_path(
    answer: FastPath, *, checks: tuple[Any, ...]
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register `answer` as the fast path of the endpoint decorated (below the route's
    decorator, so that it is registered before FastAPI builds the route). `checks` are the
    dependencies (`Depends(...)` or the callables themselves) that `answer` calls itself: the
    route is refused if FastAPI would solve any other."""
    called = frozenset(getattr(check, "dependency", check) for check in checks)

    def register(endpoint: Callable[..., Any]) -> Callable[..., Any]:
        FAST_PATHS[endpoint] = (answer, called)
        return endpoint

    return register


def _solved(dependant: Dependant) -> set[Any]:
    """Every callable FastAPI would solve for the dependant, sub-dependencies included."""
    calls: set[Any] = set()
    for dependency in dependant.dependencies:
        calls.add(dependency.call)
        calls |= _solved(dependency)
    return calls


class FastPathRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        solved = super().get_route_handler()
        registered = FAST_PATHS.get(self.endpoint)
        if registered is None:
            return solved
        answer, called = registered
        skipped = _solved(self.dependant) - called
        if skipped:
            names = ", ".join(sorted(getattr(c, "__qualname__", repr(c)) for c in skipped))
            raise FastPathIncomplete(f"{self.path}: the fast path does not check {names}")

        async def handler(request: Request) -> Response:
            # Overridden dependencies (tests) and tracing's dependency spans need the solver.
            if not request.app.dependency_overrides and get_telemetry_data() is None:
                response = await answer(request)
                if response is not None:
                    return response
            return await solved(request)

        return handler
