"""Rebuilding the read models without downtime: a new generation of them is built from the log
beside the live one, while queries go on answering from the live one; it is caught up to the
head of the log, switched in atomically, and the old generation dropped.

PostgreSQL: the new generation's tables are built in a schema of their own
(`credit_generation_<id>`), created `LIKE` the live tables (their columns, defaults and keys;
their grants), unlogged and with only their keys while the bulk of the log goes in; then made
durable, given the live tables' other indexes under the same names, and analysed. The switch is
one transaction: it locks the projectors' tracking rows (a live runner's next page waits),
applies the events appended meanwhile to the new generation, moves the live tables into a
`credit_retired_<id>` schema and the new ones into `public`, and records the new generation's
positions on the tracking rows. Queries name their tables without a schema, so from their next
statement on they read the new generation; a statement running at the switch finishes on the
old tables first (the move waits for it, a few milliseconds). The live runner goes on from the
recorded positions, on the new tables. The retired schema is dropped after the commit.

SQLite: a file has no schemas to move tables between, and one writer at a time. The new
generation is built in a scratch file beside the live one, then copied over the live tables in
one write transaction: readers go on reading the old rows (WAL) until it commits; writers
(appends too) wait for it, which takes seconds for a large store."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, Table, select, update

from projections.runner import BULK_PAGE_SIZE, ProjectionFailed, ProjectionRunner
from projections.tables import READ_MODEL_TABLES, projection_skips, projection_tracking
from service.replay.check import (
    KEPT_DIFFERENCES,
    Difference,
    LiveService,
    _differences,
    _suspect_keys,
    scratch_database,
)
from service.replay.partitioned import build_by_partition, few_collections, generation_engine
from service.store.read_store import snapshot_engine, sync_engine

GENERATION_PREFIX = "credit_generation_"
RETIRED_PREFIX = "credit_retired_"
# The switch waits this long for a table's lock at a time, then lets the queries that wait on
# it go first and tries again: a query never waits on the switch for more than this, and never
# deadlocks with it.
SWITCH_LOCK_TIMEOUT_MS = 200
SWITCH_ATTEMPTS = 100
# Events left to apply before the switch takes its locks: the rest are applied under them.
SWITCH_LAG = BULK_PAGE_SIZE

Progress = Callable[[int, int], None]  # (events applied, events to apply)


@dataclass(frozen=True)
class RebuildReport:
    events: int  # applied to the new generation
    positions: dict[str, int]  # each read model's position when switched in
    seconds: dict[str, float] = field(default_factory=dict)  # per phase
    # Differences between the old and the new generation at the switch (when compared).
    differences: list[Difference] = field(default_factory=list)
    difference_count: int = 0
    compared: bool = False

    @property
    def rate(self) -> float:
        """Events applied per second of building (the bulk and the catching up)."""
        building = sum(self.seconds.get(p, 0.0) for p in ("build", "catch-up", "switch"))
        return self.events / building if building else 0.0


def rebuild_beside(
    services: LiveService,
    on_progress: Progress | None = None,
    *,
    page_size: int = BULK_PAGE_SIZE,
    compare: bool = False,
    partitions: int = 1,
) -> RebuildReport:
    """Build a new generation of every read model from the log, switch it in, drop the old one.
    With `compare`, the two generations are compared at the switch, where both stand at the
    same positions (the live runner waits meanwhile). A projector that fails on an event stops
    the rebuild: the new generation is dropped and the live one stays as it was. With
    `partitions` above 1 (PostgreSQL; SQLite builds in one process), the bulk of the log is
    built by that many processes, one per subject partition (service/replay/partitioned.py),
    each with the service's own projectors as the settings make them; the catching up and the
    switch are the same."""
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(phase: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[phase], clock = now - clock, now

    kind = _SqliteGeneration if services.database.is_sqlite else _PostgresGeneration
    with kind(services) as generation, few_collections():
        lap("prepare")
        runner = ProjectionRunner(
            services.runner.recorder,
            services.ledger.mapper,
            generation.engine,
            services.runner.projectors,
            page_size=page_size,
        )
        head = services.ledger.recorder.max_notification_id() or 0
        total = services.ledger.count_events(up_to=head)
        applied = 0
        if on_progress:
            on_progress(0, total)

        def catch_up(stop: int | None = None) -> None:
            nonlocal applied, total
            while moved := runner.process_next_page(stop=stop):
                applied += moved
                total = max(total, applied)
                if on_progress:
                    on_progress(applied, total)
            if runner.failures:
                raise ProjectionFailed(list(runner.failures.values()))

        if partitions > 1 and isinstance(generation, _PostgresGeneration):

            def built(done: int) -> None:
                if on_progress:
                    on_progress(done, total)

            applied = build_by_partition(
                services.settings,
                generation.engine,
                generation.schema,
                services.runner.projectors,
                stop=head,
                partitions=partitions,
                page_size=page_size,
                on_progress=built,
            )
        catch_up()
        lap("build")
        generation.finish()
        lap("index")
        while True:  # what was appended meanwhile, until little is left for the switch
            head = services.ledger.recorder.max_notification_id() or 0
            if head - runner.position() <= SWITCH_LAG:
                break
            total = max(total, services.ledger.count_events(up_to=head))
            catch_up(head)
        lap("catch-up")
        compared: list[tuple[list[Difference], int]] = []

        def last_events(conn: Connection) -> dict[str, int]:
            catch_up(services.ledger.recorder.max_notification_id() or 0)
            if compare:
                compared.append(generation.compare())
            return runner.positions()

        positions = generation.switch(last_events)
        lap("switch")
    lap("drop")
    differences, count = compared[0] if compared else ([], 0)
    if on_progress:
        on_progress(applied, applied)
    return RebuildReport(applied, positions, seconds, differences, count, compare)


def _lock_tracking(conn: Connection, names: list[str]) -> None:
    """Lock the projectors' tracking rows: a live runner's next page waits for the switch."""
    for name in names:
        ProjectionRunner._ensure_row(conn, name)
    # In the names' order, as a runner locks them: two lockers of several rows, one order.
    query = (
        select(projection_tracking.c.name)
        .where(projection_tracking.c.name.in_(names))
        .order_by(projection_tracking.c.name)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    conn.execute(query).all()


def _record_positions(conn: Connection, positions: dict[str, int]) -> None:
    """The new generation's positions on the live tracking rows; any recorded failure is gone
    with the old generation (the new one got past it, or the rebuild would have stopped)."""
    for name, position in positions.items():
        conn.execute(
            update(projection_tracking)
            .where(projection_tracking.c.name == name)
            .values(
                position=position,
                failed_position=None,
                failed_event_type=None,
                failure=None,
                failed_at=None,
            )
        )


def generation_tables(projectors: Sequence[Any]) -> tuple[Table, ...]:
    """The tables a generation rebuilds: every read model, and any other table a projector
    writes (the notices, derived from the log and the access log), after them."""
    written = (table for projector in projectors for table in projector.tables)
    return (*READ_MODEL_TABLES, *dict.fromkeys(t for t in written if t not in READ_MODEL_TABLES))


def read_beside_the_log(services: LiveService) -> tuple[Table, ...]:
    """The tables projectors read that are not the log and not their own (`reads`)."""
    read = (
        table
        for projector in services.runner.projectors
        for table in getattr(projector, "reads", ())
    )
    return tuple(dict.fromkeys(read))


def _compare_tables(
    conn: Connection, schema: str, tables: Sequence[Table]
) -> tuple[list[Difference], int]:
    """The live tables against the same tables in `schema`, with the replay check's
    comparison: the first differences and how many."""
    differences: list[Difference] = []
    count = 0
    for table in tables:
        built = table.to_metadata(MetaData(), schema=schema)
        for keys in _suspect_keys(conn, table, built):
            for difference in _differences(conn, table, built, keys):
                count += 1
                if len(differences) < KEPT_DIFFERENCES:
                    differences.append(difference)
    return differences, count


class _PostgresGeneration:
    def __init__(self, services: LiveService):
        self.services = services
        self.tables = generation_tables(services.runner.projectors)
        self.live = services.write_engine
        suffix = uuid.uuid4().hex[:10]
        self.schema = f"{GENERATION_PREFIX}{suffix}"
        self.retired = f"{RETIRED_PREFIX}{suffix}"
        self.engine: Engine

    def __enter__(self) -> _PostgresGeneration:
        try:
            self._create()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _create(self) -> None:
        with self.live.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{self.schema}"')
            for table in self.tables:
                self._create_like(conn, table.name, unlogged=True)
                for name, definition in _keys(conn, table.name):
                    conn.exec_driver_sql(
                        f'ALTER TABLE "{self.schema}".{table.name} '
                        f'ADD CONSTRAINT "{name}" {definition}'
                    )
                for _name, definition, unique in _indexes(conn, table.name):
                    if unique:  # upholds the rows' identity while they go in
                        conn.exec_driver_sql(self._moved(definition, table.name))
            # Its own positions (and the operators' skips, passed over again).
            for table in (projection_tracking, projection_skips):
                self._create_like(conn, table.name, unlogged=True, keys=True)
            conn.exec_driver_sql(
                f'INSERT INTO "{self.schema}".{projection_skips.name} '
                f"SELECT * FROM public.{projection_skips.name}"
            )
        self.engine = generation_engine(self.services.database, self.schema)

    def _create_like(
        self, conn: Connection, name: str, *, unlogged: bool, keys: bool = False
    ) -> None:
        conn.exec_driver_sql(
            f'CREATE {"UNLOGGED " if unlogged else ""}TABLE "{self.schema}".{name} '
            f"(LIKE public.{name} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED "
            f"INCLUDING IDENTITY INCLUDING STORAGE INCLUDING COMMENTS"
            f"{' INCLUDING INDEXES' if keys else ''})"
        )
        for grant in _grants(conn, name):
            conn.exec_driver_sql(grant.format(table=f'"{self.schema}".{name}'))

    def _moved(self, definition: str, table: str) -> str:
        """An index's definition on the live table, for the same table in the generation."""
        return re.sub(
            rf" ON (ONLY )?public\.{table} ",
            f' ON "{self.schema}".{table} ',
            definition,
            count=1,
        )

    def finish(self) -> None:
        """Make the new generation durable, give it the live tables' other indexes, under their
        names, and its planner statistics."""
        with self.live.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for table in self.tables:
                conn.exec_driver_sql(f'ALTER TABLE "{self.schema}".{table.name} SET LOGGED')
                for _name, definition, unique in _indexes(conn, table.name):
                    if not unique:
                        conn.exec_driver_sql(self._moved(definition, table.name))
                conn.exec_driver_sql(f'ANALYZE "{self.schema}".{table.name}')

    def compare(self) -> tuple[list[Difference], int]:
        # Another connection: both generations stand still while the switch holds the
        # tracking rows, and its streaming read must not change the switch's connection.
        with self.live.connect() as conn:
            return _compare_tables(conn, self.schema, self.tables)

    def switch(self, last_events: Callable[[Connection], dict[str, int]]) -> dict[str, int]:
        names = self.services.runner.names
        with self.live.begin() as conn:
            _lock_tracking(conn, names)
            positions = last_events(conn)
            conn.exec_driver_sql(f'CREATE SCHEMA "{self.retired}"')
            self._lock_live_tables(conn)
            for table in self.tables:
                conn.exec_driver_sql(f'ALTER TABLE public.{table.name} SET SCHEMA "{self.retired}"')
                conn.exec_driver_sql(f'ALTER TABLE "{self.schema}".{table.name} SET SCHEMA public')
            _record_positions(conn, positions)
        return positions

    def _lock_live_tables(self, conn: Connection) -> None:
        """Every live read-model table, exclusively; a try that waits too long gives way to
        the queries queued behind it and tries again."""
        names = ", ".join(f"public.{t.name}" for t in self.tables)
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{SWITCH_LOCK_TIMEOUT_MS}ms'")
        for attempt in range(SWITCH_ATTEMPTS):
            savepoint = conn.begin_nested()
            try:
                conn.exec_driver_sql(f"LOCK TABLE {names} IN ACCESS EXCLUSIVE MODE")
            except Exception as error:
                savepoint.rollback()
                if "lock timeout" not in str(error) or attempt == SWITCH_ATTEMPTS - 1:
                    raise
                time.sleep(0.05)
                continue
            savepoint.commit()
            break
        conn.exec_driver_sql("SET LOCAL lock_timeout = 0")

    def __exit__(self, *exc: object) -> None:
        if hasattr(self, "engine"):
            self.engine.dispose()
        with self.live.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for schema in (self.schema, self.retired):
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _keys(conn: Connection, table: str) -> list[tuple[str, str]]:
    """The live table's primary key and unique constraints: name and definition."""
    return [
        (name, definition)
        for name, definition in conn.exec_driver_sql(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %(table)s::regclass AND contype IN ('p', 'u') ORDER BY conname",
            {"table": f"public.{table}"},
        )
    ]


def _indexes(conn: Connection, table: str) -> list[tuple[str, str, bool]]:
    """The live table's indexes that are no constraint's: name, definition, unique."""
    return [
        (name, definition, unique)
        for name, definition, unique in conn.exec_driver_sql(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid), i.indisunique FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = %(table)s::regclass "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid) "
            "ORDER BY c.relname",
            {"table": f"public.{table}"},
        )
    ]


def _grants(conn: Connection, table: str) -> list[str]:
    """GRANT statements giving the live table's privileges (but its owner's) to the same
    roles, with `{table}` left for the table they are to be given on."""
    rows = conn.exec_driver_sql(
        "SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END, "
        "string_agg(a.privilege_type, ', ') FROM pg_class c "
        "CROSS JOIN LATERAL aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee "
        "WHERE c.oid = %(table)s::regclass AND a.grantee <> c.relowner GROUP BY 1 ORDER BY 1",
        {"table": f"public.{table}"},
    )
    return [f"GRANT {privileges} ON {{table}} TO {grantee}" for grantee, privileges in rows]


class _SqliteGeneration:
    def __init__(self, services: LiveService):
        self.services = services
        self.tables = generation_tables(services.runner.projectors)
        self.engine: Engine
        self._stack = ExitStack()

    def __enter__(self) -> _SqliteGeneration:
        scratch = self._stack.enter_context(scratch_database(self.services.database))
        self.path = scratch.sqlite_path()
        self.engine = sync_engine(scratch)
        self._stack.callback(self.engine.dispose)
        with self.engine.connect() as conn:
            driver = conn.connection.driver_connection
            assert driver is not None
            # On the driver's connection: ATTACH is refused inside a transaction, and a
            # deferred one only reads the live file (WAL), blocking no one.
            live = str(self.services.database.sqlite_path().resolve())
            driver.execute("ATTACH DATABASE ? AS live", (live,))
            try:
                driver.execute("BEGIN DEFERRED")
                # The operators' skips, and what a projector reads beside the log (the access
                # log the notices come from): the scratch file has their tables, empty.
                for table in (projection_skips, *read_beside_the_log(self.services)):
                    columns = ", ".join(c.name for c in table.columns)
                    driver.execute(
                        f"INSERT INTO main.{table.name} ({columns}) "
                        f"SELECT {columns} FROM live.{table.name}"
                    )
                driver.execute("COMMIT")
            finally:
                driver.execute("DETACH DATABASE live")
        return self

    def finish(self) -> None:
        """Nothing to do: the scratch file has the live file's indexes from its migrations."""

    def compare(self) -> tuple[list[Difference], int]:
        # A reader beside the switch, which holds the write lock: a deferred transaction.
        reader = snapshot_engine(self.services.database)
        try:
            with reader.connect() as conn:
                driver = conn.connection.driver_connection
                assert driver is not None
                driver.execute("ATTACH DATABASE ? AS generation", (str(self.path),))
                try:
                    return _compare_tables(conn, "generation", self.tables)
                finally:
                    conn.rollback()
                    driver.execute("DETACH DATABASE generation")
        finally:
            reader.dispose()

    def switch(self, last_events: Callable[[Connection], dict[str, int]]) -> dict[str, int]:
        names = self.services.runner.names
        # A deferred transaction, whose first statement takes the live file's write lock: a
        # BEGIN IMMEDIATE would take the attached scratch file's too, and the last events could
        # not be written to it.
        switching = snapshot_engine(self.services.database)
        with switching.connect() as conn:
            driver = conn.connection.driver_connection
            assert driver is not None
            # Outside a transaction: SQLite refuses ATTACH inside one.
            driver.execute("ATTACH DATABASE ? AS generation", (str(self.path),))
            try:
                with conn.begin():
                    conn.execute(  # a write first: the live runner's next page waits
                        update(projection_tracking)
                        .where(projection_tracking.c.name.in_(names))
                        .values(position=projection_tracking.c.position)
                    )
                    _lock_tracking(conn, names)
                    positions = last_events(conn)
                    for table in reversed(self.tables):
                        conn.exec_driver_sql(f"DELETE FROM main.{table.name}")
                    for table in self.tables:
                        columns = ", ".join(c.name for c in table.columns)
                        conn.exec_driver_sql(
                            f"INSERT INTO main.{table.name} ({columns}) "
                            f"SELECT {columns} FROM generation.{table.name}"
                        )
                    _record_positions(conn, positions)
            finally:
                driver.execute("DETACH DATABASE generation")
        switching.dispose()
        return positions

    def __exit__(self, *exc: object) -> None:
        self._stack.close()
