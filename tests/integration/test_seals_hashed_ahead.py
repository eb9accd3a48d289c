"""Seals hashed before the insert's lock: writers that hash at the same time, or a writer that
hashed against a last seal another one then followed, still leave the chain that writing one
after the other gives (every seal equal to the log sealed afresh in position order), and the
store's export verifies."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
from eventsourcing.persistence import StoredEvent
from sqlalchemy import select

from service.bootstrap import Services, build_services
from service.commanding.commands import RegisterSubject, record_command_adapter
from service.integrity import sealing
from service.integrity.export import export_lines
from service.integrity.log import SealedLog
from service.integrity.tables import event_seals
from service.integrity.verifier import verify_export
from tests.builders import enterprise, penalty

pytestmark = pytest.mark.integration
HELD = "held-writer"


@pytest.fixture
def other_process(settings, clock) -> Iterator[Services]:
    """A second writer on the same store, with its own recorder and connections, as another
    API process has."""
    built = build_services(settings, clock=clock, migrate=False)
    yield built
    built.close_sync()


@contextmanager
def held_after_hashing(monkeypatch) -> Iterator[tuple[threading.Event, Callable[[], None]]]:
    """The first insert of a thread named HELD stops once it has hashed its seals, before it
    takes the lock, until the test lets it go."""
    hashed, go = threading.Event(), threading.Event()
    hash_ahead = sealing.hash_ahead

    def holding(stored_events, last_seals):
        ahead = hash_ahead(stored_events, last_seals)
        if threading.current_thread().name.startswith(HELD) and not hashed.is_set():
            hashed.set()
            assert go.wait(20)
        return ahead

    monkeypatch.setattr(sealing, "hash_ahead", holding)
    try:
        yield hashed, go.set
    finally:
        go.set()


def assert_sealed_as_serial_writes_seal(services: Services) -> None:
    """Every seal is the one sealing the stored log afresh, event by event in position order,
    gives (as migration 0006 sealed a store's history), and the store's export verifies."""
    with services.write_engine.connect() as conn:
        entries = list(SealedLog(services.write_engine).entries(conn))
        stored = conn.execute(select(event_seals).order_by(event_seals.c.leaf_index)).all()
    events = [entry.event for entry in entries]
    assert all(event is not None for event in events)
    serial = sealing.seal_rows(
        [
            StoredEvent(
                originator_id=e.stream_id,
                originator_version=e.version,
                topic=e.topic,
                state=e.state,
            )
            for e in events
            if e is not None
        ],
        [entry.position for entry in entries],
        {},
        0,
    )
    written = [
        (s.position, s.leaf_index, s.stream_id, s.version, s.event_hash, s.prev_hash)
        for s in stored
    ]
    assert written == serial
    verification = verify_export(list(export_lines(services.checkpoints)))
    assert verification.ok, verification.findings
    assert verification.events == len(serial)


def register(services: Services, n: int):
    return services.files.register(RegisterSubject(**enterprise(900 + n)), recorded_by="t")


def hashed_ahead_only(services: Services) -> None:
    if not isinstance(services.ledger.recorder, sealing.SealingPostgresRecorder):
        pytest.skip("SQLite, with one writer, hashes under its transaction: nothing ahead")


def append(services: Services, subject, ref: str):
    command = record_command_adapter.validate_python(penalty(ref))
    return services.files.append(subject, command, recorded_by="t")


def test_a_writer_that_hashed_before_another_sealed_takes_the_leaf_after_it(
    services, other_process, monkeypatch
):
    hashed_ahead_only(services)
    subject = register(services, 1).subject_id
    with (
        held_after_hashing(monkeypatch) as (hashed, let_go),
        ThreadPoolExecutor(1, thread_name_prefix=HELD) as held,
    ):
        first = held.submit(register, services, 2)
        assert hashed.wait(20)
        second = append(other_process, subject, "HA-OTHER")  # hashed, locked and committed
        let_go()
        first_ack = first.result(timeout=30)
    assert second.position < first_ack.position
    assert_sealed_as_serial_writes_seal(services)


def test_hashes_against_a_last_seal_another_writer_then_followed_are_computed_again(
    services, other_process, monkeypatch
):
    hashed_ahead_only(services)
    subject = register(services, 3).subject_id
    copy = services.ledger.repository.get(subject)
    for ref in ("HA-2", "HA-3"):
        command = record_command_adapter.validate_python(penalty(ref))
        services.files._record(copy, command, "t", None)
    version_2, version_3 = [
        services.ledger.mapper.to_stored_event(e) for e in copy.collect_events()
    ]
    with (
        held_after_hashing(monkeypatch) as (hashed, let_go),
        ThreadPoolExecutor(1, thread_name_prefix=HELD) as held,
    ):
        # Version 3 is hashed while the stream's last seal is version 1: it does not follow.
        later = held.submit(services.ledger.recorder.insert_events, [version_3])
        assert hashed.wait(20)
        [between] = other_process.ledger.recorder.insert_events([version_2])
        let_go()
        [position] = later.result(timeout=30)
    assert between < position
    assert [e.originator_version for e in services.ledger.recorder.select_events(subject)] == [
        1,
        2,
        3,
    ]
    assert_sealed_as_serial_writes_seal(services)


def test_two_writers_appending_at_once_leave_the_serial_chain(services, other_process):
    subjects = [register(services, n).subject_id for n in range(10, 14)]

    def write(writer: tuple[Services, int]) -> None:
        process, worker = writer
        for n in range(8):
            append(process, subjects[(worker + n) % len(subjects)], f"HA-{worker}-{n}")

    writers = [(process, w) for w in range(3) for process in (services, other_process)]
    with ThreadPoolExecutor(len(writers)) as pool:
        list(pool.map(write, [(p, n) for n, (p, _) in enumerate(writers)]))
    assert_sealed_as_serial_writes_seal(services)


@pytest.mark.parametrize("way", ["in one call", "sealed under the lock"])
def test_the_insert_takes_the_tables_lock_and_notifies_listeners(
    services, settings, monkeypatch, way
):
    """PostgreSQL, either way an insert goes (one call on the server where the links hashed
    ahead follow the last seals, else sealed under the lock): it waits for the library's
    EXCLUSIVE lock on the events table (here held off by a reader that locked the table
    against writers), writes only once it holds it, and listeners are told."""
    recorder = services.ledger.recorder
    if not isinstance(recorder, sealing.SealingPostgresRecorder):
        pytest.skip("SQLite has one writer and no notifications")
    import psycopg

    def refused(*args):
        raise AssertionError(f"the insert did not go {way}")

    if way == "in one call":
        monkeypatch.setattr(recorder, "_insert_under_lock", refused)
    else:
        monkeypatch.setattr(recorder, "_insert_followed", lambda *args: None)
    url = settings.database_url.replace("postgresql+psycopg://", "postgresql://")
    table = recorder.events_table_name
    # The writer's pool is left last, after the blocker has let go: should an assertion fail
    # while the blocker holds the table, the writer's wait ends with it.
    with (
        psycopg.connect(url, autocommit=True) as listener,
        ThreadPoolExecutor(1) as writer,
        psycopg.connect(url) as blocker,
    ):
        listener.execute(f'LISTEN "{recorder.channel_name}"')
        blocker.execute(f"LOCK TABLE {table} IN ROW SHARE MODE")
        written = writer.submit(register, services, 40)
        waiting: list[str] = []
        for _ in range(200):
            waiting = [
                mode
                for (mode,) in listener.execute(
                    "SELECT mode FROM pg_locks WHERE NOT granted AND relation = %s::regclass "
                    "AND pid <> %s",
                    (table, blocker.info.backend_pid),
                )
            ]
            if waiting:
                break
            time.sleep(0.05)
        assert waiting == ["ExclusiveLock"]
        assert not written.done()
        blocker.commit()
        written.result(timeout=30)
        heard = list(listener.notifies(timeout=5, stop_after=1))
    assert [n.channel for n in heard] == [recorder.channel_name]
    assert_sealed_as_serial_writes_seal(services)


def test_a_writer_follows_the_seals_it_wrote_last_without_reading_them(
    services, other_process, monkeypatch
):
    """A write to a stream this process sealed last, or to a new stream, hashes ahead from the
    seals it remembers, with no read before the lock (a read here would fail); after another
    process sealed the stream, or where a remembered seal is not the stored one, the chain is
    still the serial one."""
    hashed_ahead_only(services)
    subject = register(services, 50).subject_id
    append(services, subject, "SH-1")
    recorder = services.ledger.recorder

    def refused(*args):
        raise AssertionError("the last seals read before the lock")

    with monkeypatch.context() as reads:
        reads.setattr(recorder, "_read_last_seals", refused)
        assert append(services, subject, "SH-2").version == 3
        register(services, 51)
    append(other_process, subject, "SH-3")  # version 4, sealed by another process
    assert append(services, subject, "SH-4").version == 5  # caught up: its seal read again
    # A remembered seal that is not the stored one (a store put back under the process) is
    # only a guess: the seals are hashed again under the lock.
    recorder._heads.remember([(subject, 5, b"\x00" * 32, None)])
    assert append(services, subject, "SH-5").version == 6
    assert_sealed_as_serial_writes_seal(services)


def test_the_one_call_insert_comes_and_goes_with_its_migration(services, settings):
    hashed_ahead_only(services)
    from alembic import command
    from service.store.database import Database
    from service.store.migrations import alembic_config

    def defined() -> bool:
        with services.write_engine.connect() as conn:
            found = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_proc WHERE proname = 'credit_insert_sealed'"
            )
            return found.scalar_one() == 1

    config = alembic_config(Database.from_url(settings.database_url))
    command.downgrade(config, "0028")
    try:
        assert not defined()
    finally:
        command.upgrade(config, "head")  # the database the later tests share
    assert defined()
    subject = register(services, 60).subject_id
    assert append(services, subject, "MG-1").version == 2
    assert_sealed_as_serial_writes_seal(services)


def test_an_insert_of_more_events_than_one_call_takes_goes_by_copy(services, monkeypatch):
    hashed_ahead_only(services)
    subject = register(services, 70).subject_id
    copy = services.ledger.repository.get(subject)
    for ref in ("CP-2", "CP-3"):
        services.files._record(
            copy, record_command_adapter.validate_python(penalty(ref)), "t", None
        )
    stored = [services.ledger.mapper.to_stored_event(e) for e in copy.collect_events()]

    def refused(*args):
        raise AssertionError("a batch went by the one call")

    recorder = services.ledger.recorder
    monkeypatch.setattr(sealing, "ONE_CALL_MOST_EVENTS", 1)
    monkeypatch.setattr(recorder, "_insert_followed", refused)
    first, second = recorder.insert_events(stored)
    assert first < second
    assert_sealed_as_serial_writes_seal(services)
