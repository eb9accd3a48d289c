"""What makes the log tamper-evident, independent of any database: the canonical encoding of a
stored event, the hash that chains it to the previous event of its stream, and the leaf it
becomes in the log's Merkle tree.

An event's hash covers the previous event's hash in the same stream, so changing, removing or
reordering one event changes the hash of every later event of that stream. The same hashes are
the leaves of one RFC 6962 Merkle tree over the whole log in position order, whose signed roots
(checkpoints) let an auditor prove later that nothing before them has changed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson
import rfc8785

from domain.crypto_suite import ED25519, SHA256, HashAlgorithm

GENESIS = None  # the "prev" of a stream's first event


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 (JSON Canonicalization Scheme) bytes of a float-free JSON value.

    Compact orjson output with sorted keys is byte-for-byte JCS for strings, integers within
    2**53, booleans, nulls, arrays and objects, except that JCS sorts keys by UTF-16 code units,
    which differs from code-point order only for characters beyond the Basic Multilingual
    Plane: those (and integers beyond 2**53, which JCS refuses) take the reference encoder.
    Stored payloads hold no floats: amounts are decimals, transcoded to strings, and a test
    holds every event field to that. A float still encodes deterministically here, in orjson's
    shortest form rather than JCS's, so hashes stay stable either way.
    """
    try:
        fast = orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER)
    except orjson.JSONEncodeError:  # an integer beyond 2**53
        return rfc8785.dumps(value)
    if len(fast.translate(None, _BEYOND_BMP_LEADS)) != len(fast):
        return rfc8785.dumps(value)
    return fast


# The lead bytes of 4-byte UTF-8 sequences: characters beyond the BMP.
_BEYOND_BMP_LEADS = bytes(range(0xF0, 0xF5))


def event_document(
    prev: bytes | None, stream_id: UUID, version: int, topic: str, state: Any
) -> dict[str, Any]:
    """The fields an event's hash covers. `state` is the stored payload as JSON."""
    return {
        "prev": prev.hex() if prev is not None else GENESIS,
        "stream": str(stream_id),
        "version": version,
        "topic": topic,
        "state": state,
    }


def event_hash(
    prev: bytes | None,
    stream_id: UUID,
    version: int,
    topic: str,
    state: Any,
    hash_: HashAlgorithm = SHA256,
) -> bytes:
    """SHA-256 (or the SM3 chain's SM3) of the canonical encoding of the event and the hash of
    the event before it in its stream in the same chain (None for the first)."""
    document = event_document(prev, stream_id, version, topic, state)
    return hash_.digest(canonical_json(document))


def stored_event_hash(
    prev: bytes | None,
    stream_id: UUID,
    version: int,
    topic: str,
    state: bytes,
    hash_: HashAlgorithm = SHA256,
) -> bytes:
    """`event_hash` of an event as the store holds it (its payload as JSON bytes)."""
    return event_hash(prev, stream_id, version, topic, orjson.loads(state), hash_)


def event_leaf(event_hash_: bytes, hash_: HashAlgorithm = SHA256) -> bytes:
    """The event's leaf in the log's Merkle tree of that hash."""
    return hash_.tree.leaf(event_hash_)


CHECKPOINT_FORMAT_2 = "credit-checkpoint/2"
CHECKPOINT_FORMAT_3 = "credit-checkpoint/3"  # format 2 and the SM3 tree's root (国密 suite)


def checkpoint_message(
    origin: str,
    tree_size: int,
    root: bytes,
    issued_at: datetime,
    logs: dict[str, dict[str, Any]] | None = None,
    sm3_root: bytes | None = None,
) -> bytes:
    """The bytes a checkpoint's signatures cover: the canonical JSON of the log's name, the
    tree size, its root and when it was signed (UTC, whole seconds).

    Format 1 (no `logs`) is what checkpoints signed before the chained logs were anchored
    cover, byte for byte, so they keep verifying. Format 2 adds `format` and `logs`: the head
    (`seq`, `hash`) of each chained log (access log, admin log) at signing time. Format 3
    (the 国密 suite) adds `sm3_root`, the root of the SM3 tree over the same leaves; its
    Ed25519 and its SM2 signature both cover these bytes."""
    document: dict[str, Any] = {
        "origin": origin,
        "tree_size": tree_size,
        "root": root.hex(),
        "issued_at": issued_at.astimezone(UTC).isoformat(),
    }
    if sm3_root is not None:
        document |= {"format": CHECKPOINT_FORMAT_3, "logs": logs or {}, "sm3_root": sm3_root.hex()}
    elif logs is not None:
        document |= {"format": CHECKPOINT_FORMAT_2, "logs": logs}
    return canonical_json(document)


def signature_valid(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """Whether an Ed25519 signature verifies; never raises on malformed input from outside."""
    return ED25519.verify(public_key, signature, message)
