"""Webhook deliveries: a subscription's webhook and its secret, the delivery rows the worker
fills from the changes outbox, and the worker that sends them, retries them with back-off, and
pauses a webhook that keeps failing.

What is promised (docs/notifications.md, "Webhooks"):
- At least once: a delivery row is written, by cursor, in the same transaction that moves the
  webhook's cursor past its change; it stays pending until a 2xx answer is recorded. A worker
  claims a batch of rows in one transaction by pushing their next attempts a lease ahead, sends
  them concurrently (at most `concurrency` at once, each only while the lease outlasts a send),
  and records every answer in one transaction; if it dies before recording, the batch is sent
  again when the lease is over, each row under the same `webhook-id` (the change id), so a
  receiver drops the repeat.
- In log order per subject: a row is not claimed while an earlier change of the same subject
  to the same subscription is pending (neither delivered nor abandoned), so a batch holds at
  most one change of a subject for a subscription, and no two are in flight at once.
- Several workers at once on PostgreSQL: rows are claimed with SELECT ... FOR UPDATE SKIP
  LOCKED and a webhook's cursor is moved under its row's lock, so no two workers send the same
  row at once nor write the same rows. SQLite allows one writer: run one worker there."""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Engine,
    Select,
    Table,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    tuple_,
    union,
    union_all,
    update,
)
from sqlalchemy.orm import aliased

from projections.tables import changes, projection_tracking
from service.access.keys import utc
from service.access.secrets import KeyWrapper
from service.access.tables import api_clients
from service.notifications.feed import CHANGES, PAST_POSITION, later_in_log
from service.notifications.tables import (
    subscription_authorities,
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
# A round's sending: batches claimed one after another while deliveries are due, at most this
# many, so that a backlog does not keep the next fill, and new changes, waiting.
SEND_BATCHES = 20


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
    """A delivery leased to this worker, with what sending it needs: the webhook's URL and
    secret, and the change (None while the outbox is being rebuilt: it comes back, same id)."""

    subscription_id: UUID
    change_id: UUID
    attempts: int
    first_attempt_at: datetime | None
    callback_url: str
    secret: str = field(repr=False)
    change: dict[str, Any] | None = None


@dataclass(frozen=True)
class Sent:
    """A claimed delivery tried: when it was signed, and what came of it."""

    one: Claimed
    moment: datetime
    outcome: Outcome


@dataclass(frozen=True)
class Deferred:
    """A claimed delivery not tried this time, due again at `due`."""

    one: Claimed
    due: datetime


@dataclass(frozen=True)
class Batch:
    """Deliveries claimed in one transaction, leased until `leased_until` (the database's
    time) and, by this process's monotonic clock, until `lease_ends`."""

    claimed: list[Claimed]
    leased_until: datetime
    lease_ends: float


class DeliveryWorker:
    """Fills delivery rows from the outbox and sends the due ones, a batch at a time; one
    `run_once` is a round of both. `send` is the wire (tests hand in their own to make a worker
    die between sending and recording); a batch's sends run in threads, as many as
    `concurrency`, each POST on a connection of its own to the address its check resolved."""

    def __init__(
        self,
        webhooks: Webhooks,
        policy: RetryPolicy,
        now: Callable[[], datetime],
        *,
        batch_size: int = 50,
        concurrency: int = 16,
        poll_seconds: float = 1.0,
        send: Callable[[Target, str, dict[str, str], TargetRules], Outcome] = post,
        draw: Callable[[], float] = random.random,
    ):
        self.webhooks = webhooks
        self.engine = webhooks.engine
        self.policy = policy
        self.now = now
        self.batch_size = batch_size
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds
        self.send = send
        self.draw = draw
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._locks = self.engine.dialect.name == "postgresql"

    # -- filling: the outbox's changes as delivery rows -------------------------------------

    def fan_out(self) -> int:
        """Delivery rows for every webhook's changes past its cursor; answers how many.

        Only the webhooks that have something to deliver are filled: those with a change they
        follow among the new ones, and those too far behind for the new ones alone to tell
        (past `FILL_POSITIONS`). They are taken `FILL_WEBHOOKS` at a time (in id order, each
        once a round), and each batch's rows are written by one INSERT ... SELECT and its
        cursors moved by one UPDATE, in one transaction. The cursors of all the other webhooks
        behind are then moved to the outbox's position by one UPDATE: filling every webhook
        behind, whatever the new changes concerned, took 1.5 s a round with 10,000 webhooks
        (docs/benchmarks.md, "Webhook delivery"). A webhook's cursor moves at most
        `FILL_POSITIONS` log positions a round, so that one far behind (a new webhook, starting
        at the beginning of the log) does not hold up the others."""
        hook = subscription_webhooks
        with self.engine.connect() as conn:
            reached = _changes_position(conn)
            low = conn.execute(
                select(func.min(hook.c.cursor_position)).where(*_behind_near(hook, reached))
            ).scalar()
        behind, near = _behind_near(hook, reached)
        followed = _with_new_changes(low if low is not None else reached, reached)
        written, last = 0, None
        while True:
            query = (
                select(hook.c.subscription_id)
                .where(
                    behind,
                    or_(~near, hook.c.subscription_id.in_(followed)),
                    *([hook.c.subscription_id > last] if last is not None else []),
                )
                .order_by(hook.c.subscription_id)
                .limit(FILL_WEBHOOKS)
            )
            if self._locks:  # another worker is filling these: leave them
                query = query.with_for_update(of=hook, skip_locked=True)
            with self.engine.begin() as conn:
                batch = conn.execute(query).scalars().all()
                if batch:
                    written += self._fill(conn, batch, reached)
            if len(batch) < FILL_WEBHOOKS:
                break
            last = batch[-1]
        if low is not None:
            self._pass_over(low, reached)
        return written

    def _pass_over(self, low: int, reached: int) -> None:
        """Moves to `reached` the cursors of the webhooks behind, from `low` and within
        `FILL_POSITIONS` of it, that follow none of the changes up to it past their cursors:
        they have nothing to write. Only changes up to `reached` count, and all of them were
        committed before it was read. The changes they follow are looked for in the same
        statement, so a webhook whose cursor another worker moved meanwhile is judged by a
        window no smaller than its own, and one moved past `reached` is no longer behind. One
        made since `low` was read, further back, waits for the next round. On PostgreSQL the
        webhooks another worker holds are left to it."""
        hook = subscription_webhooks

        def idle(webhook: Any) -> list[ColumnElement[bool]]:
            return [
                *_behind_near(webhook, reached),
                webhook.c.cursor_position >= low,
                webhook.c.subscription_id.not_in(_with_new_changes(low, reached)),
            ]

        conditions = idle(hook)
        if self._locks:
            other = aliased(hook)
            held = select(other.c.subscription_id).where(*idle(other))
            conditions.append(
                hook.c.subscription_id.in_(held.with_for_update(of=other, skip_locked=True))
            )
        with self.engine.begin() as conn:
            conn.execute(
                update(hook)
                .where(*conditions)
                .values(cursor_position=reached, cursor_ordinal=PAST_POSITION)
            )

    def _fill(self, conn: Connection, batch: Sequence[UUID], reached: int) -> int:
        """The batch's (locked) webhooks' delivery rows up to their new cursors, which are
        moved in the same transaction: a change is written once per webhook, and never
        skipped."""
        hook, d, subject = subscription_webhooks, webhook_deliveries, subscription_subjects
        ahead = hook.c.cursor_position + FILL_POSITIONS
        until = case((ahead < reached, ahead), else_=literal(reached, BigInteger()))
        _drop_withdrawn_authorities(conn, batch)
        now = self.now()

        def outbox_rows(followed: Table, match: ColumnElement[bool]) -> Select[Any]:
            """The changes past the cursor up to `until` that a webhook's subscription follows
            through `followed` (its subjects, or its authorities), `match` joining them."""
            return (
                select(
                    hook.c.subscription_id,
                    changes.c.change_id,
                    changes.c.subject_id,
                    changes.c.position,
                    changes.c.ordinal,
                    literal(PENDING, d.c.status.type),
                    literal(0, d.c.attempts.type),
                    literal(now, d.c.next_attempt_at.type),
                )
                .select_from(
                    hook.join(followed, followed.c.subscription_id == hook.c.subscription_id)
                    .join(changes, match)
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

        # A subscription follows subjects or its authorities' warnings, never both: no change
        # comes twice for one webhook.
        rows = union_all(
            outbox_rows(subject, changes.c.subject_id == subject.c.subject_id),
            outbox_rows(
                subscription_authorities,
                changes.c.addressed_to == subscription_authorities.c.authority_code,
            ),
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

    def claim(self, limit: int) -> Batch:
        """Up to `limit` due deliveries of active webhooks, leased to this worker in one
        transaction, with their webhooks and changes. Only the earliest pending delivery per
        subject and subscription is due, so a batch never holds two changes of one subject for
        one subscription, nor a change whose earlier one is in flight in another batch."""
        d, hook = webhook_deliveries, subscription_webhooks
        earlier = aliased(webhook_deliveries)
        blocked = exists().where(
            earlier.c.subscription_id == d.c.subscription_id,
            earlier.c.subject_id == d.c.subject_id,
            earlier.c.status == PENDING,
            later_in_log(d.c.position, d.c.ordinal, (earlier.c.position, earlier.c.ordinal)),
        )
        active = exists().where(
            hook.c.subscription_id == d.c.subscription_id, hook.c.state == ACTIVE
        )
        now = self.now()
        query = (
            select(d.c.subscription_id, d.c.change_id, d.c.attempts, d.c.first_attempt_at)
            .where(d.c.status == PENDING, d.c.next_attempt_at <= now, active, ~blocked)
            .order_by(d.c.next_attempt_at, d.c.position, d.c.ordinal)
            .limit(limit)
        )
        if self._locks:  # rows another worker is claiming are left to it
            query = query.with_for_update(skip_locked=True)
        leased_until = now + timedelta(seconds=self.policy.lease_seconds)
        lease_ends = time.monotonic() + self.policy.lease_seconds
        with self.engine.begin() as conn:
            rows = conn.execute(query).all()
            if not rows:
                return Batch([], leased_until, lease_ends)
            keys = [(row.subscription_id, row.change_id) for row in rows]
            conn.execute(
                update(d)
                .where(tuple_(d.c.subscription_id, d.c.change_id).in_(keys))
                .values(next_attempt_at=leased_until)
            )
            hooks = {
                found.subscription_id: found
                for found in conn.execute(
                    select(
                        hook.c.subscription_id, hook.c.callback_url, hook.c.wrapped_secret
                    ).where(hook.c.subscription_id.in_({sid for sid, _ in keys}))
                )
            }
            documents = {
                found["change_id"]: change_document(found)
                for found in conn.execute(
                    select(changes).where(changes.c.change_id.in_({cid for _, cid in keys}))
                ).mappings()
            }
        secrets = {sid: self.webhooks.secret(sid, h.wrapped_secret) for sid, h in hooks.items()}
        claimed = [
            Claimed(
                row.subscription_id,
                row.change_id,
                row.attempts,
                utc(row.first_attempt_at) if row.first_attempt_at is not None else None,
                hooks[row.subscription_id].callback_url,
                secrets[row.subscription_id],
                documents.get(row.change_id),
            )
            for row in rows
            if row.subscription_id in hooks  # cancelled meanwhile: its rows are gone with it
        ]
        return Batch(claimed, leased_until, lease_ends)

    def deliver_due(self) -> int:
        """Send what is due, a batch at a time, until nothing is (or `SEND_BATCHES` batches
        went out, so that the round's fill comes round again); answers how many were tried."""
        tried = 0
        for _ in range(SEND_BATCHES):
            if self._stop.is_set():  # stopping: between two batches, not after twenty
                break
            batch = self.claim(self.batch_size)
            if not batch.claimed:
                break
            tried += self.deliver(batch)
        return tried

    def deliver(self, batch: Batch) -> int:
        """Send a claimed batch, up to `concurrency` POSTs at once, then record every answer in
        one transaction; answers how many were tried. A worker that dies before recording
        leaves the whole batch leased: each is sent again after the lease, under its own
        webhook-id."""
        if not batch.claimed:
            return 0
        pool = ThreadPoolExecutor(
            min(self.concurrency, len(batch.claimed)), thread_name_prefix="webhook-send"
        )
        try:
            futures = [pool.submit(self._send, one, batch.lease_ends) for one in batch.claimed]
            results = [future.result() for future in futures]
        finally:  # after an error, what has not gone out yet is not sent
            pool.shutdown(cancel_futures=True)
        self._record(results, batch.leased_until)
        return sum(isinstance(result, Sent) for result in results)

    def _send(self, one: Claimed, lease_ends: float) -> Sent | Deferred:
        """One claimed delivery, in a thread of the batch's pool: signed as it goes out, its
        target checked again (the name may point elsewhere now), and sent only while the lease
        outlasts a whole send (connecting and waiting for the answer), so that no other worker
        sends it at the same time; else it is due again at once, to be claimed afresh."""
        if one.change is None:  # the outbox is being rebuilt: the change comes back, same id
            return Deferred(one, self.now() + timedelta(seconds=self.poll_seconds))
        rules = self.webhooks.rules
        body = payload(one.subscription_id, one.change)
        moment = self.now()
        headers = signed_headers(one.secret, str(one.change_id), moment, body)
        try:
            target = self.webhooks.check(one.callback_url)
        except TargetRefused as refused:
            return Sent(one, moment, Outcome(None, f"refused: {refused}"[:300], 0))
        if time.monotonic() + rules.connect_timeout + rules.read_timeout >= lease_ends:
            return Deferred(one, self.now())
        return Sent(one, moment, self.send(target, body, headers, rules))

    def _record(self, results: Sequence[Sent | Deferred], leased_until: datetime) -> None:
        """A batch's attempts in the log, its deliveries' new states and its webhooks' failure
        counts, in one transaction. The webhooks' rows come first and in id order, as resuming
        and cancelling take a webhook's row before its deliveries': none waits on another."""
        d = webhook_deliveries
        sent = sorted(
            (r for r in results if isinstance(r, Sent)),
            key=lambda r: (r.one.subscription_id, r.one.change_id),
        )
        deferred = sorted(
            (r for r in results if isinstance(r, Deferred)),
            key=lambda r: (r.one.subscription_id, r.one.change_id),
        )
        this = and_(
            d.c.subscription_id == bindparam("b_subscription"),
            d.c.change_id == bindparam("b_change"),
        )
        with self.engine.begin() as conn:
            if sent:
                # The batch's order (the log's, near enough) for the failure counts.
                self._count_failures(conn, [r for r in results if isinstance(r, Sent)])
                conn.execute(
                    insert(webhook_attempts),
                    [
                        {
                            "attempt_id": uuid4(),
                            "subscription_id": r.one.subscription_id,
                            "change_id": r.one.change_id,
                            "attempted_at": r.moment,
                            "status_code": r.outcome.status_code,
                            "error": r.outcome.error,
                            "duration_ms": r.outcome.duration_ms,
                        }
                        for r in sent
                    ],
                )
                conn.execute(
                    update(d)
                    .where(this, d.c.status == PENDING)  # not one another worker has finished
                    .values(
                        status=bindparam("b_status"),
                        attempts=bindparam("b_attempts"),
                        first_attempt_at=bindparam("b_first"),
                        next_attempt_at=bindparam("b_next"),
                        finished_at=bindparam("b_finished"),
                    ),
                    [self._outcome_of(r) for r in sent],
                )
            if deferred:
                conn.execute(
                    update(d)
                    # Still this batch's lease: a row leased again since is another worker's.
                    .where(this, d.c.status == PENDING, d.c.next_attempt_at == leased_until)
                    .values(next_attempt_at=bindparam("b_next")),
                    [
                        {
                            "b_subscription": r.one.subscription_id,
                            "b_change": r.one.change_id,
                            "b_next": r.due,
                        }
                        for r in deferred
                    ],
                )

    def _outcome_of(self, result: Sent) -> dict[str, Any]:
        """The delivery's row after its attempt: delivered; or pending until its retry, or
        abandoned once it fails a whole window after its first attempt."""
        one, moment = result.one, result.moment
        first = one.first_attempt_at or moment
        if result.outcome.delivered:
            status, finished = DELIVERED, moment
        elif (moment - first).total_seconds() >= self.policy.window_seconds:
            status, finished = ABANDONED, moment
        else:
            status, finished = PENDING, None
        return {
            "b_subscription": one.subscription_id,
            "b_change": one.change_id,
            "b_status": status,
            "b_attempts": one.attempts + 1,
            "b_first": first,
            "b_next": moment + self.policy.delay(one.attempts + 1, self.draw),
            "b_finished": finished,
        }

    def _count_failures(self, conn: Connection, sent: list[Sent]) -> None:
        """Each webhook's failed attempts in a row, over the batch in its order: a delivered
        change sets the count to the failures after it, a batch without one adds its failures.
        A webhook whose count reaches `pause_after` is paused (what was in flight for it in the
        same batch is recorded in full)."""
        hook = subscription_webhooks
        runs: dict[UUID, tuple[int, int]] = {}  # (1 to add to the count or 0 to replace it, n)
        for result in sent:
            keep, failures = runs.get(result.one.subscription_id, (1, 0))
            runs[result.one.subscription_id] = (
                (0, 0) if result.outcome.delivered else (keep, failures + 1)
            )
        conn.execute(
            update(hook)
            .where(hook.c.subscription_id == bindparam("b_subscription"))
            .values(
                consecutive_failures=hook.c.consecutive_failures * bindparam("b_keep")
                + bindparam("b_failures")
            ),
            [
                {"b_subscription": sid, "b_keep": keep, "b_failures": failures}
                for sid, (keep, failures) in sorted(runs.items())
            ],
        )
        failing = sorted(sid for sid, (_, failures) in runs.items() if failures)
        if not failing:
            return
        paused = conn.execute(
            update(hook)
            .where(
                hook.c.subscription_id.in_(failing),
                hook.c.state == ACTIVE,
                hook.c.consecutive_failures >= self.policy.pause_after,
            )
            .values(state=PAUSED, paused_at=max(result.moment for result in sent))
            .returning(hook.c.subscription_id)
        ).scalars()
        for subscription_id in paused:
            log.warning(
                "webhook of subscription %s paused after %d failed deliveries in a row",
                subscription_id,
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


def _drop_withdrawn_authorities(conn: Connection, batch: Sequence[UUID]) -> None:
    """The authorities of the batch's subscriptions of addressed warnings that their client no
    longer holds (its grants changed since it subscribed, or it is gone): dropped before the
    fill, so that a warning addressed to one is no longer delivered to that client."""
    held = subscription_authorities
    rows = conn.execute(
        select(held.c.subscription_id, held.c.authority_code, api_clients.c.authority_codes)
        .select_from(held.outerjoin(api_clients, api_clients.c.client_id == held.c.client_id))
        .where(held.c.subscription_id.in_(batch))
    ).all()
    withdrawn = [(sid, code) for sid, code, granted in rows if code not in (granted or ())]
    if withdrawn:
        conn.execute(
            delete(held).where(tuple_(held.c.subscription_id, held.c.authority_code).in_(withdrawn))
        )


def _behind_near(hook: Any, reached: int) -> list[ColumnElement[bool]]:
    """Of a webhook: behind, a change up to `reached` may be past its cursor (a cursor ahead of
    `reached`, the outbox being rebuilt behind it, waits for the outbox to come back); and
    near, `reached` is within `FILL_POSITIONS` of its cursor, so the round takes it there."""
    return [
        or_(
            hook.c.cursor_position < reached,
            and_(hook.c.cursor_position == reached, hook.c.cursor_ordinal < PAST_POSITION),
        ),
        hook.c.cursor_position >= reached - FILL_POSITIONS,
    ]


def _with_new_changes(low: int, reached: int) -> Select[Any]:
    """The webhooks with a change they follow (by subject, or addressed to one of their
    authorities, and of a kind they asked for) past their cursors up to `reached`, read from the
    changes from position `low` on: so it costs what the new changes and their followers do,
    not the number of webhooks."""
    hook = aliased(subscription_webhooks)
    new = and_(
        changes.c.position >= low,
        changes.c.position <= reached,
        later_in_log(
            changes.c.position, changes.c.ordinal, (hook.c.cursor_position, hook.c.cursor_ordinal)
        ),
    )

    def following(followed: Table, match: ColumnElement[bool]) -> Select[Any]:
        return (
            select(followed.c.subscription_id)
            .select_from(
                changes.join(followed, match)
                .join(hook, hook.c.subscription_id == followed.c.subscription_id)
                .join(
                    subscription_kinds,
                    and_(
                        subscription_kinds.c.subscription_id == followed.c.subscription_id,
                        subscription_kinds.c.kind == changes.c.kind,
                    ),
                )
            )
            .where(new)
        )

    subject, held = subscription_subjects, subscription_authorities
    return union(  # type: ignore[return-value]
        following(subject, changes.c.subject_id == subject.c.subject_id),
        following(held, changes.c.addressed_to == held.c.authority_code),
    )


def _changes_position(conn: Connection) -> int:
    """How far the changes outbox has been projected: every change up to it is committed."""
    found = conn.execute(
        select(projection_tracking.c.position).where(projection_tracking.c.name == CHANGES)
    ).scalar()
    return int(found) if found is not None else 0
