"""The event store: an eventsourcing Application holding every subject's stream."""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder, Transcoding

import domain.events  # noqa: F401  (registers the stable event topics before any decoding)
from domain.subject import Subject
from service.database import Database


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class CreditLedger(Application[UUID]):
    """Every credit subject's append-only stream, with a global, gap-tolerant log position."""

    name = "credit"
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {Subject: 100}

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def existing_ids(self, subject_ids: set[UUID]) -> set[UUID]:
        """Which of these streams exist, in one query (imports check thousands at once)."""
        if not subject_ids:
            return set()
        recorder: Any = self.recorder
        table = recorder.events_table_name
        if type(recorder).__module__ == "eventsourcing.postgres":
            with recorder.datastore.get_connection() as conn, conn.cursor() as cursor:
                cursor.execute(
                    f"SELECT originator_id FROM {table} "  # noqa: S608 (library table name)
                    "WHERE originator_version = 1 AND originator_id = ANY(%s)",
                    (list(subject_ids),),
                )
                return {row["originator_id"] for row in cursor.fetchall()}
        by_hex = {subject_id.hex: subject_id for subject_id in subject_ids}
        hexes = list(by_hex)
        found: set[UUID] = set()
        with recorder.datastore.transaction(commit=False) as cursor:
            for start in range(0, len(hexes), 500):  # SQLite caps bound parameters
                chunk = hexes[start:start + 500]
                cursor.execute(
                    f"SELECT originator_id FROM {table} "  # noqa: S608 (library table name)
                    f"WHERE originator_version = 1 AND originator_id IN "
                    f"({','.join('?' * len(chunk))})",
                    chunk,
                )
                found.update(by_hex[row[0]] for row in cursor.fetchall())
        return found

    def position_of(self, subject_id: UUID, version: int) -> int:
        """The global log position of one stored event (for answering a retried write)."""
        recorder: Any = self.recorder
        table = recorder.events_table_name
        if type(recorder).__module__ == "eventsourcing.postgres":
            with recorder.datastore.get_connection() as conn, conn.cursor() as cursor:
                cursor.execute(
                    f"SELECT notification_id FROM {table} "  # noqa: S608 (library table name)
                    "WHERE originator_id = %s AND originator_version = %s",
                    (subject_id, version),
                )
                row = cursor.fetchone()
                return int(row["notification_id"])
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT rowid FROM {table} "  # noqa: S608 (library table name)
                "WHERE originator_id = ? AND originator_version = ?",
                (subject_id.hex, version),
            )
            return int(cursor.fetchone()[0])


def open_ledger(database: Database, *, create_tables: bool = True) -> CreditLedger:
    env = database.eventsourcing_env()
    env["CREATE_TABLE"] = "y" if create_tables else "n"
    return CreditLedger(env=env)
