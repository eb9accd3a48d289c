"""What ties a report to the signed log, in bytes anyone can check offline: the digest of its
contents (SHA-256 of their RFC 8785 canonical JSON) and the statement the service signs with
its checkpoint key (Ed25519), naming the report, its digest and the checkpoint it reflects.

The PDF prints both; with the service's published checkpoint keys an auditor verifies the
signature without the service, and with a signed export of the subject at that checkpoint
recomputes the contents and compares the digest (docs/credit-reports.md)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from domain.integrity import canonical_json

STATEMENT_FORMAT = "credit-report/1"


def contents_digest(contents: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(contents)).hexdigest()


def statement_message(
    *,
    number: str,
    issued_at: datetime,
    contents_sha256: str,
    origin: str,
    tree_size: int,
    root: bytes,
) -> bytes:
    """The bytes a report's signature covers: the canonical JSON of these fields (issued_at in
    UTC, whole seconds)."""
    return canonical_json(
        {
            "format": STATEMENT_FORMAT,
            "number": number,
            "issued_at": issued_at.astimezone(UTC).isoformat(),
            "contents_sha256": contents_sha256,
            "origin": origin,
            "tree_size": tree_size,
            "root": root.hex(),
        }
    )
