"""The latency benchmarks' measure of PostgreSQL's own CPU: a query that keeps the server busy
shows in it, as its backends' time and, once a backend has ended, as its postmaster's."""

from __future__ import annotations

import time

import psycopg
import pytest
from sqlalchemy import make_url

from bench.fixtures import postgres_cpu_seconds

pytestmark = pytest.mark.integration
BUSY = "SELECT count(*) FROM generate_series(1, 4000000) AS n WHERE n % 7 = 3"


def test_postgres_work_shows_in_its_cpu_seconds(settings):
    if settings.database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's own processes")
    url = make_url(settings.database_url).set(drivername="postgresql")
    if url.host not in ("127.0.0.1", "localhost"):
        pytest.skip("the benchmarks read the CPU of a PostgreSQL on their own machine")
    before = postgres_cpu_seconds()
    with psycopg.connect(url.render_as_string(hide_password=False)) as conn:
        conn.execute(BUSY)
        during = postgres_cpu_seconds()
    assert during - before >= 0.1
    # The backend has ended: its time counts again once the postmaster has reaped it.
    deadline = time.monotonic() + 10
    while (after := postgres_cpu_seconds()) < during and time.monotonic() < deadline:
        time.sleep(0.05)
    assert after >= during
