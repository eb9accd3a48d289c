"""Every request is answered within CREDIT_REQUEST_DEADLINE_SECONDS, whatever holds it; and a
request queued behind others that wait on the database leaves the queue after its own bounded
turn (QUEUE_WAIT_SECONDS) with 503 database-unavailable, instead of after the whole queue's.
(The real outage, a crashed PostgreSQL under CPU load, is tests/reliability/.)"""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from sqlalchemy import exc

from api.app import create_app
from service.store.database import QUEUE_WAIT_SECONDS, WaitedTooLong, database_unavailable, turn
from tests.builders import enterprise, penalty

pytestmark = pytest.mark.api
PROBLEMS = "https://credit-transport.example/problems/"


# Short enough for a test, long enough that a health check on a machine shared with other work
# answers within it (at a load of 10 on two cores it took over a second).
DEADLINE_SECONDS = 2.0


@pytest.fixture
async def impatient(settings, services, role_headers):
    """The API with a short deadline, as a recording agency."""
    app = create_app(
        settings.model_copy(update={"request_deadline_seconds": DEADLINE_SECONDS}),
        services=services,
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://credit.test", headers=role_headers["recorder"]
        ) as http:
            yield http


async def test_a_request_held_past_the_deadline_is_answered_503_and_writes_nothing(
    impatient, services, monkeypatch
):
    sid = (await impatient.post("/v1/subjects", json=enterprise(41))).json()["subject_id"]
    head = services.ledger.recorder.max_notification_id()
    released = threading.Event()

    def held(*args, **kwargs):  # a write stuck behind something that never answers
        released.wait(10)
        raise exc.OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    monkeypatch.setattr(services.files, "append", held)
    started = time.monotonic()
    response = await impatient.post(f"/v1/subjects/{sid}/events", json=penalty("DL-1"))
    took = time.monotonic() - started
    # What answers in time is not touched, while the write is still held: once released, the
    # held write fails as a lost connection would, and the service then reports the database
    # unavailable, which is not what this asks.
    health = await impatient.get("/health")
    released.set()
    assert health.status_code == 200
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "5"
    assert response.json()["type"] == PROBLEMS + "deadline-exceeded"
    assert DEADLINE_SECONDS <= took < DEADLINE_SECONDS + 1.5
    assert services.ledger.recorder.max_notification_id() == head


def test_a_turn_is_waited_for_at_most_the_queue_wait_and_counts_as_unavailable():
    lock = threading.Lock()
    lock.acquire()  # held by a request that waits on a dead database
    started = time.monotonic()
    with pytest.raises(WaitedTooLong) as waited, turn(lock, "the writers ahead"):
        pass
    assert QUEUE_WAIT_SECONDS <= time.monotonic() - started < QUEUE_WAIT_SECONDS + 1
    assert database_unavailable(waited.value)


async def test_a_writer_queued_behind_a_stuck_one_on_its_stream_is_answered_503(
    client, services, monkeypatch
):
    """Two writes to one subject: the first holds the stream's turn while its database call
    hangs; the second gives up its wait after QUEUE_WAIT_SECONDS, 503, with nothing written."""
    sid = (await client.post("/v1/subjects", json=enterprise(42))).json()["subject_id"]
    head = services.ledger.recorder.max_notification_id()
    inside, release = threading.Event(), threading.Event()
    load = services.files._load

    def slow_load(subject_id):
        if not inside.is_set():
            inside.set()
            release.wait(10)
        return load(subject_id)

    monkeypatch.setattr(services.files, "_load", slow_load)
    from uuid import UUID

    from service.commanding.commands import record_command_adapter

    first = threading.Thread(
        target=services.files.append,
        args=(UUID(sid), record_command_adapter.validate_python(penalty("DL-A"))),
        kwargs={"recorded_by": "t"},
    )
    first.start()
    assert inside.wait(5)
    try:
        started = time.monotonic()
        second = await client.post(f"/v1/subjects/{sid}/events", json=penalty("DL-B"))
        took = time.monotonic() - started
    finally:
        release.set()
        first.join(10)
    assert second.status_code == 503, second.text
    assert second.json()["type"] == PROBLEMS + "database-unavailable"
    assert second.headers["retry-after"] == "5"
    assert QUEUE_WAIT_SECONDS <= took < QUEUE_WAIT_SECONDS + 2
    # Only the first write (released afterwards) was recorded.
    assert services.ledger.recorder.max_notification_id() == head + 1
