"""The integrity tables: one seal per stored event, the Merkle tree's perfect subtrees, signed
checkpoints and the keys that signed them. All are append-only, like the events."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Uuid,
)

metadata = MetaData()

# Written in the same transaction as the event it seals (service/integrity/sealing.py).
event_seals = Table(
    "event_seals",
    metadata,
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    Column("leaf_index", BigInteger, nullable=False, unique=True),
    Column("stream_id", Uuid, nullable=False),
    Column("version", Integer, nullable=False),
    Column("event_hash", LargeBinary, nullable=False),
    Column("prev_hash", LargeBinary, nullable=True),
    Index("event_seals_stream", "stream_id", "version", unique=True),
)

# The 国密 suite's SM3 chain (GB/T 32905): each event's SM3 hash over the same canonical document
# as its SHA-256 seal, chained to the SM3 hash of the previous event of its stream. Written by the
# checkpoint maker for every leaf not yet in it, after checking the event against its SHA-256
# seal (service/integrity/sm3_sealing.py).
event_seals_sm3 = Table(
    "event_seals_sm3",
    metadata,
    Column("leaf_index", BigInteger, primary_key=True, autoincrement=False),
    Column("event_hash", LargeBinary, nullable=False),
)

# Roots of the perfect subtrees (2**level leaves, level >= 1) of every checkpointed tree; the
# leaves themselves are the seals.
merkle_nodes = Table(
    "merkle_nodes",
    metadata,
    Column("level", SmallInteger, primary_key=True, autoincrement=False),
    Column("node_index", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary, nullable=False),
)

# The same for the SM3 tree over `event_seals_sm3`.
merkle_nodes_sm3 = Table(
    "merkle_nodes_sm3",
    metadata,
    Column("level", SmallInteger, primary_key=True, autoincrement=False),
    Column("node_index", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary, nullable=False),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    # Several checkpoints may sign one tree size: the chained logs they anchor grow without it.
    Column(
        "checkpoint_id",
        BigInteger().with_variant(Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    Column("tree_size", BigInteger, nullable=False),
    Column("root", LargeBinary, nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("origin", String(200), nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("signature", LargeBinary, nullable=False),
    # The chained logs' heads, {"access_log": {"seq", "hash"}, "admin_log": ...}, signed with
    # the tree (checkpoint format 2); NULL for checkpoints of format 1, which anchored none.
    Column("logs", JSON, nullable=True),
    # Format 3 (the 国密 suite): the SM3 tree's root at the same size, and the SM2 signature
    # beside the Ed25519 one over the same bytes; NULL for checkpoints of formats 1 and 2.
    Column("sm3_root", LargeBinary, nullable=True),
    Column("sm2_key_id", String(64), nullable=True),
    Column("sm2_signature", LargeBinary, nullable=True),
    Index("checkpoints_tree_size", "tree_size", "checkpoint_id"),
)

# Every key that ever signed a checkpoint stays here and published: a checkpoint saved years
# ago must still verify.
checkpoint_keys = Table(
    "checkpoint_keys",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("public_key", LargeBinary, nullable=False),
    Column("private_key", LargeBinary, nullable=False),  # wrapped with the key-encryption key
    # "Ed25519" or "SM2" (domain/crypto_suite.py names both)
    Column("algorithm", String(16), nullable=False, server_default="Ed25519"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("retired_at", DateTime(timezone=True), nullable=True),
)

INTEGRITY_TABLES = (
    event_seals,
    merkle_nodes,
    event_seals_sm3,
    merkle_nodes_sm3,
    checkpoints,
    checkpoint_keys,
)
