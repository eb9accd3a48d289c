"""Engines for the read models: a sync one for the projection runner, an async one for queries."""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from service.store.database import CONNECT_TIMEOUT_SECONDS, POOL_WAIT_SECONDS, Database

# Bounded waits while PostgreSQL is away (docs/operations.md): a new connection, a free one.
POSTGRES_SYNC = {
    "pool_pre_ping": True,
    "pool_timeout": POOL_WAIT_SECONDS,
    "connect_args": {"connect_timeout": CONNECT_TIMEOUT_SECONDS},
}

SQLITE_BUSY_TIMEOUT_MS = 30_000
# The most connections a process's read pool holds (docs/operations.md counts a process's).
READ_POOL_CONNECTIONS = 20
# orjson reads an integer past 64 bits as a float, and refuses what the standard library takes
# (NaN, 1e400, a lone surrogate): a run of 19 digits, or a refusal, goes to `json.loads`.
_PAST_64_BITS = re.compile(r"\d{19}")


def json_loads(text: str | bytes) -> Any:
    """A JSON column's value, as `json.loads` reads it, in a fraction of its time (a status
    read decodes two columns of every row it reads)."""
    if isinstance(text, str) and _PAST_64_BITS.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def sync_engine(database: Database) -> Engine:
    if not database.is_sqlite:
        return create_engine(database.sync_url(), pool_size=4, max_overflow=4, **POSTGRES_SYNC)
    # pysqlite's deferred BEGIN would let two writers read the same tracked position and then
    # fail to upgrade their locks; BEGIN IMMEDIATE takes the write lock up front instead.
    return _sqlite_engine(database, "BEGIN IMMEDIATE")


def snapshot_engine(database: Database) -> Engine:
    """For long reads that must see one consistent state (exports, proofs) without holding
    up writers: REPEATABLE READ on PostgreSQL, a deferred read transaction on SQLite (WAL
    lets writers go on meanwhile)."""
    if not database.is_sqlite:
        return create_engine(
            database.sync_url(),
            pool_size=2,
            max_overflow=4,
            isolation_level="REPEATABLE READ",
            **POSTGRES_SYNC,
        )
    return _sqlite_engine(database, "BEGIN")


def _sqlite_engine(database: Database, begin: str) -> Engine:
    """A SQLite engine whose transactions start with `begin` (pysqlite's own transaction
    handling is turned off so that the statement is ours)."""
    engine = create_engine(
        database.sync_url(), connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    )

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None
        _sqlite_pragmas(dbapi_connection, record)

    @event.listens_for(engine, "begin")
    def on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)

    return engine


def async_engine(database: Database) -> AsyncEngine:
    if not database.is_sqlite:
        # Queries only read: autocommit spares a BEGIN and a ROLLBACK round trip per request,
        # and a dead connection surfaces as an error on use rather than a ping per checkout.
        # No overflow: a pool's overflow connection is closed when it is given back while the
        # pool is full, so a burst past the pool's size opened and closed a backend per read
        # (5 to 10 ms of PostgreSQL's CPU each), which slowed the reads that made the
        # burst: at 800 reads a second a server fell into it and queued for seconds. Every
        # connection the pool opens is kept; a read past them waits for one.
        return create_async_engine(
            database.async_url(),
            pool_size=READ_POOL_CONNECTIONS,
            max_overflow=0,
            isolation_level="AUTOCOMMIT",
            pool_timeout=POOL_WAIT_SECONDS,
            connect_args={"timeout": CONNECT_TIMEOUT_SECONDS},
            json_deserializer=json_loads,
        )
    engine = create_async_engine(
        database.async_url(),
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        json_deserializer=json_loads,
    )
    event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def access_log_engine(database: Database) -> AsyncEngine:
    """The access log's group commit on PostgreSQL, on the event loop: one connection to the
    primary (the commit writes one batch at a time), which the writer holds from one batch to
    the next, pinged when it is checked out: the first time, and after the server ended the one
    held (service/access/group_commit.py)."""
    return create_async_engine(
        database.async_url(),
        pool_size=1,
        max_overflow=0,
        pool_pre_ping=True,
        # The commit manages its transaction on the driver's connection itself; autocommit
        # keeps SQLAlchemy's ping to one round trip, outside any transaction.
        isolation_level="AUTOCOMMIT",
        pool_timeout=POOL_WAIT_SECONDS,
        connect_args={"timeout": CONNECT_TIMEOUT_SECONDS},
    )
