"""Public changes to NATS JetStream: the changes outbox (projections/changes/) read from a durable
cursor and published, each to its subject's partition, so that a city's mirror of the published
credit records follows them with a durable consumer of its own (docs/notifications.md, "NATS").

Only public changes go out: those about a record that has a publication window (the credit
file's own rule, `records.publish_from`), of a subject that is not a natural person. A change
about a record never published (a minor penalty, a watch-list entry, their follow-ups) stays
in the service, and so does every change about an individual: a stream has no access log
(查询留痕) and no reader's rights to check, so no personal data goes into it.

The cursor is a tracked position like a projector's (`projection_tracking`, named
`nats:<stream>`), advanced only once JetStream has acknowledged every change up to it. A crash
between an acknowledgement and the cursor's advance publishes those changes again on restart,
each with its `Nats-Msg-Id` (the change id), which JetStream drops as a duplicate within the
stream's duplicate window. Changes are published one at a time, each awaited, so that a failed
publish is retried before any change after it: the order within a partition is the log's."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import nats
from nats.aio.client import Client as NatsClient
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import StreamConfig
from nats.js.errors import NotFoundError
from sqlalchemy import Connection, Engine, and_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from projections.partitions import partition_of
from projections.runner import transient
from projections.tables import changes, projection_tracking, records, subjects
from service.access.keys import utc
from service.settings import Settings

log = logging.getLogger(__name__)

CHANGES = "changes"  # the projector whose outbox is read (projections/changes/projector.py)
PERSON = "individual"  # the subject kind that is a natural person (domain/codes.py)
PAGE = 500
# How long one publish waits for JetStream's acknowledgement before it is tried again.
ACK_TIMEOUT_SECONDS = 5.0
CONNECT_SECONDS = 10.0


@dataclass(frozen=True)
class StreamLayout:
    """Where changes go: the stream, its subjects `<prefix>.<partition>.<kind>`, the number of
    partitions and the duplicate window."""

    stream: str
    prefix: str
    partitions: int
    duplicate_window_seconds: float

    @classmethod
    def from_settings(cls, settings: Settings) -> StreamLayout:
        return cls(
            settings.nats_stream,
            settings.nats_subject_prefix,
            settings.nats_partitions,
            settings.nats_duplicate_window_seconds,
        )

    @property
    def cursor_name(self) -> str:
        return f"nats:{self.stream}"

    def subject(self, change: dict[str, Any]) -> str:
        partition = partition_of(change["subject_id"], self.partitions)
        return f"{self.prefix}.{partition}.{change['kind']}"

    def config(self) -> StreamConfig:
        return StreamConfig(
            name=self.stream,
            subjects=[f"{self.prefix}.>"],
            duplicate_window=self.duplicate_window_seconds,
        )


def message(change: dict[str, Any]) -> bytes:
    """A change as the feed answers it (docs/notifications.md, "What a change says")."""
    body = {
        "change_id": str(change["change_id"]),
        "kind": change["kind"],
        "subject_id": str(change["subject_id"]),
        "record_id": str(change["record_id"]),
        "record_type": change["record_type"],
        "before": change["before"],
        "after": change["after"],
        "position": change["position"],
        "recorded_at": utc(change["recorded_at"]).isoformat().replace("+00:00", "Z"),
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def headers(change: dict[str, Any]) -> dict[str, str]:
    return {
        "Nats-Msg-Id": str(change["change_id"]),
        "Credit-Change-Kind": change["kind"],
        "Credit-Log-Position": str(change["position"]),
    }


class Outbox:
    """The public changes past the cursor, and the cursor itself, in the database."""

    def __init__(self, engine: Engine, cursor_name: str):
        self.engine = engine
        self.cursor_name = cursor_name

    def cursor(self) -> int:
        with self.engine.connect() as conn:
            found = conn.scalar(
                select(projection_tracking.c.position).where(
                    projection_tracking.c.name == self.cursor_name
                )
            )
        return int(found or 0)

    def pending(self, after: int, limit: int = PAGE) -> tuple[list[dict[str, Any]], int]:
        """Up to about `limit` public changes after position `after`, whole positions only, and
        the position the cursor may move to once they are acknowledged: the last one's, or the
        changes read model's tracked position when there are no more up to it."""
        with self.engine.connect() as conn:
            reached = _tracked(conn, CHANGES)
            rows = self._public(conn, after, reached, limit)
            if len(rows) < limit:
                return rows, max(reached, after)
            last = rows[-1]["position"]
            whole = [row for row in rows if row["position"] < last]
            if whole:
                return whole, whole[-1]["position"]
            # One position with more changes than a page: all of them, then past it.
            return self._public(conn, last - 1, last, None), last

    @staticmethod
    def _public(conn: Connection, after: int, upto: int, limit: int | None) -> list[dict[str, Any]]:
        query = (
            select(changes)
            .join(records, records.c.record_id == changes.c.record_id)
            .join(subjects, subjects.c.subject_id == changes.c.subject_id)
            .where(
                changes.c.position > after,
                changes.c.position <= upto,
                records.c.publish_from.is_not(None),
                subjects.c.kind != PERSON,
            )
            .order_by(changes.c.position, changes.c.ordinal)
            .limit(limit)
        )
        return [dict(row) for row in conn.execute(query).mappings()]

    def advance(self, position: int) -> None:
        """Moves the cursor forward only (two publishers racing never move it back)."""
        with self.engine.begin() as conn:
            upsert = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
            conn.execute(
                upsert(projection_tracking)
                .values(name=self.cursor_name, position=0, updated_at=datetime.now(UTC))
                .on_conflict_do_nothing(index_elements=["name"])
            )
            conn.execute(
                update(projection_tracking)
                .where(
                    and_(
                        projection_tracking.c.name == self.cursor_name,
                        projection_tracking.c.position < position,
                    )
                )
                .values(position=position, updated_at=datetime.now(UTC))
            )


async def _log_error(error: Exception) -> None:
    """The client's own reports (a lost connection, a refused one): one line each, no trace."""
    log.warning("NATS: %r", error)


def _tracked(conn: Connection, name: str) -> int:
    found = conn.scalar(
        select(projection_tracking.c.position).where(projection_tracking.c.name == name)
    )
    return int(found or 0)


class NatsPublisher:
    """Follows the outbox and publishes each public change to JetStream."""

    def __init__(
        self,
        engine: Engine,
        url: str,
        layout: StreamLayout,
        *,
        poll_seconds: float = 0.5,
        page_size: int = PAGE,
    ):
        self.url = url
        self.layout = layout
        self.outbox = Outbox(engine, layout.cursor_name)
        self.poll_seconds = poll_seconds
        self.page_size = page_size
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.crash: BaseException | None = None

    @classmethod
    def configured(cls, settings: Settings, engine: Engine) -> NatsPublisher | None:
        """The publisher the settings ask for; None when CREDIT_NATS_URL is unset."""
        if not settings.nats_url:
            return None
        return cls(
            engine,
            settings.nats_url,
            StreamLayout.from_settings(settings),
            poll_seconds=settings.projection_poll_seconds,
        )

    async def connect(self) -> NatsClient:
        """Connected, or TimeoutError: the client would otherwise go on trying its first
        connection, and a stop would not be heard."""
        return await asyncio.wait_for(
            nats.connect(
                self.url,
                name="credit-changes-publisher",
                max_reconnect_attempts=-1,
                error_cb=_log_error,
            ),
            CONNECT_SECONDS,
        )

    async def ensure_stream(self, js: JetStreamContext) -> None:
        """Creates the stream if it is missing; otherwise brings its subjects and duplicate
        window to the settings' (its stored messages are kept)."""
        config = self.layout.config()
        try:
            found = await js.stream_info(self.layout.stream)
        except NotFoundError:
            await js.add_stream(config)
            log.info("created stream %s for %s", config.name, config.subjects)
            return
        current = found.config
        if current.subjects != config.subjects or (
            current.duplicate_window != config.duplicate_window
        ):
            current.subjects = config.subjects
            current.duplicate_window = config.duplicate_window
            await js.update_stream(current)
            log.info("updated stream %s to %s", config.name, config.subjects)

    async def publish_pending(self, js: JetStreamContext) -> int:
        """Publishes the public changes past the cursor until none is left, advancing the
        cursor after each acknowledged page, or until stopped between pages. Returns how many
        were published (duplicates that JetStream dropped included)."""
        published = 0
        while not self._stop.is_set():
            after = await asyncio.to_thread(self.outbox.cursor)
            rows, reached = await asyncio.to_thread(self.outbox.pending, after, self.page_size)
            await self._publish(js, rows)
            published += len(rows)
            if reached > after:
                await asyncio.to_thread(self.outbox.advance, reached)
            if not rows:
                break
        return published

    async def _publish(self, js: JetStreamContext, rows: Sequence[dict[str, Any]]) -> None:
        for change in rows:
            await js.publish(
                self.layout.subject(change),
                message(change),
                timeout=ACK_TIMEOUT_SECONDS,
                stream=self.layout.stream,
                headers=headers(change),
            )

    async def run(self) -> None:
        """Publishes until stopped; a broker or database that fails is waited for and the
        unacknowledged changes published again (their cursor has not moved)."""
        delay = self.poll_seconds
        while not self._stop.is_set():
            try:
                nc = await self.connect()
            except (NatsError, OSError, TimeoutError) as error:
                log.warning("NATS at %s unreachable: %r", self.url, error)
                await self._sleep(min(delay := delay * 2, 30))
                continue
            try:
                js = nc.jetstream()
                await self.ensure_stream(js)
                while not self._stop.is_set():
                    if not await self.publish_pending(js):
                        await self._sleep(self.poll_seconds)
                    delay = self.poll_seconds
            except Exception as error:
                if not isinstance(error, NatsError | OSError | TimeoutError) and not transient(
                    error
                ):
                    raise
                log.warning("publishing to %s stopped, retrying: %s", self.layout.stream, error)
                await self._sleep(min(delay := delay * 2, 30))
            finally:
                await nc.close()

    async def _sleep(self, seconds: float) -> None:
        await asyncio.to_thread(self._stop.wait, seconds)

    # In a thread of its own, beside the projection runner (credit worker) ------------------
    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._main, name="nats-publisher", daemon=True)
        self._thread.start()

    def _main(self) -> None:
        try:
            asyncio.run(self.run())
        except BaseException as error:  # what stopped it, for the worker to report
            self.crash = error
            log.exception("the NATS publisher stopped")

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        if self._thread is not None and timeout:
            self._thread.join(timeout)
