"""A fast path reads a route's path and header parameters as FastAPI's own solver reads them:
the same values, the same errors, for any request."""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, Header
from fastapi.dependencies.utils import request_params_to_args
from fastapi.routing import APIRoute
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.datastructures import Headers

from api.app import create_app
from api.fast_path import FastPathRoute, PlainParams

FAST_ROUTES = [
    route
    for route in create_app().routes
    if isinstance(route, FastPathRoute) and hasattr(route, "read_path_params")
]
HEADER_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=260)
EDGES = st.sampled_from(["", " ", "a", '"3"', 'W/"3"', "x" * 40, "x" * 41, "x" * 200, "x" * 201])
IDS = st.one_of(
    st.uuids().map(str),
    st.uuids().map(lambda u: u.hex),
    st.uuids().map(lambda u: str(u).upper()),
    st.text(max_size=40),
)


def headers_of(values: dict[str, str | None], casing: list[bool]) -> Headers:
    raw = [
        ((name.upper() if upper else name.lower()).encode("latin-1"), value.encode("latin-1"))
        for (name, value), upper in zip(values.items(), casing, strict=False)
        if value is not None
    ]
    return Headers(raw=[(b"content-type", b"application/json"), *raw])


def test_the_append_reads_its_id_and_headers_without_fastapi_per_request():
    append = next(route for route in FAST_ROUTES if route.path.endswith("/events"))
    headers = append.read_header_params.plain
    assert append.read_path_params.plain is not None and headers is not None
    assert [key for _, key, _, _ in headers] == [
        "Idempotency-Key",
        "If-Match",
    ]


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_a_fast_routes_parameters_are_read_as_fastapi_reads_them(data):
    route = data.draw(st.sampled_from(FAST_ROUTES))
    path = {field.alias: data.draw(IDS) for field in route.dependant.path_params}
    names = [field.alias for field in route.dependant.header_params] + ["X-Other"]
    values = {name: data.draw(st.one_of(st.none(), HEADER_TEXT, EDGES)) for name in names}
    headers = headers_of(values, data.draw(st.lists(st.booleans(), min_size=len(names))))
    assert route.read_path_params(path) == request_params_to_args(route.dependant.path_params, path)
    assert route.read_header_params(headers) == request_params_to_args(
        route.dependant.header_params, headers
    )


def test_parameters_of_another_kind_are_read_by_fastapi():
    app = FastAPI()

    @app.get("/listed")
    def listed(tags: Annotated[list[str] | None, Header()] = None) -> None: ...

    route = next(
        route for route in app.routes if isinstance(route, APIRoute) and route.path == "/listed"
    )
    read = PlainParams(route.dependant.header_params)
    assert read.plain is None
    headers = Headers(raw=[(b"tags", b"a"), (b"tags", b"b")])
    assert read(headers) == request_params_to_args(route.dependant.header_params, headers)
    assert read(headers)[0] == {"tags": ["a", "b"]}
