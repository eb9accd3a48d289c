"""A module's router served by an app: the routes the router built when its module was imported,
shared by every app the process makes.

FastAPI's `include_router` builds each of a router's routes again for the app that includes it
(the endpoint's signature read, a pydantic adapter made for each parameter and answer): about
0.13 s of CPU at each app's first request. A serving process makes one app and pays it once; a
process that makes many (the test suite makes one per test) paid it for each. The service's
routers add nothing when they are included (no prefix, dependencies, tags, responses or
handlers beyond their own), so the routes they built are the ones `include_router` would build
again. What the routes do not consult is `app.dependency_overrides`: the service sets none."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI


def serve_router(app: FastAPI, router: APIRouter) -> None:
    """Serve `router`'s routes from `app`, as they are."""
    if router.on_startup or router.on_shutdown:
        raise ValueError("a router with event handlers needs app.include_router")
    app.router.routes.extend(router.routes)
