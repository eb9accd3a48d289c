"""Signed checkpoints: the size and root of the log's Merkle tree at a moment, and the heads of
the chained logs (access log, admin log), signed with Ed25519, made on a schedule and on
demand. Every key that ever signed one stays published."""

from __future__ import annotations

import base64
import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, Engine, func, insert, select, text, update

from domain.errors import ChainedLogCut
from domain.integrity import CHECKPOINT_FORMAT_2, checkpoint_message, signature_valid
from service.access.chained_log import ChainCheck, ChainedLog, Head
from service.access.keys import KeyInUse
from service.access.secrets import KeyWrapper, new_ed25519_key
from service.integrity.log import SealedLog
from service.integrity.tables import checkpoint_keys, checkpoints
from service.store.database import transaction

log = logging.getLogger(__name__)
# One checkpoint maker at a time across processes (PostgreSQL); SQLite's BEGIN IMMEDIATE on the
# write engine serialises them there.
CHECKPOINT_LOCK = 0x63726564


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    tree_size: int
    root: bytes
    issued_at: datetime
    key_id: str
    signature: bytes
    # Format 2: each chained log's head, {"access_log": {"seq": n, "hash": h}, ...}; None for
    # a format 1 checkpoint, signed before the logs were anchored.
    logs: dict[str, dict[str, Any]] | None = None

    def message(self) -> bytes:
        return checkpoint_message(self.origin, self.tree_size, self.root, self.issued_at, self.logs)

    def head(self, log: str) -> Head | None:
        anchored = (self.logs or {}).get(log)
        return Head(int(anchored["seq"]), anchored["hash"]) if anchored else None

    def as_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "origin": self.origin,
            "tree_size": self.tree_size,
            "root": self.root.hex(),
            "issued_at": self.issued_at.isoformat(),
            "key_id": self.key_id,
            "algorithm": "Ed25519",
            "signature": base64.b64encode(self.signature).decode(),
        }
        if self.logs is not None:
            document |= {"format": CHECKPOINT_FORMAT_2, "logs": self.logs}
        return document

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Checkpoint:
        """A checkpoint as `as_json` wrote it (one an auditor saved); raises KeyError,
        ValueError or TypeError if it is not one."""
        return cls(
            document["origin"],
            int(document["tree_size"]),
            bytes.fromhex(document["root"]),
            datetime.fromisoformat(document["issued_at"]),
            document["key_id"],
            base64.b64decode(document["signature"], validate=True),
            document.get("logs"),
        )


@dataclass(frozen=True)
class CheckpointCheck:
    """A stored checkpoint checked against what the service holds now: the key that signed it
    is one the service publishes, its Ed25519 signature verifies with that key, and the Merkle
    tree the service proves from (its stored subtrees and the events' seals) still has the
    signed root at the signed size. `log_size` is how many events are sealed now: those beyond
    the checkpoint are covered by the next one."""

    checkpoint: Checkpoint
    key_published: bool
    key_retired: bool
    signature_valid: bool
    root_holds: bool
    log_size: int

    @property
    def ok(self) -> bool:
        return self.key_published and self.signature_valid and self.root_holds

    @property
    def events_since(self) -> int:
        return max(0, self.log_size - self.checkpoint.tree_size)


class Checkpoints:
    def __init__(
        self,
        engine: Engine,
        reader: Engine,
        wrapper: KeyWrapper,
        *,
        origin: str,
        chains: tuple[ChainedLog, ...] = (),
    ):
        self.engine = engine  # writes: checkpoints, tree nodes, keys
        self.reader = reader  # consistent reads that never hold up writers
        self.wrapper = wrapper
        self.origin = origin
        self.log = SealedLog(engine)
        self.chains = chains  # the chained logs whose heads every checkpoint anchors

    # Making ---------------------------------------------------------------------------------
    def make(self, now: datetime | None = None) -> Checkpoint:
        """Sign the tree and the chained logs' heads as they are now; if nothing was appended
        to any of them since the last checkpoint, that one is the answer.

        Refuses (ChainedLogCut) when a chained log no longer holds the head the last
        checkpoint anchored: signing its shorter or rewritten chain would hide the cut."""
        with self.engine.begin() as conn:
            if self.log.postgres:
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHECKPOINT_LOCK})
            latest = self._latest(conn)
            size = self.log.size(conn)
            heads = {chain.name: chain.head(conn) for chain in self.chains}
            if latest is not None:
                self._refuse_cut(conn, latest)
            logs = {name: head.as_json() for name, head in heads.items()}
            if latest is not None and latest.tree_size == size and latest.logs == logs:
                return latest
            built = latest.tree_size if latest else 0
            if latest is not None and size == built:
                root = latest.root  # only the chained logs grew
            else:
                root = self.log.extend_tree(conn, built, size)
            issued_at = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
            key_id, private = self._active_key(conn)
            message = checkpoint_message(self.origin, size, root, issued_at, logs)
            checkpoint = Checkpoint(
                self.origin, size, root, issued_at, key_id, private.sign(message), logs
            )
            conn.execute(
                insert(checkpoints).values(
                    tree_size=size,
                    root=root,
                    issued_at=issued_at,
                    origin=self.origin,
                    key_id=key_id,
                    signature=checkpoint.signature,
                    logs=logs,
                )
            )
            return checkpoint

    def _refuse_cut(self, conn: Connection, latest: Checkpoint) -> None:
        for chain in self.chains:
            anchored = latest.head(chain.name)
            if anchored is None or anchored.seq == 0:
                continue
            if chain.hash_at(conn, anchored.seq) != anchored.hash:
                log.error(
                    "%s no longer holds seq %s as checkpointed: not signing", chain.name, anchored
                )
                raise ChainedLogCut(
                    f"the {chain.name.replace('_', ' ')} no longer holds seq {anchored.seq} as "
                    f"the checkpoint of {latest.issued_at.isoformat()} signed it: its tail was "
                    "cut or rewritten; run `credit audit verify-access-log`"
                )

    def verify_chains(
        self, saved: tuple[Checkpoint, ...] = (), *, only: str | None = None
    ) -> dict[str, ChainCheck]:
        """Walk each chained log (or the one named `only`) against every head a checkpoint
        anchored: those stored here, and those of `saved` checkpoints an auditor kept elsewhere
        (whose signatures the caller has checked). Anchors and logs are read in one snapshot."""
        with self.reader.connect() as conn:
            stored = [
                _checkpoint(row)
                for row in conn.execute(select(checkpoints).where(checkpoints.c.logs.is_not(None)))
            ]
            results = {}
            for chain in self.chains:
                if only is not None and chain.name != only:
                    continue
                anchors: dict[int, str] = {}
                for checkpoint in (*stored, *saved):
                    head = checkpoint.head(chain.name)
                    if head is not None and head.seq:
                        # Two checkpoints that disagree about one seq: no row can match both.
                        known = anchors.get(head.seq, head.hash)
                        anchors[head.seq] = head.hash if known == head.hash else "conflicting"
                results[chain.name] = chain.check(anchors, conn)
            return results

    def verify(self, checkpoint: Checkpoint) -> CheckpointCheck:
        """Check a checkpoint (the latest, one an auditor saved) against the published keys and
        the tree as stored now, in one snapshot. A tree that lacks a node the root needs does
        not hold."""
        with self.reader.connect() as conn:
            key = conn.execute(
                select(checkpoint_keys.c.public_key, checkpoint_keys.c.retired_at).where(
                    checkpoint_keys.c.key_id == checkpoint.key_id
                )
            ).first()
            size = self.log.size(conn)
            try:
                root_holds = (
                    checkpoint.tree_size <= size
                    and self.log.root(conn, checkpoint.tree_size) == checkpoint.root
                )
            except LookupError:
                root_holds = False
        signed = key is not None and signature_valid(
            bytes(key.public_key), checkpoint.signature, checkpoint.message()
        )
        return CheckpointCheck(
            checkpoint,
            key_published=key is not None,
            key_retired=key is not None and key.retired_at is not None,
            signature_valid=signed,
            root_holds=root_holds,
            log_size=size,
        )

    def sign(self, message: bytes) -> tuple[str, bytes]:
        """Sign with the active checkpoint key (exports are signed with it too)."""
        with self.engine.begin() as conn:
            key_id, private = self._active_key(conn)
        return key_id, private.sign(message)

    def rotate_key(self, *, conn: Connection | None = None) -> str:
        """Retire the signing key; the next checkpoint is signed by a new one. Retired keys
        stay published, since checkpoints they signed must keep verifying."""
        with transaction(self.engine, conn) as tx:
            tx.execute(
                update(checkpoint_keys)
                .where(checkpoint_keys.c.retired_at.is_(None))
                .values(retired_at=datetime.now(UTC))
            )
            return self._create_key(tx)[0]

    # Reading --------------------------------------------------------------------------------
    def latest(self) -> Checkpoint | None:
        with self.reader.connect() as conn:
            return self._latest(conn)

    def at_size(self, tree_size: int) -> Checkpoint | None:
        with self.reader.connect() as conn:
            row = conn.execute(
                select(checkpoints)
                .where(checkpoints.c.tree_size == tree_size)
                .order_by(checkpoints.c.checkpoint_id.desc())
                .limit(1)
            ).first()
            return _checkpoint(row) if row else None

    def recent(self, limit: int = 100, before_size: int | None = None) -> list[Checkpoint]:
        query = (
            select(checkpoints)
            .order_by(checkpoints.c.tree_size.desc(), checkpoints.c.checkpoint_id.desc())
            .limit(limit)
        )
        if before_size is not None:
            query = query.where(checkpoints.c.tree_size < before_size)
        with self.reader.connect() as conn:
            return [_checkpoint(row) for row in conn.execute(query)]

    def public_keys(self) -> list[dict[str, Any]]:
        with self.reader.connect() as conn:
            rows = conn.execute(select(checkpoint_keys).order_by(checkpoint_keys.c.created_at))
            return [
                {
                    "key_id": row.key_id,
                    "algorithm": "Ed25519",
                    "public_key": base64.b64encode(bytes(row.public_key)).decode(),
                    "created_at": _utc(row.created_at).isoformat(),
                    "retired_at": _utc(row.retired_at).isoformat() if row.retired_at else None,
                }
                for row in rows
            ]

    def keys(self) -> list[KeyInUse]:
        """Every checkpoint key, newest first; none is ever unpublished."""
        with self.reader.connect() as conn:
            rows = conn.execute(
                select(
                    checkpoint_keys.c.key_id,
                    checkpoint_keys.c.created_at,
                    checkpoint_keys.c.retired_at,
                ).order_by(checkpoint_keys.c.created_at.desc())
            ).all()
        return [
            KeyInUse.listed(
                "checkpoint",
                row.key_id,
                _utc(row.created_at),
                _utc(row.retired_at) if row.retired_at else None,
                None,
            )
            for row in rows
        ]

    def _latest(self, conn: Connection) -> Checkpoint | None:
        top = select(func.max(checkpoints.c.checkpoint_id)).scalar_subquery()
        row = conn.execute(select(checkpoints).where(checkpoints.c.checkpoint_id == top)).first()
        return _checkpoint(row) if row else None

    # Keys -----------------------------------------------------------------------------------
    def _active_key(self, conn: Connection) -> tuple[str, Ed25519PrivateKey]:
        row = conn.execute(
            select(checkpoint_keys)
            .where(checkpoint_keys.c.retired_at.is_(None))
            .order_by(checkpoint_keys.c.created_at.desc())
        ).first()
        if row is None:
            return self._create_key(conn)
        raw = self.wrapper.unwrap(bytes(row.private_key), f"checkpoint-key:{row.key_id}")
        return row.key_id, Ed25519PrivateKey.from_private_bytes(raw)

    def _create_key(self, conn: Connection) -> tuple[str, Ed25519PrivateKey]:
        key_id = uuid.uuid4().hex
        private, raw = new_ed25519_key()
        public = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        conn.execute(
            insert(checkpoint_keys).values(
                key_id=key_id,
                public_key=public,
                private_key=self.wrapper.wrap(raw, f"checkpoint-key:{key_id}"),
                created_at=datetime.now(UTC),
                retired_at=None,
            )
        )
        return key_id, private


def _utc(moment: datetime) -> datetime:
    """SQLite hands timestamps back naive; they were written in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _checkpoint(row) -> Checkpoint:
    return Checkpoint(
        row.origin,
        int(row.tree_size),
        bytes(row.root),
        _utc(row.issued_at),
        row.key_id,
        bytes(row.signature),
        row.logs,
    )


class CheckpointSchedule:
    """Makes a checkpoint every `seconds` while the log grows, in a thread of the process that
    follows the log (the API or the worker)."""

    def __init__(self, checkpoints: Checkpoints, seconds: float):
        self.checkpoints = checkpoints
        self.seconds = seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.seconds <= 0:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="checkpoints", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(self.seconds):
            try:
                self.checkpoints.make()
            except Exception as error:  # the next tick tries again; say why this one failed
                log.warning("scheduled checkpoint failed: %s", error)
