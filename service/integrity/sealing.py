"""Seals written with the events: the event store's recorders, extended so that the transaction
that inserts events also inserts each one's seal (its hash chained to the previous event of its
stream, and its leaf index in the log's Merkle tree).

Both backends serialise event inserts (PostgreSQL: the library's EXCLUSIVE table lock; SQLite:
one writer), so within the insert's transaction the last seal of each stream and the next leaf
index cannot move. Event and seal commit or roll back together."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
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

from domain.integrity import stored_event_hash
from service.store.database import QUEUE_WAIT_SECONDS, WaitedTooLong

SEAL_COLUMNS = "position, leaf_index, stream_id, version, event_hash, prev_hash"


class SealingError(RuntimeError):
    """An event cannot be sealed onto its stream's chain: the write is refused."""


def seal_rows(
    stored_events: Sequence[StoredEvent],
    positions: Sequence[int],
    last_seals: dict[UUID, tuple[int, bytes]],
    next_leaf: int,
) -> list[tuple[int, int, UUID, int, bytes, bytes | None]]:
    """The seals of events just inserted at `positions`, given each stream's last seal
    (version, hash) before them and the next free leaf index."""
    if len(positions) != len(stored_events):
        raise SealingError(f"{len(stored_events)} events inserted but {len(positions)} positions")
    heads = dict(last_seals)
    rows = []
    for position, stored in sorted(zip(positions, stored_events, strict=True), key=_first):
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
        rows.append((position, next_leaf, stream_id, stored.originator_version, digest, prev))
        heads[stream_id] = (stored.originator_version, digest)
        next_leaf += 1
    return rows


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

    Events and seals go in with binary COPY, several times faster than the library's array of
    composites. COPY returns nothing, so the positions are drawn from the table's sequence
    first: under the EXCLUSIVE lock no other writer draws between, so positions stay in commit
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
        table = self.events_table_name
        with self.datastore.get_connection() as conn, conn.transaction(), conn.cursor() as curs:
            self._lock_table(curs)
            self._notify_channel(curs)
            streams = list({_uuid(s.originator_id) for s in stored_events})
            curs.execute(
                "SELECT array(SELECT nextval(pg_get_serial_sequence(%s, 'notification_id')) "
                "FROM generate_series(1, %s)) AS positions, "
                "(SELECT COALESCE(MAX(leaf_index), -1) + 1 FROM event_seals) AS next_leaf",
                (table, len(stored_events)),
            )
            drawn = curs.fetchone()
            assert drawn is not None
            positions = [int(p) for p in drawn["positions"]]
            with curs.copy(
                f"COPY {table} (notification_id, originator_id, originator_version, topic, state) "
                "FROM STDIN (FORMAT BINARY)"
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
            curs.execute(
                "SELECT DISTINCT ON (stream_id) stream_id, version, event_hash FROM event_seals "
                "WHERE stream_id = ANY(%s) ORDER BY stream_id, version DESC",
                (streams,),
            )
            last = {row["stream_id"]: (row["version"], bytes(row["event_hash"])) for row in curs}
            rows = seal_rows(stored_events, positions, last, drawn["next_leaf"])
            with curs.copy(f"COPY event_seals ({SEAL_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["int8", "int8", "uuid", "int4", "bytea", "bytea"])
                for row in rows:
                    copy.write_row(row)
        return positions


def _finish(
    pending: _PendingInsert,
    *,
    positions: Sequence[int] | None = None,
    error: BaseException | None = None,
) -> None:
    pending.positions, pending.error, pending.finished = positions, error, True


class SealingSQLiteRecorder(SQLiteApplicationRecorder):
    """The library's SQLite recorder, sealing each insert inside its transaction."""

    def _insert_events(
        self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        positions = super()._insert_events(c, stored_events, **kwargs)
        assert positions is not None
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
        c.execute("SELECT COALESCE(MAX(leaf_index), -1) + 1 FROM event_seals")
        next_leaf = c.fetchone()[0]
        rows = seal_rows(stored_events, positions, last, next_leaf)
        c.executemany(
            f"INSERT INTO event_seals ({SEAL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
            [(p, leaf, s.hex, v, h, prev) for p, leaf, s, v, h, prev in rows],
        )
        return positions
