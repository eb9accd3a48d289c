"""Repair propagation (国家发展改革委令第36号《信用修复管理办法》): once a record is repaired or
revoked it must no longer be shared or used, also by those who already received it. Each API
client that read the subject's file while the record was on it is sent a notice to stop using
the record, sees its own notices, and acknowledges each; a case's progress counts both.

Who received the record is what the access log (查询留痕) says: every answer carrying a subject's
data, the change feed's included, is logged before it leaves, and the log is append-only and
chained, so the clients that read a subject before a moment are the same whenever they are
asked. The notices are a read model derived from the log and the access log (the notices
projector, tracked with its rows); rebuilding them gives every notice its old id. The
acknowledgements are the clients' own writes, kept in a table no rebuild empties."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Engine, and_, func, select
from sqlalchemy.exc import IntegrityError

from domain.cases import ObjectionResolved, RepairApproved
from domain.changes import RECORD_REPAIRED, RECORD_REVOKED, ChangeKind, change_id, notice_id
from domain.events import RecordRevoked
from projections.tables import records
from projections.writes import insert_rows
from service.access.tables import access_log, api_clients
from service.notifications.tables import notice_acknowledgements, notices

MAX_PAGE = 500


def _utc(moment: datetime) -> datetime:
    """In UTC, as the tables keep times (SQLite keeps no zone to convert)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def stop_using(event: Any) -> tuple[ChangeKind, UUID, UUID | None] | None:
    """(the change, the record, the deciding case) if the event takes a record out of sharing
    and use: a repair approved, a revocation, an objection resolved by revoking."""
    if isinstance(event, RepairApproved):
        return RECORD_REPAIRED, event.target_record_id, event.case_id
    if isinstance(event, RecordRevoked):
        return RECORD_REVOKED, event.target_record_id, None
    if isinstance(event, ObjectionResolved) and event.outcome == "revoked":
        return RECORD_REVOKED, event.target_record_id, event.case_id
    return None


class NoticeProjector:
    """Events in, notices out: for each repair or revocation, one notice per API client whose
    reads of the subject (the access log) fell between the record's recording and the event."""

    name = "notices"
    tables = (notices,)
    reads = (access_log, api_clients)  # beside the log: who read a subject, and who they are
    depends_on = ("credit_file",)  # when each record was recorded
    # Who read the event's own subject, about that subject's record; ids from the change's.
    per_subject = True

    def apply(self, conn: Connection, events: Sequence[tuple[int, Any]]) -> None:
        found = [
            (position, event, *stopped)
            for position, event in events
            if (stopped := stop_using(event)) is not None
        ]
        if not found:
            return
        recorded = dict(
            conn.execute(
                select(records.c.record_id, records.c.recorded_at).where(
                    records.c.record_id.in_({record_id for _, _, _, record_id, _ in found})
                )
            ).all()
        )
        rows = []
        for position, event, kind, record_id, case_id in found:
            if record_id not in recorded:
                continue  # a step on a record not in the file changes nothing
            change = change_id(position, kind, record_id)
            readers = conn.execute(
                select(access_log.c.client_id, func.max(access_log.c.at))
                .join(api_clients, api_clients.c.client_id == access_log.c.client_id)
                .where(
                    access_log.c.subject_id == event.originator_id,
                    access_log.c.at >= _utc(recorded[record_id]),
                    access_log.c.at < _utc(event.timestamp),
                )
                .group_by(access_log.c.client_id)
                .order_by(access_log.c.client_id)
            )
            rows += [
                {
                    "notice_id": notice_id(change, client_id),
                    "change_id": change,
                    "position": position,
                    "client_id": client_id,
                    "subject_id": event.originator_id,
                    "record_id": record_id,
                    "kind": kind.name,
                    "case_id": case_id,
                    "last_read_at": _utc(last_read),
                    "recorded_at": _utc(event.timestamp),
                }
                for client_id, last_read in readers
            ]
        insert_rows(conn, notices, rows)


@dataclass(frozen=True)
class Notice:
    notice_id: UUID
    change_id: UUID
    kind: str
    subject_id: UUID
    record_id: UUID
    last_read_at: datetime
    recorded_at: datetime
    acknowledged_at: datetime | None
    position: int  # the decision's log position
    client_id: str = ""  # the client told
    # Who confirmed, if not the client itself over the API: "account:<name>", a person of the
    # client's agency at the console.
    acknowledged_by: str | None = None


@dataclass(frozen=True)
class Propagation:
    """How far a decision's notices went: how many clients were told, how many confirmed."""

    told: int
    acknowledged: int


class AlreadyAcknowledged(Exception):
    """The notice was acknowledged before: the first acknowledgement stands."""


class Notices:
    def __init__(self, engine: Engine):
        self.engine = engine

    def of_client(self, client_id: str, *, after: int = 0, limit: int = MAX_PAGE) -> list[Notice]:
        """The client's notices in log order, after the log position `after`."""
        query = _notice_query().where(notices.c.client_id == client_id, notices.c.position > after)
        with self.engine.connect() as conn:
            rows = conn.execute(
                query.order_by(notices.c.position, notices.c.notice_id).limit(limit)
            )
            return [_notice(row) for row in rows.mappings()]

    def get(self, client_id: str, notice: UUID) -> Notice | None:
        """The notice if it is the client's; another client's is None, as one that is not."""
        query = _notice_query().where(
            notices.c.notice_id == notice, notices.c.client_id == client_id
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _notice(row) if row is not None else None

    def of_agency(self, agency_code: str, *, limit: int = MAX_PAGE) -> list[Notice]:
        """The notices of the agency's API clients (`api_clients.agency_code`, fixed when a
        client is made), newest first."""
        query = (
            _notice_query()
            .join(api_clients, api_clients.c.client_id == notices.c.client_id)
            .where(api_clients.c.agency_code == agency_code)
            .order_by(notices.c.position.desc(), notices.c.notice_id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_notice(row) for row in conn.execute(query).mappings()]

    def of_agency_get(self, agency_code: str, notice: UUID) -> Notice | None:
        """The notice if one of the agency's clients was told it; None otherwise, as for one
        that is not."""
        query = (
            _notice_query()
            .join(api_clients, api_clients.c.client_id == notices.c.client_id)
            .where(notices.c.notice_id == notice, api_clients.c.agency_code == agency_code)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _notice(row) if row is not None else None

    def acknowledge(
        self, client_id: str, notice: UUID, *, now: datetime, by: str | None = None
    ) -> Notice | None:
        """Record that the client stopped using the notice's record; None if the notice is not
        the client's. `by` names a person of the client's agency confirming for it at the
        console (None: the client itself). Raises AlreadyAcknowledged the second time."""
        if self.get(client_id, notice) is None:
            return None
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    notice_acknowledgements.insert().values(
                        notice_id=notice,
                        client_id=client_id,
                        acknowledged_at=_utc(now),
                        acknowledged_by=by,
                    )
                )
        except IntegrityError:
            raise AlreadyAcknowledged(str(notice)) from None
        return self.get(client_id, notice)

    def of_case(self, case: dict[str, Any]) -> Propagation | None:
        """The notices a case's decision sent, and how many of them were acknowledged; None
        for a case whose decision took no record out (open, denied, upheld, corrected)."""
        repaired = case["kind"] == "repair" and case["outcome"] == "approved"
        if not repaired and case["outcome"] != "revoked":
            return None
        return self.counted(case["case_id"])

    def counted(self, case_id: UUID) -> Propagation:
        query = (
            select(func.count(), func.count(notice_acknowledgements.c.notice_id))
            .select_from(notices)
            .outerjoin(
                notice_acknowledgements,
                notice_acknowledgements.c.notice_id == notices.c.notice_id,
            )
            .where(notices.c.case_id == case_id)
        )
        with self.engine.connect() as conn:
            told, acknowledged = conn.execute(query).one()
        return Propagation(told=int(told), acknowledged=int(acknowledged))


def _notice_query() -> Any:
    return select(
        notices,
        notice_acknowledgements.c.acknowledged_at,
        notice_acknowledgements.c.acknowledged_by,
    ).outerjoin(
        notice_acknowledgements,
        and_(
            notice_acknowledgements.c.notice_id == notices.c.notice_id,
            notice_acknowledgements.c.client_id == notices.c.client_id,
        ),
    )


def _notice(row: Any) -> Notice:
    return Notice(
        notice_id=row["notice_id"],
        change_id=row["change_id"],
        kind=row["kind"],
        subject_id=row["subject_id"],
        record_id=row["record_id"],
        last_read_at=_utc(row["last_read_at"]),
        recorded_at=_utc(row["recorded_at"]),
        acknowledged_at=_utc(row["acknowledged_at"]) if row["acknowledged_at"] else None,
        position=row["position"],
        client_id=row["client_id"],
        acknowledged_by=row["acknowledged_by"],
    )
