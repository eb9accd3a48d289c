"""The projection runner: follows the event log and applies it to the read models. Each projector
tracks its own position, advanced in the same transaction as its rows, so each event counts once
per read model, and a projector that fails stops alone: the others go on projecting.

Works on both backends: it reads the notification log in pages and, when idle, waits for a
wake-up (an in-process signal after an append, LISTEN/NOTIFY on PostgreSQL) or a poll timeout.
It resumes from the tracked positions after a restart. A projector that raises on an event is
stopped at the event before it, loudly: the event's position, type and the error are recorded on
its tracking row (what `/health` shows) until it is resumed, or the event skipped with a reason
(`credit projections resume|skip`)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

import psycopg
from eventsourcing.persistence import InterfaceError as StoreInterfaceError
from eventsourcing.persistence import Mapper, Notification
from eventsourcing.persistence import OperationalError as StoreOperationalError
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    bindparam,
    case,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import OperationalError as ReadStoreOperationalError

from projections.tables import projection_skips, projection_tracking

log = logging.getLogger(__name__)
# The database is down or restarting, or dropped the connection: wait and try the page again.
# psycopg's own OperationalError is the store pool's timeout, which the store lets through.
TRANSIENT_ERRORS = (
    StoreOperationalError,
    StoreInterfaceError,
    ReadStoreOperationalError,
    psycopg.OperationalError,
)

# The tracking row's statements, built once: a page sends them for every projector, and building
# a statement anew each time cost a page more CPU than sending it.
_TRACKED = projection_tracking.c
# In the names' order, so that two transactions locking several rows (another runner, the switch
# to a rebuilt generation) take them in the same order and cannot deadlock.
_POSITIONS = (
    select(_TRACKED.name, _TRACKED.position)
    .where(_TRACKED.name.in_(bindparam("tracked", expanding=True)))
    .order_by(_TRACKED.name)
)
_LOCKED_POSITIONS = _POSITIONS.with_for_update()
_STATES = select(projection_tracking).where(_TRACKED.name.in_(bindparam("tracked", expanding=True)))
_SKIPPED = select(projection_skips.c.projector, projection_skips.c.position).where(
    projection_skips.c.projector.in_(bindparam("tracked", expanding=True))
)


def _cleared(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """A failure recorded at or before the new position is gone (the event was applied or
    skipped)."""
    return case((_TRACKED.failed_position <= bindparam("reached"), None), else_=column)


_ADVANCE = (
    update(projection_tracking)
    .where(_TRACKED.name == bindparam("tracked"))
    .values(
        position=bindparam("reached"),
        updated_at=bindparam("now"),
        failed_position=_cleared(_TRACKED.failed_position),
        failed_event_type=_cleared(_TRACKED.failed_event_type),
        failure=_cleared(_TRACKED.failure),
        failed_at=_cleared(_TRACKED.failed_at),
    )
)


def _cap(
    projector: Any,
    limit: int | None,
    stops: Mapping[str, int] | None,
    reached: Mapping[str, int],
) -> int | None:
    """The last position this page may take the projector to: the page's limit, its own
    stop, and the positions the read models it depends on have reached."""
    cap = limit
    if stops is not None:
        cap = min(stops.get(projector.name, 0), cap if cap is not None else 2**63)
    for dependency in getattr(projector, "depends_on", ()):
        if dependency in reached:
            cap = reached[dependency] if cap is None else min(cap, reached[dependency])
    return cap


def _after(
    events: Sequence[tuple[int, Any]], position: int, cap: int | None
) -> list[tuple[int, Any]]:
    """The page's events past a projector's position, up to its cap."""
    return [(p, e) for p, e in events if p > position and (cap is None or p <= cap)]


def _applied(projector: Any, conn: Connection, events: Sequence[tuple[int, Any]]) -> None:
    """The projector applies the events; its refusal (anything but a lost database) is raised
    as `_PageRefused`."""
    try:
        projector.apply(conn, events)
    except Exception as error:
        if transient(error):
            raise
        raise _PageRefused(error) from error


def transient(error: BaseException) -> bool:
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True  # a lost connection SQLAlchemy reports as another kind of error
    return isinstance(error, TRANSIENT_ERRORS)


# Pages for a rebuild or a replay: each page has a fixed cost, and nothing waits on them.
BULK_PAGE_SIZE = 5000
# A failure as `/health` shows it, which anyone may read: the error's class and the first line
# of the driver's message, never the statement or its parameters (the log has those).
FAILURE_TEXT_CHARS = 300


class Log(Protocol):
    """The event log in position order (an eventsourcing ApplicationRecorder is one)."""

    def select_notifications(
        self, start: int | None, limit: int, stop: int | None = None, *, inclusive_of_start: bool
    ) -> Sequence[Notification]: ...


class Projector(Protocol):
    """Applies pages of events to its tables. `depends_on` (optional) names projectors whose
    tables it reads: it never gets ahead of them. `per_subject` (optional, false if absent)
    says that each subject's rows follow from that subject's events alone, so a rebuild may
    build it by subject partition (projections/partitions.py). `committed_first` (optional,
    false if absent): a page is committed for it (and the others so marked) before the other
    read models, whose work it then need not wait for: the read models most reads wait on."""

    name: str

    @property
    def tables(self) -> Sequence[Any]: ...  # read-only, so a tuple class attribute fits

    def apply(self, conn: Connection, events: Sequence[tuple[int, Any]]) -> None: ...


@dataclass(frozen=True)
class ProjectorFailure:
    """The event a projector could not apply; its read model stands at the event before."""

    projector: str
    position: int
    event_type: str
    error: str
    at: datetime


@dataclass(frozen=True)
class Skip:
    projector: str
    position: int
    event_type: str
    reason: str
    skipped_by: str
    at: datetime


@dataclass(frozen=True)
class ProjectorState:
    name: str
    position: int
    failure: ProjectorFailure | None


class ProjectionFailed(RuntimeError):
    """One or more projectors raised on an event: each stopped at the event before it."""

    def __init__(self, failures: Sequence[ProjectorFailure]):
        self.failures = list(failures)
        super().__init__(
            "; ".join(
                f"projector {f.projector} failed on position {f.position} ({f.event_type}): "
                f"{f.error}"
                for f in self.failures
            )
        )


def failure_text(error: BaseException) -> str:
    """One line about an error, without SQL or bound parameters: a driver error's own first
    line (e.g. `IntegrityError: UNIQUE constraint failed: cases.case_number`)."""
    shown = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    lines = str(shown).strip().splitlines()
    text = f"{type(shown).__name__}: {lines[0] if lines else ''}".rstrip(": ")
    return text[:FAILURE_TEXT_CHARS]


class _PageRefused(Exception):
    """A projector raised on a page: its transaction is rolled back."""

    def __init__(self, error: BaseException):
        self.error = error


def _event_type(event: Any) -> str:
    return type(event).__name__


class ProjectionRunner:
    def __init__(
        self,
        recorder: Log,
        mapper: Mapper[UUID],
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
        self.name = name  # of the runner's threads only: each projector tracks its own position
        self.page_size = page_size
        self.poll_seconds = poll_seconds
        self.wait_for_notify = wait_for_notify
        # Failures this runner met, in force until resumed (the tracking row's failure
        # cleared) or until a restart, which tries the event again.
        self.failures: dict[str, ProjectorFailure] = {}
        self.crash: BaseException | None = None  # an error outside any projector stopped it
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._listener: threading.Thread | None = None

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.projectors]

    @property
    def failure(self) -> BaseException | None:
        """What stopped this runner, or the projectors it holds stopped; None if all run."""
        if self.crash is not None:
            return self.crash
        return ProjectionFailed(list(self.failures.values())) if self.failures else None

    # Positions ---------------------------------------------------------------------------
    def states(self) -> dict[str, ProjectorState]:
        """Each projector's tracked position and recorded failure, as stored."""
        with self.engine.connect() as conn:
            return self._states(conn)

    def _states(self, conn: Connection) -> dict[str, ProjectorState]:
        rows = conn.execute(_STATES, {"tracked": self.names}).mappings()
        found = {row["name"]: row for row in rows}
        states = {}
        for name in self.names:
            row = found.get(name)
            failure = None
            if row is not None and row["failed_position"] is not None:
                failure = ProjectorFailure(
                    name,
                    int(row["failed_position"]),
                    row["failed_event_type"] or "",
                    row["failure"] or "",
                    row["failed_at"],
                )
            states[name] = ProjectorState(name, int(row["position"]) if row else 0, failure)
        return states

    def positions(self) -> dict[str, int]:
        return {name: state.position for name, state in self.states().items()}

    def position(self, name: str | None = None) -> int:
        """A projector's tracked position; without a name, the lowest: every read model has
        reached it."""
        positions = self.positions()
        if name is not None:
            return positions[name]
        return min(positions.values(), default=0)

    def report(self) -> tuple[dict[str, ProjectorState], list[Skip]]:
        """States and skips, read together (what /health shows)."""
        with self.engine.connect() as conn:
            return self._states(conn), self._skips(conn)

    def skips(self, name: str | None = None) -> list[Skip]:
        with self.engine.connect() as conn:
            return self._skips(conn, name)

    def _skips(self, conn: Connection, name: str | None = None) -> list[Skip]:
        query = select(projection_skips).order_by(
            projection_skips.c.projector, projection_skips.c.position
        )
        if name is not None:
            query = query.where(projection_skips.c.projector == name)
        return [
            Skip(r.projector, int(r.position), r.event_type, r.reason, r.skipped_by, r.skipped_at)
            for r in conn.execute(query)
        ]

    def _skipped_positions(self, conn: Connection) -> dict[str, set[int]]:
        rows = conn.execute(_SKIPPED, {"tracked": self.names})
        skipped: dict[str, set[int]] = {}
        for projector, position in rows:
            skipped.setdefault(projector, set()).add(int(position))
        return skipped

    def _locked_positions(self, conn: Connection, names: Sequence[str]) -> dict[str, int]:
        """The projectors' tracked positions, locked for this page's transaction, so that a
        second runner waits instead of applying the same page again (SQLite: BEGIN IMMEDIATE
        does that)."""
        query = _LOCKED_POSITIONS if conn.dialect.name == "postgresql" else _POSITIONS
        found = dict(conn.execute(query, {"tracked": list(names)}).all())
        if len(found) < len(names):  # a projector's first page (or its first since a rebuild)
            for name in names:
                self._ensure_row(conn, name)
            found = dict(conn.execute(query, {"tracked": list(names)}).all())
        return {name: int(found[name]) for name in names}

    @staticmethod
    def _ensure_row(conn: Connection, name: str) -> None:
        upsert = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
        conn.execute(
            upsert(projection_tracking)
            .values(name=name, position=0, updated_at=datetime.now(UTC))
            .on_conflict_do_nothing(index_elements=["name"])
        )

    # Work -------------------------------------------------------------------------------
    def process_next_page(
        self,
        stop: int | None = None,
        page_size: int | None = None,
        *,
        stops: Mapping[str, int] | None = None,
    ) -> int:
        """Apply the next page of events (up to position `stop`, and each projector up to its
        own entry of `stops`, if given) to every projector not stopped by a failure, together
        with their positions (in one transaction for those committed first, one for the
        others); if one refuses the page, each in a transaction of its own. Returns the most
        events any projector moved past (0: all caught up, or waiting on a stopped one). One
        connection serves the page: each checkout would ping the database first."""
        with self.engine.connect() as conn:
            return self._process_page(conn, stop, page_size, stops)

    def _process_page(
        self,
        conn: Connection,
        stop: int | None,
        page_size: int | None,
        stops: Mapping[str, int] | None,
    ) -> int:
        states = self._states(conn)
        # One short read of positions and failures, not held. Ended by COMMIT, not ROLLBACK
        # (the same for a read): after a ROLLBACK psycopg drops every statement it prepared on
        # the connection (DEALLOCATE ALL), and the server would parse and plan the statements
        # a page sends anew on every page.
        conn.commit()
        self._notice_resumed(states)
        active = [p for p in self.projectors if p.name not in self.failures]
        if not active:
            return 0
        limit = stop
        if stops is not None:
            limit = max(stops.get(p.name, 0) for p in active)
            limit = limit if stop is None else min(stop, limit)
        start = min(states[p.name].position for p in active)
        if limit is not None and start >= limit:
            return 0
        notifications = self.recorder.select_notifications(
            start=start, limit=page_size or self.page_size, stop=limit, inclusive_of_start=False
        )
        if not notifications:
            return 0
        # The operators' skips, read only where there are events to apply: a runner that
        # finds none (most of its polls) spares the query.
        skipped = self._skipped_positions(conn)
        conn.commit()  # not ROLLBACK: see above
        events, unreadable = self._decode(notifications)
        reached = {name: state.position for name, state in states.items()}
        if unreadable is None:
            together = self._apply_together(conn, active, events, limit, stops, skipped, reached)
            if together is not None:
                return together
        moved = 0
        for projector in active:
            cap = _cap(projector, limit, stops, reached)
            mine = skipped.get(projector.name, set())
            position, count = self._project(conn, projector, events, cap, mine)
            readable_end = events[-1][0] if events else start
            if (
                unreadable is not None
                and readable_end <= position < unreadable[0]
                and (cap is None or unreadable[0] <= cap)
            ):
                if unreadable[0] in mine:
                    position, count = self._pass_over(conn, projector, unreadable[0], count)
                else:
                    self._record_failure(projector.name, *unreadable)
            reached[projector.name] = position
            moved = max(moved, count)
        return moved

    def _apply_together(
        self,
        conn: Connection,
        active: Sequence[Projector],
        events: Sequence[tuple[int, Any]],
        limit: int | None,
        stops: Mapping[str, int] | None,
        skipped: Mapping[str, set[int]],
        reached: Mapping[str, int],
    ) -> int | None:
        """The page applied to the projectors together: those marked `committed_first` in
        one transaction, then the others in one more, each with one lock of their tracking
        rows, one advance of them and one commit, where a transaction each cost a small page
        (a live runner's, behind single appends) several times the round trips. Returns the
        most events any projector moved past, or None if a projector refused the page: then
        nothing of its transaction is kept, and the caller applies the page a projector at a
        time, which finds and records the failing event while the others go on."""
        first = [p for p in active if getattr(p, "committed_first", False)]
        rest = [p for p in active if not getattr(p, "committed_first", False)]
        reached = dict(reached)
        moved = 0
        for group in (first, rest):
            if not group:
                continue
            with conn.begin() as transaction:
                positions = self._locked_positions(conn, [projector.name for projector in group])
                advanced: dict[str, int] = {}
                for projector in group:
                    cap = _cap(projector, limit, stops, reached)
                    position = positions[projector.name]
                    todo = _after(events, position, cap)
                    if todo:
                        mine = skipped.get(projector.name, set())
                        given = [(p, e) for p, e in todo if p not in mine]
                        if given:
                            try:
                                _applied(projector, conn, given)
                            except _PageRefused:
                                transaction.rollback()
                                return None
                        position = advanced[projector.name] = todo[-1][0]
                    reached[projector.name] = position
                    moved = max(moved, len(todo))
                if advanced:
                    self._advance(conn, advanced)
        return moved

    def _decode(
        self, notifications: Sequence[Notification]
    ) -> tuple[list[tuple[int, Any]], tuple[int, str, BaseException] | None]:
        """The page's events; an event that cannot be read (an unknown topic, a broken upcast)
        ends the page there, to be recorded as the failure of each projector that reaches it."""
        events = []
        for notification in notifications:
            try:
                events.append((notification.id, self.mapper.to_domain_event(notification)))
            except Exception as error:
                if transient(error):
                    raise
                return events, (notification.id, notification.topic, error)
        return events, None

    def _project(
        self,
        conn: Connection,
        projector: Projector,
        events: Sequence[tuple[int, Any]],
        cap: int | None,
        skipped: set[int],
    ) -> tuple[int, int]:
        """Apply the events past the projector's position (and up to `cap`) in one
        transaction; if it refuses them, one at a time, to find and record the event it fails
        on (the ones before it are kept). Returns (position reached, events moved past)."""
        try:
            return self._apply(conn, projector, events, cap, skipped)
        except _PageRefused as refused:
            first = refused.error
        position, moved = self.position(projector.name), 0
        todo = _after(events, position, cap)
        if len(todo) == 1:
            self._record_failure(projector.name, todo[0][0], _event_type(todo[0][1]), first)
            return position, 0
        for event in todo:
            try:
                position, count = self._apply(conn, projector, [event], cap, skipped)
            except _PageRefused as refused:
                self._record_failure(projector.name, event[0], _event_type(event[1]), refused.error)
                break
            moved += count
        return position, moved

    def _apply(
        self,
        conn: Connection,
        projector: Projector,
        events: Sequence[tuple[int, Any]],
        cap: int | None,
        skipped: set[int],
    ) -> tuple[int, int]:
        with conn.begin():
            position = self._locked_positions(conn, [projector.name])[projector.name]
            todo = _after(events, position, cap)
            if not todo:
                return position, 0
            given = [(p, e) for p, e in todo if p not in skipped]
            if given:
                _applied(projector, conn, given)
            self._advance(conn, {projector.name: todo[-1][0]})
            return todo[-1][0], len(todo)

    def _pass_over(
        self, conn: Connection, projector: Projector, position: int, moved: int
    ) -> tuple[int, int]:
        """An unreadable event an operator chose to skip: move the position past it."""
        with conn.begin():
            at = self._locked_positions(conn, [projector.name])[projector.name]
            if at < position:
                self._advance(conn, {projector.name: position})
                return position, moved + 1
            return at, moved

    @staticmethod
    def _advance(conn: Connection, positions: Mapping[str, int]) -> None:
        """The new positions, with the page's rows; a failure recorded at or before one is gone
        (the event was applied or skipped)."""
        now = datetime.now(UTC)
        conn.execute(
            _ADVANCE,
            [
                {"tracked": name, "reached": position, "now": now}
                for name, position in positions.items()
            ],
        )

    def _record_failure(
        self, name: str, position: int, event_type: str, error: BaseException
    ) -> None:
        failure = ProjectorFailure(
            name, position, event_type, failure_text(error), datetime.now(UTC)
        )
        with self.engine.begin() as conn:
            self._ensure_row(conn, name)
            conn.execute(
                update(projection_tracking)
                .where(projection_tracking.c.name == name)
                .values(
                    failed_position=failure.position,
                    failed_event_type=failure.event_type,
                    failure=failure.error,
                    failed_at=failure.at,
                )
            )
        self.failures[name] = failure
        log.critical(
            "projector %s stopped at position %d: it failed on the event at %d (%s); the other "
            "read models go on. Fix the cause, then `credit projections resume %s` (or skip the "
            "event with a reason)",
            name,
            position - 1,
            position,
            event_type,
            name,
            exc_info=error,
        )

    def _notice_resumed(self, states: Mapping[str, ProjectorState]) -> None:
        """A failure whose tracking row no longer records it was resumed or skipped by an
        operator (from any process), or passed by another runner: try the projector again."""
        for name in list(self.failures):
            state = states.get(name)
            if state is None or state.failure is None:
                del self.failures[name]
                log.warning(
                    "projector %s resumed from position %d", name, state.position if state else 0
                )

    def resume(self, name: str) -> ProjectorFailure | None:
        """Clear a projector's recorded failure, so that runners try its event again; returns
        the failure that was recorded (None: it was not stopped)."""
        self._known(name)
        state = self.states()[name]
        with self.engine.begin() as conn:
            self._clear_failure(conn, name)
        self.failures.pop(name, None)
        self.wake()
        return state.failure

    def skip(self, name: str, position: int, *, reason: str, by: str) -> Skip:
        """Record that projector `name` passes over the event at `position`, which it failed
        on and which can never be projected, then resume it. Only the recorded failure's event
        may be skipped, and only with a reason."""
        self._known(name)
        if not reason.strip():
            raise ValueError("a skip needs a reason")
        state = self.states()[name]
        if state.failure is None or state.failure.position != position:
            found = f"its failure is at {state.failure.position}" if state.failure else "it runs"
            raise ValueError(
                f"projector {name} did not fail on position {position} ({found}): "
                "only the event it stopped on can be skipped"
            )
        skip = Skip(name, position, state.failure.event_type, reason.strip(), by, datetime.now(UTC))
        with self.engine.begin() as conn:
            conn.execute(
                insert(projection_skips).values(
                    projector=skip.projector,
                    position=skip.position,
                    event_type=skip.event_type,
                    reason=skip.reason,
                    skipped_by=skip.skipped_by,
                    skipped_at=skip.at,
                )
            )
            self._clear_failure(conn, name)
        self.failures.pop(name, None)
        log.warning(
            "projector %s: the event at position %d (%s) is skipped by %s: %s",
            name,
            position,
            skip.event_type,
            by,
            skip.reason,
        )
        self.wake()
        return skip

    def _known(self, name: str) -> None:
        if name not in self.names:
            raise ValueError(f"no projector {name!r} (there are: {', '.join(self.names)})")

    @staticmethod
    def _clear_failure(conn: Connection, name: str) -> None:
        conn.execute(
            update(projection_tracking)
            .where(projection_tracking.c.name == name)
            .values(
                failed_position=None,
                failed_event_type=None,
                failure=None,
                failed_at=None,
            )
        )

    def catch_up(
        self, on_page: Callable[[int], None] | None = None, page_size: int | None = None
    ) -> int:
        """Apply everything there is now; returns the most events any projector applied.
        Raises ProjectionFailed, once the others have caught up, if a projector is stopped."""
        total = 0
        while applied := self.process_next_page(page_size=page_size):
            total += applied
            if on_page:
                on_page(total)
        if self.failures:
            raise ProjectionFailed(list(self.failures.values()))
        return total

    def rebuild(
        self, on_page: Callable[[int], None] | None = None, page_size: int | None = None
    ) -> int:
        """Drop every read-model row and tracked position (failures included), then replay the
        whole log (in pages of `page_size`: larger ones suit a rebuild, which no query waits
        on). Recorded skips stay: those events are passed over again."""
        with self.engine.begin() as conn:
            for projector in self.projectors:
                for table in reversed(list(projector.tables)):
                    conn.execute(delete(table))
            conn.execute(
                delete(projection_tracking).where(projection_tracking.c.name.in_(self.names))
            )
        self.failures.clear()
        return self.catch_up(on_page, page_size)

    # Following the log ------------------------------------------------------------------
    def wake(self, position: int | None = None) -> None:
        self._wake.set()

    def start(self) -> None:
        """Follow the log in a thread; a runner already following goes on as it is (two apps
        may share one process's services: a second thread would outlive `stop`, which joins
        the one it knows, and read the store while it is closed)."""
        if self._thread is not None and self._thread.is_alive() and not self._stop.is_set():
            return
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
        """For a separate worker process: follow the log until stopped (a projector that fails
        stops alone; an error outside every projector stops the runner, and is raised)."""
        self.start()
        assert self._thread is not None
        while self._thread.is_alive():
            self._thread.join(0.5)
        if self.crash is not None:
            raise self.crash

    def _follow(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            try:
                applied = self.process_next_page()
            except BaseException as error:
                if not transient(error):
                    self.crash = error
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


STOP_LOOK_SECONDS = 0.05


def postgres_notify_waiter(
    conninfo: str, channel: str
) -> Callable[[threading.Event, threading.Event], None]:
    """LISTEN on the event table's channel (the store NOTIFYs on every insert) and wake the
    runner on each notification; looks up every twentieth of a second to see whether it should
    stop. A stop waits for that look (half the interval on average), and every API process and
    test stops its runner: a quarter second made it 0.125 s per stop, for an idle wait's
    wake-up that costs microseconds."""
    import psycopg

    def wait(wake: threading.Event, stop: threading.Event) -> None:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'LISTEN "{channel}"')
            while not stop.is_set():
                for _ in conn.notifies(timeout=STOP_LOOK_SECONDS):
                    wake.set()

    return wait
