"""The routers' routes served as their modules built them (api/routers.py): the same API as
FastAPI's `include_router` would give, with no route built again for each app."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import iter_route_contexts

import api.app
import api.console
from api.app import create_app
from api.routers import serve_router
from service.settings import Settings

pytestmark = pytest.mark.api


@pytest.fixture
def database_url(empty_sqlite) -> str:
    """Routing does not depend on the database."""
    return empty_sqlite.url.render_as_string(hide_password=False)


def included(app: FastAPI, router: APIRouter) -> None:
    app.include_router(router)


def served(app: FastAPI) -> set[tuple[str, frozenset[str], str]]:
    """Each operation and page the app answers: path, methods and name."""
    return {
        (context.path_format, frozenset(context.methods or ()), context.name)
        for context in iter_route_contexts(app.routes)
        if context.path_format is not None and context.name is not None
    }


def as_fastapi_includes(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> FastAPI:
    with monkeypatch.context() as patched:
        patched.setattr(api.app, "serve_router", included)
        patched.setattr(api.console, "serve_router", included)
        return create_app(settings)


async def answers(app: FastAPI, role_headers: dict[str, dict[str, str]]) -> list[Any]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://credit.test") as http:
        return [
            ((await http.get(path, headers=headers)).status_code, path)
            for path, headers in [
                ("/livez", {}),
                ("/v1/subjects/by-code/91410100MA44XXXX1X/status", role_headers["agency"]),
                ("/v1/subjects/by-code/91410100MA44XXXX1X/status", {}),
                ("/v1/no-such-operation", {}),
                ("/console/sign-in", {}),
                ("/console/", {}),
            ]
        ]


async def test_the_app_is_the_api_include_router_gives(
    settings, services, role_headers, monkeypatch
):
    ours = create_app(settings, services=services)
    theirs = as_fastapi_includes(monkeypatch, settings)
    assert served(ours) == served(theirs)
    assert len(served(ours)) > 100  # every router, not none
    assert ours.openapi() == theirs.openapi()
    theirs.state.services = services  # as the lifespan would set it
    ours.state.services = services
    assert await answers(ours, role_headers) == await answers(theirs, role_headers)


def test_every_app_serves_the_route_objects_its_routers_built(settings, monkeypatch):
    routers: list[APIRouter] = []

    def recorded(app: FastAPI, router: APIRouter) -> None:
        routers.append(router)
        serve_router(app, router)

    monkeypatch.setattr(api.app, "serve_router", recorded)
    monkeypatch.setattr(api.console, "serve_router", recorded)
    first = create_app(settings)
    built = [route for router in routers for route in router.routes]
    assert len(routers) > 20 and len(built) > 100
    second = create_app(settings)
    for app in (first, second):
        held = {id(route) for route in app.routes}
        assert all(id(route) in held for route in built)  # built once, when imported


def test_a_router_with_event_handlers_is_left_to_include_router():
    router = APIRouter(on_startup=[lambda: None])
    with pytest.raises(ValueError, match="include_router"):
        serve_router(FastAPI(), router)
