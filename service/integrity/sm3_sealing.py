"""The 国密 suite's SM3 chain (GB/T 32905): every sealed event hashed again with SM3 over the
same canonical document, chained to the SM3 hash of the previous event of its stream, so that
the SM3 Merkle tree has a leaf for each SHA-256 one.

Written by the checkpoint maker, under its lock and in its transaction, for every leaf the SM3
chain does not reach yet: on a store that ran the standard suite before, the first 国密
checkpoint takes in its whole history. Each event is first checked against its SHA-256 seal,
written when it was stored: content that no longer matches it is not sealed again, and the
checkpoint is refused. So the SM3 chain attests nothing the SHA-256 chain did not, and events
appended since the last checkpoint are covered by the append-only triggers until the next, as
in the standard suite (docs/audit.md)."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import Connection, insert, select

from domain.crypto_suite import SHA256, SM3
from domain.errors import SealNoLongerHolds
from domain.integrity import stored_event_hash
from service.integrity.log import SealedLog
from service.integrity.tables import event_seals, event_seals_sm3

PAGE = 5000


def extend_sm3_chain(conn: Connection, log: SealedLog, upto: int) -> int:
    """Seal leaves from the first without an SM3 hash up to `upto` - 1; returns how many."""
    done = SealedLog(log.engine, SM3).sealed_size(conn)
    if done >= upto:
        return 0
    heads: dict[UUID, tuple[int, bytes]] = {}
    rows: list[dict[str, object]] = []
    written = 0
    for entry in log.entries(conn, page=PAGE, start_leaf=done):
        seal, event = entry.seal, entry.event
        if seal is None:
            continue  # an event without a seal: the verifiers name it; it is no leaf
        if seal.leaf_index >= upto:
            break
        if event is None or (event.stream_id, event.version) != (seal.stream_id, seal.version):
            raise SealNoLongerHolds(
                f"leaf {seal.leaf_index} (position {seal.position}): the event sealed there is "
                "missing or moved; run `credit audit export` and `credit audit verify-export`"
            )
        if (
            stored_event_hash(
                seal.prev_hash, event.stream_id, event.version, event.topic, event.state, SHA256
            )
            != seal.event_hash
        ):
            raise SealNoLongerHolds(
                f"event at position {seal.position} (stream {event.stream_id} version "
                f"{event.version}) no longer matches its SHA-256 seal: not sealing it with SM3"
            )
        if event.version == 1:
            prev = None
        else:
            known = heads.get(event.stream_id)
            if known is None or known[0] != event.version - 1:
                known = (event.version - 1, _sm3_of(conn, event.stream_id, event.version - 1))
            prev = known[1]
        digest = stored_event_hash(
            prev, event.stream_id, event.version, event.topic, event.state, SM3
        )
        heads[event.stream_id] = (event.version, digest)
        rows.append({"leaf_index": seal.leaf_index, "event_hash": digest})
        if len(rows) >= PAGE:
            conn.execute(insert(event_seals_sm3), rows)
            written, rows = written + len(rows), []
    if rows:
        conn.execute(insert(event_seals_sm3), rows)
        written += len(rows)
    return written


def _sm3_of(conn: Connection, stream_id: UUID, version: int) -> bytes:
    found = conn.execute(
        select(event_seals_sm3.c.event_hash)
        .join(event_seals, event_seals.c.leaf_index == event_seals_sm3.c.leaf_index)
        .where(event_seals.c.stream_id == stream_id, event_seals.c.version == version)
    ).scalar()
    if found is None:
        raise SealNoLongerHolds(
            f"stream {stream_id}: version {version} has no SM3 seal, though a later one is sealed"
        )
    return bytes(found)
