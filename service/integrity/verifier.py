"""The offline verifier: checks an export file, and optionally a checkpoint the auditor saved
earlier, with no access to the service. It recomputes every event's hash from its content and
the stream's chain, the Merkle root or each event's inclusion proof, the consistency with the
saved checkpoint and the signatures, and names each event that breaks."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from domain.integrity import checkpoint_message, event_hash, event_leaf, signature_valid
from domain.merkle import root as merkle_root
from domain.merkle import verify_consistency, verify_inclusion
from service.integrity.export import EXPORT_FORMAT


@dataclass
class Verification:
    findings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    events: int = 0
    tree_size: int | None = None
    scope: str | None = None

    @property
    def ok(self) -> bool:
        return not self.findings


@dataclass
class _Event:
    line: int
    position: int
    stream: UUID | None
    version: int | None
    topic: str | None
    state: Any
    readable: bool
    seal: dict[str, Any] | None
    proof: list[str] | None
    computed: bytes | None = None

    def name(self) -> str:
        if self.stream is not None:
            return (
                f"event at position {self.position} (stream {self.stream} version {self.version})"
            )
        return f"position {self.position}"


def verify_export(
    raw_lines: Iterable[bytes],
    *,
    saved_checkpoint: dict[str, Any] | None = None,
    trusted_keys: dict[str, bytes] | None = None,
) -> Verification:
    report = Verification()
    documents, digest, trailer = _read(raw_lines, report)
    if trailer is None:
        return report
    header = documents[0] if documents else {}
    if header.get("type") != "export" or header.get("format") != EXPORT_FORMAT:
        report.findings.append(f"line 1: not a {EXPORT_FORMAT} export header")
        return report
    report.scope = header.get("scope")
    by_type: dict[str, list[dict[str, Any]]] = {}
    for document in documents:
        by_type.setdefault(document.get("type", ""), []).append(document)
    keys = trusted_keys
    if keys is None:
        keys = {
            key["key_id"]: base64.b64decode(key["public_key"])
            for key in _one(by_type, "keys")["keys"]
        }
        report.notes.append(
            "signatures were checked against the keys the export carries; pass the keys you "
            "saved from /v1/audit/checkpoint-keys to check who signed it"
        )
    if not _signed(keys, trailer, digest):
        report.findings.append(
            "the export's signature does not verify: the file was changed after it was made"
        )
    checkpoint = _one(by_type, "checkpoint")
    if not checkpoint_signed(checkpoint, keys):
        report.findings.append(
            f"the export's checkpoint (tree size {checkpoint.get('tree_size')}) "
            "is not validly signed"
        )
    size = int(checkpoint["tree_size"])
    report.tree_size = size
    events = [
        _event(number, document)
        for number, document in enumerate(documents, 1)
        if document.get("type") == "event"
    ]
    report.events = len(events)
    _check_positions(events, report)
    _check_chains(events, report)
    events_named = bool(report.findings)
    root = bytes.fromhex(checkpoint["root"])
    if report.scope == "store":
        _check_store(events, size, root, saved_checkpoint, keys, report, events_named)
    else:
        _check_subject(events, size, root, saved_checkpoint, keys, by_type, report)
    return report


# Reading ------------------------------------------------------------------------------------
def _read(raw_lines: Iterable[bytes], report: Verification):
    documents: list[dict[str, Any]] = []
    digest = hashlib.sha256()
    trailer = None
    for number, raw in enumerate(raw_lines, 1):
        if trailer is not None:
            report.findings.append(f"line {number}: content after the signature line")
            return documents, digest.digest(), None
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            report.findings.append(f"line {number}: not JSON ({error})")
            return documents, digest.digest(), None
        if document.get("type") == "signature":
            trailer = document
            continue
        digest.update(raw if raw.endswith(b"\n") else raw + b"\n")
        documents.append(document)
    if trailer is None:
        report.findings.append("the export has no signature line: it is incomplete")
    return documents, digest.digest(), trailer


def _one(by_type: dict[str, list[dict[str, Any]]], kind: str) -> dict[str, Any]:
    found = by_type.get(kind, [])
    if len(found) != 1:
        raise ValueError(f"an export has exactly one {kind} line; this one has {len(found)}")
    return found[0]


def _hex(value: Any) -> bool:
    try:
        return isinstance(value, str) and len(bytes.fromhex(value)) == 32
    except ValueError:
        return False


def _signed(keys: dict[str, bytes], trailer: dict[str, Any], actual: bytes) -> bool:
    """The trailer names the SHA-256 of every line before it and signs that digest."""
    key = keys.get(trailer.get("key_id", ""))
    if key is None or trailer.get("sha256") != actual.hex():
        return False
    try:
        signature = base64.b64decode(trailer.get("signature", ""), validate=True)
    except binascii.Error:
        return False
    return signature_valid(key, signature, actual)


def checkpoint_signed(checkpoint: dict[str, Any], keys: dict[str, bytes]) -> bool:
    key = keys.get(checkpoint.get("key_id", ""))
    if key is None or not _hex(checkpoint.get("root")):
        return False
    try:
        message = checkpoint_message(
            checkpoint["origin"],
            int(checkpoint["tree_size"]),
            bytes.fromhex(checkpoint["root"]),
            datetime.fromisoformat(checkpoint["issued_at"]),
            checkpoint.get("logs"),  # format 2 anchors the chained logs; format 1 has none
        )
        signature = base64.b64decode(checkpoint["signature"], validate=True)
    except (KeyError, ValueError, TypeError, binascii.Error):
        return False
    return signature_valid(key, signature, message)


def _event(number: int, document: dict[str, Any]) -> _Event:
    stream = document.get("stream")
    return _Event(
        line=number,
        position=int(document["position"]),
        stream=UUID(stream) if stream else None,
        version=document.get("version"),
        topic=document.get("topic"),
        state=document.get("state"),
        readable="state" in document,
        seal=document.get("seal"),
        proof=document.get("inclusion_proof"),
    )


# Checks -------------------------------------------------------------------------------------
def _check_positions(events: list[_Event], report: Verification) -> None:
    for event in events:
        seal = event.seal
        if seal is None:
            report.findings.append(
                f"{event.name()}: it has no seal (added without going through the log)"
            )
        elif event.stream is None:
            report.findings.append(
                f"position {event.position} (leaf {seal['leaf_index']}): stream {seal['stream']} "
                f"version {seal['version']} was sealed here, but the event is missing from the "
                "store"
            )
        elif (str(event.stream), event.version) != (seal["stream"], seal["version"]):
            report.findings.append(
                f"{event.name()}: the log sealed stream {seal['stream']} version "
                f"{seal['version']} at this position (events were moved)"
            )
        elif not event.readable:
            report.findings.append(f"{event.name()}: its stored content is not JSON any more")


def _check_chains(events: list[_Event], report: Verification) -> None:
    """Recompute each stream's chain from content; name the first event of each stream whose
    content differs from what was sealed, and every gap."""
    streams: dict[UUID, dict[int, _Event]] = {}
    event: _Event | None  # below, a version may have no event
    for event in events:
        if event.stream is not None and event.version is not None:
            streams.setdefault(event.stream, {})[event.version] = event
    seals = {
        (UUID(e.seal["stream"]), e.seal["version"]): e.seal for e in events if e.seal is not None
    }
    last_sealed: dict[UUID, int] = {}
    for stream, version in seals:
        last_sealed[stream] = max(version, last_sealed.get(stream, 0))
    for stream, versions in streams.items():
        prev: bytes | None = None
        broken = False
        for version in range(1, max(max(versions), last_sealed.get(stream, 0)) + 1):
            event = versions.get(version)
            seal = seals.get((stream, version))
            if event is None:
                where = f" (sealed at position {_position_of(events, seal)})" if seal else ""
                report.findings.append(f"stream {stream}: version {version} is missing{where}")
                prev = bytes.fromhex(seal["event_hash"]) if seal else None
                broken = True
                continue
            if not event.readable:
                prev, broken = (bytes.fromhex(seal["event_hash"]) if seal else None), True
                continue
            event.computed = event_hash(prev, stream, version, event.topic or "", event.state)
            if (
                seal is not None
                and event.computed != bytes.fromhex(seal["event_hash"])
                and not broken
            ):
                report.findings.append(
                    f"{event.name()}: its content differs from what was sealed when it was "
                    "written (changed afterwards)"
                )
                broken = True
            prev = event.computed


def _position_of(events: list[_Event], seal: dict[str, Any] | None) -> int | None:
    for event in events:
        if event.seal is seal:
            return event.position
    return None


def _recomputed_leaves(events: list[_Event]) -> dict[int, bytes]:
    """Leaf index -> the leaf recomputed from the content of the event the seal names."""
    content = {(e.stream, e.version): e.computed for e in events if e.computed is not None}
    leaves = {}
    for event in events:
        if event.seal is None:
            continue
        computed = content.get((UUID(event.seal["stream"]), event.seal["version"]))
        if computed is not None:
            leaves[int(event.seal["leaf_index"])] = event_leaf(computed)
    return leaves


def _check_store(events, size, root, saved, keys, report: Verification, events_named) -> None:
    leaves = _recomputed_leaves(events)
    missing = [index for index in range(size) if index not in leaves]
    if missing:
        report.findings.append(
            f"{len(missing)} of the checkpoint's {size} leaves cannot be recomputed from the "
            f"events (first: leaf {missing[0]})"
        )
        return
    ordered = [leaves[index] for index in range(size)]
    if merkle_root(ordered) != root:
        report.findings.append("the events do not produce the export checkpoint's root")
    if saved is None:
        return
    if not checkpoint_signed(saved, keys):
        report.findings.append("the saved checkpoint is not validly signed by a known key")
        return
    old_size = int(saved["tree_size"])
    if old_size > size:
        report.findings.append(
            f"the saved checkpoint covers {old_size} events, the export only {size}: "
            f"the last {old_size - size} events it signed are missing (leaves {size} to "
            f"{old_size - 1}: removed, or lost by a restore)"
        )
        return
    if merkle_root(ordered[:old_size]) != bytes.fromhex(saved["root"]):
        report.findings.append(
            f"the first {old_size} events are not those the checkpoint you saved "
            f"({saved['issued_at']}) signed"
            + ("" if events_named else ": they were rewritten together with their seals")
        )
    else:
        report.notes.append(
            f"the log's first {old_size} events are those of the checkpoint you saved"
        )


def _check_subject(events, size, root, saved, keys, by_type, report: Verification) -> None:
    for event in events:
        if event.seal is None or event.computed is None:
            continue
        proof = [bytes.fromhex(h) for h in event.proof or []]
        if not verify_inclusion(
            event_leaf(event.computed), int(event.seal["leaf_index"]), size, proof, root
        ):
            report.findings.append(
                f"{event.name()}: its inclusion proof does not lead to the checkpoint's root"
            )
    if saved is None:
        return
    if not checkpoint_signed(saved, keys):
        report.findings.append("the saved checkpoint is not validly signed by a known key")
        return
    consistency = by_type.get("consistency", [])
    old_size = int(saved["tree_size"])
    if not consistency or consistency[0]["old_size"] != old_size:
        report.findings.append(
            f"the export carries no consistency proof from tree size {old_size}: "
            f"export again with since_tree_size={old_size}"
        )
        return
    proof = [bytes.fromhex(h) for h in consistency[0]["proof"]]
    if not verify_consistency(old_size, size, bytes.fromhex(saved["root"]), root, proof):
        report.findings.append(
            f"the log is not an extension of the checkpoint you saved ({saved['issued_at']}): "
            "it was rewritten since"
        )
    else:
        report.notes.append(f"the log extends the checkpoint you saved (tree size {old_size})")
