"""A route's fast path must check every dependency FastAPI would solve for it: a check added to
the route or its router later must not be skipped by the fast path without anyone noticing."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, Depends, Request

from api.fast_path import FastPathIncomplete, FastPathRoute, fast_path


def token(request: Request) -> str:
    return "caller"


def rate_limit(request: Request) -> None:
    return None


async def answer(request: Request):
    return None


def test_a_fast_path_that_checks_every_dependency_is_taken():
    router = APIRouter(route_class=FastPathRoute, dependencies=[Depends(token)])

    @router.get("/plain")
    @fast_path(answer, checks=(Depends(token),))
    async def plain():
        return {}

    assert [getattr(route, "path", None) for route in router.routes] == ["/plain"]


def test_a_dependency_the_fast_path_does_not_check_refuses_the_route():
    router = APIRouter(route_class=FastPathRoute, dependencies=[Depends(token)])

    with pytest.raises(FastPathIncomplete, match="rate_limit"):

        @router.get("/limited", dependencies=[Depends(rate_limit)])
        @fast_path(answer, checks=(Depends(token),))
        async def limited():
            return {}
