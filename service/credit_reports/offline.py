"""A report recomputed offline (`credit audit verify-report`): from a signed export of its subject
and the report as `GET /v1/credit-reports/{number}` describes it, with neither the database nor
the service.

The export is checked by the offline verifier (`service.integrity.verifier`: signatures, every
event's hash chain and inclusion proof), and the report's checkpoint tied to the export's by a
consistency proof (an export made with `--since-tree-size` of the report's tree size). The
subject's events up to the report's stream version are then folded with the functions the
service issues with (`contents.from_events`: the as-of fold, its status and `build`), and the
contents digest recomputed and compared with the one the report's signature covers, which is
checked with the saved keys. Each difference is named by its path."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import StoredEvent

from domain.errors import SubjectNotFound
from domain.integrity import signature_valid
from domain.merkle import verify_consistency
from domain.policy import PolicyBook
from service.credit_reports.contents import ReportRequest, from_events
from service.credit_reports.reports import differences
from service.credit_reports.sealing import contents_digest, statement_message
from service.integrity.verifier import verify_export
from service.store.ledger import event_mapper


@dataclass
class OfflineCheck:
    """What the offline recomputation found: each problem in `findings` (nothing found: the
    report is what its subject's signed events give), notes, the contents' differences by path
    and the digest recomputed."""

    findings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    differences: list[dict[str, Any]] = field(default_factory=list)
    recomputed_sha256: str | None = None

    @property
    def ok(self) -> bool:
        return not self.findings


def verify_report(
    export_lines: list[bytes],
    report: dict[str, Any],
    policy: PolicyBook,
    *,
    zone: tzinfo,
    trusted_keys: dict[str, bytes] | None = None,
) -> OfflineCheck:
    """Check `report` (the JSON of `GET /v1/credit-reports/{number}`) against a signed export
    of its subject (`credit audit export --subject ... --since-tree-size <its tree size>`)."""
    check = OfflineCheck()
    exported = verify_export(export_lines, trusted_keys=trusted_keys)
    check.findings += [f"the export: {finding}" for finding in exported.findings]
    check.notes += exported.notes
    documents = [orjson.loads(raw) for raw in export_lines if raw.strip()]
    keys = trusted_keys if trusted_keys is not None else _carried_keys(documents)
    subject_id = str(UUID(str(report["subject_id"])))
    if exported.scope != "subject":
        check.findings.append("the export is not a subject export: export the report's subject")
    _check_signature(report, keys, check)
    _check_checkpoint(report, documents, check)
    events = [d for d in documents if d.get("type") == "event" and d.get("stream") == subject_id]
    version = int(report["stream_version"])
    reflected = sorted(
        (e for e in events if int(e["version"]) <= version), key=lambda e: e["version"]
    )
    if [int(e["version"]) for e in reflected] != list(range(1, version + 1)):
        check.findings.append(
            f"the export does not hold versions 1 to {version} of subject {subject_id}"
        )
        return check
    late = [e for e in reflected if int(e["seal"]["leaf_index"]) >= int(report["tree_size"])]
    if late:
        check.findings.append(
            f"version {late[0]['version']} of the subject is not in the report's checkpoint "
            f"(tree size {report['tree_size']})"
        )
    _recompute(report, reflected, policy, zone, check)
    return check


def _carried_keys(documents: list[dict[str, Any]]) -> dict[str, bytes]:
    return {
        key["key_id"]: base64.b64decode(key["public_key"])
        for document in documents
        if document.get("type") == "keys"
        for key in document["keys"]
    }


def _check_signature(report: dict[str, Any], keys: dict[str, bytes], check: OfflineCheck) -> None:
    """The report's signature over its statement, and its contents against the digest."""
    key = keys.get(report["key_id"])
    try:
        message = statement_message(
            number=report["number"],
            issued_at=datetime.fromisoformat(report["issued_at"]),
            contents_sha256=report["contents_sha256"],
            origin=report["origin"],
            tree_size=int(report["tree_size"]),
            root=bytes.fromhex(report["root"]),
        )
        signature = base64.b64decode(report["signature"], validate=True)
    except (KeyError, ValueError, binascii.Error) as wrong:
        check.findings.append(f"the report's statement cannot be read: {wrong}")
        return
    if key is None:
        check.findings.append(f"the report was signed by key {report['key_id']}, not one known")
    elif not signature_valid(key, signature, message):
        check.findings.append(
            "the report's signature does not verify: its number, time, contents digest or "
            "checkpoint was changed"
        )
    if contents_digest(report["contents"]) != report["contents_sha256"]:
        check.findings.append(
            "the report's contents are not those its signed digest covers (changed afterwards)"
        )


def _check_checkpoint(
    report: dict[str, Any], documents: list[dict[str, Any]], check: OfflineCheck
) -> None:
    """The report's checkpoint is a prefix of the export's: the same root at the same size, or
    the export's consistency proof from the report's tree size."""
    ours = next((d for d in documents if d.get("type") == "checkpoint"), None)
    if ours is None:
        return  # the verifier said so already
    size, root = int(report["tree_size"]), bytes.fromhex(report["root"])
    if int(ours["tree_size"]) == size:
        if bytes.fromhex(ours["root"]) != root:
            check.findings.append("the export's checkpoint has another root at the report's size")
        return
    proofs = [d for d in documents if d.get("type") == "consistency" and int(d["old_size"]) == size]
    if not proofs:
        check.findings.append(
            f"the export carries no consistency proof from the report's tree size {size}: "
            f"export again with --since-tree-size {size}"
        )
    elif not verify_consistency(
        size,
        int(ours["tree_size"]),
        root,
        bytes.fromhex(ours["root"]),
        [bytes.fromhex(node) for node in proofs[0]["proof"]],
    ):
        check.findings.append(
            "the log the export comes from does not extend the report's checkpoint"
        )


def _recompute(
    report: dict[str, Any],
    reflected: list[dict[str, Any]],
    policy: PolicyBook,
    zone: tzinfo,
    check: OfflineCheck,
) -> None:
    request = ReportRequest.from_json(report["request"])
    known_before = report.get("known_before")
    try:
        contents = from_events(
            _decoded(reflected),
            request,
            policy,
            on=date.fromisoformat(str(report["report_day"])),
            known_before=datetime.fromisoformat(known_before) if known_before else None,
            zone=zone,
        )
    except (SubjectNotFound, ValueError) as wrong:
        check.findings.append(f"the contents cannot be recomputed: {wrong}")
        return
    check.recomputed_sha256 = contents_digest(contents)
    check.differences = differences(report["contents"], contents)
    if check.recomputed_sha256 != report["contents_sha256"]:
        check.findings.append(
            f"the contents recomputed from the export (SHA-256 {check.recomputed_sha256}) "
            f"are not those the report sealed ({report['contents_sha256']})"
        )


def _decoded(events: list[dict[str, Any]]) -> Iterator[tuple[int, Any]]:
    mapper = event_mapper()
    for document in events:
        state = document.get("state")
        yield (
            int(document["position"]),
            mapper.to_domain_event(
                StoredEvent(
                    originator_id=UUID(document["stream"]),
                    originator_version=int(document["version"]),
                    topic=document["topic"],
                    state=orjson.dumps(state)
                    if state is not None
                    else base64.b64decode(document["state_base64"]),
                )
            ),
        )
