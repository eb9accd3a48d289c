"""What the API tests share beyond tests/conftest.py."""

from __future__ import annotations

import fastapi.routing
import pytest


@pytest.fixture
def solved_paths(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the requests FastAPI solved dependencies for, in order: a route's fast path
    (api/fast_path.py) skips the solver, and a test tells the two ways apart by this list."""
    solved: list[str] = []
    solve = fastapi.routing.solve_dependencies

    async def counted(*args, **kwargs):
        solved.append(kwargs["request"].url.path)
        return await solve(*args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counted)
    return solved
