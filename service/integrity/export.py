"""Signed NDJSON exports of the log (a subject's events or the whole store), each with the
checkpoint it matches, so that an auditor can check it offline with `credit verify-export`.

Lines, in order: `export` (what and when), one `event` per position (the stored event and its
seal, and for a subject export the event's inclusion proof), the `checkpoint`, a `consistency`
proof from the tree size the auditor already holds (if asked for), the `keys` that sign
checkpoints, and last a `signature` over the SHA-256 of every line before it. A checkpoint of
the 国密 suite (format 3) adds the SM3 chain and tree: each seal's `sm3_event_hash`, each
inclusion proof's `sm3_inclusion_proof`, the consistency line's `sm3_proof`, and in the
signature line the SM3 of the same lines and its SM2 signature."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson

from domain.crypto_suite import SHA256, SM2, SM3
from service.integrity.checkpoints import Checkpoint, Checkpoints
from service.integrity.log import Entry

EXPORT_FORMAT = "credit-log-export/1"


class ExportRangeError(ValueError):
    """A `since_tree_size` the log has never had."""


def export_lines(
    checkpoints: Checkpoints,
    *,
    subject_id: UUID | None = None,
    since_tree_size: int | None = None,
    checkpoint: Checkpoint | None = None,
) -> Iterator[bytes]:
    """The export's lines; `checkpoint` (default: one made now) is the one it matches."""
    checkpoint = checkpoint or checkpoints.make()
    size = checkpoint.tree_size
    if since_tree_size is not None and not 0 <= since_tree_size <= size:
        raise ExportRangeError(
            f"since_tree_size {since_tree_size} is beyond the log's {size} sealed events"
        )
    gm = checkpoint.sm3_root is not None
    digest, sm3_digest = SHA256.new(), SM3.new()

    def line(document: dict[str, Any]) -> bytes:
        encoded = orjson.dumps(document) + b"\n"
        digest.update(encoded)
        if gm:
            sm3_digest.update(encoded)
        return encoded

    log = checkpoints.log
    yield line(
        {
            "type": "export",
            "format": EXPORT_FORMAT,
            "origin": checkpoints.origin,
            "scope": "subject" if subject_id else "store",
            "subject_id": str(subject_id) if subject_id else None,
            "tree_size": size,
            "generated_at": datetime.now(UTC).isoformat(),
        }
    )
    with checkpoints.reader.connect() as conn:
        if subject_id is None:
            last_position = None
            for entry in log.entries(conn):
                if entry.seal is not None and entry.seal.leaf_index >= size:
                    break  # sealed after the checkpoint: the next export has it
                if entry.seal is None and last_position and entry.position > last_position:
                    break
                if entry.seal is not None:
                    last_position = entry.position
                yield line(_event(entry))
        else:
            entries = [
                entry
                for entry in log.subject_entries(conn, subject_id)
                if entry.seal is None or entry.seal.leaf_index < size
            ]
            leaves = [e.seal.leaf_index for e in entries if e.seal is not None]
            proofs = log.inclusion_proofs(conn, leaves, size)
            sm3_proofs = checkpoints.sm3_log.inclusion_proofs(conn, leaves, size) if gm else {}
            for entry in entries:
                document = _event(entry)
                if entry.seal is not None:
                    proof = proofs[entry.seal.leaf_index]
                    document["inclusion_proof"] = [h.hex() for h in proof]
                    if gm:
                        sm3_proof = sm3_proofs[entry.seal.leaf_index]
                        document["sm3_inclusion_proof"] = [h.hex() for h in sm3_proof]
                yield line(document)
        yield line({"type": "checkpoint", **checkpoint.as_json()})
        if since_tree_size is not None:
            proof = log.consistency_proof(conn, since_tree_size, size)
            consistency: dict[str, Any] = {
                "type": "consistency",
                "old_size": since_tree_size,
                "new_size": size,
                "proof": [h.hex() for h in proof],
            }
            if gm:
                sm3_proof = checkpoints.sm3_log.consistency_proof(conn, since_tree_size, size)
                consistency["sm3_proof"] = [h.hex() for h in sm3_proof]
            yield line(consistency)
    yield line({"type": "keys", "keys": checkpoints.public_keys()})
    key_id, signature = checkpoints.sign(digest.digest())
    trailer: dict[str, Any] = {
        "type": "signature",
        "algorithm": "Ed25519",
        "key_id": key_id,
        "sha256": digest.hexdigest(),
        "signature": base64.b64encode(signature).decode(),
    }
    if gm:
        sm2_key_id, sm2_signature = checkpoints.sign(sm3_digest.digest(), SM2)
        trailer |= {
            "sm3": sm3_digest.hexdigest(),
            "sm2": {
                "algorithm": SM2.name,
                "key_id": sm2_key_id,
                "signature": base64.b64encode(sm2_signature).decode(),
            },
        }
    yield orjson.dumps(trailer) + b"\n"


def _event(entry: Entry) -> dict[str, Any]:
    document: dict[str, Any] = {"type": "event", "position": entry.position}
    if entry.event is not None:
        event = entry.event
        document |= {"stream": str(event.stream_id), "version": event.version, "topic": event.topic}
        try:
            document["state"] = orjson.loads(event.state)
        except orjson.JSONDecodeError:
            document["state_base64"] = base64.b64encode(event.state).decode()
    if entry.seal is not None:
        seal = entry.seal
        document["seal"] = {
            "leaf_index": seal.leaf_index,
            "stream": str(seal.stream_id),
            "version": seal.version,
            "event_hash": seal.event_hash.hex(),
            "prev_hash": seal.prev_hash.hex() if seal.prev_hash else None,
        }
        if seal.sm3_hash is not None:
            document["seal"]["sm3_event_hash"] = seal.sm3_hash.hex()
    return document


def export_summary(
    checkpoint: Checkpoint, subject_id: UUID | None, since_tree_size: int | None
) -> dict[str, Any]:
    """What an export carries, for the access log: its scope, the range of the log's sealed
    events it covers (leaves 0 to tree_size - 1; a store export holds all of them) and the
    checkpoint root it matches, which names those events exactly."""
    summary: dict[str, Any] = {
        "export": "subject" if subject_id else "store",
        "tree_size": checkpoint.tree_size,
        "root": checkpoint.root.hex(),
        "since_tree_size": since_tree_size,
    }
    if subject_id is None:
        summary["leaves"] = [0, checkpoint.tree_size - 1] if checkpoint.tree_size else []
        summary["events"] = checkpoint.tree_size
    return summary
