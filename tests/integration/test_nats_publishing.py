"""Public changes to NATS JetStream, against the local server: what a city's mirror consuming with
a durable consumer of its own receives. Only public changes go out (a record with a publication
window, of a subject that is no natural person), each on its subject's partition, in log order
within it; a publisher restarted from an older cursor sends changes again, and JetStream's
deduplication by `Nats-Msg-Id` keeps the consumer from seeing any twice.

Each test has a stream and subjects of its own, deleted afterwards. Where NATS is unreachable
the tests are skipped, except under CI, where that fails them (as PostgreSQL in conftest.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import nats
import pytest
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import StreamConfig
from sqlalchemy import select, update

from projections.tables import changes, projection_tracking
from service.commanding.commands import RegisterSubject, record_command_adapter
from service.notifications.jetstream import NatsPublisher, StreamLayout, partition_of
from tests.builders import enterprise, individual, list_entry, penalty
from tests.integration.test_cli import ROOT

pytestmark = pytest.mark.integration
NATS_URL = os.environ.get("CREDIT_TEST_NATS_URL", "nats://127.0.0.1:4222")


@dataclass
class Broker:
    nc: NatsClient
    js: JetStreamContext
    layout: StreamLayout


async def _quiet(error: Exception) -> None:
    """The client reports each refused connection; the fixture says what it means."""


@pytest.fixture
async def broker() -> AsyncIterator[Broker]:
    """A connection to the local JetStream and a stream name and subjects of this test's own."""
    try:
        nc = await asyncio.wait_for(
            nats.connect(NATS_URL, connect_timeout=2, error_cb=_quiet), timeout=5
        )
    except (OSError, TimeoutError, nats.errors.Error) as error:
        if os.environ.get("CI"):
            pytest.fail(f"NATS is unreachable in CI at {NATS_URL}: {error!r}")
        pytest.skip(f"NATS unreachable at {NATS_URL}: {error!r}")
    tag = uuid.uuid4().hex[:12]
    layout = StreamLayout(f"CREDIT_TEST_{tag}", f"test.{tag}.changes", 4, 120)
    js = nc.jetstream()
    try:
        yield Broker(nc, js, layout)
    finally:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await js.delete_stream(layout.stream)
        await nc.close()


def publisher(services, broker: Broker) -> NatsPublisher:
    return NatsPublisher(services.write_engine, NATS_URL, broker.layout, poll_seconds=0.05)


def register(services, body: dict[str, Any]) -> UUID:
    return services.files.register(RegisterSubject(**body), recorded_by="t").subject_id


def append(services, subject_id: UUID, body: dict[str, Any]) -> UUID:
    ack = services.files.append(
        subject_id, record_command_adapter.validate_python(body), recorded_by="t"
    )
    return ack.record_id


async def consume(broker: Broker, durable: str, *, idle_seconds: float = 1.0) -> list[Any]:
    """Every message the durable consumer is given until none comes for `idle_seconds`, acked."""
    sub = await broker.js.pull_subscribe(
        f"{broker.layout.prefix}.>", durable=durable, stream=broker.layout.stream
    )
    received: list[Any] = []
    while True:
        try:
            batch = await sub.fetch(100, timeout=idle_seconds)
        except TimeoutError:  # nats.errors.TimeoutError, or asyncio's from a lingering pull
            return received
        for msg in batch:
            await msg.ack()
            received.append(msg)


def change_ids(messages: list[Any]) -> list[str]:
    return [msg.headers["Nats-Msg-Id"] for msg in messages]


async def test_public_changes_reach_a_durable_consumer_on_their_partition(services, broker):
    company = register(services, enterprise(1))
    person = register(services, individual(2))
    general = append(services, company, penalty("N-1"))
    append(services, company, penalty("N-2", severity="minor"))  # not published: no change
    black = append(services, company, list_entry("N-黑-1"))
    watch = append(
        services, company, {**list_entry("N-关-1", list_type="watch"), "basis_record_id": general}
    )
    append(services, person, penalty("N-3"))  # a natural person's: never published to NATS
    services.runner.catch_up()
    with services.write_engine.connect() as conn:
        derived = conn.execute(
            select(changes.c.change_id, changes.c.kind, changes.c.record_id).order_by(
                changes.c.position, changes.c.ordinal
            )
        ).all()
    # The outbox holds the person's change and the watch-list entry's too ...
    assert {kind for _, kind, record_id in derived if record_id == watch} == {"list.entered"}
    public = [
        (str(change_id), kind, record_id)
        for change_id, kind, record_id in derived
        if record_id in (general, black)
    ]
    assert [(kind, record_id) for _, kind, record_id in public] == [
        ("record.published", general),
        ("record.published", black),
        ("list.entered", black),
    ]

    running = publisher(services, broker)  # as `credit worker` runs it: in a thread of its own
    running.start()
    try:
        # The cursor reaches the changes read model's position once everything was acknowledged.
        deadline = time.monotonic() + 30
        while running.outbox.cursor() < services.runner.position("changes"):
            assert time.monotonic() < deadline, "the cursor did not reach the read model"
            await asyncio.sleep(0.05)
        received = await consume(broker, "city-mirror")
    finally:
        running.stop()
    assert running.crash is None
    # ... but only the public ones go out, once each, in log order.
    assert change_ids(received) == [change_id for change_id, _, _ in public]
    partition = partition_of(company, broker.layout.partitions)
    assert [msg.subject for msg in received] == [
        f"{broker.layout.prefix}.{partition}.{kind}" for _, kind, _ in public
    ]
    first = json.loads(received[0].data)
    assert first["change_id"] == public[0][0]
    assert first["subject_id"] == str(company)
    assert first["record_id"] == str(general)
    assert first["after"]["publish_from"] == "2026-10-15"
    assert received[0].headers["Credit-Change-Kind"] == "record.published"
    assert "name" not in first and "code" not in first  # a change carries no name or code


async def test_a_publisher_restarted_from_an_older_cursor_adds_no_duplicate(services, broker):
    company = register(services, enterprise(3))
    for n in range(5):
        append(services, company, penalty(f"D-{n}"))
    services.runner.catch_up()
    first = publisher(services, broker)
    await first.ensure_stream(broker.js)
    # Five penalties published, and the early warning of repeated conduct they raise.
    sent = await first.publish_pending(broker.js)
    seen = await consume(broker, "city-mirror")
    assert len(seen) == sent
    assert sum(msg.headers["Credit-Change-Kind"] == "record.published" for msg in seen) == 5

    # A crash after JetStream acknowledged but before the cursor moved: it stands further back.
    with services.write_engine.begin() as conn:
        conn.execute(
            update(projection_tracking)
            .where(projection_tracking.c.name == broker.layout.cursor_name)
            .values(position=0)
        )
    later = append(services, company, penalty("D-5"))
    services.runner.catch_up()
    restarted = publisher(services, broker)
    await restarted.ensure_stream(broker.js)
    resent = await restarted.publish_pending(broker.js)  # all sent again, and the new ones

    again = await consume(broker, "city-mirror")
    assert again, "the new penalty's changes reach the mirror"
    assert {json.loads(msg.data)["record_id"] for msg in again} == {str(later)}
    assert resent == sent + len(again)
    info = await broker.js.stream_info(broker.layout.stream)
    assert info.state.messages == sent + len(again)
    # A second mirror starting now reads each change once too.
    assert len(set(change_ids(await consume(broker, "another-mirror")))) == sent + len(again)


async def test_changes_keep_log_order_within_each_partition(services, broker):
    subjects = [register(services, enterprise(10 + n)) for n in range(8)]
    for round_ in range(3):
        for n, subject_id in enumerate(subjects):
            append(services, subject_id, penalty(f"O-{round_}-{n}"))
    services.runner.catch_up()
    running = publisher(services, broker)
    await running.ensure_stream(broker.js)
    await running.publish_pending(broker.js)

    received = await consume(broker, "city-mirror")
    # The 24 penalties published, and each subject's early warning of repeated conduct.
    kinds = [msg.headers["Credit-Change-Kind"] for msg in received]
    assert kinds.count("record.published") == 24
    assert kinds.count("warning.raised") == 8
    by_partition: dict[str, list[int]] = {}
    by_subject: dict[str, list[int]] = {}
    for msg in received:
        body = json.loads(msg.data)
        partition = msg.subject.split(".")[3]
        assert partition == str(partition_of(UUID(body["subject_id"]), 4))
        by_partition.setdefault(partition, []).append(body["position"])
        by_subject.setdefault(body["subject_id"], []).append(body["position"])
    assert len(by_partition) > 1  # the subjects are spread over the partitions
    for positions in (*by_partition.values(), *by_subject.values()):
        assert positions == sorted(positions)
    assert all(len(positions) == 4 for positions in by_subject.values())


async def test_pages_end_on_whole_positions_so_an_event_is_never_half_published(services, broker):
    company = register(services, enterprise(20))
    append(services, company, penalty("P-1"))
    append(services, company, list_entry("P-黑-1"))  # two changes at one position
    append(services, company, penalty("P-2"))
    services.runner.catch_up()
    small = NatsPublisher(
        services.write_engine, NATS_URL, broker.layout, poll_seconds=0.05, page_size=2
    )
    await small.ensure_stream(broker.js)
    assert await small.publish_pending(broker.js) == 5
    received = [json.loads(msg.data) for msg in await consume(broker, "city-mirror")]
    assert [change["kind"] for change in received] == [
        "record.published",
        "record.published",
        "list.entered",
        "record.published",
        "warning.raised",  # repeated conduct: the second penalty's position holds two changes
    ]
    assert small.outbox.cursor() == services.runner.position("changes")


async def test_the_stream_is_brought_to_the_settings_at_start(services, broker):
    layout = broker.layout
    await broker.js.add_stream(
        StreamConfig(name=layout.stream, subjects=[f"{layout.prefix}.old"], duplicate_window=60)
    )
    await publisher(services, broker).ensure_stream(broker.js)
    info = await broker.js.stream_info(layout.stream)
    assert info.config.subjects == [f"{layout.prefix}.>"]
    assert info.config.duplicate_window == 120


def test_the_partition_of_a_subject_is_the_documented_hash():
    # docs/notifications.md: SHA-256 over the id's 16 bytes, first 8 bytes big-endian, mod N.
    subject_id = UUID("5f0c7a8e-3b1d-5c2a-9e4f-6a7b8c9d0e1f")
    assert [partition_of(subject_id, n) for n in (1, 16, 1000)] == [0, 5, 365]


async def test_the_worker_publishes_when_configured_and_publish_nats_refuses_without(
    settings, services, broker
):
    company = register(services, enterprise(30))
    record_id = append(services, company, penalty("W-1"))
    env = {
        **os.environ,
        "CREDIT_DATABASE_URL": settings.database_url,
        "CREDIT_SUBJECT_ID_KEY": settings.subject_id_key.get_secret_value(),
        "CREDIT_PROJECTION_POLL_SECONDS": "0.1",
    }
    env.pop("CREDIT_NATS_URL", None)
    refused = subprocess.run(
        [sys.executable, "-m", "service.cli", "publish-nats"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 2
    assert "CREDIT_NATS_URL is not set" in refused.stderr

    layout = broker.layout
    worker = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "worker"],
        cwd=ROOT,
        env={
            **env,
            "CREDIT_NATS_URL": NATS_URL,
            "CREDIT_NATS_STREAM": layout.stream,
            "CREDIT_NATS_SUBJECT_PREFIX": layout.prefix,
            "CREDIT_NATS_PARTITIONS": str(layout.partitions),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        received: list[Any] = []
        deadline = time.monotonic() + 60  # the worker projects the log, then publishes
        while not received and time.monotonic() < deadline:
            try:
                await broker.js.stream_info(layout.stream)
            except nats.js.errors.NotFoundError:
                await asyncio.sleep(0.2)
                continue
            received = await consume(broker, "city-mirror")
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=60)
    assert [json.loads(msg.data)["record_id"] for msg in received] == [str(record_id)], output
    assert f"publishing public changes to stream {layout.stream}" in output
