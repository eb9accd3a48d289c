"""Signed checkpoints: the size and root of the log's Merkle tree at a moment, and the heads of
the chained logs (access log, admin log), signed with Ed25519, made on a schedule and on
demand. With the 国密 suite a checkpoint also carries the SM3 tree's root and an SM2 signature
(format 3). Every key that ever signed one stays published."""

from __future__ import annotations

import base64
import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, text, update

from domain.crypto_suite import ED25519, SM2, SM3, STANDARD, CryptoSuite, SignatureScheme
from domain.crypto_suite import signature_valid as scheme_signature_valid
from domain.errors import ChainedLogCut
from domain.integrity import CHECKPOINT_FORMAT_2, CHECKPOINT_FORMAT_3, checkpoint_message
from service.access.chained_log import ChainCheck, ChainedLog, Head
from service.access.keys import KeyInUse
from service.access.secrets import KeyWrapper
from service.integrity.log import SealedLog
from service.integrity.sm3_sealing import extend_sm3_chain
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
    # Format 3 (the 国密 suite): the SM3 tree's root and the SM2 signature of the same bytes.
    sm3_root: bytes | None = None
    sm2_key_id: str | None = None
    sm2_signature: bytes | None = None

    def message(self) -> bytes:
        return checkpoint_message(
            self.origin, self.tree_size, self.root, self.issued_at, self.logs, self.sm3_root
        )

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
        if self.sm3_root is not None:
            document |= {
                "format": CHECKPOINT_FORMAT_3,
                "logs": self.logs or {},
                "sm3_root": self.sm3_root.hex(),
                "sm2": {
                    "key_id": self.sm2_key_id,
                    "algorithm": SM2.name,
                    "signature": base64.b64encode(self.sm2_signature or b"").decode(),
                },
            }
        elif self.logs is not None:
            document |= {"format": CHECKPOINT_FORMAT_2, "logs": self.logs}
        return document

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Checkpoint:
        """A checkpoint as `as_json` wrote it (one an auditor saved); raises KeyError,
        ValueError or TypeError if it is not one."""
        sm2 = document.get("sm2") or {}
        sm3_root = document.get("sm3_root")
        return cls(
            document["origin"],
            int(document["tree_size"]),
            bytes.fromhex(document["root"]),
            datetime.fromisoformat(document["issued_at"]),
            document["key_id"],
            base64.b64decode(document["signature"], validate=True),
            document.get("logs"),
            bytes.fromhex(sm3_root) if sm3_root is not None else None,
            sm2.get("key_id"),
            base64.b64decode(sm2["signature"], validate=True) if sm2 else None,
        )


@dataclass(frozen=True)
class CheckpointCheck:
    """A stored checkpoint checked against what the service holds now: the key that signed it
    is one the service publishes, its Ed25519 signature (and a format 3 checkpoint's SM2 one)
    verifies with that key, and the Merkle tree the service proves from (its stored subtrees
    and the events' seals; for format 3 the SM3 tree too) still has the signed root at the
    signed size. `log_size` is how many events are sealed now: those beyond
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
        suite: CryptoSuite = STANDARD,
        chains: tuple[ChainedLog, ...] = (),
    ):
        self.engine = engine  # writes: checkpoints, tree nodes, keys
        self.reader = reader  # consistent reads that never hold up writers
        self.wrapper = wrapper
        self.origin = origin
        self.suite = suite
        self.log = SealedLog(engine)
        self.sm3_log = SealedLog(engine, SM3)  # the 国密 suite's second tree
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
            gm = self.suite.gm
            if (
                latest is not None
                and latest.tree_size == size
                and latest.logs == logs
                and (latest.sm3_root is not None or not gm)
            ):
                return latest
            built = latest.tree_size if latest else 0
            if latest is not None and size == built:
                root = latest.root  # only the chained logs grew
            else:
                root = self.log.extend_tree(conn, built, size)
            sm3_root = None
            if gm:
                extend_sm3_chain(conn, self.log, size)
                sm3_root = self.sm3_log.extend_tree(conn, self._sm3_built(conn), size)
            issued_at = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
            message = checkpoint_message(self.origin, size, root, issued_at, logs, sm3_root)
            key_id, private = self._active_key(conn, ED25519)
            sm2_key_id, sm2_signature = None, None
            if gm:
                sm2_key_id, sm2_private = self._active_key(conn, SM2)
                sm2_signature = SM2.sign(sm2_private, message)
            checkpoint = Checkpoint(
                self.origin,
                size,
                root,
                issued_at,
                key_id,
                ED25519.sign(private, message),
                logs,
                sm3_root,
                sm2_key_id,
                sm2_signature,
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
                    sm3_root=sm3_root,
                    sm2_key_id=sm2_key_id,
                    sm2_signature=sm2_signature,
                )
            )
            return checkpoint

    def _sm3_built(self, conn: Connection) -> int:
        """The size of the SM3 tree whose perfect subtrees are stored: the largest a format 3
        checkpoint signed (0 before the first)."""
        size = conn.execute(
            select(func.max(checkpoints.c.tree_size)).where(checkpoints.c.sm3_root.is_not(None))
        ).scalar()
        return int(size or 0)

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
            wanted = [checkpoint.key_id, checkpoint.sm2_key_id or ""]
            rows = conn.execute(
                select(
                    checkpoint_keys.c.key_id,
                    checkpoint_keys.c.public_key,
                    checkpoint_keys.c.retired_at,
                    checkpoint_keys.c.algorithm,
                ).where(checkpoint_keys.c.key_id.in_(wanted))
            ).all()
            by_id = {row.key_id: row for row in rows}
            key = by_id.get(checkpoint.key_id)
            size = self.log.size(conn)
            try:
                root_holds = (
                    checkpoint.tree_size <= size
                    and self.log.root(conn, checkpoint.tree_size) == checkpoint.root
                )
                if checkpoint.sm3_root is not None:
                    root_holds = root_holds and (
                        self.sm3_log.root(conn, checkpoint.tree_size) == checkpoint.sm3_root
                    )
            except LookupError:
                root_holds = False
        message = checkpoint.message()
        signed = key is not None and scheme_signature_valid(
            key.algorithm, bytes(key.public_key), checkpoint.signature, message
        )
        if checkpoint.sm3_root is not None:
            sm2_key = by_id.get(checkpoint.sm2_key_id or "")
            signed = signed and (
                sm2_key is not None
                and sm2_key.algorithm == SM2.name
                and scheme_signature_valid(
                    SM2.name, bytes(sm2_key.public_key), checkpoint.sm2_signature or b"", message
                )
            )
        return CheckpointCheck(
            checkpoint,
            key_published=key is not None,
            key_retired=key is not None and key.retired_at is not None,
            signature_valid=signed,
            root_holds=root_holds,
            log_size=size,
        )

    def sign(self, message: bytes, scheme: SignatureScheme = ED25519) -> tuple[str, bytes]:
        """Sign with the active checkpoint key of `scheme` (exports are signed with it too)."""
        with self.engine.begin() as conn:
            key_id, private = self._active_key(conn, scheme)
        return key_id, scheme.sign(private, message)

    def rotate_key(self, *, conn: Connection | None = None) -> str:
        """Retire the signing key; the next checkpoint is signed by a new one. Retired keys
        stay published, since checkpoints they signed must keep verifying."""
        with transaction(self.engine, conn) as tx:
            tx.execute(
                update(checkpoint_keys)
                .where(checkpoint_keys.c.retired_at.is_(None))
                .values(retired_at=datetime.now(UTC))
            )
            for scheme in self.suite.signatures[1:]:
                self._create_key(tx, scheme)
            return self._create_key(tx, ED25519)[0]

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
                    "algorithm": row.algorithm,
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
    def _active_key(self, conn: Connection, scheme: SignatureScheme) -> tuple[str, bytes]:
        """The active key of `scheme`: its id and raw private key."""
        row = conn.execute(
            select(checkpoint_keys)
            .where(
                checkpoint_keys.c.retired_at.is_(None),
                checkpoint_keys.c.algorithm == scheme.name,
            )
            .order_by(checkpoint_keys.c.created_at.desc())
        ).first()
        if row is None:
            return self._create_key(conn, scheme)
        return row.key_id, self.wrapper.unwrap(
            bytes(row.private_key), f"checkpoint-key:{row.key_id}"
        )

    def _create_key(self, conn: Connection, scheme: SignatureScheme) -> tuple[str, bytes]:
        key_id = uuid.uuid4().hex
        private, public = scheme.generate()
        conn.execute(
            insert(checkpoint_keys).values(
                key_id=key_id,
                public_key=public,
                private_key=self.wrapper.wrap(private, f"checkpoint-key:{key_id}"),
                created_at=datetime.now(UTC),
                retired_at=None,
                algorithm=scheme.name,
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
        bytes(row.sm3_root) if row.sm3_root is not None else None,
        row.sm2_key_id,
        bytes(row.sm2_signature) if row.sm2_signature is not None else None,
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
        """Checkpoint every `seconds` in a thread; a schedule already running goes on as it is
        (a second thread would outlive `stop`, which joins the one it knows)."""
        if self.seconds <= 0:
            return
        if self._thread is not None and self._thread.is_alive() and not self._stop.is_set():
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
