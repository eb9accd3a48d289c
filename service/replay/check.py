"""Replay verification: rebuild every read model from the event log into a scratch database and
compare it with the live one, field by field. It reads the live tables and writes elsewhere, so
queries are never blocked.

The steps: copy the live read models into the scratch database together with the log position
they reflect (one short read-only snapshot); replay the log up to that position with the live
runner's own projectors, in large pages; let the database find the rows that differ; name each
differing field in Python. A live runner moving on meanwhile changes nothing: both sides stand
at the same position."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any, Protocol

from sqlalchemy import (
    JSON,
    Column,
    Engine,
    MetaData,
    Table,
    Text,
    and_,
    case,
    cast,
    false,
    func,
    make_url,
    or_,
    select,
    text,
    tuple_,
)
from sqlalchemy.dialects.postgresql import JSONB

from projections.runner import BULK_PAGE_SIZE, ProjectionFailed, ProjectionRunner
from projections.tables import READ_MODEL_TABLES, projection_skips, projection_tracking
from service.settings import Settings
from service.store.database import Database
from service.store.ledger import CreditLedger
from service.store.migrations import upgrade
from service.store.read_store import sync_engine

SUBJECT_KEYS = {
    "subjects": "subject_id",
    "records": "subject_id",
    "cases": "subject_id",
    "record_revisions": "subject_id",
    "subject_versions": "subject_id",
    "report_records": "subject_id",
    "report_record_sectors": "subject_id",
    "changes": "subject_id",
    "told_statuses": "subject_id",
}
KEPT_DIFFERENCES = 1000  # a report names this many; it counts them all
SUSPECTS_PER_QUERY = 500
COPY_CHUNK_BYTES = 128 * 1024

Progress = Callable[[int, int], None]  # (events replayed, events to replay)


class LiveService(Protocol):
    """What a replay reads of the running service (the composition root's `Services`)."""

    settings: Settings
    database: Database
    ledger: CreditLedger
    runner: ProjectionRunner
    write_engine: Engine


@dataclass(frozen=True)
class Difference:
    table: str
    key: str  # the row's primary key
    subject_id: str | None
    field: str
    live: Any
    replayed: Any


@dataclass(frozen=True)
class ReplayReport:
    position: int  # the furthest log position compared (each read model at its own)
    events: int
    rows_compared: int
    differences: list[Difference]  # the first KEPT_DIFFERENCES, by table and key
    difference_count: int
    # Seconds spent preparing the scratch database, copying the live side, replaying, comparing,
    # dropping the scratch database.
    seconds: dict[str, float] = field(default_factory=dict)
    # Each read model's position, where both sides stood (a projector stopped on a failure
    # stands before the event it failed on, on both sides).
    positions: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.difference_count == 0

    @property
    def replay_rate(self) -> float:
        """Events replayed per second of replaying."""
        return self.events / self.seconds["replay"] if self.seconds.get("replay") else 0.0


@contextmanager
def scratch_database(database: Database, name: str | None = None) -> Iterator[Database]:
    """An empty, migrated database of the same kind, removed afterwards (on PostgreSQL named
    `name`, or a random credit_replay_ name)."""
    if database.is_sqlite:
        with TemporaryDirectory(prefix="credit-replay-") as folder:
            scratch = Database.from_url(f"sqlite:///{Path(folder) / 'replay.sqlite3'}")
            upgrade(scratch)
            yield scratch
        return
    import psycopg

    name = name or f"credit_replay_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_admin_conninfo(database), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
        # Thrown away afterwards: no commit needs to wait for its log to reach the disk.
        conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    try:
        scratch = Database.from_url(
            make_url(database.url).set(database=name).render_as_string(hide_password=False)
        )
        upgrade(scratch)
        with psycopg.connect(scratch.conninfo()) as conn:
            _lighten(conn)
        yield scratch
    finally:
        drop_scratch_database(database, name)


def drop_scratch_database(database: Database, name: str) -> None:
    """Drop a scratch database if it is there (also one left by a process that was killed)."""
    if database.is_sqlite:
        return
    import psycopg

    with psycopg.connect(_admin_conninfo(database), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _admin_conninfo(database: Database) -> str:
    return database.conninfo("postgres")


def _lighten(conn) -> None:
    """The scratch read models need no crash safety and no indexes but their keys: skip the
    write-ahead log, and the index upkeep no comparison uses."""
    for table in (*READ_MODEL_TABLES, projection_tracking):
        conn.execute(f"ALTER TABLE {table.name} SET UNLOGGED")
        for index in table.indexes:
            if not index.unique:
                conn.execute(f"DROP INDEX {index.name}")


def verify_read_models(
    services: LiveService,
    on_progress: Progress | None = None,
    *,
    page_size: int = BULK_PAGE_SIZE,
    scratch_name: str | None = None,
) -> ReplayReport:
    """Replay up to the position of a snapshot of the live read models, then compare."""
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(phase: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[phase], clock = now - clock, now

    with scratch_database(services.database, scratch_name) as scratch:
        engine = sync_engine(scratch)
        try:
            lap("scratch")
            positions = _copy_live(services, engine)
            position = max(positions.values(), default=0)
            total = services.ledger.count_events(up_to=position)
            lap("snapshot")
            if on_progress:
                on_progress(0, total)
            runner = ProjectionRunner(
                services.runner.recorder,  # the live runner's reading of the log
                services.ledger.mapper,
                engine,
                services.runner.projectors,  # the live read models' own projectors
                page_size=page_size,
            )
            replayed = 0
            while applied := runner.process_next_page(stops=positions):
                replayed += applied
                if on_progress:
                    on_progress(replayed, total)
            if runner.failures:  # the live side got past these events: a replay must too
                raise ProjectionFailed(list(runner.failures.values()))
            lap("replay")
            compared, differences, count = _compare(engine)
            lap("compare")
        finally:
            engine.dispose()
    lap("cleanup")  # dropping the scratch database
    return ReplayReport(position, replayed, compared, differences, count, seconds, positions)


# The live side ---------------------------------------------------------------------------
def _live_copy(table: Table) -> Table:
    """The scratch database's table for the live rows: the same columns, no indexes."""
    return Table(
        f"live_{table.name}",
        MetaData(),
        *(Column(c.name, c.type, primary_key=c.primary_key) for c in table.columns),
    )


def _copy_live(services: LiveService, scratch: Engine) -> dict[str, int]:
    """Copy the live read models into the scratch database in one read-only snapshot, with
    the tracked position each reflects (MVCC on PostgreSQL, a read transaction on SQLite:
    writers carry on meanwhile)."""
    names = services.runner.names
    if services.database.is_sqlite:
        return _copy_live_sqlite(services.database, scratch, names)
    return _copy_live_postgres(services.write_engine, scratch, names)


def _copy_live_postgres(live: Engine, scratch: Engine, names: list[str]) -> dict[str, int]:
    snapshot = live.connect().execution_options(
        isolation_level="REPEATABLE READ", postgresql_readonly=True
    )
    with snapshot as source, source.begin(), scratch.begin() as target:
        found = dict(
            source.execute(
                select(projection_tracking.c.name, projection_tracking.c.position).where(
                    projection_tracking.c.name.in_(names)
                )
            ).all()
        )
        positions = {name: int(found.get(name) or 0) for name in names}
        reader = source.connection.driver_connection
        writer = target.connection.driver_connection
        assert reader is not None and writer is not None
        quote = target.dialect.identifier_preparer.quote
        # The read models into live_ copies; the operators' skips into the scratch database's
        # own table, so that the replay passes over the same events.
        for table, copy_name in [
            *((t, quote(f"live_{t.name}")) for t in READ_MODEL_TABLES),
            (projection_skips, quote(projection_skips.name)),
        ]:
            columns = ", ".join(quote(c.name) for c in table.columns)
            name = quote(table.name)
            if table is not projection_skips:
                target.exec_driver_sql(f"CREATE UNLOGGED TABLE {copy_name} (LIKE {name})")
            with (
                reader.cursor() as out_cursor,
                writer.cursor() as in_cursor,
                out_cursor.copy(
                    f"COPY (SELECT {columns} FROM {name}) TO STDOUT (FORMAT BINARY)"
                ) as rows_out,
                in_cursor.copy(
                    f"COPY {copy_name} ({columns}) FROM STDIN (FORMAT BINARY)"
                ) as rows_in,
            ):
                # A block per row arrives; sending each alone would cost a round of the
                # driver's wait loop per row.
                buffer = bytearray()
                for block in rows_out:
                    buffer += block
                    if len(buffer) >= COPY_CHUNK_BYTES:
                        rows_in.write(buffer)
                        buffer = bytearray()
                rows_in.write(buffer)
    return positions


def _copy_live_sqlite(live: Database, scratch: Engine, names: list[str]) -> dict[str, int]:
    with scratch.begin() as conn:
        for table in READ_MODEL_TABLES:
            _live_copy(table).create(conn)
    with scratch.connect() as conn:
        # On the driver's connection: ATTACH is refused inside a transaction, and the engine's
        # transactions begin IMMEDIATE, which would take the live file's write lock too. A
        # deferred one only reads the live file, from one snapshot (WAL), blocking no one.
        driver = conn.connection.driver_connection
        assert driver is not None
        driver.execute("ATTACH DATABASE ? AS live", (str(live.sqlite_path().resolve()),))
        try:
            driver.execute("BEGIN DEFERRED")
            found = dict(
                driver.execute(
                    "SELECT name, position FROM live.projection_tracking "
                    f"WHERE name IN ({', '.join('?' * len(names))})",
                    names,
                ).fetchall()
            )
            for table in READ_MODEL_TABLES:
                columns = ", ".join(c.name for c in table.columns)
                driver.execute(
                    f"INSERT INTO live_{table.name} ({columns}) "
                    f"SELECT {columns} FROM live.{table.name}"
                )
            # The operators' skips, so that the replay passes over the same events.
            columns = ", ".join(c.name for c in projection_skips.columns)
            driver.execute(
                f"INSERT INTO main.projection_skips ({columns}) "
                f"SELECT {columns} FROM live.projection_skips"
            )
            driver.execute("COMMIT")
        except BaseException:
            if driver.in_transaction:
                driver.execute("ROLLBACK")
            raise
        finally:
            driver.execute("DETACH DATABASE live")
    return {name: int(found.get(name) or 0) for name in names}


# Comparing -------------------------------------------------------------------------------
def _compare(engine: Engine) -> tuple[int, list[Difference], int]:
    """Rows compared, the first differences, and how many there are."""
    differences: list[Difference] = []
    count = compared = 0
    with engine.connect() as conn:
        for table in READ_MODEL_TABLES:
            live = _live_copy(table)
            compared += conn.execute(select(func.count()).select_from(live)).scalar_one()
            for keys in _suspect_keys(conn, live, table):
                for difference in _differences(conn, live, table, keys):
                    count += 1
                    if len(differences) < KEPT_DIFFERENCES:
                        differences.append(difference)
    return compared, differences, count


def _suspect_keys(conn, live: Table, replayed: Table) -> Iterator[list[tuple[Any, ...]]]:
    """The primary keys (tuples: some tables have composite keys) of rows the database sees
    differ (present on one side only, or any column distinct), a few hundred at a time,
    streamed. JSON is compared as jsonb on PostgreSQL, as text on SQLite: a row flagged only
    for its JSON's spelling is cleared by the field comparison after."""
    keys = [c.name for c in replayed.primary_key.columns]
    a, b = live.alias("a"), replayed.alias("b")

    def distinct(name: str, is_json: bool):
        left, right = a.c[name], b.c[name]
        if is_json and conn.dialect.name == "postgresql":
            # json has no equality; parsing as jsonb only where the texts differ spares
            # parsing every document twice
            return case(
                (cast(left, Text).is_not_distinct_from(cast(right, Text)), false()),
                else_=cast(left, JSONB).is_distinct_from(cast(right, JSONB)),
            )
        return left.is_distinct_from(right)

    labels = [f"key_{n}" for n in range(len(keys))]
    query = (
        select(
            *(
                func.coalesce(a.c[k], b.c[k]).label(label)
                for k, label in zip(keys, labels, strict=True)
            )
        )
        .select_from(a.join(b, and_(*(a.c[k] == b.c[k] for k in keys)), full=True))
        .where(
            or_(
                a.c[keys[0]].is_(None),
                b.c[keys[0]].is_(None),
                *(
                    distinct(c.name, isinstance(c.type, JSON))
                    for c in replayed.columns
                    if c.name not in keys
                ),
            )
        )
        .order_by(*(text(label) for label in labels))
    )
    streamed = conn.execution_options(yield_per=SUSPECTS_PER_QUERY).execute(query)
    for partition in streamed.partitions():
        yield [tuple(row) for row in partition]


def _differences(
    conn, live: Table, replayed: Table, suspects: list[tuple[Any, ...]]
) -> Iterator[Difference]:
    keys = [c.name for c in replayed.primary_key.columns]

    def rows(table: Table) -> dict[tuple[Any, ...], dict[str, Any]]:
        columns = tuple_(*(table.c[k] for k in keys)) if len(keys) > 1 else table.c[keys[0]]
        wanted = suspects if len(keys) > 1 else [k[0] for k in suspects]
        found = conn.execute(select(table).where(columns.in_(wanted))).mappings()
        return {tuple(row[k] for k in keys): dict(row) for row in found}

    live_rows, replayed_rows = rows(live), rows(replayed)
    subject_key = SUBJECT_KEYS[replayed.name]
    for k in suspects:
        a, b = live_rows.get(k), replayed_rows.get(k)
        subject = str((a or b or {}).get(subject_key))
        shown = "/".join(str(part) for part in k)
        if a is None or b is None:
            yield Difference(
                replayed.name,
                shown,
                subject,
                "(row)",
                "present" if a else "missing",
                "present" if b else "missing",
            )
            continue
        for name in a:
            if _normal(a[name]) != _normal(b[name]):
                yield Difference(replayed.name, shown, subject, name, a[name], b[name])


def _normal(value: Any) -> Any:
    """SQLite hands timestamps back without their zone; compare them as the UTC they are."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
