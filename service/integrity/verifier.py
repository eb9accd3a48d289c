"""The offline verifier: checks an export file, and optionally a checkpoint the auditor saved
earlier, with no access to the service. It recomputes every event's hash from its content and
the stream's chain, the Merkle root or each event's inclusion proof, the consistency with the
saved checkpoint and the signatures, and names each event that breaks. An export of the 国密
suite (its checkpoint of format 3) is checked twice over: the SHA-256 chain, tree and Ed25519
signatures, and the SM3 chain, tree and SM2 signatures, each on its own."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from domain.crypto_suite import SHA256, SM2, SM3, HashAlgorithm
from domain.crypto_suite import signature_valid as scheme_signature_valid
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


@dataclass(frozen=True)
class _Tree:
    """Where one hash's chain and tree sit in an export."""

    hash: HashAlgorithm
    seal_field: str  # in each event's seal
    root_field: str  # in a checkpoint
    proof_field: str  # in a subject export's event
    consistency_field: str  # in the consistency line
    label: str  # how findings name it


SHA256_TREE = _Tree(SHA256, "event_hash", "root", "inclusion_proof", "proof", "")
SM3_TREE = _Tree(SM3, "sm3_event_hash", "sm3_root", "sm3_inclusion_proof", "sm3_proof", " (SM3)")


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
    document: dict[str, Any]
    computed: dict[str, bytes] = field(default_factory=dict)  # hash name -> recomputed

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
    documents, digests, trailer = _read(raw_lines, report)
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
    checkpoint = _one(by_type, "checkpoint")
    gm = "sm3_root" in checkpoint
    trees = (SHA256_TREE, SM3_TREE) if gm else (SHA256_TREE,)
    report.notes.append(
        "checked with SHA-256 and Ed25519, and with SM3 and SM2 (the 国密 suite)"
        if gm
        else "checked with SHA-256 and Ed25519 (the export has no SM3 tree)"
    )
    if not _signed(keys, trailer, digests[SHA256.name]):
        report.findings.append(
            "the export's signature does not verify: the file was changed after it was made"
        )
    if gm and not _sm2_signed(keys, trailer, digests[SM3.name]):
        report.findings.append(
            "the export's SM2 signature does not verify: the file was changed after it was made"
        )
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
    for tree in trees:
        _check_chains(events, report, tree)
    events_named = bool(report.findings)
    saved_signed = saved_checkpoint is None or checkpoint_signed(saved_checkpoint, keys)
    for tree in trees:
        root = bytes.fromhex(checkpoint[tree.root_field])
        saved = saved_checkpoint
        if saved is not None and tree.root_field not in saved:
            saved = None  # a checkpoint saved before the 国密 suite: the SHA-256 tree covers it
        if report.scope == "store":
            _check_store(events, size, root, saved, report, events_named, tree, saved_signed)
        else:
            _check_subject(events, size, root, saved, by_type, report, tree, saved_signed)
    return report


# Reading ------------------------------------------------------------------------------------
def _read(raw_lines: Iterable[bytes], report: Verification):
    documents: list[dict[str, Any]] = []
    hashes = {SHA256.name: SHA256.new(), SM3.name: SM3.new()}

    def digests() -> dict[str, bytes]:
        return {name: h.digest() for name, h in hashes.items()}

    trailer = None
    for number, raw in enumerate(raw_lines, 1):
        if trailer is not None:
            report.findings.append(f"line {number}: content after the signature line")
            return documents, digests(), None
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            report.findings.append(f"line {number}: not JSON ({error})")
            return documents, digests(), None
        if document.get("type") == "signature":
            trailer = document
            continue
        for h in hashes.values():
            h.update(raw if raw.endswith(b"\n") else raw + b"\n")
        documents.append(document)
    if trailer is None:
        report.findings.append("the export has no signature line: it is incomplete")
    return documents, digests(), trailer


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


def _sm2_signed(keys: dict[str, bytes], trailer: dict[str, Any], actual: bytes) -> bool:
    """The 国密 trailer names the SM3 of every line before it and signs that with SM2."""
    sm2 = trailer.get("sm2")
    if not isinstance(sm2, dict) or trailer.get("sm3") != actual.hex():
        return False
    key = keys.get(sm2.get("key_id", ""))
    try:
        signature = base64.b64decode(sm2.get("signature", ""), validate=True)
    except binascii.Error:
        return False
    return key is not None and scheme_signature_valid(SM2.name, key, signature, actual)


def checkpoint_signed(checkpoint: dict[str, Any], keys: dict[str, bytes]) -> bool:
    """Its Ed25519 signature, and for format 3 (the 国密 suite) its SM2 one too, verify with
    `keys` over the checkpoint's fields, which for format 3 include the SM3 root."""
    key = keys.get(checkpoint.get("key_id", ""))
    if key is None or not _hex(checkpoint.get("root")):
        return False
    sm3_root = checkpoint.get("sm3_root")
    if sm3_root is not None and not _hex(sm3_root):
        return False
    try:
        message = checkpoint_message(
            checkpoint["origin"],
            int(checkpoint["tree_size"]),
            bytes.fromhex(checkpoint["root"]),
            datetime.fromisoformat(checkpoint["issued_at"]),
            checkpoint.get("logs"),  # format 2 anchors the chained logs; format 1 has none
            bytes.fromhex(sm3_root) if sm3_root is not None else None,
        )
        signature = base64.b64decode(checkpoint["signature"], validate=True)
        if sm3_root is not None:
            sm2 = checkpoint["sm2"]
            sm2_key = keys.get(sm2["key_id"])
            sm2_signature = base64.b64decode(sm2["signature"], validate=True)
    except (KeyError, ValueError, TypeError, binascii.Error):
        return False
    if not signature_valid(key, signature, message):
        return False
    return sm3_root is None or (
        sm2_key is not None and scheme_signature_valid(SM2.name, sm2_key, sm2_signature, message)
    )


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
        document=document,
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


def _check_chains(events: list[_Event], report: Verification, tree: _Tree = SHA256_TREE) -> None:
    """Recompute each stream's chain of `tree`'s hash from content; name the first event of
    each stream whose content differs from what was sealed, and every gap (once: the SHA-256
    chain names gaps, the SM3 one only content)."""
    sealed_as = tree.seal_field
    first = tree is SHA256_TREE
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
            sealed = _sealed_hash(seal, sealed_as)
            if event is None:
                where = f" (sealed at position {_position_of(events, seal)})" if seal else ""
                if first:
                    report.findings.append(f"stream {stream}: version {version} is missing{where}")
                prev, broken = sealed, True
                continue
            if not event.readable:
                prev, broken = sealed, True
                continue
            computed = event_hash(prev, stream, version, event.topic or "", event.state, tree.hash)
            event.computed[tree.hash.name] = computed
            if seal is not None and sealed is None and not first and not broken:
                report.findings.append(
                    f"{event.name()}: it has no SM3 seal, though the checkpoint signs an SM3 tree"
                )
                broken = True
            elif seal is not None and computed != sealed and not broken:
                report.findings.append(
                    f"{event.name()}: its content differs from what was sealed when it was "
                    f"written (changed afterwards){tree.label}"
                )
                broken = True
            prev = computed


def _sealed_hash(seal: dict[str, Any] | None, field_name: str) -> bytes | None:
    value = seal.get(field_name) if seal else None
    return bytes.fromhex(value) if isinstance(value, str) and _hex(value) else None


def _position_of(events: list[_Event], seal: dict[str, Any] | None) -> int | None:
    for event in events:
        if event.seal is seal:
            return event.position
    return None


def _recomputed_leaves(events: list[_Event], hash_: HashAlgorithm) -> dict[int, bytes]:
    """Leaf index -> the leaf recomputed from the content of the event the seal names."""
    content = {
        (e.stream, e.version): e.computed[hash_.name] for e in events if hash_.name in e.computed
    }
    leaves = {}
    for event in events:
        if event.seal is None:
            continue
        computed = content.get((UUID(event.seal["stream"]), event.seal["version"]))
        if computed is not None:
            leaves[int(event.seal["leaf_index"])] = event_leaf(computed, hash_)
    return leaves


def _saved_signed(signed: bool, report: Verification) -> bool:
    """Whether to compare with the saved checkpoint; says once that its signature fails."""
    finding = "the saved checkpoint is not validly signed by a known key"
    if not signed and finding not in report.findings:
        report.findings.append(finding)
    return signed


def _check_store(
    events, size, root, saved, report: Verification, events_named, tree: _Tree, saved_signed
) -> None:
    leaves = _recomputed_leaves(events, tree.hash)
    missing = [index for index in range(size) if index not in leaves]
    if missing:
        report.findings.append(
            f"{len(missing)} of the checkpoint's {size} leaves cannot be recomputed from the "
            f"events (first: leaf {missing[0]}){tree.label}"
        )
        return
    ordered = [leaves[index] for index in range(size)]
    if merkle_root(ordered, tree.hash.tree) != root:
        report.findings.append(
            f"the events do not produce the export checkpoint's root{tree.label}"
        )
    if saved is None or not _saved_signed(saved_signed, report):
        return
    old_size = int(saved["tree_size"])
    if old_size > size:
        report.findings.append(
            f"the saved checkpoint covers {old_size} events, the export only {size}: "
            f"the last {old_size - size} events it signed are missing (leaves {size} to "
            f"{old_size - 1}: removed, or lost by a restore)"
        )
        return
    if merkle_root(ordered[:old_size], tree.hash.tree) != bytes.fromhex(saved[tree.root_field]):
        report.findings.append(
            f"the first {old_size} events are not those the checkpoint you saved "
            f"({saved['issued_at']}) signed{tree.label}"
            + ("" if events_named else ": they were rewritten together with their seals")
        )
    else:
        report.notes.append(
            f"the log's first {old_size} events are those of the checkpoint you saved{tree.label}"
        )


def _check_subject(
    events, size, root, saved, by_type, report: Verification, tree: _Tree, saved_signed
) -> None:
    for event in events:
        computed = event.computed.get(tree.hash.name)
        if event.seal is None or computed is None:
            continue
        proof = [bytes.fromhex(h) for h in event.document.get(tree.proof_field) or []]
        if not verify_inclusion(
            event_leaf(computed, tree.hash),
            int(event.seal["leaf_index"]),
            size,
            proof,
            root,
            tree.hash.tree,
        ):
            report.findings.append(
                f"{event.name()}: its inclusion proof does not lead to the checkpoint's "
                f"root{tree.label}"
            )
    if saved is None or not _saved_signed(saved_signed, report):
        return
    consistency = by_type.get("consistency", [])
    old_size = int(saved["tree_size"])
    if not consistency or consistency[0]["old_size"] != old_size:
        report.findings.append(
            f"the export carries no consistency proof from tree size {old_size}: "
            f"export again with since_tree_size={old_size}"
        )
        return
    proof = [bytes.fromhex(h) for h in consistency[0].get(tree.consistency_field) or []]
    old_root = bytes.fromhex(saved[tree.root_field])
    if not verify_consistency(old_size, size, old_root, root, proof, tree.hash.tree):
        report.findings.append(
            f"the log is not an extension of the checkpoint you saved ({saved['issued_at']}): "
            f"it was rewritten since{tree.label}"
        )
    else:
        report.notes.append(
            f"the log extends the checkpoint you saved (tree size {old_size}){tree.label}"
        )
