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

from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from typing import Any

from fastapi import Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import request_params_to_args
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


class PlainParams:
    """A route's path or header parameters read and validated as FastAPI's
    `request_params_to_args` reads them, for a fast path. FastAPI works out again, for each
    parameter of each request, whether its type is a list or a model and under which names to
    look for it (walking the type every time: some 8% of an append's time). Where every
    parameter is one value under one name, that is worked out here once; a parameter that is
    absent (and so takes its default, or is missing) is read by FastAPI itself, as is every
    parameter of a route that has another kind. Held equal to FastAPI's reading by
    tests/api/test_fast_path_params.py."""

    def __init__(self, fields: Sequence[Any]):
        self.fields = list(fields)
        self.plain = _plain(self.fields)

    def __call__(self, received: Mapping[str, Any]) -> tuple[dict[str, Any], list[Any]]:
        if self.plain is None:
            return request_params_to_args(self.fields, received)
        values: dict[str, Any] = {}
        errors: list[Any] = []
        for field, key, loc, none_if_absent in self.plain:
            value = received.get(key)
            if value is None:
                if none_if_absent:  # what FastAPI makes of an absent optional one
                    values[field.name] = None
                    continue
                found, missing = request_params_to_args([field], received)
                values.update(found)
                errors += missing
                continue
            validated, invalid = field.validate(value, values, loc=loc)
            if invalid:
                errors += invalid
            else:
                values[field.name] = validated
        return values, errors


def _plain(fields: Sequence[Any]) -> list[tuple[Any, str, tuple[str, str], bool]] | None:
    """Each field with the one name it is read by, its error location and whether an absent
    one is None (optional, defaulting to None unvalidated), if every field is one value under
    one name; else None (FastAPI reads them). The helpers are FastAPI's own, asked once; should
    a later FastAPI not have them, it reads every parameter itself."""
    try:
        from fastapi._compat import field_annotation_is_sequence
        from fastapi.dependencies.utils import (
            _get_param_aliases,
            _get_param_model,
            _is_json_field,
        )
    except ImportError:
        return None
    plain = []
    for field in fields:
        aliases = _get_param_aliases(field)
        if (
            _get_param_model(field) is not None
            or _is_json_field(field)
            or field_annotation_is_sequence(field.field_info.annotation)
            or len(aliases) != 1
        ):
            return None
        key = aliases[0][1]
        info = field.field_info
        none_if_absent = (
            not info.is_required() and info.default is None and not info.validate_default
        )
        plain.append((field, key, (info.in_.value, key), none_if_absent))
    return plain


class FastPathRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        solved = super().get_route_handler()
        registered = FAST_PATHS.get(self.endpoint)
        if registered is None:
            return solved
        self.read_path_params = PlainParams(self.dependant.path_params)
        self.read_header_params = PlainParams(self.dependant.header_params)
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
