"""Seals written with the events: the event store's recorders, extended so that the transaction
that inserts events also inserts each one's seal (its hash chained to the previous event of its
stream, and its leaf index in the log's Merkle tree).

Both backends serialise event inserts (PostgreSQL: the library's EXCLUSIVE table lock; SQLite:
one writer), so within the insert's transaction the last seal of each stream and the next leaf
index cannot move. Event and seal commit or roll back together.

On PostgreSQL the hashes are computed before the lock, against each stream's last seal read
then, so that a writer holding the lock (and every writer waiting for it) does not wait on the
hashing, nor a transaction sit idle while it runs. Under the lock the last seals are read again:
the hashes are used only where each stream's last seal is still the one they were computed
against, and computed there again otherwise, so the chain is the one hashing under the lock
would give. A write of a few events (a request's) goes in by one call on the server
(`credit_insert_sealed`, migration 0029) that takes the lock, checks the last seals and inserts
the events and their seals in one statement, so the lock is held for no round trip; where a
seal moved, the call writes nothing and the insert is sealed under the lock in a transaction
of its own. SQLite, with its one writer, hashes under its transaction."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import retry
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier, Literal

from domain.integrity import stored_event_hash
from service.store.database import QUEUE_WAIT_SECONDS, WaitedTooLong

SEAL_COLUMNS = "position, leaf_index, stream_id, version, event_hash, prev_hash"
# Each stream's last seal (PostgreSQL): what an insert's seals follow.
LAST_SEALS = (
    "SELECT DISTINCT ON (stream_id) stream_id, version, event_hash FROM event_seals "
    "WHERE stream_id = ANY(%s) ORDER BY stream_id, version DESC"
)

Link = tuple[UUID, int, bytes, bytes | None]  # stream, version, hash, prev
# Events and seals in one call (PostgreSQL; the function is migration 0029's): the positions,
# or NULL where a stream's last seal under the lock is not the one given. The arrays go in
# binary (%b): given %s, psycopg chose text arrays, the payloads and hashes written out as hex
# and parsed back by the server (binding the call: 134 µs against 95 in binary).
INSERT_SEALED = (
    "SELECT credit_insert_sealed(%b::uuid[], %b::int8[], %b::text[], %b::bytea[], "
    "%b::bytea[], %b::bytea[], %b::uuid[], %b::int8[], %b::bytea[], %s, %s)"
)
# Inserts of at most this many events go by that call: a request's write carries one event or
# a few. A batch's thousands go by COPY, whose binary rows cost this process a fifth fewer
# instructions an imported row than the call's arrays (bench.import_cpu), and whose lock is
# held for the COPY's own time either way.
ONE_CALL_MOST_EVENTS = 32
SealRow = tuple[int, int, UUID, int, bytes, bytes | None]  # position, leaf, *link

# Streams whose last seal a writing process remembers from its own inserts: as many as it keeps
# subjects for its next writes (service/commanding/credit_files.py's WRITTEN_SUBJECTS_KEPT),
# a few hundred bytes each.
SEALED_HEADS_KEPT = 5_000


class SealingError(RuntimeError):
    """An event cannot be sealed onto its stream's chain: the write is refused."""


def seal_rows(
    stored_events: Sequence[StoredEvent],
    positions: Sequence[int],
    last_seals: dict[UUID, tuple[int, bytes]],
    next_leaf: int,
) -> list[SealRow]:
    """The seals of events just inserted at `positions`, given each stream's last seal
    (version, hash) before them and the next free leaf index."""
    if len(positions) != len(stored_events):
        raise SealingError(f"{len(stored_events)} events inserted but {len(positions)} positions")
    ordered = sorted(zip(positions, stored_events, strict=True), key=_first)
    links = chain_links([stored for _, stored in ordered], last_seals)
    return [
        (position, next_leaf + offset, *link)
        for offset, ((position, _), link) in enumerate(zip(ordered, links, strict=True))
    ]


def chain_links(
    stored_events: Sequence[StoredEvent], last_seals: dict[UUID, tuple[int, bytes]]
) -> list[Link]:
    """Each event's link in its stream's chain, in the order given (the order of their
    positions), given each stream's last seal (version, hash) before them."""
    heads = dict(last_seals)
    links = []
    for stored in stored_events:
        stream_id = _uuid(stored.originator_id)
        last_version, prev = heads.get(stream_id, (0, None))
        if stored.originator_version != last_version + 1:
            raise SealingError(
                f"stream {stream_id}: version {stored.originator_version} does not follow the "
                f"last sealed version {last_version}"
            )
        digest = stored_event_hash(
            prev, stream_id, stored.originator_version, stored.topic, stored.state
        )
        links.append((stream_id, stored.originator_version, digest, prev))
        heads[stream_id] = (stored.originator_version, digest)
    return links


@dataclass(frozen=True)
class HashedAhead:
    """An insert's links hashed before its lock: each stream's last seal as read then, and the
    links that follow it (None where the events did not follow it: they are sealed, or
    refused, under the lock as before)."""

    last_seals: dict[UUID, tuple[int, bytes]]
    links: list[Link] | None


def hash_ahead(
    stored_events: Sequence[StoredEvent], last_seals: dict[UUID, tuple[int, bytes]]
) -> HashedAhead:
    try:
        return HashedAhead(last_seals, chain_links(stored_events, last_seals))
    except SealingError:
        return HashedAhead(last_seals, None)


def locked_seal_rows(
    stored_events: Sequence[StoredEvent],
    positions: Sequence[int],
    last_seals: dict[UUID, tuple[int, bytes]],
    next_leaf: int,
    ahead: HashedAhead | None,
) -> list[SealRow]:
    """`seal_rows`, under the insert's lock, from the links hashed ahead where every stream's
    last seal is still the one they follow and the positions keep the events' order (then
    they are what `seal_rows` computes); computed here otherwise (another writer sealed one of
    the streams in between)."""
    if (
        ahead is None
        or ahead.links is None
        or ahead.last_seals != last_seals
        or len(positions) != len(stored_events)
        or any(a >= b for a, b in pairwise(positions))
    ):
        return seal_rows(stored_events, positions, last_seals, next_leaf)
    return [
        (position, next_leaf + offset, *link)
        for offset, (position, link) in enumerate(zip(positions, ahead.links, strict=True))
    ]


class SealedHeads:
    """Each stream's last seal (version, hash) as this process's own inserts left it, the most
    recently written `capacity` streams. An insert that follows them hashes its links ahead
    without first reading the last seals (a round trip before the lock, on every append to a
    subject the process wrote last). They are only a guess: the lock's own read of the last
    seals decides, and the links are hashed again there if another process sealed the
    stream in between (`locked_seal_rows`)."""

    def __init__(self, capacity: int = SEALED_HEADS_KEPT):
        self.capacity = capacity
        self._heads: OrderedDict[UUID, tuple[int, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def followed_by(
        self, stored_events: Sequence[StoredEvent]
    ) -> dict[UUID, tuple[int, bytes]] | None:
        """The last seals the events follow, as remembered; None where a stream's must be read
        (not remembered, or remembered at a version its first event here does not follow). A
        stream that begins here (version 1) follows none."""
        firsts: dict[UUID, int] = {}
        for stored in stored_events:
            firsts.setdefault(_uuid(stored.originator_id), stored.originator_version)
        seen = {}
        with self._lock:
            for stream, first in firsts.items():
                if first == 1:
                    continue
                head = self._heads.get(stream)
                if head is None or head[0] != first - 1:
                    return None
                seen[stream] = head
        return seen

    def remember(self, links: Sequence[Link]) -> None:
        """The links an insert committed, in position order (a stream's last is its head)."""
        heads = self._heads
        with self._lock:
            for stream, version, digest, _ in links:
                heads[stream] = (version, digest)
                heads.move_to_end(stream)
            while len(heads) > self.capacity:
                heads.popitem(last=False)


def _first(pair: tuple[int, StoredEvent]) -> int:
    return pair[0]


def _uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(value)


@dataclass
class _PendingInsert:
    """One caller's events waiting to be committed with whoever else is waiting."""

    events: Sequence[StoredEvent]
    positions: Sequence[int] | None = None
    error: BaseException | None = None
    finished: bool = False


@dataclass
class _GroupCommit:
    """Leader and followers: the first caller to find no commit in progress takes every insert
    queued so far into one transaction; the others wait for its outcome."""

    condition: threading.Condition = field(default_factory=threading.Condition)
    queue: list[_PendingInsert] = field(default_factory=list)
    committing: bool = False


class SealingPostgresRecorder(PostgresApplicationRecorder):
    """The library's PostgreSQL recorder, with each insert sealed inside its transaction.

    A few events go in by one call on the server (`_insert_followed`); more, or events whose
    links do not follow the last seals there, with binary COPY, several times faster than the
    library's array of composites. Either way the positions are drawn from the table's sequence
    under the EXCLUSIVE lock, where no other writer draws between, so positions stay in commit
    order, as the library's own insert keeps them.

    Inserts from concurrent threads of one process are committed together: every insert
    holds the table's lock until its commit is on disk, so one insert per transaction caps a
    process at one commit's round trips and flush per append. A group that fails on a
    uniqueness conflict (a stream written by another process meanwhile) or on a seal that does
    not follow its stream's last (a writer's copy of the stream is ahead of the database) is
    retried one insert at a time, so only that caller sees it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._group = _GroupCommit()
        self._heads = SealedHeads()
        # The function names the service's own tables (the application "credit", in the
        # schema the migrations made them in); a recorder of other tables seals by COPY.
        self._one_call = (self.events_table_name, self.datastore.schema) == (
            "credit_events",
            "public",
        )
        self._lock_and_notify: str | None = None
        self._table_literal = ""

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int]:
        if not stored_events:
            return []
        if any(value is not None for value in kwargs.values()):  # a tracking record: alone
            return self._insert_sealed(stored_events)
        mine = _PendingInsert(stored_events)
        group = self._group
        with group.condition:
            group.queue.append(mine)
            deadline = time.monotonic() + QUEUE_WAIT_SECONDS
            while group.committing and not mine.finished:
                left = deadline - time.monotonic()
                if left <= 0 and any(pending is mine for pending in group.queue):
                    # Not taken into a commit yet (the one in progress waits on the database):
                    # leave the queue; one already taken waits for that commit's outcome.
                    group.queue = [pending for pending in group.queue if pending is not mine]
                    raise WaitedTooLong(f"waited {QUEUE_WAIT_SECONDS} s for the group commit")
                group.condition.wait(max(left, 0.05))
            if not mine.finished:
                group.committing = True
                batch, group.queue = group.queue, []
        if not mine.finished:
            try:
                self._commit_group(batch)
            finally:
                with group.condition:
                    group.committing = False
                    group.condition.notify_all()
        if mine.error is not None:
            raise mine.error
        assert mine.positions is not None
        return mine.positions

    def _commit_group(self, batch: list[_PendingInsert]) -> None:
        try:
            positions = self._insert_sealed([e for pending in batch for e in pending.events])
        except (IntegrityError, SealingError) as conflict:
            if len(batch) == 1:
                _finish(batch[0], error=conflict)
                return
            for pending in batch:  # find who conflicts: each alone
                try:
                    _finish(pending, positions=self._insert_sealed(pending.events))
                except BaseException as error:
                    _finish(pending, error=error)
            return
        except BaseException as error:
            for pending in batch:
                _finish(pending, error=error)
            return
        start = 0
        for pending in batch:
            _finish(pending, positions=positions[start : start + len(pending.events)])
            start += len(pending.events)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def _insert_sealed(self, stored_events: Sequence[StoredEvent]) -> Sequence[int]:
        streams = list({_uuid(s.originator_id) for s in stored_events})
        seen = self._heads.followed_by(stored_events)
        with self.datastore.get_connection() as conn:
            if seen is None:
                seen = self._read_last_seals(conn, streams)
            ahead = hash_ahead(stored_events, seen)
            if (
                self._one_call
                and ahead.links is not None
                and len(stored_events) <= ONE_CALL_MOST_EVENTS
            ):
                positions = self._insert_followed(conn, stored_events, ahead)
                if positions is not None:
                    self._heads.remember(ahead.links)
                    return positions
            positions, links = self._insert_under_lock(conn, stored_events, streams, ahead)
        self._heads.remember(links)
        return positions

    def _insert_followed(
        self, conn: Any, stored_events: Sequence[StoredEvent], ahead: HashedAhead
    ) -> list[int] | None:
        """The events and their seals inserted by one call on the server (its own transaction,
        under the library's lock: migration 0029), where every stream's last seal is still the
        one the links were hashed against; None, with nothing written, where it is not."""
        assert ahead.links is not None
        assert conn.autocommit  # the call is its own transaction, committed when it returns
        followed = list(ahead.last_seals.items())
        with conn.cursor(binary=True, row_factory=tuple_row) as curs:
            curs.execute(
                INSERT_SEALED,
                (
                    [link[0] for link in ahead.links],
                    [stored.originator_version for stored in stored_events],
                    [stored.topic for stored in stored_events],
                    [stored.state for stored in stored_events],
                    [link[2] for link in ahead.links],
                    [link[3] for link in ahead.links],
                    [stream for stream, _ in followed],
                    [version for _, (version, _) in followed],
                    [digest for _, (_, digest) in followed],
                    f"{self.datastore.lock_timeout}s",
                    self.channel_name,
                ),
                prepare=True,
            )
            drawn = curs.fetchone()
        assert drawn is not None
        return drawn[0]

    def _insert_under_lock(
        self,
        conn: Any,
        stored_events: Sequence[StoredEvent],
        streams: list[UUID],
        ahead: HashedAhead,
    ) -> tuple[list[int], list[Link]]:
        """The events and their seals, hashed under the lock where the links hashed ahead do
        not follow the streams' last seals there (another writer sealed one of them in
        between, or the events follow no seal read before the lock: `locked_seal_rows`)."""
        table = self.events_table_name
        with conn.transaction(), conn.cursor() as curs:
            # One round trip: the library's lock (its timeout, then the table) and notify,
            # then the positions, the next leaf and the last seals.
            curs.execute(self._locked_draw(conn, len(stored_events), streams))
            while curs.nextset():  # past the lock's and the notify's results
                pass
            drawn = curs.fetchone()
            assert drawn is not None
            positions = [int(p) for p in drawn["positions"]]
            with curs.copy(
                f"COPY {table} (notification_id, originator_id, originator_version, topic, "
                "state) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["int8", "uuid", "int8", "text", "bytea"])
                for position, stored in zip(positions, stored_events, strict=True):
                    copy.write_row(
                        (
                            position,
                            _uuid(stored.originator_id),
                            stored.originator_version,
                            stored.topic,
                            stored.state,
                        )
                    )
            last = {
                stream: (version, bytes(digest))
                for stream, version, digest in zip(
                    drawn["streams"] or (),
                    drawn["versions"] or (),
                    drawn["hashes"] or (),
                    strict=True,
                )
            }
            rows = locked_seal_rows(stored_events, positions, last, drawn["next_leaf"], ahead)
            with curs.copy(f"COPY event_seals ({SEAL_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["int8", "int8", "uuid", "int4", "bytea", "bytea"])
                for row in rows:
                    copy.write_row(row)
        return positions, [row[2:] for row in rows]

    @staticmethod
    def _read_last_seals(conn: Any, streams: list[UUID]) -> dict[UUID, tuple[int, bytes]]:
        """Outside a transaction (the library's autocommit); tuples in binary, not a dict of
        each row and its hash as hex text."""
        with conn.cursor(binary=True, row_factory=tuple_row) as curs:
            curs.execute(LAST_SEALS, (streams,))
            return {stream: (version, digest) for stream, version, digest in curs}

    def _locked_draw(self, conn: Any, count: int, streams: list[UUID]) -> str:
        """The statements that lock, notify and draw, as one query without parameters (so sent
        as one, on the simple query protocol): the values are the table's name, a count and
        UUIDs, written as SQL literals."""
        if self._lock_and_notify is None:
            statements: list[Any] = [
                *self.lock_table_statements,
                SQL("NOTIFY {0}").format(Identifier(self.channel_name)),
            ]
            self._lock_and_notify = "; ".join(s.as_string(conn) for s in statements)
            self._table_literal = Literal(self.events_table_name).as_string(conn)
        uuids = ",".join(str(stream) for stream in streams)
        return (
            f"{self._lock_and_notify}; "
            "SELECT array(SELECT nextval(pg_get_serial_sequence("
            f"{self._table_literal}, 'notification_id')) FROM generate_series(1, {int(count)})) "
            "AS positions, "
            "(SELECT COALESCE(MAX(leaf_index), -1) + 1 FROM event_seals) AS next_leaf, "
            "last.streams, last.versions, last.hashes FROM (SELECT "
            "array_agg(stream_id) AS streams, array_agg(version) AS versions, "
            "array_agg(event_hash) AS hashes FROM ("
            + LAST_SEALS.replace("%s", f"'{{{uuids}}}'::uuid[]")
            + ") AS heads) AS last"
        )


def _finish(
    pending: _PendingInsert,
    *,
    positions: Sequence[int] | None = None,
    error: BaseException | None = None,
) -> None:
    pending.positions, pending.error, pending.finished = positions, error, True


class SealingSQLiteRecorder(SQLiteApplicationRecorder):
    """The library's SQLite recorder, sealing each insert inside its transaction. Nothing is
    hashed before it: SQLite has one writer and no limit on a transaction's idle time, and a
    read of the last seals in a transaction of its own cost each insert more than the hashing
    (twice the commits' time for appends to one long stream)."""

    def _insert_events(
        self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        positions = super()._insert_events(c, stored_events, **kwargs)
        assert positions is not None
        last = self._last_seals(c, stored_events)
        c.execute("SELECT COALESCE(MAX(leaf_index), -1) + 1 FROM event_seals")
        next_leaf = c.fetchone()[0]
        rows = seal_rows(stored_events, positions, last, next_leaf)
        c.executemany(
            f"INSERT INTO event_seals ({SEAL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
            [(p, leaf, s.hex, v, h, prev) for p, leaf, s, v, h, prev in rows],
        )
        return positions

    @staticmethod
    def _last_seals(c: Any, stored_events: Sequence[StoredEvent]) -> dict[UUID, tuple[int, bytes]]:
        streams = list({_uuid(s.originator_id).hex for s in stored_events})
        last: dict[UUID, tuple[int, bytes]] = {}
        for start in range(0, len(streams), 500):
            chunk = streams[start : start + 500]
            c.execute(
                "SELECT stream_id, MAX(version), event_hash FROM event_seals "
                f"WHERE stream_id IN ({','.join('?' * len(chunk))}) GROUP BY stream_id",
                chunk,
            )
            # SQLite returns the bare columns of the row that holds the MAX().
            last |= {UUID(row[0]): (row[1], bytes(row[2])) for row in c.fetchall()}
        return last
