"""Webhooks of subscriptions against a real HTTP receiver on a free local port: a change is
POSTed, signed so that the documented verification accepts it; a failure is retried with
back-off; a subject's changes arrive in log order; a webhook failing too often pauses and, when
resumed, gets the changes it missed; a batch is sent concurrently, at most so many at once,
never two changes of one subject to one subscription at once, and its answers recorded each with
its own outcome; a worker that dies between sending and recording loses nothing and repeats only
under the same ids; a send starts only while its lease outlasts it; callbacks to private
addresses are refused, at creation and at each delivery, and a redirect is not followed."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from uuid import UUID

import pytest
from sqlalchemy import event, func, select
from standardwebhooks import Webhook

from service.access.keys import utc
from service.notifications import deliveries, webhooks
from service.notifications.deliveries import DeliveryWorker, RetryPolicy
from service.notifications.tables import (
    subscription_webhooks,
    webhook_attempts,
    webhook_deliveries,
)
from service.notifications.webhooks import new_webhook_secret, post
from tests.api.test_subscriptions import caught_up, feed, new_subject, record, subscribe
from tests.builders import penalty

pytestmark = pytest.mark.api
DOCS = Path(__file__).resolve().parents[2] / "docs" / "notifications.md"
LEASE = 60


def documented_verification() -> Callable[..., None]:
    """`verify_webhook` exactly as docs/notifications.md shows it to receivers."""
    found = re.search(r"```python\n(.*?def verify_webhook.*?)```", DOCS.read_text(), re.S)
    assert found, "docs/notifications.md has no verify_webhook example"
    namespace: dict = {}
    exec(found.group(1), namespace)
    return namespace["verify_webhook"]


class Receiver:
    """A small HTTP server on a free port that keeps what it is sent and answers each POST
    with the next of `answers` (a status, or a status and headers), then 200; or, given
    `answer`, with what it says of the request's body. It counts the requests in flight, in all
    and per subject of the change sent."""

    def __init__(
        self,
        answers=(),
        delay: float = 0,
        on_request: Callable[[], object] | None = None,
        answer: Callable[[dict], int] | None = None,
    ):
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.answers = list(answers)
        self.answer = answer
        self.delay = delay  # seconds each answer takes
        self.on_request = on_request  # called as each request is read, before it is kept
        self.lock = threading.Lock()
        self.in_flight: Counter[str] = Counter()  # by subject, "" for all
        self.most_in_flight: Counter[str] = Counter()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                sent = json.loads(body) if body else {}
                subject = sent.get("change", {}).get("subject_id", "?")
                with receiver.lock:
                    for key in ("", subject):
                        receiver.in_flight[key] += 1
                        receiver.most_in_flight[key] = max(
                            receiver.most_in_flight[key], receiver.in_flight[key]
                        )
                try:
                    if receiver.on_request is not None:
                        receiver.on_request()
                    answer: int | tuple[int, dict[str, str]]
                    with receiver.lock:
                        receiver.received.append((headers, body))
                        if receiver.answer is not None:
                            answer = receiver.answer(sent)
                        else:
                            answer = receiver.answers.pop(0) if receiver.answers else 200
                    status, extra = answer if isinstance(answer, tuple) else (answer, {})
                    time.sleep(receiver.delay)
                finally:
                    # Out of flight before the answer goes: once the sender reads it, its
                    # next request may arrive before this thread would count this one out.
                    with receiver.lock:
                        for key in ("", subject):
                            receiver.in_flight[key] -= 1
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def ids(self) -> list[str]:
        with self.lock:
            return [headers["webhook-id"] for headers, _ in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.close()


@pytest.fixture
def settings(settings):
    """The tests' receivers listen on loopback."""
    return settings.model_copy(update={"webhook_allow_private_targets": True})


class Moment:
    """The delivery worker's clock: starts now (receivers compare timestamps with theirs), and
    moves on when told."""

    def __init__(self) -> None:
        self.moment = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


def delivery_worker(
    services,
    clock: Moment,
    *,
    pause_after: int = 20,
    send=post,
    lease: float = LEASE,
    concurrency: int = 16,
) -> DeliveryWorker:
    """A worker whose retries wait exactly 30 s, 60 s, 120 s ... (no jitter drawn)."""
    policy = RetryPolicy(
        base_seconds=30,
        max_interval_seconds=3600,
        window_seconds=24 * 3600,
        pause_after=pause_after,
        lease_seconds=lease,
    )
    return DeliveryWorker(
        services.webhooks, policy, clock, send=send, draw=lambda: 1.0, concurrency=concurrency
    )


async def run(worker: DeliveryWorker) -> int:
    return await asyncio.to_thread(worker.run_once)


async def hooked(client, agency, subjects: list[str], url: str, **extra) -> dict:
    return await subscribe(
        client,
        agency,
        {"subject_ids": subjects, "kinds": ["record.published"], "callback_url": url, **extra},
    )


async def hooked_with_a_penalty_each(
    client, services, agency, serials: range, url: str
) -> tuple[list[str], dict]:
    """New subjects followed by one webhook subscription, a penalty published on each, and the
    changes projected: the batch the delivery tests send."""
    subjects = [await new_subject(client, n) for n in serials]
    made = await hooked(client, agency, subjects, url)
    for subject in subjects:
        last = await record(client, subject, penalty("P-1"))
    await caught_up(services, last["position"])
    return subjects, made


async def test_a_change_is_posted_signed_and_the_documented_verification_accepts_it(
    client, role_headers, services, receiver
):
    agency = role_headers["agency"]
    subject = await new_subject(client, 1)
    made = await hooked(client, agency, [subject], receiver.url)
    secret = made["webhook_secret"]
    assert secret.startswith("whsec_")
    assert made["subscription"]["webhook"] == {
        "callback_url": receiver.url,
        "state": "active",
        "consecutive_failures": 0,
        "paused_at": None,
    }
    told = await record(client, subject, penalty("P-1"))
    await caught_up(services, told["position"])
    # The secret is kept wrapped, never as given.
    with services.write_engine.connect() as conn:
        wrapped = conn.execute(select(subscription_webhooks.c.wrapped_secret)).scalar_one()
    assert secret.encode() not in wrapped and secret[6:].encode() not in wrapped

    worker = delivery_worker(services, Moment())
    assert await run(worker) == 2  # one delivery row written, one sent
    assert await run(worker) == 0  # nothing more: delivered once
    [(headers, body)] = receiver.received
    assert headers["content-type"] == "application/json"
    verify_webhook = documented_verification()
    verify_webhook(secret, headers, body)
    assert Webhook(secret).verify(body, headers)["change_id"] == headers["webhook-id"]
    # A changed body, an old timestamp (a replay) or another secret is refused.
    with pytest.raises(ValueError, match="no valid signature"):
        verify_webhook(secret, headers, body.replace(b"P", b"Q") + b" ")
    with pytest.raises(ValueError, match="tolerance"):
        verify_webhook(secret, headers, body, now=time.time() + 301)
    with pytest.raises(ValueError, match="no valid signature"):
        verify_webhook(new_webhook_secret(), headers, body)
    # The change is the feed's, its id the webhook-id.
    sent = json.loads(body)
    [shown] = (await feed(client, agency))["changes"]
    assert sent["change"] == shown
    assert sent["change_id"] == shown["change_id"] == headers["webhook-id"]
    assert sent["subscription_id"] == made["subscription"]["subscription_id"]
    assert (shown["record_id"], shown["kind"]) == (told["record_id"], "record.published")

    log = await client.get(
        f"/v1/subscriptions/{made['subscription']['subscription_id']}/deliveries", headers=agency
    )
    assert log.status_code == 200, log.text
    [attempt] = log.json()["attempts"]
    assert (attempt["change_id"], attempt["status_code"], attempt["error"]) == (
        shown["change_id"],
        200,
        None,
    )
    assert attempt["duration_ms"] >= 0


async def test_a_failed_delivery_is_retried_after_its_back_off_and_logged(
    client, role_headers, services, receiver
):
    agency = role_headers["agency"]
    receiver.answers = [500]
    subject = await new_subject(client, 1)
    made = await hooked(client, agency, [subject], receiver.url)
    told = await record(client, subject, penalty("P-1"))
    await caught_up(services, told["position"])
    clock = Moment()
    worker = delivery_worker(services, clock)

    await run(worker)
    assert len(receiver.received) == 1
    clock.advance(29)  # the first retry waits 30 s
    await run(worker)
    assert len(receiver.received) == 1
    clock.advance(1)
    await run(worker)
    assert len(receiver.received) == 2
    first, second = receiver.received
    assert first[0]["webhook-id"] == second[0]["webhook-id"]  # a retry: the same change id
    assert int(second[0]["webhook-timestamp"]) - int(first[0]["webhook-timestamp"]) == 30
    verify_webhook = documented_verification()
    verify_webhook(made["webhook_secret"], second[0], second[1], now=clock().timestamp())

    log = await client.get(
        f"/v1/subscriptions/{made['subscription']['subscription_id']}/deliveries", headers=agency
    )
    assert [a["status_code"] for a in log.json()["attempts"]] == [200, 500]  # newest first
    assert log.json()["webhook"]["consecutive_failures"] == 0
    with services.write_engine.connect() as conn:
        status, attempts = conn.execute(
            select(webhook_deliveries.c.status, webhook_deliveries.c.attempts)
        ).one()
    assert (status, attempts) == ("delivered", 2)


async def test_a_subjects_later_change_waits_for_its_earlier_one_and_others_do_not(
    client, role_headers, services, receiver
):
    agency = role_headers["agency"]
    failing: set[str] = set()  # the first subject's first change fails once
    receiver.answer = lambda sent: 500 if sent["change_id"] in failing else 200
    first, other = await new_subject(client, 1), await new_subject(client, 2)
    await hooked(client, agency, [first, other], receiver.url)
    await record(client, first, penalty("P-1"))
    await record(client, other, penalty("P-2"))
    last = await record(client, first, penalty("P-3"))
    await caught_up(services, last["position"])
    changes = (await feed(client, agency))["changes"]
    first_1, other_1, first_2 = (c["change_id"] for c in changes)
    failing.add(first_1)
    assert [c["subject_id"] for c in changes] == [first, other, first]
    clock = Moment()
    worker = delivery_worker(services, clock)

    await run(worker)
    # The first subject's earliest change failed: its next one waits; the other subject's not.
    assert sorted(receiver.ids()) == sorted([first_1, other_1])
    failing.clear()
    clock.advance(30)
    await run(worker)
    assert receiver.ids()[2:] == [first_1, first_2]


async def test_a_delivery_still_failing_a_day_after_its_first_attempt_is_abandoned(
    client, role_headers, services, receiver
):
    """Then its subject's next change goes out: an undeliverable change holds up the others
    of its subject for a day, no longer."""
    agency = role_headers["agency"]
    receiver.answers = [400, 400, 400]
    subject = await new_subject(client, 1)
    made = await hooked(client, agency, [subject], receiver.url)
    await record(client, subject, penalty("P-1"))
    last = await record(client, subject, penalty("P-2"))
    await caught_up(services, last["position"])
    first, second = (c["change_id"] for c in (await feed(client, agency))["changes"])
    clock = Moment()
    worker = delivery_worker(services, clock)

    await run(worker)
    clock.advance(24 * 3600 - 1)
    await run(worker)
    assert receiver.ids() == [first, first]  # a second short of a day: tried again, kept
    clock.advance(3600)
    await run(worker)
    assert receiver.ids() == [first, first, first, second]
    with services.write_engine.connect() as conn:
        states = dict(
            conn.execute(select(webhook_deliveries.c.change_id, webhook_deliveries.c.status)).all()
        )
    assert {str(k): v for k, v in states.items()} == {first: "abandoned", second: "delivered"}
    log = await client.get(
        f"/v1/subscriptions/{made['subscription']['subscription_id']}/deliveries", headers=agency
    )
    tried = Counter((a["change_id"], a["status_code"]) for a in log.json()["attempts"])
    assert tried == {(first, 400): 3, (second, 200): 1}


async def test_a_webhook_failing_too_often_pauses_and_resuming_delivers_what_it_missed(
    client, role_headers, services, receiver
):
    agency = role_headers["agency"]
    receiver.answers = [503, 503, 503]
    subject = await new_subject(client, 1)
    made = await hooked(client, agency, [subject], receiver.url)
    subscription = f"/v1/subscriptions/{made['subscription']['subscription_id']}"
    told = await record(client, subject, penalty("P-1"))
    await caught_up(services, told["position"])
    clock = Moment()
    worker = delivery_worker(services, clock, pause_after=3)

    for wait in (0, 30, 60):
        clock.advance(wait)
        await run(worker)
    assert len(receiver.received) == 3
    hook = (await client.get(subscription, headers=agency)).json()["webhook"]
    assert (hook["state"], hook["consecutive_failures"]) == ("paused", 3)
    assert hook["paused_at"] is not None

    # While paused, a new change gets its delivery row but nothing is sent, however long.
    missed = await record(client, subject, penalty("P-2"))
    await caught_up(services, missed["position"])
    clock.advance(6 * 3600)
    await run(worker)
    assert len(receiver.received) == 3
    with services.write_engine.connect() as conn:
        pending = conn.execute(
            select(func.count()).where(webhook_deliveries.c.status == "pending")
        ).scalar_one()
    assert pending == 2

    resumed = await client.post(f"{subscription}/resume", headers=agency)
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["webhook"]["state"] == "active"
    assert resumed.json()["webhook"]["consecutive_failures"] == 0
    await run(worker)
    changes = [c["change_id"] for c in (await feed(client, agency))["changes"]]
    assert receiver.ids() == [changes[0]] * 4 + [changes[1]]  # in order, the missed one too
    log = (await client.get(f"{subscription}/deliveries", headers=agency)).json()
    assert [a["status_code"] for a in log["attempts"]] == [200, 200, 503, 503, 503]


async def test_a_worker_dying_between_sending_and_recording_loses_nothing(
    client, role_headers, services, receiver
):
    """The first worker sends its batch (the first change of each subject: the first
    subject's second change waits for its first) and is killed before it records the answers:
    a new worker sends both again, under the same webhook-ids, once the lease is over, then the
    first subject's second change, and each of those once."""
    agency = role_headers["agency"]
    first, other = await new_subject(client, 1), await new_subject(client, 2)
    await hooked(client, agency, [first, other], receiver.url)
    await record(client, first, penalty("P-1"))
    await record(client, first, penalty("P-2"))
    last = await record(client, other, penalty("P-3"))
    await caught_up(services, last["position"])
    changes = [c["change_id"] for c in (await feed(client, agency))["changes"]]

    class Killed(BaseException):
        pass

    sent: list[object] = []

    def send_then_die(*args):
        post(*args)
        sent.append(args)
        # Dies once both POSTs of the batch went out: an earlier death would cancel the one
        # still queued in the pool, on a busy machine, and the batch would be half sent.
        if len(sent) == 2:
            raise Killed("the process is gone before it records the answer")

    clock = Moment()
    with pytest.raises(Killed):
        await run(delivery_worker(services, clock, send=send_then_die))
    assert sorted(receiver.ids()) == sorted([changes[0], changes[2]])

    restarted = delivery_worker(services, clock)
    assert await run(restarted) == 0  # both leased; the first subject's next waits
    assert len(receiver.ids()) == 2
    clock.advance(LEASE)
    await run(restarted)
    ids = receiver.ids()
    assert sorted(ids[2:4]) == sorted([changes[0], changes[2]]) and ids[4:] == [changes[1]]
    assert Counter(ids) == {changes[0]: 2, changes[1]: 1, changes[2]: 2}
    assert await run(restarted) == 0


async def test_a_worker_dying_after_its_batch_is_answered_sends_it_again_under_the_same_ids(
    client, role_headers, services, receiver, monkeypatch
):
    """Every POST of the batch was answered 200, and the worker dies before the one
    transaction that records the answers: nothing of the batch is recorded, and after the
    lease each change goes out again under its own webhook-id, and is recorded then."""
    agency = role_headers["agency"]
    _, made = await hooked_with_a_penalty_each(client, services, agency, range(1, 4), receiver.url)
    changes = {c["change_id"] for c in (await feed(client, agency))["changes"]}

    class Killed(BaseException):
        pass

    def die(*args) -> None:
        raise Killed("the process is gone before it records the answers")

    clock = Moment()
    dying = delivery_worker(services, clock)
    monkeypatch.setattr(dying, "_record", die)
    with pytest.raises(Killed):
        await run(dying)
    assert set(receiver.ids()) == changes and len(receiver.ids()) == 3
    with services.write_engine.connect() as conn:
        rows = conn.execute(
            select(webhook_deliveries.c.status, webhook_deliveries.c.attempts)
        ).all()
        assert conn.execute(select(func.count()).select_from(webhook_attempts)).scalar() == 0
    assert sorted(rows) == [("pending", 0)] * 3

    restarted = delivery_worker(services, clock)
    assert await run(restarted) == 0  # leased
    clock.advance(LEASE)
    assert await run(restarted) == 3
    assert Counter(receiver.ids()) == dict.fromkeys(changes, 2)
    log = await client.get(
        f"/v1/subscriptions/{made['subscription']['subscription_id']}/deliveries", headers=agency
    )
    assert Counter((a["change_id"], a["status_code"]) for a in log.json()["attempts"]) == {
        (change, 200): 1 for change in changes
    }


async def test_a_batch_is_sent_concurrently_and_at_most_concurrency_at_once(
    client, role_headers, services
):
    """The receiver holds each request until four are in flight at once (giving up after
    30 s, generous for a busy machine): a worker sending one after another would never get
    there. A worker allowed two at once has at most two in flight."""
    together = threading.Barrier(4, timeout=30)
    receiver = Receiver(on_request=together.wait)
    try:
        agency = role_headers["agency"]
        _, made = await hooked_with_a_penalty_each(
            client, services, agency, range(1, 5), receiver.url
        )
        assert await run(delivery_worker(services, Moment(), concurrency=4)) == 4 + 4
        assert not together.broken
        assert receiver.most_in_flight[""] == 4
        log = await client.get(
            f"/v1/subscriptions/{made['subscription']['subscription_id']}/deliveries",
            headers=agency,
        )
        assert [a["status_code"] for a in log.json()["attempts"]] == [200] * 4
    finally:
        receiver.close()

    slow = Receiver(delay=0.3)
    try:
        more = [await new_subject(client, n) for n in range(5, 11)]
        await hooked(client, agency, more, slow.url)
        for subject in more:
            last = await record(client, subject, penalty("P-2"))
        await caught_up(services, last["position"])
        await run(delivery_worker(services, Moment(), concurrency=2))
        assert len(slow.received) == 6 and slow.most_in_flight[""] == 2
    finally:
        slow.close()


async def test_a_subjects_changes_go_out_in_order_one_at_a_time_across_batches(
    client, role_headers, services, monkeypatch
):
    """Three subjects with three, two and one changes: a round sends them in batches of the
    earliest pending change of each subject (three, then two, then one), never two changes of
    one subject at once, each subject's in log order. A batch is two transactions, a claim and
    a record, however many it holds."""
    receiver = Receiver(delay=0.2)
    try:
        agency = role_headers["agency"]
        a, b, c = [await new_subject(client, n) for n in range(1, 4)]
        await hooked(client, agency, [a, b, c], receiver.url)
        for subject, count in ((a, 3), (b, 2), (c, 1)):
            for n in range(count):
                last = await record(client, subject, penalty(f"P-{n}"))
        await caught_up(services, last["position"])
        changes = (await feed(client, agency))["changes"]
        in_log = [(change["subject_id"], change["change_id"]) for change in changes]
        worker = delivery_worker(services, Moment())
        assert worker.fan_out() == 6
        claim, batches, commits = worker.claim, [], []
        owner = {change: subject for subject, change in in_log}

        def claim_and_keep(limit: int):
            batch = claim(limit)
            batches.append(sorted(owner[str(one.change_id)] for one in batch.claimed))
            return batch

        # The delivering thread's commits: the projection runner shares the engine, and its
        # polls commit their reads meanwhile.
        delivering: set[int] = set()

        def committed(conn) -> None:
            if threading.get_ident() in delivering:
                commits.append(conn)

        def deliver_due() -> int:
            delivering.add(threading.get_ident())
            return worker.deliver_due()

        monkeypatch.setattr(worker, "claim", claim_and_keep)
        event.listen(worker.engine, "commit", committed)
        try:
            assert await asyncio.to_thread(deliver_due) == 6
        finally:
            event.remove(worker.engine, "commit", committed)
        assert batches == [sorted([a, b, c]), sorted([a, b]), [a], []]
        assert len(commits) == 2 * 3 + 1  # the last claim found nothing
        assert all(receiver.most_in_flight[s] == 1 for s in (a, b, c))
        arrived = receiver.ids()
        for subject in (a, b, c):
            mine = [change for owner, change in in_log if owner == subject]
            assert [i for i in arrived if i in mine] == mine
    finally:
        receiver.close()


async def test_a_batchs_answers_are_recorded_each_with_its_outcome(client, role_headers, services):
    """One batch, three subjects: the first subject's receiver answers 200, the other two's
    500. Each attempt is logged with its own answer, each delivery takes its own state, and
    the webhook's failures in a row are counted over the batch in log order: two, which pauses
    a webhook that pauses after two."""
    failing: set[str] = set()
    receiver = Receiver(answer=lambda sent: 500 if sent["change"]["subject_id"] in failing else 200)
    try:
        agency = role_headers["agency"]
        subjects = [await new_subject(client, n) for n in range(1, 4)]
        failing.update(subjects[1:])
        made = await hooked(client, agency, subjects, receiver.url)
        for subject in subjects:
            last = await record(client, subject, penalty("P-1"))
        await caught_up(services, last["position"])
        by_subject = {
            ch["subject_id"]: ch["change_id"] for ch in (await feed(client, agency))["changes"]
        }
        clock = Moment()
        worker = delivery_worker(services, clock, pause_after=2)
        assert await run(worker) == 3 + 3
        assert len(receiver.received) == 3
        subscription = f"/v1/subscriptions/{made['subscription']['subscription_id']}"
        log = (await client.get(f"{subscription}/deliveries", headers=agency)).json()
        assert {(a["change_id"], a["status_code"]) for a in log["attempts"]} == {
            (by_subject[subjects[0]], 200),
            (by_subject[subjects[1]], 500),
            (by_subject[subjects[2]], 500),
        }
        assert (log["webhook"]["state"], log["webhook"]["consecutive_failures"]) == ("paused", 2)
        with services.write_engine.connect() as conn:
            rows = {
                str(row.change_id): (row.status, row.attempts, row.next_attempt_at)
                for row in conn.execute(select(webhook_deliveries))
            }
        assert rows[by_subject[subjects[0]]][:2] == ("delivered", 1)
        for subject in subjects[1:]:
            status, attempts, due = rows[by_subject[subject]]
            assert (status, attempts) == ("pending", 1)
            assert utc(due) == clock() + timedelta(seconds=30)  # the first retry's back-off
    finally:
        receiver.close()


async def test_a_send_starts_only_while_the_lease_outlasts_it_the_rest_is_due_again_at_once(
    client, role_headers, services
):
    """A lease of 4 s, sends of up to 2.5 s (connecting and the answer), one at a time, each
    answered after 1.6 s: the first goes out; by the second, 2.4 s of the lease is left, less
    than a send may take, so neither it nor the third is sent (another worker could claim them
    once the lease is over); they are released, due at once, and a next batch sends them. The
    first answer has 0.7 s to spare before its timeout, for a machine busy with other work."""
    services.webhooks.rules = replace(
        services.webhooks.rules, connect_timeout=0.2, read_timeout=2.3
    )
    receiver = Receiver(delay=1.6)
    try:
        agency = role_headers["agency"]
        await hooked_with_a_penalty_each(client, services, agency, range(1, 4), receiver.url)
        clock = Moment()
        worker = delivery_worker(services, clock, lease=4.0, concurrency=1)
        assert worker.fan_out() == 3
        batch = await asyncio.to_thread(worker.claim, 10)
        assert len(batch.claimed) == 3
        assert await asyncio.to_thread(worker.deliver, batch) == 1
        assert len(receiver.received) == 1
        with services.write_engine.connect() as conn:
            rows = conn.execute(
                select(
                    webhook_deliveries.c.status,
                    webhook_deliveries.c.attempts,
                    webhook_deliveries.c.next_attempt_at,
                )
            ).all()
        released = sorted((s, n, utc(due)) for s, n, due in rows if s == "pending")
        assert released == [("pending", 0, clock())] * 2
        assert await asyncio.to_thread(worker.deliver_due) == 2
        assert len(set(receiver.ids())) == 3 and len(receiver.ids()) == 3
    finally:
        receiver.close()


async def test_a_worker_told_to_stop_records_its_batch_and_claims_no_other(
    client, role_headers, services, receiver
):
    """Batches of one, three changes due: told to stop while sending the first (SIGTERM to
    `credit deliver`), the worker records that answer and does not claim the next."""
    agency = role_headers["agency"]
    await hooked_with_a_penalty_each(client, services, agency, range(1, 4), receiver.url)

    def send_and_stop(*args):
        worker.stop()
        return post(*args)

    worker = delivery_worker(services, Moment(), send=send_and_stop)
    worker.batch_size = 1
    assert worker.fan_out() == 3
    assert await asyncio.to_thread(worker.deliver_due) == 1
    with services.write_engine.connect() as conn:
        states = Counter(conn.execute(select(webhook_deliveries.c.status)).scalars())
    assert states == {"delivered": 1, "pending": 2} and len(receiver.received) == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://localhost:9/hook",  # a name resolving to loopback
        "http://[::1]:9/hook",
    ],
)
async def test_a_callback_to_a_private_address_is_refused_and_nothing_is_subscribed(
    client, role_headers, services, url
):
    services.webhooks.rules = replace(services.webhooks.rules, allow_private=False)
    agency = role_headers["agency"]
    subject = await new_subject(client, 1)
    response = await client.post(
        "/v1/subscriptions",
        json={"subject_ids": [subject], "kinds": ["record.published"], "callback_url": url},
        headers=agency,
    )
    assert response.status_code == 422, response.text
    assert response.json()["type"].endswith("/webhook-target-refused")
    assert "not a public address" in response.json()["detail"]
    assert (await client.get("/v1/subscriptions", headers=agency)).json()["subscriptions"] == []


async def test_https_is_required_in_production(client, role_headers, services):
    services.webhooks.rules = replace(services.webhooks.rules, require_https=True)
    subject = await new_subject(client, 1)
    response = await client.post(
        "/v1/subscriptions",
        json={
            "subject_ids": [subject],
            "kinds": ["record.published"],
            "callback_url": "http://93.184.216.34/hook",
        },
        headers=role_headers["agency"],
    )
    assert response.status_code == 422
    assert "must be https" in response.json()["detail"]


async def test_a_redirect_is_not_followed(client, role_headers, services, receiver):
    trap = Receiver()
    try:
        receiver.answers = [(302, {"Location": trap.url})]
        agency = role_headers["agency"]
        subject = await new_subject(client, 1)
        made = await hooked(client, agency, [subject], receiver.url)
        told = await record(client, subject, penalty("P-1"))
        await caught_up(services, told["position"])
        await run(delivery_worker(services, Moment()))
        assert len(receiver.received) == 1 and trap.received == []
        log = await client.get(
            f"/v1/subscriptions/{made['subscription']['subscription_id']}/deliveries",
            headers=agency,
        )
        [attempt] = log.json()["attempts"]
        assert attempt["status_code"] == 302  # a failure, to be retried
        assert log.json()["webhook"]["consecutive_failures"] == 1
    finally:
        trap.close()


async def test_a_receiver_slower_than_the_read_timeout_is_a_failed_attempt(
    client, role_headers, services
):
    services.webhooks.rules = replace(services.webhooks.rules, read_timeout=0.5)
    slow = Receiver(delay=6)
    try:
        agency = role_headers["agency"]
        subject = await new_subject(client, 1)
        made = await hooked(client, agency, [subject], slow.url)
        told = await record(client, subject, penalty("P-1"))
        await caught_up(services, told["position"])
        started = time.monotonic()
        await run(delivery_worker(services, Moment()))
        assert time.monotonic() - started < 5  # it did not wait for the answer
        log = await client.get(
            f"/v1/subscriptions/{made['subscription']['subscription_id']}/deliveries",
            headers=agency,
        )
        [attempt] = log.json()["attempts"]
        assert attempt["status_code"] is None and attempt["error"].startswith("timeout")
        assert 400 <= attempt["duration_ms"] < 5000
    finally:
        slow.close()


async def test_a_name_now_resolving_to_a_private_address_is_refused_at_delivery(
    client, role_headers, services, receiver, monkeypatch
):
    """Checked when made, the callback's name pointed at a public address; by the time of the
    delivery it points at loopback (DNS rebinding): nothing is sent, the attempt is logged."""
    services.webhooks.rules = replace(services.webhooks.rules, allow_private=False)
    real = socket.getaddrinfo
    answer = {"hooks.example": "93.184.216.34"}

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answer:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answer[host], port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(webhooks.socket, "getaddrinfo", getaddrinfo)
    agency = role_headers["agency"]
    subject = await new_subject(client, 1)
    port = receiver.server.server_address[1]
    made = await hooked(client, agency, [subject], f"http://hooks.example:{port}/hook")
    told = await record(client, subject, penalty("P-1"))
    await caught_up(services, told["position"])
    answer["hooks.example"] = "127.0.0.1"
    await run(delivery_worker(services, Moment()))
    assert receiver.received == []
    log = await client.get(
        f"/v1/subscriptions/{made['subscription']['subscription_id']}/deliveries", headers=agency
    )
    [attempt] = log.json()["attempts"]
    assert attempt["status_code"] is None
    assert "127.0.0.1" in attempt["error"] and "not a public address" in attempt["error"]


async def test_only_the_subscriptions_own_client_sees_or_resumes_its_webhook(
    client, role_headers, services, receiver
):
    agency = role_headers["agency"]
    other = role_headers["auditor"]  # another client that may read
    subject = await new_subject(client, 1)
    made = await hooked(client, agency, [subject], receiver.url)
    mine = f"/v1/subscriptions/{made['subscription']['subscription_id']}"
    for path in (f"{mine}/deliveries",):
        assert (await client.get(path, headers=other)).status_code == 404
    assert (await client.post(f"{mine}/resume", headers=other)).status_code == 404
    assert (await client.get(f"{mine}/deliveries", headers=agency)).status_code == 200
    # A subscription without a webhook has nothing to resume, and no log.
    plain = await subscribe(
        client, agency, {"subject_ids": [subject], "kinds": ["record.published"]}
    )
    assert plain["webhook_secret"] is None and plain["subscription"]["webhook"] is None
    plain_path = f"/v1/subscriptions/{plain['subscription']['subscription_id']}"
    refused = await client.post(f"{plain_path}/resume", headers=agency)
    assert refused.status_code == 409 and refused.json()["type"].endswith("/no-webhook")
    # Cancelling the subscription removes its webhook and its deliveries.
    assert (await client.delete(mine, headers=agency)).status_code == 204
    with services.write_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(subscription_webhooks)).scalar() == 0
    assert (await client.get(f"{mine}/deliveries", headers=agency)).status_code == 404


@pytest.mark.parametrize("batch_size", [1, 4])
async def test_two_workers_at_once_never_send_the_same_delivery(
    client, role_headers, services, database_url, batch_size
):
    """On PostgreSQL several workers run together: rows are claimed with FOR UPDATE SKIP
    LOCKED, so each change goes out once though both workers look for work all the while.
    (SQLite has one writer: one worker there.)"""
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite runs a single delivery worker")
    slow = Receiver(delay=0.05)
    try:
        agency = role_headers["agency"]
        subjects, _ = await hooked_with_a_penalty_each(
            client, services, agency, range(1, 9), slow.url
        )
        clock = Moment()
        workers = [delivery_worker(services, clock), delivery_worker(services, clock)]
        for worker in workers:
            worker.batch_size = batch_size  # short rounds, so that the two interleave

        def work(worker: DeliveryWorker) -> int:
            sent = 0
            deadline = time.monotonic() + 60
            while len(slow.ids()) < len(subjects) and time.monotonic() < deadline:
                worker.fan_out()
                sent += worker.deliver_due()
            return sent

        counts = await asyncio.gather(*(asyncio.to_thread(work, w) for w in workers))
        assert sum(counts) == len(subjects)
        assert sorted(Counter(slow.ids()).values()) == [1] * len(subjects)
    finally:
        slow.close()


async def test_webhooks_are_filled_in_batches_each_once_and_none_left_behind(
    client, role_headers, services, receiver, monkeypatch
):
    """The fill takes webhooks a batch at a time (one transaction each, not one per webhook):
    with batches of two, five webhooks each get their one delivery row, and the next round
    writes none. A webhook far behind moves a bounded stretch of the log a round and does not
    hold up the others."""
    monkeypatch.setattr(deliveries, "FILL_WEBHOOKS", 2)
    agency = role_headers["agency"]
    subject = await new_subject(client, 1)
    for _ in range(5):
        await hooked(client, agency, [subject], receiver.url)
    told = await record(client, subject, penalty("P-1"))
    await caught_up(services, told["position"])
    worker = delivery_worker(services, Moment())
    assert worker.fan_out() == 5
    assert worker.fan_out() == 0
    with services.write_engine.connect() as conn:
        rows = conn.execute(select(webhook_deliveries.c.subscription_id)).scalars().all()
        cursors = set(conn.execute(select(subscription_webhooks.c.cursor_position)).scalars())
    assert len(set(rows)) == 5 and cursors == {told["position"]}

    # A new webhook starts at the beginning of the log; with one position a round it takes
    # rounds to come up, while a change after it reaches the others in the first round.
    monkeypatch.setattr(deliveries, "FILL_POSITIONS", 1)
    late = UUID(
        (await hooked(client, agency, [subject], receiver.url))["subscription"]["subscription_id"]
    )
    later = await record(client, subject, penalty("P-2"))
    await caught_up(services, later["position"])

    def late_cursor() -> int:
        with services.write_engine.connect() as conn:
            return conn.execute(
                select(subscription_webhooks.c.cursor_position).where(
                    subscription_webhooks.c.subscription_id == late
                )
            ).scalar_one()

    assert worker.fan_out() == 5  # the five that were up to date; the new one moved by one
    assert late_cursor() == 1
    rounds = 1
    while late_cursor() < later["position"] and rounds < 1000:
        worker.fan_out()
        rounds += 1
    assert rounds == later["position"]  # one position a round
    with services.write_engine.connect() as conn:
        mine = select(webhook_deliveries.c.change_id).where(
            webhook_deliveries.c.subscription_id == late
        )
        assert len(conn.execute(mine).all()) == 2  # both changes, once each
        cursors = set(conn.execute(select(subscription_webhooks.c.cursor_position)).scalars())
    assert cursors == {later["position"]}
    assert worker.fan_out() == 0


async def test_a_round_fills_only_the_webhooks_a_new_change_concerns_and_moves_the_rest_past_it(
    client, role_headers, services, receiver, monkeypatch
):
    """After a change every webhook is behind the outbox, but only those following its subject
    have rows to write: they alone are filled (in batches), and the others' cursors move to
    the outbox's position with no rows, so that a round costs what the new changes do."""
    monkeypatch.setattr(deliveries, "FILL_WEBHOOKS", 2)
    filled: list[UUID] = []
    fill = DeliveryWorker._fill

    def spy(self, conn, batch, reached):
        filled.extend(batch)
        return fill(self, conn, batch, reached)

    monkeypatch.setattr(DeliveryWorker, "_fill", spy)
    agency = role_headers["agency"]
    subjects = [await new_subject(client, n) for n in range(1, 4)]
    following: dict[str, set[UUID]] = {subject: set() for subject in subjects}
    for subject in subjects:
        for _ in range(3):
            made = await hooked(client, agency, [subject], receiver.url)
            following[subject].add(UUID(made["subscription"]["subscription_id"]))
    worker = delivery_worker(services, Moment())

    def rows_and_cursors() -> tuple[Counter[UUID], set[tuple[int, int]]]:
        with services.write_engine.connect() as conn:
            rows = Counter(conn.execute(select(webhook_deliveries.c.subscription_id)).scalars())
            hooks = select(
                subscription_webhooks.c.cursor_position, subscription_webhooks.c.cursor_ordinal
            )
            return rows, {tuple(row) for row in conn.execute(hooks)}

    told: dict[str, int] = Counter()
    for n, subject in enumerate([subjects[0], subjects[1], subjects[1]]):
        filled.clear()
        change = await record(client, subject, penalty(f"P-{n}"))
        await caught_up(services, change["position"])
        told[subject] += 1
        assert worker.fan_out() == 3
        assert sorted(filled) == sorted(following[subject])  # none of the other webhooks
        rows, cursors = rows_and_cursors()
        assert cursors == {(change["position"], deliveries.PAST_POSITION)}
        assert rows == Counter(
            {sid: told[name] for name, sids in following.items() for sid in sids if told[name]}
        )
    filled.clear()
    assert worker.fan_out() == 0 and filled == []


async def test_a_webhook_far_behind_gets_every_change_it_follows_a_stretch_at_a_time(
    client, role_headers, services, receiver, monkeypatch
):
    """A webhook made after its subject's changes starts at the beginning of the log and moves
    `FILL_POSITIONS` a round; the stretches with none of its changes are passed, those with
    one are filled, and it ends with each of them once, while a webhook up to date gets a new
    change in the first round."""
    monkeypatch.setattr(deliveries, "FILL_POSITIONS", 2)
    agency = role_headers["agency"]
    mine, other = await new_subject(client, 1), await new_subject(client, 2)
    current = UUID(
        (await hooked(client, agency, [other], receiver.url))["subscription"]["subscription_id"]
    )
    worker = delivery_worker(services, Moment())
    wanted = []
    for n in range(3):
        wanted.append((await record(client, mine, penalty(f"P-{n}")))["position"])
        for m in range(2):
            last = await record(client, other, penalty(f"Q-{n}-{m}"))

    def delivered_to(subscription_id: UUID) -> list[int]:
        with services.write_engine.connect() as conn:
            return list(
                conn.execute(
                    select(webhook_deliveries.c.position)
                    .where(webhook_deliveries.c.subscription_id == subscription_id)
                    .order_by(webhook_deliveries.c.position)
                ).scalars()
            )

    def cursor(subscription_id: UUID) -> int:
        with services.write_engine.connect() as conn:
            return conn.execute(
                select(subscription_webhooks.c.cursor_position).where(
                    subscription_webhooks.c.subscription_id == subscription_id
                )
            ).scalar_one()

    await caught_up(services, last["position"])
    while cursor(current) < last["position"]:
        worker.fan_out()
    late = UUID(
        (await hooked(client, agency, [mine], receiver.url))["subscription"]["subscription_id"]
    )
    newest = await record(client, other, penalty("Q-new"))
    await caught_up(services, newest["position"])
    worker.fan_out()

    assert len(delivered_to(current)) == 7  # the new change in the first round
    assert cursor(late) == 2
    rounds = 1
    while cursor(late) < newest["position"] and rounds < 1000:
        worker.fan_out()
        rounds += 1
    assert rounds == (newest["position"] + 1) // 2  # two positions a round
    assert delivered_to(late) == wanted
    with services.write_engine.connect() as conn:
        cursors = set(conn.execute(select(subscription_webhooks.c.cursor_position)).scalars())
    assert cursors == {newest["position"]}
