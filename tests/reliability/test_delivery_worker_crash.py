"""`credit deliver` killed (SIGKILL) while a receiver holds the requests of its batch, then
started again: no change is lost, and the batch is repeated, each change under its own
webhook-id. `credit worker` delivers too when told to."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest

from tests.api.test_subscriptions import caught_up, feed, new_subject, record
from tests.api.test_webhooks import Receiver, hooked
from tests.builders import penalty
from tests.reliability.api_process import ROOT

pytestmark = pytest.mark.integration
LEASE_SECONDS = 4


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"webhook_allow_private_targets": True})


def start_deliver(settings, command: str = "deliver", **extra: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "CREDIT_DATABASE_URL": settings.database_url,
        "CREDIT_SUBJECT_ID_KEY": settings.subject_id_key.get_secret_value(),
        "CREDIT_ENVIRONMENT": "test",
        "CREDIT_MIGRATE_ON_START": "false",
        "CREDIT_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
        "CREDIT_WEBHOOK_POLL_SECONDS": "0.1",
        "CREDIT_WEBHOOK_CONNECT_TIMEOUT_SECONDS": "1",
        "CREDIT_WEBHOOK_READ_TIMEOUT_SECONDS": "2",
        "CREDIT_WEBHOOK_LEASE_SECONDS": str(LEASE_SECONDS),
        **extra,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "service.cli", command],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"not within {seconds} s: {what}")


async def test_a_delivery_worker_killed_mid_send_loses_nothing_when_started_again(
    client, role_headers, services, settings
):
    arrived, released = threading.Semaphore(0), threading.Event()

    def hold() -> None:  # each request waits until the worker is dead
        arrived.release()
        released.wait(30)

    receiver = Receiver(on_request=hold)
    worker = None
    try:
        agency = role_headers["agency"]
        first, other = await new_subject(client, 1), await new_subject(client, 2)
        await hooked(client, agency, [first, other], receiver.url)
        await record(client, first, penalty("P-1"))
        await record(client, other, penalty("P-2"))
        last = await record(client, first, penalty("P-3"))
        await caught_up(services, last["position"])
        changes = [c["change_id"] for c in (await feed(client, agency))["changes"]]

        worker = start_deliver(settings)
        # Killed while it waits for the answers (well within its 2 s read timeout): its batch,
        # the first change of each subject, is in flight at once.
        assert arrived.acquire(timeout=60) and arrived.acquire(timeout=10), "not both sent"
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        released.set()
        wait_for(lambda: len(receiver.received) == 2, 10, "the held requests to be kept")
        assert sorted(receiver.ids()) == sorted(changes[:2])

        worker = start_deliver(settings)
        wait_for(lambda: len(receiver.received) >= 5, 60, "every change to be delivered")
        time.sleep(0.5)  # and nothing more
        assert Counter(receiver.ids()) == {changes[0]: 2, changes[1]: 2, changes[2]: 1}
        ids = receiver.ids()
        assert ids.index(changes[2]) > ids.index(changes[0], 2)  # in order per subject
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
    finally:
        released.set()
        if worker is not None and worker.poll() is None:
            worker.kill()
            worker.wait()
        receiver.close()


async def test_the_projection_worker_delivers_webhooks_when_told_to(
    client, role_headers, services, settings
):
    receiver = Receiver()
    worker = None
    try:
        agency = role_headers["agency"]
        subject = await new_subject(client, 1)
        await hooked(client, agency, [subject], receiver.url)
        told = await record(client, subject, penalty("P-1"))
        await caught_up(services, told["position"])
        [change] = [c["change_id"] for c in (await feed(client, agency))["changes"]]
        worker = start_deliver(settings, "worker", CREDIT_DELIVER_WEBHOOKS_IN_WORKER="true")
        wait_for(lambda: len(receiver.received) == 1, 60, "the change to be delivered")
        assert receiver.ids() == [change]
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
            worker.wait()
        receiver.close()
