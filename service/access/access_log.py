"""The access log (查询留痕): every read of a subject's data, by whom, for what purpose, what was
returned. Append-only and hash-chained (service/access/chained_log.py), so a removed, changed or
reordered row breaks the chain at that row, and a cut tail falls short of the head a signed
checkpoint anchored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import Dialect, Engine

from domain.crypto_suite import SHA256, HashAlgorithm
from service.access.chained_log import GENESIS, ChainedLog, row_hash
from service.access.tables import access_log

if TYPE_CHECKING:
    import asyncpg

__all__ = ["GENESIS", "AccessEntry", "AccessLog", "entry_hash"]

# The subject id of an entry that is about no one subject (a whole-store export).
NO_SUBJECT = UUID(int=0)


@dataclass(frozen=True)
class AccessEntry:
    client_id: str
    role: str
    agency_code: str
    subject_id: UUID
    action: str
    purpose: str
    returned: dict[str, Any]


def _contents(entries: list[AccessEntry]) -> list[dict[str, Any]]:
    """The entries as the chained log's rows' contents."""
    return [dict(entry.__dict__) for entry in entries]


def entry_hash(row: dict[str, Any]) -> str | None:
    """The hash the row names (SHA-256 or SM3) over a canonical JSON encoding of the row's
    content and the previous hash."""
    return row_hash(row, (c.name for c in access_log.columns))


class AccessLog:
    def __init__(self, engine: Engine, hash_: HashAlgorithm = SHA256):
        """`hash_`: what new rows are hashed with, the crypto suite's log hash."""
        self.engine = engine
        self.chain = ChainedLog(engine, access_log, hash_)

    def append(self, entries: list[AccessEntry]) -> None:
        """Write the entries, chained after the last row, in one transaction."""
        self.chain.append(_contents(entries))

    async def append_on_asyncpg(
        self, driver: asyncpg.Connection, dialect: Dialect, entries: list[AccessEntry]
    ) -> None:
        """`append` on PostgreSQL through an asyncpg connection (`dialect`, its engine's)."""
        await self.chain.append_on_asyncpg(driver, dialect, _contents(entries))

    def for_subject(
        self,
        subject_id: UUID,
        *,
        after_seq: int | None,
        limit: int,
        since: datetime | None = None,
        before: datetime | None = None,
        before_seq: int | None = None,
        newest_first: bool = False,
    ) -> list[dict]:
        """A page of the reads of one subject: oldest first after `after_seq` (the API's
        order), or newest first before `before_seq`; when given, only those at or after `since`
        and before `before`."""
        period = []  # in UTC, as the rows are written (SQLite keeps no zone to convert)
        if since is not None:
            period.append(access_log.c.at >= since.astimezone(UTC))
        if before is not None:
            period.append(access_log.c.at < before.astimezone(UTC))
        return self.chain.page(
            access_log.c.subject_id == subject_id,
            *period,
            after_seq=after_seq,
            limit=limit,
            before_seq=before_seq,
            newest_first=newest_first,
        )

    def verify(self) -> int | None:
        """The seq of the first row that breaks the chain, or None if the whole log holds."""
        return self.chain.verify()
