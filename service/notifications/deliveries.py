"""Webhook deliveries: a subscription's webhook and its secret, the delivery rows the worker
fills from the changes outbox, and the worker that sends them, retries them with back-off, and
pauses a webhook that keeps failing.

What is promised (docs/notifications.md, "Webhooks"):
- At least once: a delivery row is written, by cursor, in the same transaction that moves the
  webhook's cursor past its change; it stays pending until a 2xx answer is recorded. A worker
  claims a row by pushing its next attempt a lease ahead and only then sends; if it dies before
  recording the answer, the row is sent again when the lease is over, under the same
  `webhook-id` (the change id), so a receiver drops the repeat.
- In log order per subject: a row is not claimed while an earlier change of the same subject
  to the same subscription is pending (neither delivered nor abandoned).
- Several workers at once on PostgreSQL: rows are claimed with SELECT ... FOR UPDATE SKIP
  LOCKED and a webhook's cursor is moved under its row's lock, so no two workers send the same
  row at once nor write the same rows. SQLite allows one writer: run one worker there."""

from __future__ import annotations

import json
import logging
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    and_,
    case,
    delete,
    exists,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.orm import aliased

from projections.tables import changes, projection_tracking
from service.access.keys import utc
from service.access.secrets import KeyWrapper
from service.notifications.feed import CHANGES, PAST_POSITION, later_in_log
from service.notifications.tables import (
    subscription_kinds,
    subscription_subjects,
    subscription_webhooks,
    webhook_attempts,
    webhook_deliveries,
)
from service.notifications.webhooks import (
    Outcome,
    Target,
    TargetRefused,
    TargetRules,
    new_webhook_secret,
    post,
    resolve,
    signed_headers,
)

log = logging.getLogger(__name__)

ACTIVE, PAUSED = "active", "paused"
PENDING, DELIVERED, ABANDONED = "pending", "delivered", "abandoned"
# A round's fill: webhooks per transaction, and how far one webhook's cursor may move.
FILL_WEBHOOKS = 500
FILL_POSITIONS = 10_000


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often a failed delivery is tried again, and when a webhook pauses.

    The n-th retry waits `base * 2**(n-1)` seconds, at most `max_interval`, of which a random
    half is taken off (jitter: receivers coming back are not hit by every worker at once). A
    delivery is abandoned when it fails `window` seconds or more after its first attempt; a
    webhook is paused after `pause_after` failed attempts in a row, whichever deliveries
    they were."""

    base_seconds: float = 30
    max_interval_seconds: float = 3600
    window_seconds: float = 24 * 3600
    pause_after: int = 20
    lease_seconds: float = 120

    def delay(self, attempts: int, draw: Callable[[], float] = random.random) -> timedelta:
        ceiling = min(self.base_seconds * 2 ** max(attempts - 1, 0), self.max_interval_seconds)
        return timedelta(seconds=ceiling / 2 + draw() * ceiling / 2)


@dataclass(frozen=True)
class WebhookState:
    callback_url: str
    state: str  # active | paused
    consecutive_failures: int
    paused_at: datetime | None


@dataclass(frozen=True)
class Attempt:
    """One try to deliver a change: when, the answer's status code or the error, how long."""

    change_id: UUID
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


def change_document(row: Any) -> dict[str, Any]:
    """A change as the feed shows it (api/notifications/schemas.py `Change`), as JSON values."""
    recorded = utc(row["recorded_at"]).isoformat().replace("+00:00", "Z")
    return {
        "change_id": str(row["change_id"]),
        "kind": row["kind"],
        "subject_id": str(row["subject_id"]),
        "record_id": str(row["record_id"]),
        "record_type": row["record_type"],
        "before": row["before"],
        "after": row["after"],
        "position": row["position"],
        "recorded_at": recorded,
    }


def payload(subscription_id: UUID, change: dict[str, Any]) -> str:
    """The body POSTed: the change, its id beside it, and the subscription it is sent for."""
    return json.dumps(
        {
            "change_id": change["change_id"],
            "subscription_id": str(subscription_id),
            "change": change,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


class Webhooks:
    """The webhooks of subscriptions: made with a subscription, read, resumed, their log."""

    def __init__(self, engine: Engine, wrapper: KeyWrapper, rules: TargetRules):
        self.engine = engine
        self.wrapper = wrapper
        self.rules = rules

    def check(self, url: str) -> Target:
        """The URL checked and resolved; raises TargetRefused."""
        return resolve(url, self.rules)

    def add(
        self, conn: Connection, subscription_id: UUID, client_id: str, url: str, now: datetime
    ) -> str:
        """The subscription's webhook, in the caller's transaction; answers the new secret,
        which is kept wrapped and shown this once. Its cursor starts at the beginning of the
        log, as the feed's does: the subjects' earlier changes are delivered too."""
        secret = new_webhook_secret()
        conn.execute(
            insert(subscription_webhooks).values(
                subscription_id=subscription_id,
                client_id=client_id,
                callback_url=url,
                wrapped_secret=self.wrapper.wrap(secret.encode(), _purpose(subscription_id)),
                state=ACTIVE,
                consecutive_failures=0,
                paused_at=None,
                cursor_position=0,
                cursor_ordinal=PAST_POSITION,
                created_at=now,
            )
        )
        return secret

    def secret(self, subscription_id: UUID, wrapped: bytes) -> str:
        return self.wrapper.unwrap(wrapped, _purpose(subscription_id)).decode()

    def states(self, conn: Connection, subscription_ids: list[UUID]) -> dict[UUID, WebhookState]:
        rows = conn.execute(
            select(subscription_webhooks).where(
                subscription_webhooks.c.subscription_id.in_(subscription_ids)
            )
        ).mappings()
        return {row["subscription_id"]: _state(row) for row in rows}

    def resume(self, client_id: str, subscription_id: UUID, now: datetime) -> WebhookState | None:
        """Deliver again to the client's paused webhook: its pending deliveries (the one it
        paused on, and those made while it was paused) are due at once, each with a whole retry
        window again. None if the client has no webhook under this subscription."""
        mine = and_(
            subscription_webhooks.c.subscription_id == subscription_id,
            subscription_webhooks.c.client_id == client_id,
        )
        with self.engine.begin() as conn:
            found = conn.execute(
                update(subscription_webhooks)
                .where(mine)
                .values(state=ACTIVE, consecutive_failures=0, paused_at=None)
            ).rowcount
            if not found:
                return None
            conn.execute(
                update(webhook_deliveries)
                .where(
                    webhook_deliveries.c.subscription_id == subscription_id,
                    webhook_deliveries.c.status == PENDING,
                )
                .values(next_attempt_at=now, first_attempt_at=None)
            )
            row = conn.execute(select(subscription_webhooks).where(mine)).mappings().one()
        return _state(row)

    def attempts(self, client_id: str, subscription_id: UUID, limit: int) -> list[Attempt]:
        """The webhook's latest attempts, newest first (the caller checks it is the client's)."""
        query = (
            select(webhook_attempts)
            .join(
                subscription_webhooks,
                subscription_webhooks.c.subscription_id == webhook_attempts.c.subscription_id,
            )
            .where(
                webhook_attempts.c.subscription_id == subscription_id,
                subscription_webhooks.c.client_id == client_id,
            )
            .order_by(webhook_attempts.c.attempted_at.desc(), webhook_attempts.c.attempt_id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [
                Attempt(
                    row["change_id"],
                    utc(row["attempted_at"]),
                    row["status_code"],
                    row["error"],
                    row["duration_ms"],
                )
                for row in conn.execute(query).mappings()
            ]

    def forget(self, conn: Connection, subscription_id: UUID) -> None:
        """A cancelled subscription's webhook, deliveries and log, in the caller's transaction."""
        for table in (subscription_webhooks, webhook_deliveries, webhook_attempts):
            conn.execute(delete(table).where(table.c.subscription_id == subscription_id))


def _purpose(subscription_id: UUID) -> str:
    return f"webhook-secret:{subscription_id}"


def _state(row: Any) -> WebhookState:
    paused = row["paused_at"]
    return WebhookState(
        row["callback_url"],
        row["state"],
        row["consecutive_failures"],
        utc(paused) if paused is not None else None,
    )


@dataclass(frozen=True)
class Claimed:
    subscription_id: UUID
    change_id: UUID
    attempts: int
    first_attempt_at: datetime | None


class DeliveryWorker:
    """Fills delivery rows from the outbox and sends the due ones; one `run_once` is a round of
    both. `post` and `resolve` are the wire (tests hand in their own to make a worker die
    between sending and recording)."""

    def __init__(
        self,
        webhooks: Webhooks,
        policy: RetryPolicy,
        now: Callable[[], datetime],
        *,
        batch_size: int = 50,
        poll_seconds: float = 1.0,
        send: Callable[[Target, str, dict[str, str], TargetRules], Outcome] = post,
        draw: Callable[[], float] = random.random,
    ):
        self.webhooks = webhooks
        self.engine = webhooks.engine
        self.policy = policy
        self.now = now
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.send = send
        self.draw = draw
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._locks = self.engine.dialect.name == "postgresql"

    # -- filling: the outbox's changes as delivery rows -------------------------------------

    def fan_out(self) -> int:
        """Delivery rows for every webhook's changes past its cursor; answers how many.

        Set-based: webhooks are taken `FILL_WEBHOOKS` at a time (in id order, each once a
        round), and each batch's rows are written by one INSERT ... SELECT and its cursors
        moved by one UPDATE, in one transaction; one transaction per webhook took about two
        minutes a round with 10,000 webhooks (docs/benchmarks.md, "Webhook delivery"). A webhook's
        cursor moves at most `FILL_POSITIONS` log positions a round, so that one far behind
        (a new webhook, starting at the beginning of the log) does not hold up the others."""
        hook = subscription_webhooks
        with self.engine.connect() as conn:
            reached = _changes_position(conn)
        # Behind: a change up to `reached` may be past its cursor. A cursor ahead of `reached`
        # (the outbox being rebuilt behind it) waits for the outbox to come back.
        behind = or_(
            hook.c.cursor_position < reached,
            and_(hook.c.cursor_position == reached, hook.c.cursor_ordinal < PAST_POSITION),
        )
        written, last = 0, None
        while True:
            query = (
                select(hook.c.subscription_id)
                .where(behind, *([hook.c.subscription_id > last] if last is not None else []))
                .order_by(hook.c.subscription_id)
                .limit(FILL_WEBHOOKS)
            )
            if self._locks:  # another worker is filling these: leave them
                query = query.with_for_update(skip_locked=True)
            with self.engine.begin() as conn:
                batch = conn.execute(query).scalars().all()
                if not batch:
                    return written
                written += self._fill(conn, batch, reached)
            if len(batch) < FILL_WEBHOOKS:
                return written
            last = batch[-1]

    def _fill(self, conn: Connection, batch: Sequence[UUID], reached: int) -> int:
        """The batch's (locked) webhooks' delivery rows up to their new cursors, which are
        moved in the same transaction: a change is written once per webhook, and never
        skipped."""
        hook, d, subject = subscription_webhooks, webhook_deliveries, subscription_subjects
        ahead = hook.c.cursor_position + FILL_POSITIONS
        until = case((ahead < reached, ahead), else_=literal(reached, BigInteger()))
        rows = (
            select(
                hook.c.subscription_id,
                changes.c.change_id,
                changes.c.subject_id,
                changes.c.position,
                changes.c.ordinal,
                literal(PENDING, d.c.status.type),
                literal(0, d.c.attempts.type),
                literal(self.now(), d.c.next_attempt_at.type),
            )
            .select_from(
                hook.join(subject, subject.c.subscription_id == hook.c.subscription_id)
                .join(changes, changes.c.subject_id == subject.c.subject_id)
                .join(
                    subscription_kinds,
                    and_(
                        subscription_kinds.c.subscription_id == hook.c.subscription_id,
                        subscription_kinds.c.kind == changes.c.kind,
                    ),
                )
            )
            .where(
                hook.c.subscription_id.in_(batch),
                later_in_log(
                    changes.c.position,
                    changes.c.ordinal,
                    (hook.c.cursor_position, hook.c.cursor_ordinal),
                ),
                changes.c.position <= until,
            )
        )
        columns = ["subscription_id", "change_id", "subject_id", "position", "ordinal"]
        written = conn.execute(
            insert(d)
            .from_select([*columns, "status", "attempts", "next_attempt_at"], rows)
            .returning(d.c.change_id)  # rowcount of INSERT ... SELECT is -1 with psycopg
        ).all()
        conn.execute(
            update(hook)
            .where(hook.c.subscription_id.in_(batch))
            .values(cursor_position=until, cursor_ordinal=PAST_POSITION)
        )
        return len(written)

    # -- sending ------------------------------------------------------------------------------

    def claim(self, limit: int = 1) -> list[Claimed]:
        """Due deliveries of active webhooks, the earliest pending one per subject and
        subscription only, each leased to this worker."""
        d = webhook_deliveries
        earlier = aliased(webhook_deliveries)
        blocked = exists().where(
            earlier.c.subscription_id == d.c.subscription_id,
            earlier.c.subject_id == d.c.subject_id,
            earlier.c.status == PENDING,
            later_in_log(d.c.position, d.c.ordinal, (earlier.c.position, earlier.c.ordinal)),
        )
        active = exists().where(
            subscription_webhooks.c.subscription_id == d.c.subscription_id,
            subscription_webhooks.c.state == ACTIVE,
        )
        now = self.now()
        query = (
            select(d.c.subscription_id, d.c.change_id, d.c.attempts, d.c.first_attempt_at)
            .where(d.c.status == PENDING, d.c.next_attempt_at <= now, active, ~blocked)
            .order_by(d.c.next_attempt_at, d.c.position, d.c.ordinal)
            .limit(limit)
        )
        if self._locks:
            query = query.with_for_update(skip_locked=True)
        with self.engine.begin() as conn:
            rows = conn.execute(query).all()
            claimed = [
                Claimed(
                    row.subscription_id,
                    row.change_id,
                    row.attempts,
                    utc(row.first_attempt_at) if row.first_attempt_at is not None else None,
                )
                for row in rows
            ]
            lease = now + timedelta(seconds=self.policy.lease_seconds)
            for one in claimed:
                conn.execute(
                    update(d)
                    .where(
                        d.c.subscription_id == one.subscription_id,
                        d.c.change_id == one.change_id,
                    )
                    .values(next_attempt_at=lease)
                )
        return claimed

    def deliver_due(self) -> int:
        """Send up to a batch of due deliveries, one after another, each claimed just before
        it is sent (so that its lease covers one send, however long the batch takes); answers
        how many were tried."""
        tried = 0
        while tried < self.batch_size:
            claimed = self.claim()
            if not claimed:
                break
            self._deliver(claimed[0])
            tried += 1
        return tried

    def _deliver(self, one: Claimed) -> None:
        with self.engine.connect() as conn:
            hook = (
                conn.execute(
                    select(subscription_webhooks).where(
                        subscription_webhooks.c.subscription_id == one.subscription_id
                    )
                )
                .mappings()
                .first()
            )
            change = (
                conn.execute(select(changes).where(changes.c.change_id == one.change_id))
                .mappings()
                .first()
            )
        if hook is None:  # cancelled meanwhile: its rows are gone with it
            return
        if change is None:  # the outbox is being rebuilt: the change comes back, same id
            self._postpone(one)
            return
        body = payload(one.subscription_id, change_document(change))
        moment = self.now()
        secret = self.webhooks.secret(one.subscription_id, hook["wrapped_secret"])
        headers = signed_headers(secret, str(one.change_id), moment, body)
        try:  # checked again at each delivery: the name may point elsewhere now
            target = self.webhooks.check(hook["callback_url"])
        except TargetRefused as refused:
            outcome = Outcome(None, f"refused: {refused}"[:300], 0)
        else:
            outcome = self.send(target, body, headers, self.webhooks.rules)
        self._record(one, moment, outcome)

    def _postpone(self, one: Claimed) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(webhook_deliveries)
                .where(
                    webhook_deliveries.c.subscription_id == one.subscription_id,
                    webhook_deliveries.c.change_id == one.change_id,
                )
                .values(next_attempt_at=self.now() + timedelta(seconds=self.poll_seconds))
            )

    def _record(self, one: Claimed, moment: datetime, outcome: Outcome) -> None:
        """The attempt in the log, the delivery's new state and the webhook's failure count,
        in one transaction."""
        d = webhook_deliveries
        hook = subscription_webhooks
        first = one.first_attempt_at or moment
        this = and_(d.c.subscription_id == one.subscription_id, d.c.change_id == one.change_id)
        with self.engine.begin() as conn:
            conn.execute(
                insert(webhook_attempts).values(
                    attempt_id=uuid4(),
                    subscription_id=one.subscription_id,
                    change_id=one.change_id,
                    attempted_at=moment,
                    status_code=outcome.status_code,
                    error=outcome.error,
                    duration_ms=outcome.duration_ms,
                )
            )
            mine = hook.c.subscription_id == one.subscription_id
            if outcome.delivered:
                conn.execute(
                    update(d)
                    .where(this)
                    .values(
                        status=DELIVERED,
                        attempts=one.attempts + 1,
                        first_attempt_at=first,
                        finished_at=moment,
                    )
                )
                conn.execute(update(hook).where(mine).values(consecutive_failures=0))
                return
            given_up = (moment - first).total_seconds() >= self.policy.window_seconds
            conn.execute(
                update(d)
                .where(this, d.c.status == PENDING)  # not a row another worker has delivered
                .values(
                    status=ABANDONED if given_up else PENDING,
                    attempts=one.attempts + 1,
                    first_attempt_at=first,
                    next_attempt_at=moment + self.policy.delay(one.attempts + 1, self.draw),
                    finished_at=moment if given_up else None,
                )
            )
            conn.execute(
                update(hook)
                .where(mine)
                .values(consecutive_failures=hook.c.consecutive_failures + 1)
            )
            paused = conn.execute(
                update(hook)
                .where(
                    mine,
                    hook.c.state == ACTIVE,
                    hook.c.consecutive_failures >= self.policy.pause_after,
                )
                .values(state=PAUSED, paused_at=moment)
            ).rowcount
            if paused:
                log.warning(
                    "webhook of subscription %s paused after %d failed deliveries in a row",
                    one.subscription_id,
                    self.policy.pause_after,
                )

    # -- running ------------------------------------------------------------------------------

    def run_once(self) -> int:
        """One round: fill, then send what is due; answers how many rows it wrote or tried."""
        return self.fan_out() + self.deliver_due()

    def run_forever(self) -> None:
        """Rounds until stopped; a round that fails (the database away, say) is logged and
        tried again after a pause, losing nothing: rows are only ever marked after an answer."""
        while not self._stop.is_set():
            try:
                busy = self.run_once()
            except Exception:  # a worker keeps going; the row it was on is leased and retried
                log.exception("webhook delivery round failed; trying again")
                busy = 0
            if not busy:
                self._stop.wait(self.poll_seconds)

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(
            target=self.run_forever, name="webhook-deliveries", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None


def _changes_position(conn: Connection) -> int:
    """How far the changes outbox has been projected: every change up to it is committed."""
    found = conn.execute(
        select(projection_tracking.c.position).where(projection_tracking.c.name == CHANGES)
    ).scalar()
    return int(found) if found is not None else 0
