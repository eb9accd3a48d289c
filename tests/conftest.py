"""Fixtures shared by every tier: a fresh store per test on SQLite or PostgreSQL, a fixed clock,
the services, and an HTTP client over the ASGI app."""

from __future__ import annotations

import functools
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TypedDict

import httpx
import pytest
from sqlalchemy import make_url

from projections.tables import READ_MODEL_TABLES
from service.bootstrap import Services, build_services
from service.clock import FixedClock
from service.settings import Settings
from service.store.database import Database
from service.store.migrations import upgrade
from tests.builders import AUTHORITY_CODE, OTHER_AUTHORITY_CODE
from tests.postgres import ADMIN_URL, postgres_reachable
from tests.private_postgres import (
    PrivatePostgres,
    PrivatePostgresUnavailable,
    start_private_postgres,
    start_replica,
)

NOW = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)  # 12:00 in Beijing, a Friday
STORE_TABLES = (
    "credit_events",
    "credit_snapshots",
    *(table.name for table in READ_MODEL_TABLES),  # a new read model is emptied too
    "projection_tracking",
    "projection_skips",
    "case_number_series",
    "case_streams",
    "cases",
    "api_clients",
    "console_sessions",
    "staff_accounts",
    "sign_in_failures",
    "oidc_sign_ins",
    "signing_keys",
    "access_log",
    "admin_log",
    "admin_approvals",
    "subject_keys",
    "event_seals",
    "merkle_nodes",
    "event_seals_sm3",
    "merkle_nodes_sm3",
    "checkpoints",
    "checkpoint_keys",
    "replay_checks",
    "credit_reports",
    "subscriptions",
    "subscription_subjects",
    "subscription_kinds",
    "subscription_webhooks",
    "webhook_deliveries",
    "webhook_attempts",
    "notices",
    "notice_acknowledgements",
)


# Tests that start servers, browsers or clusters: run before the others, as the slow ones are.
PROCESS_HEAVY_FOLDERS = ("e2e", "reliability")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slowest tests first: those marked slow, then those of PROCESS_HEAVY_FOLDERS, then
    the rest, each in the order collected. The suite's workers each take a share of the tests
    from its front, and one that has run out takes from the back of another's share
    (`--dist worksteal`): with the long tests at the front, the last minutes are short tests
    spread over every worker, not a long one run alone while the others wait."""

    def rank(item: pytest.Item) -> int:
        if item.get_closest_marker("slow"):
            return 0
        if Path(item.path).parent.name in PROCESS_HEAVY_FOLDERS:
            return 1
        return 2

    items.sort(key=rank)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A database of its own for this test session, migrated once, dropped at the end."""
    reachable, reason = postgres_reachable()
    if not reachable:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is unreachable in CI: {reason}")
        pytest.skip(f"PostgreSQL unreachable: {reason}")
    import psycopg

    name = f"credit_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    upgrade(Database.from_url(url))
    yield url
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL cluster of this test's own, which it may stop and start (crash tests);
    removed afterwards. Skipped where this machine cannot run one, except in CI."""
    try:
        cluster = start_private_postgres()
    except PrivatePostgresUnavailable as error:
        if os.environ.get("CI"):
            pytest.fail(f"a private PostgreSQL cluster cannot run in CI: {error}")
        pytest.skip(f"a private PostgreSQL cluster cannot run here: {error}")
    try:
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
def streaming_replica(private_postgres: PrivatePostgres) -> Iterator[PrivatePostgres]:
    """A hot standby of `private_postgres`, streaming its WAL; removed before it."""
    try:
        replica = start_replica(private_postgres)
    except PrivatePostgresUnavailable as error:
        if os.environ.get("CI"):
            pytest.fail(f"a streaming replica cannot run in CI: {error}")
        pytest.skip(f"a streaming replica cannot run here: {error}")
    try:
        yield replica
    finally:
        replica.remove()


def _empty_postgres(url: str) -> None:
    """DELETE rather than TRUNCATE: a test leaves a few rows, and TRUNCATE gives each of some
    sixty tables and their indexes new files, about 0.7 s a test against 0.05 s. The sequences
    the tables own start again, as TRUNCATE ... RESTART IDENTITY would have them."""
    import psycopg

    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as conn:
        # History refuses deletion, for the owner too; a superuser's replica role lets it pass
        # (and skips the foreign keys, so the order of the tables does not matter).
        conn.execute("SET LOCAL session_replication_role = replica")
        statements = [f"DELETE FROM {table}" for table in STORE_TABLES]
        statements += [f"ALTER SEQUENCE {name} RESTART" for name in _owned_sequences(conninfo)]
        conn.execute("; ".join(statements))


@functools.cache
def _owned_sequences(conninfo: str) -> tuple[str, ...]:
    """The sequences behind the store tables' serial and identity columns."""
    import psycopg

    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            "SELECT sequence.oid::regclass::text FROM pg_class sequence"
            " JOIN pg_depend owner ON owner.objid = sequence.oid AND owner.deptype IN ('a', 'i')"
            " JOIN pg_class owning ON owning.oid = owner.refobjid"
            " WHERE sequence.relkind = 'S' AND owning.relname = ANY(%s)",
            (list(STORE_TABLES),),
        ).fetchall()
    return tuple(name for (name,) in rows)


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite store migrated to head, once per test process: every migration run
    again for each test cost about a second, more than most tests themselves."""
    path = tmp_path_factory.mktemp("migrated") / "credit.sqlite3"
    upgrade(Database.from_url(f"sqlite:///{path}"))
    leftovers = [p.name for p in path.parent.iterdir() if p != path]
    assert not leftovers, f"the migrated store left {leftovers} beside it: a copy would lose them"
    return path


@pytest.fixture
def empty_sqlite(tmp_path: Path, migrated_sqlite: Path) -> Database:
    """An empty SQLite store of this test's own, migrated to head."""
    path = tmp_path / "credit.sqlite3"
    shutil.copyfile(migrated_sqlite, path)
    return Database.from_url(f"sqlite:///{path}")


# For a test whose subject is not the store: the stores are tested on both in process, and such a
# test's processes or browser are seconds of CPU each. A command line's or a served process's own
# rule (who may approve, which address is limited, a file refused before a row is read) runs on
# PostgreSQL, the real store; what a browser shows of pages that do not depend on the store, on
# SQLite.
ON_POSTGRESQL_ALONE = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
ON_SQLITE_ALONE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """Every test that takes this runs on both backends, each time on an empty store."""
    if request.param == "sqlite":
        store: Database = request.getfixturevalue("empty_sqlite")
        return store.url.render_as_string(hide_password=False)
    url = request.getfixturevalue("postgres_database")
    _empty_postgres(url)
    return url


@pytest.fixture
def clock(settings: Settings) -> FixedClock:
    return FixedClock(NOW, settings.zone)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        environment="test",
        database_url=database_url,
        subject_id_key="test-subject-key",
        projection_poll_seconds=0.05,
        read_your_writes_timeout_seconds=5,
        client_secret_scrypt_n=2,
        password_hash_time_cost=1,
        password_hash_memory_kib=32,
        client_cache_seconds=0,
        key_cache_seconds=0,
    )


@pytest.fixture
def services(settings: Settings, clock: FixedClock) -> Iterator[Services]:
    built = build_services(settings, clock=clock, migrate=False)
    yield built
    built.close_sync()


class Grants(TypedDict, total=False):
    """What a client may record for, as ClientRegistry.create takes it."""

    authority_codes: list[str]
    sectors: list[str]


ROLE_CLIENTS: dict[str, Grants] = {
    "recorder": {
        "authority_codes": [AUTHORITY_CODE, OTHER_AUTHORITY_CODE],
        "sectors": ["road_transport"],
    },
    "agency": {},
    "auditor": {},
    "admin": {},
    "credit_office": {},
}


@pytest.fixture
def role_headers(services: Services) -> dict[str, dict[str, str]]:
    """A client of each role (agency 郑州市交通运输局) and a bearer header with its token."""
    headers = {}
    for role, grants in ROLE_CLIENTS.items():
        client, _ = services.clients.create(
            f"test-{role}", role, "郑州市交通运输局", AUTHORITY_CODE, **grants
        )
        token = services.tokens.issue(client).access_token
        headers[role] = {"Authorization": f"Bearer {token}"}
    return headers


@pytest.fixture
def second_admin(services: Services, role_headers) -> dict[str, str]:
    """A bearer header of another admin client (test-admin-2), for four-eyes approvals."""
    client, _ = services.clients.create("test-admin-2", "admin", "河南省交通运输厅", AUTHORITY_CODE)
    return {"Authorization": f"Bearer {services.tokens.issue(client).access_token}"}


@pytest.fixture
def auditor(role_headers) -> dict[str, str]:
    return role_headers["auditor"]


@pytest.fixture
async def anonymous(settings: Settings, services: Services) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client over the ASGI app, with the app's lifespan, sending no credentials."""
    from api.app import create_app

    app = create_app(settings, services=services)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://credit.test") as http:
            yield http


@pytest.fixture
async def client(anonymous: httpx.AsyncClient, role_headers) -> httpx.AsyncClient:
    """The HTTP client most tests use: a recording agency's, which may also read."""
    anonymous.headers.update(role_headers["recorder"])
    return anonymous
