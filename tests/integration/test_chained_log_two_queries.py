"""A chained log's own transaction on PostgreSQL, sent as two simple-protocol queries, stores
what the statements one at a time stored, byte for byte, and keeps its guarantees: the head read
under the lock, a failure raised as SQLAlchemy's and nothing stored, two writers in order."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from sqlalchemy import Engine, MetaData, create_engine, event, exc, text

from service.access import chained_log
from service.access.chained_log import ChainedLog
from service.access.tables import access_log
from service.store.read_store import POSTGRES_SYNC

pytestmark = pytest.mark.integration

AWKWARD = [
    "plain",
    "it's \\ a 'quote', a backslash \\\\ and %(p0_0)s %s %% {} $1 $$",
    "名称：行政许可\u2028line\nbreak\ttab \U0001f600",
    "",
]


def contents(batch: int, size: int) -> list[dict[str, Any]]:
    return [
        {
            "client_id": f"client-{batch}-{n}",
            "role": "agency",
            "agency_code": "91410100MA",
            "subject_id": uuid.UUID(int=batch * 1000 + n),
            "action": "status",
            "purpose": AWKWARD[(batch + n) % len(AWKWARD)],
            "returned": {
                "n": n,
                "batch": batch,
                "text": AWKWARD[n % len(AWKWARD)],
                "numbers": [1.5, 1e-7, 2**63 + 1, -0.0, 10**20],
                "nested": {"none": None, "yes": True, "empty": {}, "list": []},
            },
        }
        for n in range(size)
    ]


BATCHES = [contents(batch, size) for batch, size in enumerate([1, 4, 3, 1, 7, 2])]


class FixedClock(datetime):
    """`datetime` for chained_log: each batch at a moment of its own, the same in both runs
    (the moments are of this class, so that the hashing knows them for datetimes)."""

    moments: ClassVar[list[FixedClock]] = []

    @classmethod
    def now(cls, tz: Any = None) -> FixedClock:
        return cls.moments.pop(0)


@pytest.fixture
def engine(services) -> Iterator[Engine]:
    if services.write_engine.dialect.name != "postgresql":
        pytest.skip("the two queries are PostgreSQL's")
    yield services.write_engine


@pytest.fixture
def twin(engine: Engine) -> Iterator[ChainedLog]:
    """A second store of the access log's shape: a table of its own, the same columns."""
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS access_log_twin")
        conn.exec_driver_sql("CREATE TABLE access_log_twin (LIKE access_log INCLUDING ALL)")
    table = access_log.to_metadata(MetaData(), name="access_log_twin")
    yield ChainedLog(engine, table)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE access_log_twin")


def driver_of(conn: Any) -> Any:
    """psycopg's connection under SQLAlchemy's."""
    return conn.connection.dbapi_connection


def one_at_a_time(chain: ChainedLog, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The transaction as it was: BEGIN, the lock, the head read, the insert, COMMIT, each
    statement a round trip of its own through SQLAlchemy."""
    with chain.engine.begin() as conn:
        return chain.append_in(conn, batch)


def stored(engine: Engine, table: str) -> list[str]:
    """Every row as PostgreSQL writes the whole record out: each column's text, the JSON
    column's as stored."""
    with engine.connect() as conn:
        return list(conn.execute(text(f"SELECT t::text FROM {table} t ORDER BY seq")).scalars())


def test_two_queries_store_the_rows_and_hashes_the_statements_one_at_a_time_stored(
    engine: Engine, twin: ChainedLog, services, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain = services.access_log.chain
    start = FixedClock(2026, 12, 6, 8, 0, 0, 123456, tzinfo=UTC)
    moments = [start + timedelta(seconds=n, microseconds=n) for n in range(len(BATCHES))]
    monkeypatch.setattr(chained_log, "datetime", FixedClock)
    FixedClock.moments = list(moments)
    before = [one_at_a_time(chain, batch) for batch in BATCHES]
    FixedClock.moments = list(moments)

    assert not twin._watched()  # else it would append the statements one at a time
    after = [twin.append(batch) for batch in BATCHES]
    monkeypatch.undo()

    assert after == before  # the rows as written: seq, at, prev_hash, hash, content
    assert stored(engine, "access_log_twin") == stored(engine, "access_log")
    assert len(stored(engine, "access_log")) == sum(len(batch) for batch in BATCHES)
    assert chain.verify() is None and twin.verify() is None
    with engine.connect() as conn:
        assert not driver_of(conn).autocommit  # back to the pool as it was


def test_a_failed_append_raises_sqlalchemys_error_and_stores_nothing(twin: ChainedLog) -> None:
    twin.append(contents(0, 2))
    too_long = contents(1, 2)
    too_long[1]["client_id"] = "x" * 65  # String(64)
    with pytest.raises(exc.DataError):
        twin.append(too_long)
    with twin.engine.connect() as conn:
        assert not driver_of(conn).autocommit
        assert conn.execute(text("SELECT count(*) FROM access_log_twin")).scalar() == 2
    assert [row["seq"] for row in twin.append(contents(2, 1))] == [3]
    assert twin.verify() is None


def test_a_lock_held_elsewhere_holds_the_append_until_it_is_released(
    twin: ChainedLog, engine: Engine
) -> None:
    """The lock comes before the head read: rows committed by the holder are read after it."""
    holder = engine.connect()
    holder.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext(%(name)s))", {"name": twin.name})
    holder_rows = ChainedLog(engine, twin.table)._chained(contents(0, 3), chained_log.EMPTY)
    done: list[list[dict[str, Any]]] = []
    waiting = threading.Thread(target=lambda: done.append(twin.append(contents(1, 2))))
    waiting.start()
    waiting.join(0.5)
    assert not done  # waits on the lock
    holder.execute(twin.table.insert(), holder_rows)
    holder.commit()
    holder.close()
    waiting.join(10)
    assert [row["seq"] for row in done[0]] == [4, 5]
    assert done[0][0]["prev_hash"] == holder_rows[-1]["hash"]
    assert twin.verify() is None


def test_two_writers_as_two_processes_stay_in_order_and_the_chain_verifies(
    twin: ChainedLog, engine: Engine
) -> None:
    """Two engines, each with its own pool (as two processes), appending at once."""
    other = create_engine(engine.url, pool_size=2, **POSTGRES_SYNC)
    writers = [twin, ChainedLog(other, twin.table)]
    errors: list[BaseException] = []

    def write(chain: ChainedLog, who: int) -> None:
        try:
            for batch in range(25):
                chain.append(contents(who * 100 + batch, 1 + batch % 4))
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(c, n)) for n, c in enumerate(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    other.dispose()
    assert errors == []
    with engine.connect() as conn:
        seqs = list(conn.execute(text("SELECT seq FROM access_log_twin ORDER BY seq")).scalars())
    assert seqs == list(range(1, 2 * sum(1 + b % 4 for b in range(25)) + 1))
    assert twin.verify() is None


def test_a_watched_engine_appends_through_sqlalchemy(twin: ChainedLog, engine: Engine) -> None:
    """Tracing's spans follow the statements: they see each one, as before."""
    seen: list[str] = []

    def follow(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", follow)
    try:
        assert twin._watched()
        twin.append(contents(0, 2))
    finally:
        event.remove(engine, "before_cursor_execute", follow)
    assert [s.split()[0] for s in seen] == ["SELECT", "SELECT", "INSERT"]
    assert twin.verify() is None


def test_after_the_pools_connections_are_lost_the_ping_replaces_them(
    twin: ChainedLog, engine: Engine
) -> None:
    """As after a database restart: the pool's ping finds the connection gone and opens
    another; the append is served."""
    twin.append(contents(0, 1))
    with engine.connect() as conn:
        conn.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    assert [row["seq"] for row in twin.append(contents(1, 2))] == [2, 3]
    assert twin.verify() is None
