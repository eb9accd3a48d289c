"""Appends from concurrent threads share one transaction on PostgreSQL: each caller still gets
its own positions, every event is sealed in order, and a conflict fails only its own caller."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from eventsourcing.persistence import IntegrityError

from domain.integrity import stored_event_hash
from service.commanding.commands import RegisterSubject
from service.integrity.log import SealedLog
from service.integrity.sealing import SealingPostgresRecorder
from tests.builders import enterprise

pytestmark = pytest.mark.integration
FOLLOWERS = 8


@pytest.fixture
def hold_next_insert(services, monkeypatch):
    """Once called, the next insert is held until the test lets it go, so that the inserts
    started meanwhile queue behind it and go in together; records each transaction's size."""
    recorder = services.ledger.recorder
    if not isinstance(recorder, SealingPostgresRecorder):
        pytest.skip("SQLite has one writer and commits each insert alone")
    return lambda: _hold_next_insert(recorder, monkeypatch)


def _hold_next_insert(recorder, monkeypatch):
    transactions: list[int] = []
    entered, release = threading.Event(), threading.Event()
    insert = recorder._insert_sealed

    def observed(events):
        transactions.append(len(events))
        if not entered.is_set():
            entered.set()
            release.wait(10)
        return insert(events)

    monkeypatch.setattr(recorder, "_insert_sealed", observed)

    def let_go_once_queued(count: int) -> None:
        deadline = time.monotonic() + 10
        while len(recorder._group.queue) < count and time.monotonic() < deadline:
            time.sleep(0.005)
        release.set()

    return entered, let_go_once_queued, transactions


def register(services, n: int):
    return services.files.register(RegisterSubject(**enterprise(n)), recorded_by="t")


def test_concurrent_appends_share_a_transaction_and_keep_their_own_positions(
    services, hold_next_insert
):
    entered, let_go_once_queued, transactions = hold_next_insert()
    with ThreadPoolExecutor(max_workers=FOLLOWERS + 1) as pool:
        leader = pool.submit(register, services, 1)
        assert entered.wait(10)
        followers = [pool.submit(register, services, n) for n in range(2, FOLLOWERS + 2)]
        let_go_once_queued(FOLLOWERS)
        acks = [leader.result(), *(f.result() for f in followers)]
    assert transactions == [1, FOLLOWERS]
    assert len({ack.position for ack in acks}) == len(acks)
    for ack in acks:  # each caller was told where its own event is
        assert services.ledger.position_of(ack.subject_id, 1) == ack.position
    _assert_sealed_in_order(services)


def test_a_conflict_in_a_group_fails_only_its_own_caller(services, hold_next_insert):
    recorder = services.ledger.recorder
    existing = services.files.register(RegisterSubject(**enterprise(99)), recorded_by="t")
    duplicate = recorder.select_events(existing.subject_id, limit=1)  # version 1 is taken
    entered, let_go_once_queued, transactions = hold_next_insert()
    with ThreadPoolExecutor(max_workers=FOLLOWERS + 2) as pool:
        leader = pool.submit(register, services, 1)
        assert entered.wait(10)
        conflicting = pool.submit(recorder.insert_events, duplicate)
        followers = [pool.submit(register, services, n) for n in range(2, FOLLOWERS + 2)]
        let_go_once_queued(FOLLOWERS + 1)
        acks = [leader.result(), *(f.result() for f in followers)]
        with pytest.raises(IntegrityError):
            conflicting.result()
    # the leader alone, the group that failed, then each of its inserts alone
    assert transactions == [1, FOLLOWERS + 1, *[1] * (FOLLOWERS + 1)]
    for ack in acks:
        assert services.ledger.position_of(ack.subject_id, 1) == ack.position
    assert len(recorder.select_events(existing.subject_id)) == 1
    _assert_sealed_in_order(services)


def _assert_sealed_in_order(services) -> None:
    """Every event sealed, leaf indexes following positions, each hash chained to its stream."""
    with services.write_engine.connect() as conn:
        entries = list(SealedLog(services.write_engine).entries(conn))
    assert [e.seal.leaf_index for e in entries if e.seal] == list(range(len(entries)))
    last: dict = {}
    for entry in entries:
        seal, event = entry.seal, entry.event
        assert seal is not None and event is not None
        assert seal.version == event.version == last.get(seal.stream_id, (0, None))[0] + 1
        prev = last.get(seal.stream_id, (0, None))[1]
        assert seal.prev_hash == prev
        assert seal.event_hash == stored_event_hash(
            prev, event.stream_id, event.version, event.topic, event.state
        )
        last[seal.stream_id] = (seal.version, seal.event_hash)
