"""The projection runner: follows the event log and applies it to the read models, one page per
read-model transaction together with the tracked position, so each event counts exactly once.

Works on both backends: it reads the notification log in pages and, when idle, waits for a
wake-up (an in-process signal after an append, LISTEN/NOTIFY on PostgreSQL) or a poll timeout.
It resumes from the tracked position after a restart and stops loudly on an error."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import psycopg
from eventsourcing.persistence import InterfaceError as StoreInterfaceError
from eventsourcing.persistence import Mapper, Notification
from eventsourcing.persistence import OperationalError as StoreOperationalError
from sqlalchemy import Connection, Engine, delete, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import OperationalError as ReadStoreOperationalError

from projections.tables import projection_tracking

log = logging.getLogger(__name__)
# The database is down or restarting, or dropped the connection: wait and try the page again.
# psycopg's own OperationalError is the store pool's timeout, which the store lets through.
TRANSIENT_ERRORS = (
    StoreOperationalError,
    StoreInterfaceError,
    ReadStoreOperationalError,
    psycopg.OperationalError,
)


def transient(error: BaseException) -> bool:
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True  # a lost connection SQLAlchemy reports as another kind of error
    return isinstance(error, TRANSIENT_ERRORS)


# Pages for a rebuild or a replay: each page has a fixed cost, and nothing waits on them.
BULK_PAGE_SIZE = 5000


class Log(Protocol):
    """The event log in position order (an eventsourcing ApplicationRecorder is one)."""

    def select_notifications(
        self, start: int | None, limit: int, stop: int | None = None, *, inclusive_of_start: bool
    ) -> Sequence[Notification]: ...


class Projector(Protocol):
    name: str
    tables: Sequence[Any]

    def apply(self, conn: Connection, events: Sequence[tuple[int, Any]]) -> None: ...


class ProjectionFailed(RuntimeError):
    """A projector raised on an event: the read models stop where they were, consistent."""


class ProjectionRunner:
    def __init__(
        self,
        recorder: Log,
        mapper: Mapper,
        engine: Engine,
        projectors: Sequence[Projector],
        *,
        name: str = "read_models",
        page_size: int = 1000,
        poll_seconds: float = 0.5,
        wait_for_notify: Callable[[threading.Event, threading.Event], None] | None = None,
    ):
        self.recorder = recorder
        self.mapper = mapper
        self.engine = engine
        self.projectors = list(projectors)
        self.name = name
        self.page_size = page_size
        self.poll_seconds = poll_seconds
        self.wait_for_notify = wait_for_notify
        self.failure: BaseException | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._listener: threading.Thread | None = None

    # Position ---------------------------------------------------------------------------
    def position(self) -> int:
        with self.engine.connect() as conn:
            found = conn.execute(self._tracked()).scalar()
            return int(found or 0)

    def _tracked(self):
        return select(projection_tracking.c.position).where(projection_tracking.c.name == self.name)

    def _locked_position(self, conn: Connection) -> int:
        """The tracked position, locked for this page's transaction, so that a second runner
        waits instead of applying the same page again (SQLite: BEGIN IMMEDIATE does that)."""
        insert = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
        conn.execute(
            insert(projection_tracking)
            .values(name=self.name, position=0, updated_at=datetime.now(UTC))
            .on_conflict_do_nothing(index_elements=["name"])
        )
        query = self._tracked()
        if conn.dialect.name == "postgresql":
            query = query.with_for_update()
        return int(conn.execute(query).scalar_one())

    # Work -------------------------------------------------------------------------------
    def process_next_page(self, stop: int | None = None, page_size: int | None = None) -> int:
        """Apply the next page of events (up to position `stop`, if given); returns how many
        were applied (0: caught up)."""
        with self.engine.begin() as conn:
            position = self._locked_position(conn)
            notifications = self.recorder.select_notifications(
                start=position,
                limit=page_size or self.page_size,
                stop=stop,
                inclusive_of_start=False,
            )
            if not notifications:
                return 0
            events = [(n.id, self.mapper.to_domain_event(n)) for n in notifications]
            for projector in self.projectors:
                try:
                    projector.apply(conn, events)
                except Exception as error:
                    if transient(error):
                        raise
                    raise ProjectionFailed(
                        f"projector {projector.name} failed on the page of positions "
                        f"{events[0][0]}..{events[-1][0]}: {error!r}"
                    ) from error
            conn.execute(
                update(projection_tracking)
                .where(projection_tracking.c.name == self.name)
                .values(position=events[-1][0], updated_at=datetime.now(UTC))
            )
            return len(events)

    def catch_up(
        self, on_page: Callable[[int], None] | None = None, page_size: int | None = None
    ) -> int:
        """Apply everything there is now; returns the number of events applied."""
        total = 0
        while applied := self.process_next_page(page_size=page_size):
            total += applied
            if on_page:
                on_page(total)
        return total

    def rebuild(
        self, on_page: Callable[[int], None] | None = None, page_size: int | None = None
    ) -> int:
        """Drop every read-model row and the tracked position, then replay the whole log
        (in pages of `page_size`: larger ones suit a rebuild, which no query waits on)."""
        with self.engine.begin() as conn:
            for projector in self.projectors:
                for table in reversed(list(projector.tables)):
                    conn.execute(delete(table))
            conn.execute(delete(projection_tracking).where(projection_tracking.c.name == self.name))
        return self.catch_up(on_page, page_size)

    # Following the log ------------------------------------------------------------------
    def wake(self, position: int | None = None) -> None:
        self._wake.set()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._follow, name=f"projections-{self.name}", daemon=True
        )
        self._thread.start()
        if self.wait_for_notify is not None:
            self._listener = threading.Thread(
                target=self._listen, name=f"projections-{self.name}-listen", daemon=True
            )
            self._listener.start()

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        self._wake.set()
        for thread in (self._thread, self._listener):
            if thread is not None:
                thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run_forever(self) -> None:
        """For a separate worker process: follow the log until stopped or failed."""
        self.start()
        assert self._thread is not None
        while self._thread.is_alive():
            self._thread.join(0.5)
        if self.failure is not None:
            raise self.failure

    def _follow(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            try:
                applied = self.process_next_page()
            except BaseException as error:
                if not transient(error):
                    self.failure = error
                    log.critical("projection runner stopped: %s", error, exc_info=error)
                    return
                log.warning(
                    "projection runner: database unavailable (%s); retrying in %.1fs",
                    error,
                    backoff,
                )
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.1
            if applied == 0:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                assert self.wait_for_notify is not None
                self.wait_for_notify(self._wake, self._stop)
            except Exception as error:  # the poll timeout still covers us; say so and retry
                if not self._stop.is_set():
                    log.warning("projection runner: LISTEN failed (%s); polling meanwhile", error)
                self._stop.wait(1)


def postgres_notify_waiter(conninfo: str, channel: str):
    """LISTEN on the event table's channel (the store NOTIFYs on every insert) and wake the
    runner on each notification; looks up every quarter second to see whether it should stop."""
    import psycopg

    def wait(wake: threading.Event, stop: threading.Event) -> None:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'LISTEN "{channel}"')
            while not stop.is_set():
                for _ in conn.notifies(timeout=0.25):
                    wake.set()

    return wait
