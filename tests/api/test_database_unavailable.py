"""A database that cannot serve a request now is answered 503 database-unavailable with
Retry-After, whichever driver or pool noticed; a database error that is a fault stays a 500.
(The real thing, a crashed PostgreSQL, is tests/reliability/test_database_crash.py.)"""

from __future__ import annotations

import asyncpg
import httpx
import psycopg
import pytest
from eventsourcing import persistence as store_errors
from fastapi import FastAPI
from psycopg_pool import PoolTimeout
from sqlalchemy import exc

from api import errors
from service.store.database import database_unavailable

pytestmark = pytest.mark.api


def _sqlalchemy(kind: type[exc.DBAPIError], orig: BaseException, **options) -> exc.DBAPIError:
    return kind("SELECT 1", {}, orig, **options)


def _starting_up() -> exc.DBAPIError:
    """What SQLAlchemy raises when asyncpg connects to a server still in crash recovery."""
    try:
        try:
            raise asyncpg.exceptions.CannotConnectNowError("the database system is starting up")
        except asyncpg.exceptions.CannotConnectNowError as cause:
            raise _sqlalchemy(exc.DBAPIError, Exception("starting up")) from cause
    except exc.DBAPIError as error:
        return error


UNAVAILABLE = {
    "pool timeout": PoolTimeout("couldn't get a connection after 5.00 sec"),
    "connection refused": ConnectionRefusedError(111, "Connection refused"),
    "server gone": _sqlalchemy(exc.OperationalError, Exception("server closed the connection")),
    "disconnect seen": _sqlalchemy(exc.InterfaceError, Exception("x"), connection_invalidated=True),
    "store operational": store_errors.OperationalError("terminating connection"),
    "starting up": _starting_up(),
    "psycopg admin shutdown": psycopg.errors.AdminShutdown("terminating connection"),
}
FAULTS = {
    "integrity": _sqlalchemy(exc.IntegrityError, Exception("duplicate key")),
    "store integrity": store_errors.IntegrityError("duplicate key"),
    "programming": _sqlalchemy(exc.ProgrammingError, Exception("syntax error")),
    "psycopg data": psycopg.errors.NumericValueOutOfRange("out of range"),
}


@pytest.mark.parametrize("name", UNAVAILABLE)
def test_these_mean_the_database_is_unavailable(name):
    assert database_unavailable(UNAVAILABLE[name])


@pytest.mark.parametrize("name", FAULTS)
def test_these_are_faults(name):
    assert not database_unavailable(FAULTS[name])


def _app() -> FastAPI:
    app = FastAPI()
    errors.install(app)

    @app.get("/raise/{kind}/{name}")
    def raising(kind: str, name: str) -> None:
        raise (UNAVAILABLE if kind == "unavailable" else FAULTS)[name]

    return app


async def _get(path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://credit.test") as http:
        return await http.get(path)


@pytest.mark.parametrize("name", UNAVAILABLE)
async def test_an_unavailable_database_is_answered_503_with_retry_after(name):
    response = await _get(f"/raise/unavailable/{name}")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["type"].endswith("/database-unavailable")


@pytest.mark.parametrize("name", FAULTS)
async def test_a_database_fault_stays_an_internal_error(name):
    response = await _get(f"/raise/fault/{name}")
    assert response.status_code == 500
    assert response.json()["type"].endswith("/internal-error")
    assert "retry-after" not in response.headers
