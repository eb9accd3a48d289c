"""Queries read a real streaming replica (CREDIT_READ_DATABASE_URL, `pg_basebackup -R`): with its
replay paused, a read without `min_position` does not see a new write, while a read with it
waits and, once replay resumes, sees it. A replica further behind than
CREDIT_READ_REPLICA_MAX_LAG_SECONDS, or unreachable, is reported on /health and reads go to
the primary. On private clusters: the shared server is never touched."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import psycopg
import pytest

from api.app import create_app
from service.bootstrap import build_services
from service.commanding.commands import RegisterSubject
from service.settings import Settings
from service.store.database import Database
from service.store.migrations import upgrade
from tests.builders import AUTHORITY_CODE, enterprise
from tests.private_postgres import PrivatePostgres, wait_for_replay

pytestmark = pytest.mark.integration
MAX_LAG = 60.0  # seconds: far more than the first part takes, even on a busy machine


async def health(http: httpx.AsyncClient) -> dict[str, Any]:
    return (await http.get("/health")).json()


async def wait_for_health(http: httpx.AsyncClient, replica_status: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = await health(http)
        if body["read_replica"]["status"] == replica_status:
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"the replica never became {replica_status}: {body}")


def primary_position(services) -> int:
    """Where the credit-file read model stands on the primary."""
    states, _ = services.runner.report()
    return states["credit_file"].position


async def test_queries_read_the_replica_and_fall_back_to_the_primary_when_it_lags(
    private_postgres: PrivatePostgres, streaming_replica: PrivatePostgres
):
    primary, replica = private_postgres, streaming_replica
    with psycopg.connect(primary.url(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE credit")
    upgrade(Database.from_url(primary.url("credit")))
    settings = Settings(
        environment="test",
        database_url=primary.url("credit"),
        read_database_url=replica.url("credit"),
        read_replica_max_lag_seconds=MAX_LAG,
        read_replica_check_seconds=0.1,
        read_your_writes_timeout_seconds=30,
        subject_id_key="test-subject-key",
        client_secret_scrypt_n=2,
        client_cache_seconds=0,
    )
    services = build_services(settings, migrate=False)
    recorder, _ = services.clients.create(
        "replica-recorder",
        "recorder",
        "局",
        AUTHORITY_CODE,
        authority_codes=[AUTHORITY_CODE],
        sectors=["road_transport"],
    )
    reader, _ = services.clients.create(
        "replica-reader", "agency", "郑州市交通运输局", AUTHORITY_CODE
    )
    writes = {"Authorization": f"Bearer {services.tokens.issue(recorder).access_token}"}
    reads = {"Authorization": f"Bearer {services.tokens.issue(reader).access_token}"}
    wait_for_replay(primary, replica)  # the clients are on the replica too

    app = create_app(settings, services=services)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            body = await wait_for_health(http, "ok")
            assert body["status"] == "ok"
            assert body["read_replica"]["reads_from"] == "replica"
            assert body["read_replica"]["max_lag_seconds"] == MAX_LAG

            # Replay paused: the replica keeps receiving WAL but shows none of it.
            replica.psql("SELECT pg_wal_replay_pause()")
            created = await http.post("/v1/subjects", json=enterprise(1), headers=writes)
            assert created.status_code == 201, created.text
            subject_id, position = created.json()["subject_id"], created.json()["position"]
            status_url = f"/v1/subjects/{subject_id}/status"
            waiting = asyncio.create_task(
                http.get(status_url, params={"min_position": position}, headers=reads)
            )
            # The primary's read model has it (the runner applied it there)...
            deadline = time.monotonic() + 30
            while primary_position(services) < position and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert primary_position(services) >= position
            # ...but a read without min_position answers from the replica, which has not.
            stale = await http.get(status_url, headers=reads)
            assert stale.status_code == 404, stale.text
            await asyncio.sleep(1.0)
            assert not waiting.done(), "the min_position read should wait for the replica"
            assert (await health(http))["read_replica"]["reads_from"] == "replica"

            replica.psql("SELECT pg_wal_replay_resume()")
            answer = await asyncio.wait_for(waiting, 30)
            assert answer.status_code == 200, answer.text
            assert (await http.get(status_url, headers=reads)).status_code == 200

            # A replica further behind than the bound: reported, and reads go to the primary.
            watch = services.read_replica
            assert watch is not None
            watch.max_lag_seconds = 1.0  # the bound, made short for this part
            replica.psql("SELECT pg_wal_replay_pause()")
            later = await http.post("/v1/subjects", json=enterprise(2), headers=writes)
            assert later.status_code == 201, later.text
            later_url = f"/v1/subjects/{later.json()['subject_id']}/status"
            body = await wait_for_health(http, "behind")
            assert body["status"] == "degraded"
            assert body["read_replica"]["reads_from"] == "primary"
            # Behind means past the bound; the lag shown is rounded to the millisecond, so a lag
            # a fraction of one past it shows as the bound itself.
            assert body["read_replica"]["lag_seconds"] >= 1.0
            fresh = await http.get(
                later_url, params={"min_position": later.json()["position"]}, headers=reads
            )
            assert fresh.status_code == 200, fresh.text  # from the primary, without waiting
            replica.psql("SELECT pg_wal_replay_resume()")
            body = await wait_for_health(http, "ok")
            assert body["status"] == "ok"
            assert body["read_replica"]["reads_from"] == "replica"

            # A replica that is down: reported, and reads go on at the primary.
            replica.stop_immediately()
            body = await wait_for_health(http, "unreachable")
            assert body["status"] == "degraded"
            assert body["read_replica"]["reads_from"] == "primary"
            assert (await http.get(later_url, headers=reads)).status_code == 200


async def test_of_several_hosts_every_driver_connects_to_the_one_that_accepts_writes(
    private_postgres: PrivatePostgres, streaming_replica: PrivatePostgres
):
    """The standby listed first: psycopg (the event store's pool and the read-model engine),
    asyncpg and the operator's connection check all reach the primary with
    target_session_attrs=read-write; queries reach the standby with prefer-standby."""
    primary, replica = private_postgres, streaming_replica
    with psycopg.connect(primary.url(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE credit")
    wait_for_replay(primary, replica)
    hosts = f"127.0.0.1:{replica.port},127.0.0.1:{primary.port}"
    url = f"postgresql://postgres@{hosts}/credit?target_session_attrs=read-write"
    upgrade(Database.from_url(url))  # migrations write: they would fail on the standby
    # And the other way round for queries: the primary listed first, a standby preferred.
    standby_first = f"127.0.0.1:{primary.port},127.0.0.1:{replica.port}"
    settings = Settings(
        environment="test",
        database_url=url,
        read_database_url=f"postgresql://postgres@{standby_first}/credit"
        "?target_session_attrs=prefer-standby",
        subject_id_key="test-subject-key",
        client_secret_scrypt_n=2,
    )
    services = build_services(settings, migrate=False)
    try:
        Database.from_url(url).check_reachable()
        server = "SELECT inet_server_port(), pg_is_in_recovery()"
        with services.ledger.recorder.datastore.get_connection() as conn:  # type: ignore[attr-defined]
            assert tuple(conn.execute(server).fetchone().values()) == (primary.port, False)
        with services.write_engine.connect() as conn:
            assert tuple(conn.exec_driver_sql(server).one()) == (primary.port, False)
        watch = services.read_replica
        assert watch is not None
        async with watch.primary.connect() as conn:  # asyncpg: the writable one
            assert tuple((await conn.exec_driver_sql(server)).one()) == (primary.port, False)
        assert (await watch.check()).status == "ok"
        async with services.read_engine.connect() as conn:  # asyncpg: the standby preferred
            assert tuple((await conn.exec_driver_sql(server)).one()) == (replica.port, True)
        services.files.register(RegisterSubject(**enterprise(5)), recorded_by="t")
        assert services.runner.catch_up() > 0
    finally:
        await services.aclose()
