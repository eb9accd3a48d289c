"""The sealed log as the database holds it: events beside their seals in leaf order, the Merkle
tree's stored perfect subtrees, and the roots and proofs built from them.

Events and seals are read separately and matched by position, so that an event that lost its
seal, a seal that lost its event, or an event moved to another position all show up as such."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import Connection, Engine, func, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from domain.crypto_suite import SHA256, SM3, HashAlgorithm
from domain.integrity import event_leaf
from domain.merkle import (
    MerkleLog,
    consistency_path,
    frontier_nodes,
    inclusion_path,
    perfect_nodes_needed,
    range_root,
)
from service.integrity.tables import event_seals, event_seals_sm3, merkle_nodes, merkle_nodes_sm3

# Each tree's leaves (the seals of its hash chain) and stored perfect subtrees.
TREE_TABLES = {
    SHA256.name: (event_seals, merkle_nodes),
    SM3.name: (event_seals_sm3, merkle_nodes_sm3),
}


@dataclass(frozen=True)
class Seal:
    position: int
    leaf_index: int
    stream_id: UUID
    version: int
    event_hash: bytes
    prev_hash: bytes | None
    sm3_hash: bytes | None = None  # the 国密 suite's SM3 chain, once the event is in it


@dataclass(frozen=True)
class StoredRow:
    position: int
    stream_id: UUID
    version: int
    topic: str
    state: bytes


@dataclass(frozen=True)
class Entry:
    """One position of the log: its seal and the event stored there (either may be missing)."""

    position: int
    seal: Seal | None
    event: StoredRow | None


class SealedLog:
    """The log and its Merkle tree of one hash: SHA-256 (every store) or SM3 (the 国密 suite's
    second tree, over `event_seals_sm3`). Entries always carry both seals where there are."""

    def __init__(self, engine: Engine, hash_: HashAlgorithm = SHA256):
        self.engine = engine
        self.hash = hash_
        self._tree = hash_.tree
        self._leaves, self._nodes_table = TREE_TABLES[hash_.name]
        self.postgres = engine.dialect.name == "postgresql"
        self._events_sql = (
            "SELECT notification_id, originator_id, originator_version, topic, state "
            "FROM credit_events"
            if self.postgres
            else "SELECT rowid, originator_id, originator_version, topic, state FROM stored_events"
        )
        self._position = "notification_id" if self.postgres else "rowid"

    # Size and entries -------------------------------------------------------------------
    def size(self, conn: Connection) -> int:
        """How many events are sealed: the size of the tree a checkpoint can sign now."""
        last = conn.execute(select(func.max(event_seals.c.leaf_index))).scalar()
        return 0 if last is None else int(last) + 1

    def entries(
        self, conn: Connection, *, page: int = 5000, start_leaf: int = 0
    ) -> Iterator[Entry]:
        """Every position in order (from the leaf `start_leaf`): sealed ones by leaf index,
        then any unsealed events."""
        after_position, leaf = 0, start_leaf
        if start_leaf:
            before = conn.execute(
                select(event_seals.c.position).where(event_seals.c.leaf_index == start_leaf - 1)
            ).scalar()
            after_position = int(before or 0)
        while True:
            seals = [
                _seal(row)
                for row in conn.execute(
                    _with_sm3(select(event_seals))
                    .where(event_seals.c.leaf_index >= leaf)
                    .order_by(event_seals.c.leaf_index)
                    .limit(page)
                )
            ]
            if not seals:
                break
            last_position = max(after_position, max(s.position for s in seals))
            events = self._events(conn, after_position, last_position)
            yield from _match(seals, events)
            after_position, leaf = last_position, seals[-1].leaf_index + 1
        for event in self._events(conn, after_position, None):
            yield Entry(event.position, None, event)

    def sealed_size(self, conn: Connection) -> int:
        """How many leaves this tree's hash has sealed (for SM3: how far its chain reaches)."""
        last = conn.execute(select(func.max(self._leaves.c.leaf_index))).scalar()
        return 0 if last is None else int(last) + 1

    def has_stream(self, conn: Connection, subject_id: UUID) -> bool:
        found = conn.execute(
            select(event_seals.c.position).where(event_seals.c.stream_id == subject_id).limit(1)
        )
        return found.first() is not None

    def subject_entries(self, conn: Connection, subject_id: UUID) -> list[Entry]:
        """One subject's seals and events, matched by position, in position order."""
        seals = [
            _seal(row)
            for row in conn.execute(
                _with_sm3(select(event_seals))
                .where(event_seals.c.stream_id == subject_id)
                .order_by(event_seals.c.version)
            )
        ]
        stream = subject_id if self.postgres else subject_id.hex
        rows = conn.execute(
            text(f"{self._events_sql} WHERE originator_id = :stream"), {"stream": stream}
        )
        return sorted(_match(seals, [_stored(row) for row in rows]), key=lambda e: e.position)

    def _events(self, conn: Connection, after: int, upto: int | None) -> list[StoredRow]:
        where = f"{self._position} > :after" + (f" AND {self._position} <= :upto" if upto else "")
        rows = conn.execute(
            text(f"{self._events_sql} WHERE {where} ORDER BY {self._position}"),
            {"after": after, "upto": upto},
        )
        return [_stored(row) for row in rows]

    # The tree ---------------------------------------------------------------------------
    def extend_tree(self, conn: Connection, from_size: int, to_size: int) -> bytes:
        """Store the perfect subtrees completed by leaves from_size..to_size-1 (the caller
        holds the checkpoint lock) and return the root of the tree of to_size."""
        frontier = self._nodes(conn, set(frontier_nodes(from_size)))
        log = MerkleLog.resume(
            from_size, [frontier[node] for node in frontier_nodes(from_size)], self._tree
        )
        insert = postgresql_insert if self.postgres else sqlite_insert
        leaf = from_size
        while leaf < to_size:
            upto = min(to_size, leaf + 10_000)
            completed = []
            for digest in self._leaf_hashes(conn, leaf, upto):
                completed += log.append(digest)
            if completed:
                conn.execute(
                    insert(self._nodes_table).on_conflict_do_nothing(),
                    [{"level": lv, "node_index": i, "hash": h} for lv, i, h in completed],
                )
            leaf = upto
        return log.root()

    def root(self, conn: Connection, size: int) -> bytes:
        if size == 0:
            return self._tree.empty
        return self._compute(conn, lambda subtree: subtree(0, size))

    def inclusion_proof(self, conn: Connection, index: int, size: int) -> list[bytes]:
        return self._compute(conn, lambda subtree: inclusion_path(size, index, subtree))

    def inclusion_proofs(
        self, conn: Connection, indices: Sequence[int], size: int
    ) -> dict[int, list[bytes]]:
        """Proofs for many leaves of one tree, from one fetch of the stored subtrees they
        share (a subject export asks for one per event)."""
        return self._compute(
            conn, lambda subtree: {i: inclusion_path(size, i, subtree) for i in indices}
        )

    def consistency_proof(self, conn: Connection, old_size: int, size: int) -> list[bytes]:
        return self._compute(conn, lambda subtree: consistency_path(old_size, size, subtree))

    def _compute(self, conn: Connection, compute):
        """Run a root or proof computation on stored subtrees, fetched in one round trip."""
        nodes = self._nodes(conn, perfect_nodes_needed(compute))
        return compute(lambda lo, hi: range_root(lo, hi, lambda lv, i: nodes[(lv, i)], self._tree))

    def _nodes(self, conn: Connection, wanted: set[tuple[int, int]]) -> dict:
        leaves = [index for level, index in wanted if level == 0]
        inner = [(level, index) for level, index in wanted if level > 0]
        found: dict[tuple[int, int], bytes] = {}
        seals, nodes = self._leaves, self._nodes_table
        for start in range(0, len(leaves), 500):
            rows = conn.execute(
                select(seals.c.leaf_index, seals.c.event_hash).where(
                    seals.c.leaf_index.in_(leaves[start : start + 500])
                )
            )
            found |= {(0, int(i)): event_leaf(bytes(h), self.hash) for i, h in rows}
        for start in range(0, len(inner), 300):
            node_rows = conn.execute(
                select(nodes).where(
                    tuple_(nodes.c.level, nodes.c.node_index).in_(inner[start : start + 300])
                )
            )
            found |= {(int(lv), int(i)): bytes(h) for lv, i, h in node_rows}
        missing = wanted - found.keys()
        if missing:
            raise LookupError(f"the tree has no stored node for {sorted(missing)[:3]}")
        return found

    def _leaf_hashes(self, conn: Connection, lo: int, hi: int) -> list[bytes]:
        seals = self._leaves
        rows = conn.execute(
            select(seals.c.leaf_index, seals.c.event_hash)
            .where(seals.c.leaf_index >= lo, seals.c.leaf_index < hi)
            .order_by(seals.c.leaf_index)
        ).all()
        if [int(row[0]) for row in rows] != list(range(lo, hi)):
            raise LookupError(f"leaves {lo}..{hi - 1} are not all sealed")
        return [event_leaf(bytes(row[1]), self.hash) for row in rows]

    def seal_at(self, conn: Connection, position: int) -> Seal | None:
        row = conn.execute(select(event_seals).where(event_seals.c.position == position)).first()
        return _seal(row) if row else None


def _match(seals: Sequence[Seal], events: Sequence[StoredRow]) -> list[Entry]:
    by_position = {event.position: event for event in events}
    entries = [Entry(seal.position, seal, by_position.pop(seal.position, None)) for seal in seals]
    entries += [Entry(event.position, None, event) for event in by_position.values()]
    return entries


def _with_sm3(query):
    """Seals with their SM3 chain's hash, where the 国密 suite has sealed them."""
    return query.add_columns(event_seals_sm3.c.event_hash.label("sm3_hash")).outerjoin(
        event_seals_sm3, event_seals_sm3.c.leaf_index == event_seals.c.leaf_index
    )


def _seal(row) -> Seal:
    sm3 = getattr(row, "sm3_hash", None)
    return Seal(
        int(row.position),
        int(row.leaf_index),
        row.stream_id,
        int(row.version),
        bytes(row.event_hash),
        bytes(row.prev_hash) if row.prev_hash is not None else None,
        bytes(sm3) if sm3 is not None else None,
    )


def _stored(row) -> StoredRow:
    stream = row[1] if isinstance(row[1], UUID) else UUID(row[1])
    return StoredRow(int(row[0]), stream, int(row[2]), row[3], bytes(row[4]))
