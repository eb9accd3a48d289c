"""The event store: an eventsourcing Application holding every subject's stream."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from contextlib import contextmanager, nullcontext
from datetime import date
from itertools import groupby
from operator import attrgetter
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    InterfaceError,
    JSONTranscoder,
    Mapper,
    Notification,
    OperationalError,
    Recording,
    StoredEvent,
    Transcoder,
    Transcoding,
    UUIDAsHex,
)
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore, PostgresFactory
from eventsourcing.utils import get_topic, retry
from psycopg.rows import tuple_row
from psycopg_pool import PoolTimeout

# Registers the stable event topics before any decoding: the subjects' and the day closes'.
import domain.day_close
import domain.events  # noqa: F401
from domain.subject import INCOMPLETE, Subject, digests_only_for
from service.store.database import LIBPQ_OPTIONS, Database
from service.store.encoding import OrjsonTranscoder


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


def register_transcodings(transcoder: JSONTranscoder) -> None:
    """How the store encodes an event's values: the eventsourcing defaults and dates."""
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), DateAsISO()):
        transcoder.register(transcoding)


def event_mapper() -> Mapper[UUID]:
    """Stored events to domain events as the store decodes them, without a store: for events
    read from an export (credit audit verify-report)."""
    transcoder = JSONTranscoder()
    register_transcodings(transcoder)
    return Mapper(transcoder)


def replay(subject: Subject | None, events: Iterable[Any]) -> Subject | None:
    """The library's `project_aggregate` without its check that each event can mutate (a
    runtime protocol's isinstance, tens of µs on Python 3.11 for every event of a load): a
    subject's snapshot and events are all the library's, which can."""
    for event in events:
        subject = event.mutate(subject)
    return subject


class CreditLedger(Application[UUID]):
    """Every credit subject's append-only stream, with a global, gap-tolerant log position."""

    name = "credit"
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {Subject: 100}

    def construct_transcoder(self) -> Transcoder:
        """The library's JSON transcoding, written by orjson (service/store/encoding.py)."""
        transcoder = OrjsonTranscoder()
        self.register_transcodings(transcoder)
        return transcoder

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        register_transcodings(transcoder)

    def save_subjects(self, subjects: Sequence[Subject]) -> int | None:
        """Append the subjects' pending events in one transaction, as `save` does, and return
        the last one's log position (None if there were none). For a batch of thousands of
        subjects (an import): each event is encoded once, straight to the stored event the
        library's mapper would make of it, and handed to the recorder (which seals it), without
        the library's per-aggregate runtime-protocol checks and per-event recordings.
        Snapshots are taken as `save` takes them. Stored alike, byte for byte
        (tests/integration/test_import_write_path.py)."""
        mapper = self.mapper
        if (
            mapper.compressor is not None
            or mapper.cipher is not None
            or self.repository.cache is not None
        ):
            recordings = self.save(*subjects)
            return recordings[-1].notification.id if recordings else None
        events = [event for subject in subjects for event in subject.collect_events()]
        if not events:
            return None
        encode = mapper.transcoder.encode
        stored = []
        for event in events:
            state = dict(vars(event))
            originator_id = state.pop("originator_id")
            originator_version = state.pop("originator_version")
            cls = type(event)
            class_version = getattr(cls, "class_version", 1)
            if class_version > 1:
                state["class_version"] = class_version
            stored.append(
                StoredEvent(
                    originator_id=originator_id,
                    originator_version=originator_version,
                    topic=get_topic(cls),
                    state=encode(state),
                )
            )
        positions = self.recorder.insert_events(stored)
        interval = self.snapshotting_intervals.get(Subject)
        if self.snapshots is not None and interval is not None:
            for event in events:
                if event.originator_version % interval == 0:
                    self.take_snapshot(event.originator_id, version=event.originator_version)
        return positions[-1] if positions else None

    def subject(self, subject_id: UUID) -> Subject:
        """One subject, from its latest snapshot and the events after it. A snapshot of an
        older state version (one lacking what the subject now keeps to decide: see
        Subject.class_version) is passed over: the subject is rebuilt from all its events, and
        its next snapshot is of the current version. Raises AggregateNotFoundError.

        The snapshot and the events after it are read by one query, where the library's
        repository sends two (each composing its SQL and checking out a connection again): a
        write to a subject this process does not keep begins here. The subject is the
        repository's, replayed from the same snapshot and events
        (tests/integration/test_subject_reads.py); a store with an aggregate cache is read by
        the repository."""
        if self.snapshots is None or self.repository.cache is not None:
            subject: Subject = self.repository.get(subject_id, projector_func=replay)
        else:
            subject = self._subject_in_one_query(subject_id)
        if subject.__dict__.get(INCOMPLETE):
            subject = self.load_many({subject_id})[subject_id]
        return subject

    def _subject_in_one_query(self, subject_id: UUID) -> Subject:
        assert self.snapshots is not None
        snapshots: Any = self.snapshots.recorder
        query = (
            "WITH snapshot AS (SELECT originator_version, topic, state FROM {snapshots} "
            "WHERE originator_id = {id} ORDER BY originator_version DESC LIMIT 1) "
            "SELECT 0, originator_version, topic, state FROM snapshot UNION ALL "
            "SELECT 1, originator_version, topic, state FROM {table} WHERE originator_id = {id} "
            "AND originator_version > COALESCE((SELECT originator_version FROM snapshot), 0) "
            "ORDER BY 1, 2"
        )
        rows = self._select(
            query.replace("{snapshots}", snapshots.events_table_name).replace("{id}", "%s"),
            query.replace("{snapshots}", snapshots.events_table_name).replace("{id}", "?"),
            (subject_id, subject_id),
            (subject_id.hex, subject_id.hex),
        )
        subject = replay(None, self._domain_events(subject_id, (row[1:] for row in rows)))
        if subject is None:
            raise AggregateNotFoundError(f"Aggregate {subject_id!r} version None not found.")
        return subject

    def events_after(self, subject_id: UUID, version: int) -> list[Any]:
        """The subject's events after `version`, in order: what the library's
        `events.get(subject_id, gt=version)` gives, by a statement written once. The library
        composes its SQL at every call and makes a dict of every row: with its connection, a
        fifth of a write's CPU where the process keeps the subject and only asks whether its
        stream gained events since (py-spy, docs/benchmarks.md)."""
        rows = self._select(
            "SELECT originator_version, topic, state FROM {table} "
            "WHERE originator_id = %s AND originator_version > %s ORDER BY originator_version",
            "SELECT originator_version, topic, state FROM {table} "
            "WHERE originator_id = ? AND originator_version > ? ORDER BY originator_version",
            (subject_id, version),
            (subject_id.hex, version),
        )
        return list(self._domain_events(subject_id, rows))

    def _domain_events(self, subject_id: UUID, rows: Iterable[tuple[Any, ...]]) -> Iterator[Any]:
        """Domain events of one subject from (version, topic, state) rows."""
        to_domain_event = self.mapper.to_domain_event
        for version, topic, state in rows:
            yield to_domain_event(
                StoredEvent(
                    originator_id=subject_id,
                    originator_version=version,
                    topic=topic,
                    state=bytes(state),
                )
            )

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """The library's save. Its collection of a subject's pending events asks two runtime
        protocols whether the subject is a domain event (no) and collects events (yes), some
        80 µs on Python 3.11, a twentieth of an append: a subject's are collected here
        directly, as those answers have it; anything else is collected by the library."""
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        for obj in objs:
            if type(obj) is Subject:
                processing_event.events.extend(obj.collect_events())
                processing_event.aggregates[obj.id] = obj
            else:
                processing_event.collect_events(obj)
        processing_event.saved_kwargs.update(kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)  # the library's deprecated hook, as it calls it
        return recordings

    def load_many(
        self, subject_ids: set[UUID], *, digests_for: AbstractSet[str] | None = None
    ) -> dict[UUID, Subject]:
        """The subjects among these ids that exist, rebuilt from their streams with one query
        per few hundred ids (an import touches thousands of subjects per batch). With
        `digests_for` (natural keys), subjects for deciding a batch of rows that carry those
        keys: only those records' content digests are computed (`digests_only_for`), unless the
        subject holds one of them. A row that repeats a subject's record is likely one of a file
        imported again, whose other rows repeat its other records: such a subject has every
        digest, from the events it was rebuilt from."""
        ids = list(subject_ids)
        stored: list[StoredEvent] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = self._select(
                "SELECT originator_id, originator_version, topic, state FROM {table} "
                "WHERE originator_id = ANY(%s::uuid[]) ORDER BY originator_id, originator_version",
                "SELECT originator_id, originator_version, topic, state FROM {table} "
                f"WHERE originator_id IN ({','.join('?' * len(chunk))}) "
                "ORDER BY originator_id, originator_version",
                ([str(subject_id) for subject_id in chunk],),
                [subject_id.hex for subject_id in chunk],
            )
            stored += [
                StoredEvent(
                    originator_id=row[0] if isinstance(row[0], UUID) else UUID(row[0]),
                    originator_version=row[1],
                    topic=row[2],
                    state=bytes(row[3]),
                )
                for row in rows
            ]
        subjects: dict[UUID, Subject] = {}
        # A subject's events are together (the rows come in stream order): each subject's are
        # kept only until it is rebuilt, for completing its digests.
        with digests_only_for(digests_for) if digests_for is not None else nullcontext():
            for subject_id, stream in groupby(stored, key=attrgetter("originator_id")):
                events = [self.mapper.to_domain_event(stored_event) for stored_event in stream]
                subject = replay(None, events)
                assert subject is not None  # a stream begins with its registration
                if digests_for is not None and not digests_for.isdisjoint(subject.natural_keys):
                    subject.complete_digests(events)
                subjects[subject_id] = subject
        return subjects

    def stream_page(
        self, subject_id: UUID, *, after_version: int, limit: int
    ) -> list[tuple[int, Any]]:
        """A page of one subject's events with their global positions, in stream order."""
        rows = self._select(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {table} "
            "WHERE originator_id = %s AND originator_version > %s "
            "ORDER BY originator_version LIMIT %s",
            "SELECT rowid, originator_id, originator_version, topic, state FROM {table} "
            "WHERE originator_id = ? AND originator_version > ? "
            "ORDER BY originator_version LIMIT ?",
            (subject_id, after_version, limit),
            (subject_id.hex, after_version, limit),
        )
        return [
            (
                int(row[0]),
                self.mapper.to_domain_event(
                    StoredEvent(
                        originator_id=subject_id,
                        originator_version=row[2],
                        topic=row[3],
                        state=bytes(row[4]),
                    )
                ),
            )
            for row in rows
        ]

    def position_of(self, subject_id: UUID, version: int) -> int:
        """The global log position of one stored event (for answering a retried write)."""
        [row] = self._select(
            "SELECT notification_id FROM {table} "
            "WHERE originator_id = %s AND originator_version = %s",
            "SELECT rowid FROM {table} WHERE originator_id = ? AND originator_version = ?",
            (subject_id, version),
            (subject_id.hex, version),
        )
        return int(row[0])

    def last_of(self, stream_id: UUID) -> tuple[int, Any] | None:
        """The last event of one stream with its global position, or None for an empty one."""
        rows = self._select(
            "SELECT notification_id, originator_version, topic, state FROM {table} "
            "WHERE originator_id = %s ORDER BY originator_version DESC LIMIT 1",
            "SELECT rowid, originator_version, topic, state FROM {table} "
            "WHERE originator_id = ? ORDER BY originator_version DESC LIMIT 1",
            (stream_id,),
            (stream_id.hex,),
        )
        if not rows:
            return None
        position, version, topic, state = rows[0]
        stored = StoredEvent(
            originator_id=stream_id, originator_version=version, topic=topic, state=bytes(state)
        )
        return int(position), self.mapper.to_domain_event(stored)

    def count_events(self, *, up_to: int) -> int:
        """How many events the log holds up to this position (positions may have gaps)."""
        [row] = self._select(
            "SELECT count(*) FROM {table} WHERE notification_id <= %s",
            "SELECT count(*) FROM {table} WHERE rowid <= ?",
            (up_to,),
            (up_to,),
        )
        return int(row[0])

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def _select(
        self,
        postgres_sql: str,
        sqlite_sql: str,
        postgres_params: Sequence[Any],
        sqlite_params: Sequence[Any],
    ) -> list[tuple[Any, ...]]:
        """A read of the library's events table, in each backend's dialect (its id columns
        differ: UUID and notification_id on PostgreSQL, hex text and rowid on SQLite), retried
        on a lost connection as the library's own reads are."""
        recorder: Any = self.recorder
        table = recorder.events_table_name
        if isinstance(recorder, PostgresApplicationRecorder):
            # Tuples straight from the driver (the library's connections make a dict of each
            # row), and the columns in binary: an event's bytes cross as they are, not as hex
            # text, as in the log's reads below.
            with (
                recorder.datastore.get_connection() as conn,
                conn.cursor(binary=True, row_factory=tuple_row) as cursor,
            ):
                cursor.execute(postgres_sql.format(table=table), postgres_params)
                return cursor.fetchall()
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(sqlite_sql.format(table=table), sqlite_params)
            return [tuple(row) for row in cursor.fetchall()]


class EventLog:
    """The log in position order, as the projection runner reads it: the recorder's own query,
    except that on PostgreSQL the rows come back in binary. Each event's bytes then cross as
    they are, not as hex text the server encodes and this process decodes, which was most of
    a replay's reading time."""

    def __init__(self, recorder: Any):
        self.recorder = recorder
        self.binary = isinstance(recorder, PostgresApplicationRecorder)

    def select_notifications(
        self, start: int | None, limit: int, stop: int | None = None, *, inclusive_of_start=True
    ) -> Sequence[Notification]:
        if not self.binary:
            return self.recorder.select_notifications(
                start, limit, stop, inclusive_of_start=inclusive_of_start
            )
        table = f"{self.recorder.datastore.schema}.{self.recorder.events_table_name}"
        # No upper bound in the query: with one, a planner short of statistics (a freshly
        # loaded log) sorts every row up to it for each page; without, it reads the index in
        # order and stops after `limit`. The few rows past `stop` are dropped here.
        statement = (
            "SELECT notification_id, originator_id, originator_version, topic, state "
            f"FROM {table} WHERE notification_id {'>=' if inclusive_of_start else '>'} %s "
            "ORDER BY notification_id LIMIT %s"
        )
        # The datastore's connection turns driver errors into the library's, as for its own
        # queries (an OperationalError is one the runner retries).
        with (
            self.recorder.datastore.get_connection() as conn,
            conn.cursor(binary=True, row_factory=tuple_row) as cursor,
        ):
            cursor.execute(statement, (start or 0, limit), prepare=True)
            return [
                Notification(
                    id=position,
                    originator_id=subject,
                    originator_version=version,
                    topic=topic,
                    state=state,
                )
                for position, subject, version, topic, state in cursor.fetchall()
                if stop is None or position <= stop
            ]


STORE_RECONNECT_GIVE_UP_SECONDS = 10


class PromptPostgresDatastore(PostgresDatastore):
    """The library's PostgreSQL datastore, with two changes for when the database goes away.

    A request the pool cannot serve in time fails at once with the pool's own timeout: the
    library would wrap it as the OperationalError its recorders retry ten times, so that with
    the database down every request would wait ten pool timeouts.

    A connection found broken (the server restarted or dropped it) has its idle siblings
    checked too, so that the broken ones are replaced at once instead of each failing one
    more request or retry; no connection is pinged on an ordinary checkout."""

    @classmethod
    def adopt(cls, datastore: PostgresDatastore, options: dict[str, str]) -> None:
        """The library builds its datastore inline, with no hook for a subclass; this one only
        overrides a method, so the datastore becomes one in place, its pool and state as built.
        `options` are the URL's libpq options the library's settings have no place for
        (target_session_attrs=read-write: of several hosts, the primary), given to each new
        connection of its pool."""
        datastore.__class__ = cls
        kwargs = datastore.pool.kwargs  # the library passes a dict
        assert isinstance(kwargs, dict)
        kwargs.update(options)
        # The pool retries a lost connection with a doubling back-off (1, 2, 4 ... s) for up to
        # this long (the default is 5 minutes): after a long outage its next try could come long
        # after the database is back. Once it gives up, the next request starts a try at once.
        datastore.pool.reconnect_timeout = STORE_RECONNECT_GIVE_UP_SECONDS

    @contextmanager
    def get_connection(self) -> Iterator[Any]:
        conn = None
        try:
            with super().get_connection() as conn:
                yield conn
        except (OperationalError, InterfaceError) as error:
            if isinstance(error.__cause__, PoolTimeout):
                raise error.__cause__ from None
            if conn is not None and conn.broken:
                self.pool.check()
            raise


class CreditPostgresFactory(PostgresFactory):
    """The library's PostgreSQL factory (PERSISTENCE_MODULE names it), its datastore made a
    PromptPostgresDatastore before any connection opens, with the URL's libpq options."""

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        options = json.loads(self.env.get(LIBPQ_OPTIONS) or "{}")
        PromptPostgresDatastore.adopt(self.datastore, options)


def open_ledger(
    database: Database, *, create_tables: bool = True, pool_size: int | None = None
) -> CreditLedger:
    """The event store; `pool_size` (PostgreSQL) for a process that reads the log and little
    else, in place of the service's pool (whose connections all open at once)."""
    env = database.eventsourcing_env()
    env["CREATE_TABLE"] = "y" if create_tables else "n"
    if pool_size is not None and not database.is_sqlite:
        env["POSTGRES_POOL_SIZE"], env["POSTGRES_MAX_OVERFLOW"] = str(pool_size), "1"
    return CreditLedger(env=env)
