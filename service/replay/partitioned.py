"""Building a new generation of the read models with several processes (PostgreSQL), one per
subject partition, into the one generation schema: `credit rebuild --partitions N`.

Each process reads the log up to the same position and projects the events of its own
partition's subjects (projections/partitions.py), with the per-subject projectors, each
tracking its position per (projector, partition) in the generation's tracking table. The
projectors that are not per-subject, and those they depend on, are built from the whole log in
one process of their own. Once every process has reached that position, each projector's
position is the lowest its partitions reached (all of them: each read the log to the end),
and the rebuild catches up from there to the head in one process, then switches as it does
when built by one (service/replay/generations.py).

The processes are started afresh (service/spawned.py). Each builds the service's projectors
from the settings, opens one connection to the log and a couple to the generation."""

from __future__ import annotations

import dataclasses
import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, create_engine, func, literal, select, update

from projections.partitions import InPartition, PartitionLog, built_whole, partition_name
from projections.runner import ProjectionFailed, ProjectionRunner, Projector, ProjectorFailure
from projections.tables import projection_skips, projection_tracking
from service.policy.calendars import load_calendar
from service.policy.loader import load_policy
from service.read_models import read_model_projectors
from service.settings import Settings
from service.spawned import SpawnedProcesses
from service.store.database import CONNECT_TIMEOUT_SECONDS, POOL_WAIT_SECONDS, Database
from service.store.ledger import EventLog, open_ledger

# How often the progress is summed while the processes build.
POLL_SECONDS = 0.25
# Allocations between two collections of the youngest generation while a generation is built
# (Python's default is 700): see `few_collections`.
BULK_GC_THRESHOLD = (50_000, 20, 100)


class PartitionBuildFailed(RuntimeError):
    """A building process stopped on an error outside every projector (its traceback is
    logged with the message): the generation is dropped, the live read models stay."""


@dataclass(frozen=True)
class Share:
    """What one process builds: the events of one partition (None: the whole log) for these
    projectors."""

    partition: int | None
    partitions: int
    projectors: tuple[str, ...]

    def tracked(self, name: str) -> str:
        """The tracking row of one of its projectors."""
        if self.partition is None:
            return name
        return partition_name(name, self.partition, self.partitions)


def generation_engine(database: Database, schema: str) -> Engine:
    """Connections that write a PostgreSQL generation's tables."""
    # Unqualified names resolve to the new generation's tables first; what is not there (the
    # event log) to the live schema. Its commits need not wait for the disk: it is made durable
    # (SET LOGGED) before the switch, and dropped if anything fails.
    options = f"-c search_path={schema},public -c synchronous_commit=off"
    return create_engine(
        database.sync_url(),
        pool_size=2,
        max_overflow=2,
        pool_pre_ping=True,
        pool_timeout=POOL_WAIT_SECONDS,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_SECONDS, "options": options},
    )


@contextmanager
def few_collections() -> Iterator[None]:
    """Python's cycle collector, made to run rarely and over the objects made since: a page
    allocates hundreds of thousands of objects, which at the default thresholds set off a
    collection every 700 and a full one over everything the process holds (its policy,
    calendar, caches) every few pages: a third of a build's CPU time, for little garbage (the
    rows are freed by reference counting)."""
    threshold = gc.get_threshold()
    gc.freeze()  # what the process holds before the build: never scanned again during it
    gc.set_threshold(*BULK_GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def shares(projectors: Sequence[Projector], partitions: int) -> list[Share]:
    """One share per partition for the per-subject projectors, and one of the whole log for
    the others (none in the service today: see each projector's `per_subject`)."""
    whole = built_whole(projectors)
    split = tuple(p.name for p in projectors if p.name not in whole)
    found = [Share(k, partitions, split) for k in range(partitions)] if split else []
    if whole:
        found.append(Share(None, partitions, tuple(whole)))
    return found


def build_by_partition(
    settings: Settings,
    engine: Engine,
    schema: str,
    projectors: Sequence[Projector],
    *,
    stop: int,
    partitions: int,
    page_size: int,
    on_progress: Callable[[int], None] | None = None,
) -> int:
    """Build every projector's rows up to position `stop` into the generation `schema` (whose
    tables `engine` writes), in parallel processes; then give each projector the lowest
    position its shares reached. Returns the events applied. Raises ProjectionFailed (a
    projector failed on an event) or PartitionBuildFailed."""
    planned = shares(projectors, partitions)
    _copy_skips(engine, planned)
    building = SpawnedProcesses(
        build_share,
        {
            index: (settings, schema, share, stop, page_size, index)
            for index, share in enumerate(planned)
        },
        counters=len(planned),  # the events each process has applied
        name=lambda index: f"the process building {planned[index]}",
        failed=PartitionBuildFailed,
    )

    def tell_progress() -> None:
        if on_progress is not None:
            on_progress(_events(planned, building.counters))

    with building:
        failures = [
            failure
            for failed in building.wait(POLL_SECONDS, tell_progress).values()
            for failure in failed
        ]
    if failures:
        raise ProjectionFailed(failures)
    _lowest_common_positions(engine, planned)
    return _events(planned, building.counters)


def _events(planned: Sequence[Share], applied: Any) -> int:
    """Events applied by every read model so far: the partitions' sum, no more than the whole
    log's share has applied, if there is one."""
    split = [applied[i] for i, share in enumerate(planned) if share.partition is not None]
    whole = [applied[i] for i, share in enumerate(planned) if share.partition is None]
    if split and whole:
        return min(sum(split), whole[0])
    return sum(split) if split else sum(whole)


def _copy_skips(engine: Engine, planned: Sequence[Share]) -> None:
    """The operators' skips (copied into the generation), under each partition's names too."""
    with engine.begin() as conn:
        for share in planned:
            if share.partition is None:
                continue
            for name in share.projectors:
                columns = [c for c in projection_skips.c if c.name != "projector"]
                conn.execute(
                    projection_skips.insert().from_select(
                        ["projector", *(c.name for c in columns)],
                        select(literal(share.tracked(name)), *columns)
                        .select_from(projection_skips)
                        .where(projection_skips.c.projector == name),
                    )
                )


def _lowest_common_positions(engine: Engine, planned: Sequence[Share]) -> None:
    """Each per-subject projector's own tracking row at the lowest position its partitions
    reached: the final catch-up goes on from there."""
    split = {name for share in planned if share.partition is not None for name in share.projectors}
    with engine.begin() as conn:
        for name in sorted(split):
            rows = [share.tracked(name) for share in planned if share.partition is not None]
            lowest = conn.execute(
                select(func.min(projection_tracking.c.position)).where(
                    projection_tracking.c.name.in_(rows)
                )
            ).scalar_one()
            ProjectionRunner._ensure_row(conn, name)
            conn.execute(
                update(projection_tracking)
                .where(projection_tracking.c.name == name)
                .values(position=lowest or 0)
            )


def build_share(
    applied: Any,
    settings: Settings,
    schema: str,
    share: Share,
    stop: int,
    page_size: int,
    index: int,
) -> list[ProjectorFailure]:
    """One building process: its share of the log up to `stop`, into the generation, counting
    the events it applies in `applied[index]`. The failures of its projectors, under their
    own names."""
    database = Database.from_url(settings.database_url)
    ledger = open_ledger(database, create_tables=False, pool_size=1)
    engine = generation_engine(database, schema)
    try:
        with few_collections():
            return _build(settings, ledger, engine, share, stop, page_size, applied, index)
    finally:
        engine.dispose()
        ledger.close()


def _build(
    settings: Settings,
    ledger: Any,
    engine: Engine,
    share: Share,
    stop: int,
    page_size: int,
    applied: Any,
    index: int,
) -> list[ProjectorFailure]:
    policy = load_policy(settings.policy_file)
    calendar = load_calendar(settings.working_day_schedules)
    every = read_model_projectors(policy, calendar, settings.zone)
    mine: list[Any] = [p for p in every if p.name in share.projectors]
    log: Any = EventLog(ledger.recorder)
    if share.partition is not None:
        mine = [InPartition(p, share.partition, share.partitions) for p in mine]
        log = PartitionLog(log, share.partition, share.partitions)
    runner = ProjectionRunner(log, ledger.mapper, engine, mine, page_size=page_size)
    while moved := runner.process_next_page(stop=stop):
        applied[index] += moved
    if runner.failures:
        plain = {p.name: getattr(p, "plain_name", p.name) for p in mine}
        return [
            dataclasses.replace(failure, projector=plain[failure.projector])
            for failure in runner.failures.values()
        ]
    # It read the log to `stop`: no event of its share lies between its last one and `stop`.
    with engine.begin() as conn:
        for name in runner.names:
            ProjectionRunner._ensure_row(conn, name)
            conn.execute(
                update(projection_tracking)
                .where(projection_tracking.c.name == name, projection_tracking.c.position < stop)
                .values(position=stop)
            )
    return []
