"""The access log (查询留痕): every read of a subject's data, by whom, for what purpose, what was
returned. Append-only and hash-chained like the event log, so a removed, changed or reordered
row breaks the chain at that row."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Engine, insert, select, text

from service.access.tables import access_log

GENESIS = "0" * 64


@dataclass(frozen=True)
class AccessEntry:
    client_id: str
    role: str
    agency_code: str
    subject_id: UUID
    action: str
    purpose: str
    returned: dict[str, Any]


def _utc(moment: datetime) -> datetime:
    """SQLite hands timestamps back naive; they were written in UTC (not the host's zone)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def entry_hash(row: dict[str, Any]) -> str:
    """SHA-256 over a canonical JSON encoding of the row's content and the previous hash."""
    content = {
        "seq": row["seq"],
        "at": _utc(row["at"]).isoformat(),
        "client_id": row["client_id"],
        "role": row["role"],
        "agency_code": row["agency_code"],
        "subject_id": str(row["subject_id"]),
        "action": row["action"],
        "purpose": row["purpose"],
        "returned": row["returned"],
        "prev_hash": row["prev_hash"],
    }
    encoded = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(encoded.encode()).hexdigest()


class AccessLog:
    def __init__(self, engine: Engine):
        self.engine = engine

    def append(self, entries: list[AccessEntry]) -> None:
        """Write the entries, chained after the last row, in one transaction (serialised: an
        advisory lock on PostgreSQL, the write lock of BEGIN IMMEDIATE on SQLite)."""
        if not entries:
            return
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('access_log'))"))
            last = conn.execute(
                select(access_log.c.seq, access_log.c.hash)
                .order_by(access_log.c.seq.desc())
                .limit(1)
            ).first()
            seq, prev_hash = (last.seq, last.hash) if last else (0, GENESIS)
            now = datetime.now(UTC)
            rows = []
            for entry in entries:
                seq += 1
                row = {"seq": seq, "at": now, "prev_hash": prev_hash, **entry.__dict__}
                row["hash"] = prev_hash = entry_hash(row)
                rows.append(row)
            conn.execute(insert(access_log), rows)

    def for_subject(self, subject_id: UUID, *, after_seq: int | None, limit: int) -> list[dict]:
        query = select(access_log).where(access_log.c.subject_id == subject_id)
        if after_seq is not None:
            query = query.where(access_log.c.seq > after_seq)
        with self.engine.connect() as conn:
            return [
                {**row, "at": _utc(row["at"])}
                for row in conn.execute(query.order_by(access_log.c.seq).limit(limit)).mappings()
            ]

    def verify(self) -> int | None:
        """The seq of the first row that breaks the chain, or None if the whole log holds."""
        expected_prev, expected_seq = GENESIS, 1
        with self.engine.connect() as conn:
            for row in conn.execute(select(access_log).order_by(access_log.c.seq)).mappings():
                row = dict(row)
                if (
                    row["seq"] != expected_seq
                    or row["prev_hash"] != expected_prev
                    or entry_hash(row) != row["hash"]
                ):
                    return row["seq"]
                expected_prev, expected_seq = row["hash"], row["seq"] + 1
        return None
