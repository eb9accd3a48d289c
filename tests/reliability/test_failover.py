"""Failover with pg_auto_failover under load, on one formation for the module (a monitor and two
PostgreSQL 15 nodes, the standby synchronous), in the order an operator lives it:

1. the primary's machine dies (its keeper and PostgreSQL killed at once): the monitor promotes
   the standby, and the API, given both nodes in one URL with target_session_attrs=read-write,
   finds the new primary by itself;
2. the old primary's `pg_autoctl run` is started again: the node rewinds, rejoins as the
   synchronous standby and catches up while the service keeps writing, never taking a write;
3. the new primary's machine dies in turn: the rejoined node takes over.

Clients retry with the same Idempotency-Keys throughout. After each failover every acknowledged
write is on the primary exactly once, at the position it was answered with, and the hash chains
and the checkpoint kept outside the database verify (`credit audit export` / `verify-export`);
the times to recover and to rejoin are measured (docs/operations.md, "Failover").

Each test first runs the steps before it that have not run, so any one of them runs alone; in
order they share the formation, the API process and the steps already taken. pytest-xdist's
load distribution sends a module's consecutive tests to one worker in chunks; should a chunk
boundary split them, the other worker takes the steps it needs on a formation of its own.
(`--dist loadgroup` would pin them together, but with pytest 9.2 it silently stops grouping:
pytest-xdist 3.8 marks a test's group in a node id field that pytest no longer reads.)"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from uuid import UUID

import httpx
import psycopg
import pytest

from service.bootstrap import build_services
from service.commanding.commands import RegisterSubject
from service.settings import Settings
from service.store.database import Database
from service.store.migrations import upgrade
from tests.auto_failover import Formation, start_formation
from tests.builders import AUTHORITY_CODE, enterprise, penalty
from tests.private_postgres import PRIVATE_SUBJECT_KEY, PrivatePostgresUnavailable, credit
from tests.reliability.api_process import free_port, get, post, start_api

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SUBJECTS = 4
CLIENTS = 3
WRITES = 120  # acknowledged writes through the first failover
KILL_AFTER = WRITES // 4  # acknowledged writes before the primary dies
WRITES_AFTER = 30  # acknowledged writes once a node has rejoined or taken over
CLIENT_TIMEOUT = 10.0  # the API answers every request within 8 s (docs/operations.md)
RECOVERY_BOUND = 60.0  # seconds from a kill to the first acknowledged write sent after it
REJOIN_BOUND = 90.0  # seconds from `pg_autoctl run` on the old primary to it being the standby
STEP_TIMEOUT = 180.0  # generous: the other core runs another test all along
T = TypeVar("T")


@dataclass(frozen=True)
class Answer:
    key: int
    status: int | None
    body: dict | None
    sent: float  # time.monotonic() of the request
    at: float  # time.monotonic() of the answer

    @property
    def acknowledged(self) -> bool:
        return self.status in (200, 201)


class Writers:
    """Clients recording penalties through the API: each retries a write with the same
    Idempotency-Key until it is acknowledged, then takes the next key, until stopped."""

    def __init__(self, base: str, token: str, subjects: list[UUID]) -> None:
        self.base = base
        self.headers = {"Authorization": f"Bearer {token}"}
        self.subjects = subjects
        self.lock = threading.Lock()
        self.acknowledged: dict[int, Answer] = {}
        self.failures: list[Answer] = []
        self.errors: list[BaseException] = []
        self.keys = itertools.count()

    def send(self, n: int) -> Answer:
        sent = time.monotonic()
        try:
            response = post(
                f"{self.base}/v1/subjects/{self.subjects[n % len(self.subjects)]}/events",
                json=penalty(f"FAILOVER-{n:04d}"),
                headers={**self.headers, "Idempotency-Key": f"failover-{n}"},
                timeout=CLIENT_TIMEOUT,
            )
        except httpx.HTTPError:
            return Answer(n, None, None, sent, time.monotonic())
        return Answer(n, response.status_code, response.json(), sent, time.monotonic())

    def write_until_acknowledged(self, n: int) -> None:
        deadline = time.monotonic() + STEP_TIMEOUT
        while time.monotonic() < deadline:
            answer = self.send(n)
            with self.lock:
                if answer.acknowledged:
                    self.acknowledged[n] = answer
                    return
                self.failures.append(answer)
            time.sleep(0.2)  # a client backs off a little after a failure
        raise AssertionError(f"write {n} was never acknowledged")

    def client(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                with self.lock:
                    n = next(self.keys)
                self.write_until_acknowledged(n)  # a write once begun is seen through
        except BaseException as error:
            with self.lock:
                self.errors.append(error)

    @contextmanager
    def writing(self) -> Iterator[None]:
        stop = threading.Event()
        clients = [threading.Thread(target=self.client, args=(stop,)) for _ in range(CLIENTS)]
        for client in clients:
            client.start()
        try:
            yield
        finally:
            stop.set()
            for client in clients:
                client.join()
        assert not self.errors, self.errors

    def count(self) -> int:
        with self.lock:
            return len(self.acknowledged)

    def wait_for(self, count: int) -> None:
        """Until `count` writes are acknowledged in all."""
        deadline = time.monotonic() + STEP_TIMEOUT
        while self.count() < count:
            with self.lock:
                if self.errors:
                    raise self.errors[0]
            assert time.monotonic() < deadline, f"{self.count()} of {count} writes acknowledged"
            time.sleep(0.05)

    def first_acknowledged_after(self, moment: float) -> float:
        """When the first write sent after `moment` was acknowledged."""
        with self.lock:
            after = sorted(a.at for a in self.acknowledged.values() if a.sent > moment)
        assert after, "no write sent after it was acknowledged"
        return after[0]

    def failures_between(self, start: float, end: float) -> Counter[int | None]:
        with self.lock:
            return Counter(a.status for a in self.failures if start <= a.at <= end)


@dataclass(frozen=True)
class Outage:
    killed_at: float
    recovery: float  # seconds from the kill to the first acknowledged write sent after it
    failures: Counter[int | None]  # the answers that were not acknowledgements, by status


@dataclass(frozen=True)
class Rejoin:
    seconds: float  # from `pg_autoctl run` to the node being the formation's secondary
    acknowledged: int  # writes acknowledged meanwhile
    failures: Counter[int | None]
    writable_answers: int  # times the rejoining node answered as a primary (never, we expect)


@dataclass
class Drill:
    """The formation, the store on it, the API process and the steps taken so far."""

    formation: Formation
    folder: Path
    settings: Settings
    subjects: list[UUID]
    writers: Writers
    api_port: int
    api: subprocess.Popen | None = None
    done: dict[str, object] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def saved(self) -> Path:
        return self.folder / "checkpoint.json"

    @property
    def keys(self) -> Path:
        return self.folder / "keys.json"

    def step(self, name: str, run: Callable[[], T]) -> T:
        """`run` once; a step that failed fails every test that needs it, without a retry."""
        if name not in self.done:
            try:
                self.done[name] = run()
            except BaseException as error:
                self.done[name] = error
                raise
        result = self.done[name]
        if isinstance(result, BaseException):
            pytest.fail(f"the step {name!r} failed in an earlier test: {result!r}")
        return result  # type: ignore[return-value]

    def kill_under_load(self, node: str, successor: int, in_all: int = 0) -> Outage:
        """Kills `node` with writes in flight; returns once `successor` is the primary and has
        acknowledged WRITES_AFTER writes (and `in_all` have been acknowledged)."""
        with self.writers.writing():
            self.writers.wait_for(self.writers.count() + KILL_AFTER)
            killed_at = time.monotonic()
            self.formation.kill(node)  # returns once nothing listens on its port
            dead_at = time.monotonic()
            self.formation.wait_for({successor: "wait_primary"}, timeout=STEP_TIMEOUT)
            self.writers.wait_for(max(in_all, self.writers.count() + WRITES_AFTER))
        # A write sent before the node was dead may have been acknowledged by it: recovery
        # counts from the kill to the first acknowledgement of a write sent after it.
        recovery = self.writers.first_acknowledged_after(dead_at) - killed_at
        failures = self.writers.failures_between(killed_at, time.monotonic())
        return Outage(killed_at, recovery, failures)

    def failed_over(self) -> Outage:
        successor = self.formation.node_ports[1]
        return self.step("failover", lambda: self.kill_under_load("node1", successor, WRITES))

    def rejoined(self) -> Rejoin:
        self.failed_over()

        def run() -> Rejoin:
            old, new = self.formation.node_ports
            writable: list[bool] = []
            watching = threading.Event()

            def watch() -> None:  # the rejoining node must never take a write
                while not watching.is_set():
                    if self.formation.writable(old):
                        writable.append(True)
                    time.sleep(0.05)

            watcher = threading.Thread(target=watch)
            with self.writers.writing():
                before = self.writers.count()
                watcher.start()
                started = time.monotonic()
                try:
                    self.formation.start("node1")
                    self.formation.wait_for({old: "secondary", new: "primary"}, STEP_TIMEOUT)
                    seconds = time.monotonic() - started
                    meanwhile = self.writers.count() - before
                    # The service keeps writing, now with the rejoined node as its sync standby.
                    self.writers.wait_for(self.writers.count() + WRITES_AFTER)
                finally:
                    watching.set()
                    watcher.join()
            failures = self.writers.failures_between(started, time.monotonic())
            self.formation.wait_replayed(new, old)
            return Rejoin(seconds, meanwhile, failures, len(writable))

        return self.step("rejoin", run)

    def failed_back(self) -> Outage:
        self.rejoined()
        return self.step(
            "failback", lambda: self.kill_under_load("node2", self.formation.node_ports[0])
        )

    def check_stored(self, primary: int) -> None:
        """Every acknowledged write is on `primary`, once, at the position it was answered
        with, and nothing else was recorded."""
        acknowledged = list(self.writers.acknowledged.values())
        with psycopg.connect(self.formation.node_url(primary, "credit")) as conn:
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
        services = build_services(self.settings, migrate=False)  # both hosts: finds the primary
        try:
            table = services.ledger.recorder.events_table_name  # type: ignore[attr-defined]
            with psycopg.connect(Database.from_url(self.settings.database_url).conninfo()) as conn:
                assert conn.execute("SELECT inet_server_port()").fetchone() == (primary,)
                stored = {
                    row[0]: (row[1], row[2])
                    for row in conn.execute(
                        f"SELECT notification_id, originator_id, originator_version FROM {table}"
                    )
                }
            assert len(stored) == SUBJECTS + len(acknowledged)
            for answer in acknowledged:
                body = answer.body or {}
                assert stored[body["position"]] == (UUID(body["subject_id"]), body["version"])
            refs: Counter[str] = Counter()
            for subject in self.subjects:
                events = list(services.ledger.events.get(subject))
                assert [e.originator_version for e in events] == list(range(1, len(events) + 1))
                refs.update(e.source_ref for e in events[1:])  # type: ignore[attr-defined]
            assert refs == Counter(f"FAILOVER-{a.key:04d}" for a in acknowledged)  # each once
        finally:
            services.close_sync()

    def check_verifies(self, name: str) -> None:
        """The hash chains and the checkpoint kept outside, verified offline."""
        url = self.settings.database_url
        export = self.folder / f"{name}.ndjson"
        exported = credit(url, "audit", "export", "-o", str(export))
        assert exported.returncode == 0, exported.stderr
        saved, keys = str(self.saved), str(self.keys)
        verified = credit(url, "audit", "verify-export", str(export), "--checkpoint", saved,
                          "--keys", keys)  # fmt: skip
        assert verified.returncode == 0, verified.stdout + verified.stderr
        # as the command prints the count, with thousands separated (2,662)
        assert f"{SUBJECTS + len(self.writers.acknowledged):,} events" in verified.stderr
        assert "the export verifies" in verified.stderr
        log = credit(url, "audit", "verify-access-log", "--checkpoint", saved, "--keys", keys)
        assert log.returncode == 0, log.stdout + log.stderr
        assert json.loads(self.saved.read_text())["tree_size"] == SUBJECTS

    def check_api_alive(self) -> None:
        health = get(f"{self.base}/health", timeout=CLIENT_TIMEOUT)
        assert health.status_code == 200, health.text
        assert self.api is not None and self.api.poll() is None, "the API process died"


def prepare(formation: Formation, folder: Path) -> Drill:
    """The store on the formation, a recording agency's client, subjects, and the checkpoint
    and keys an auditor keeps outside the database, signed before any failover."""
    first = formation.node_ports[0]
    assert formation.psql(first, "SHOW synchronous_standby_names").startswith("ANY 1")
    with psycopg.connect(formation.node_url(first), autocommit=True) as conn:
        conn.execute("CREATE DATABASE credit")
    url = formation.url("credit")
    upgrade(Database.from_url(url))
    settings = Settings(
        environment="test",
        database_url=url,
        subject_id_key=PRIVATE_SUBJECT_KEY,
        client_secret_scrypt_n=2,
    )
    services = build_services(settings, migrate=False)
    try:
        client, _ = services.clients.create(
            "failover-recorder",
            "recorder",
            "局",
            AUTHORITY_CODE,
            authority_codes=[AUTHORITY_CODE],
            sectors=["road_transport"],
        )
        token = services.tokens.issue(client).access_token
        subjects = [
            services.files.register(RegisterSubject(**enterprise(900 + i)), recorded_by="t")
            for i in range(SUBJECTS)
        ]
    finally:
        services.close_sync()
    ids = [s.subject_id for s in subjects]
    port = free_port()
    drill = Drill(
        formation, folder, settings, ids, Writers(f"http://127.0.0.1:{port}", token, ids), port
    )
    made = credit(url, "audit", "checkpoint")
    assert made.returncode == 0, made.stderr
    drill.saved.write_text(made.stdout)
    listed = credit(url, "audit", "keys")
    assert listed.returncode == 0, listed.stderr
    drill.keys.write_text(listed.stdout)
    return drill


@pytest.fixture(scope="module")
def drill(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drill]:
    try:
        formation = start_formation()
    except PrivatePostgresUnavailable as error:
        if os.environ.get("CI"):
            pytest.fail(f"a pg_auto_failover formation cannot run in CI: {error}")
        pytest.skip(f"a pg_auto_failover formation cannot run here: {error}")
    api = None
    try:
        drill = prepare(formation, tmp_path_factory.mktemp("failover"))
        api = drill.api = start_api(drill.settings, drill.api_port)
        yield drill
    finally:
        if api is not None:
            api.kill()
            api.wait()
        formation.remove()


def recovered(drill: Drill, outage: Outage, new_primary: int, checkpoint: str) -> None:
    """Writes answered again within the bound, refused meanwhile only as unavailable; the API
    alive, every acknowledged write stored once on the new primary, the export verified."""
    assert outage.recovery < RECOVERY_BOUND, outage.recovery
    assert set(outage.failures) <= {None, 503}, outage.failures
    drill.check_api_alive()
    drill.check_stored(new_primary)
    drill.check_verifies(checkpoint)


def test_a_dead_primary_is_replaced_and_no_acknowledged_write_is_lost_or_doubled(drill: Drill):
    outage = drill.failed_over()
    print(f"\nrecovered {outage.recovery:.1f} s after the primary was killed")
    recovered(drill, outage, drill.formation.node_ports[1], "after-failover")


def test_the_old_primary_rejoins_as_the_standby_and_catches_up(drill: Drill):
    rejoin = drill.rejoined()
    print(
        f"\nrejoined as the standby {rejoin.seconds:.1f} s after pg_autoctl run, with "
        f"{rejoin.acknowledged} writes acknowledged meanwhile; failed: {dict(rejoin.failures)}"
    )
    assert rejoin.writable_answers == 0, "the old primary took writes while it rejoined"
    assert rejoin.seconds < REJOIN_BOUND, rejoin.seconds
    assert set(rejoin.failures) <= {None, 503}, rejoin.failures
    old, new = drill.formation.node_ports
    formation = drill.formation
    assert formation.psql(old, "SELECT pg_is_in_recovery()") == "t"
    # It is the synchronous standby again: a commit on the new primary waits for it.
    assert formation.psql(new, "SHOW synchronous_standby_names").startswith("ANY 1")
    assert (
        formation.psql(new, "SELECT application_name, state, sync_state FROM pg_stat_replication")
        == "pgautofailover_standby_1|streaming|quorum"
    )
    # No lag (the step waited for the replay), and the same events on both nodes.
    lsn = formation.psql(new, "SELECT pg_current_wal_lsn()")
    assert formation.psql(old, f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn") == "t"
    events = (
        "SELECT notification_id, originator_id, originator_version, topic, md5(state) "
        "FROM credit_events ORDER BY notification_id"
    )
    on_new = formation.psql(new, events, "credit")
    assert formation.psql(old, events, "credit") == on_new
    assert len(on_new.splitlines()) == SUBJECTS + len(drill.writers.acknowledged)
    drill.check_stored(new)


def test_a_second_failover_returns_to_the_rejoined_node(drill: Drill):
    outage = drill.failed_back()
    print(f"\nrecovered {outage.recovery:.1f} s after the second primary was killed")
    recovered(drill, outage, drill.formation.node_ports[0], "after-failback")
