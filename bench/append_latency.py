"""Single appends over HTTP at fixed offered rates (open loop), with the projection lag while
they run, on PostgreSQL; against the eventsourcing library's plain one-save-per-event loop.

    .venv/bin/python -m bench.append_latency --rates 250,500,1000 --workers 2 --seconds 10

Deployment as documented: API processes with projections off, one `credit worker`. Each
append is a penalty with its own decision number and Idempotency-Key, for one of the seeded
subjects. Projection lag: every 10 ms the log's last position and the read models' tracked
position are sampled; the lag at a sample is the time until the tracked position reaches the
log position seen then. The API processes' and the worker's CPU time per answered append are
read from /proc around each rate; the highest rate sustained (p99 under 50 ms, no errors) is
compared with the library's loop, run on the same database after them.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from sqlalchemy import make_url

from bench.fixtures import (
    AUTHORITY_CODE,
    machine,
    one_row,
    penalty_command,
    postgres_cpu_seconds,
    process_tree_cpu_seconds,
    scratch_postgres,
    seeded_store,
    server_env,
)
from bench.loadgen import run_load
from bench.status_latency import BIN, SUSTAINED_P99_MS, free_port, start_server, sustained

ROOT = Path(__file__).resolve().parents[1]


def seed(url: str, subjects: int) -> tuple[list[str], str]:
    """One penalty per subject; returns their ids and a recorder token."""
    return seeded_store(
        url,
        rows=subjects,
        subjects=subjects,
        role="recorder",
        authority_codes=[AUTHORITY_CODE],
        sectors=["road_transport"],
    )


def append_requests(ids: list[str], token: str, count: int, run: str) -> list:
    rng = random.Random(run)
    requests = []
    for n in range(count):
        body = penalty_command(
            f"郑交执罚〔2026〕{run}-{n:07d}号", rng.choice(["minor", "general", "serious"])
        )
        headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Idempotency-Key": f"{run}-{n}",
        }
        path = f"/v1/subjects/{rng.choice(ids)}/events"
        requests.append(("POST", path, headers, orjson.dumps(body)))
    return requests


def log_and_slowest_projector(conn: psycopg.Connection[tuple[Any, ...]]) -> tuple[int, int, int]:
    """The log's last position, the slowest projector's (every read model has an event once
    it has passed it) and how many projectors keep a position."""
    log, slowest, projectors = one_row(
        conn,
        "SELECT (SELECT COALESCE(MAX(notification_id), 0) FROM credit_events), "
        "(SELECT COALESCE(MIN(position), 0) FROM projection_tracking), "
        "(SELECT count(*) FROM projection_tracking)",
    )
    return log, slowest, projectors


@dataclass
class LagSampler:
    conninfo: str
    samples: list[tuple[float, int, int]]

    def run(self, stop: threading.Event) -> None:
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            while not stop.is_set():
                log, tracked, _ = log_and_slowest_projector(conn)
                self.samples.append((time.perf_counter(), log, tracked))
                stop.wait(0.01)

    def lags_ms(self) -> list[float]:
        """For each sample that saw new events: how long until the read models had them."""
        lags = []
        previous_log = self.samples[0][1] if self.samples else 0
        for i, (at, log, _) in enumerate(self.samples):
            if log == previous_log:
                continue
            previous_log = log
            for later, _, tracked in self.samples[i:]:
                if tracked >= log:
                    lags.append((later - at) * 1000)
                    break
        return lags


WARM_SECONDS = 3.0


def projected_all(conninfo: str, timeout: float = 300) -> float:
    """Seconds until every read model has the whole log: the warm-up's appends projected
    before the first rate, whose lag would measure them otherwise."""
    started = time.perf_counter()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        while time.perf_counter() - started < timeout:
            log, tracked, projectors = log_and_slowest_projector(conn)
            if projectors and tracked >= log:
                return time.perf_counter() - started
            time.sleep(0.1)
    raise RuntimeError(f"the projection worker did not catch up with the log in {timeout} s")


class Counter(Aggregate):
    @event("Counted")
    def count(self, n: int) -> None:
        self.n = n


class Plain(Application):
    """The library's own path: one aggregate event saved per call."""


def library_app(url: str) -> tuple[Plain, list[Counter]]:
    """The library's application on the database at `url`, with 100 aggregates saved."""
    parts = make_url(url)
    assert parts.database is not None  # scratch_postgres names its database
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": parts.database,
        "POSTGRES_HOST": parts.host or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": parts.username or "postgres",
        "POSTGRES_PASSWORD": parts.password or "",
        "CREATE_TABLE": "y",
    }
    app = Plain(env=env)
    counters = []
    for _ in range(100):
        counter = Counter()
        app.save(counter)
        counters.append(counter)
    return app, counters


def library_saves(app: Plain, counters: list[Counter], saves: int) -> None:
    """`saves` events, each saved by its own call, round the aggregates."""
    for saved in range(saves):
        counter = counters[saved % len(counters)]
        counter.count(saved)
        app.save(counter)


def library_baseline(url: str, seconds: float) -> float:
    app, counters = library_app(url)
    saved, deadline = 0, time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        counter = counters[saved % len(counters)]
        counter.count(saved)
        app.save(counter)
        saved += 1
    rate = saved / (time.perf_counter() - started)
    app.close()
    return rate


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=10_000)
    parser.add_argument("--rates", default="250,500,1000")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--load-processes", type=int, default=1)
    args = parser.parse_args()
    print(f"command: python -m bench.append_latency {' '.join(sys.argv[1:])}")
    print(f"machine: {machine()}; load generator, servers and PostgreSQL share the machine")
    with scratch_postgres() as url:
        ids, token = seed(url, args.subjects)
        env = server_env(url)
        port = free_port()
        api = start_server(
            [str(BIN / "credit"), "serve", "--port", str(port), "--workers", str(args.workers)],
            env,
            port,
        )
        worker = subprocess.Popen(
            [str(BIN / "credit"), "worker"],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        rates = [float(r) for r in args.rates.split(",")]
        best = 0.0
        try:
            # Warm, unmeasured: a process's first requests and first pages pay for what it
            # builds once (statements, caches, the subjects' first reads), which set the first
            # rate's p99 and lag over every later rate's. Then the worker catches up.
            run_load(
                f"http://127.0.0.1:{port}",
                append_requests(ids, token, int(rates[0] * WARM_SECONDS), uuid.uuid4().hex[:6]),
                rates[0],
                WARM_SECONDS,
            )
            caught_up = projected_all(conninfo)
            print(
                f"{len(ids):,} subjects; {args.workers} API process(es) + 1 projection worker; "
                f"{args.seconds:.0f} s per rate, after {WARM_SECONDS:.0f} s at the first "
                f"unmeasured (the worker caught up {caught_up:.1f} s after it)"
            )
            for rate in rates:
                run = uuid.uuid4().hex[:6]
                requests = append_requests(ids, token, int(rate * args.seconds), run)
                sampler = LagSampler(conninfo, [])
                stop = threading.Event()
                thread = threading.Thread(target=sampler.run, args=(stop,))
                thread.start()
                api_before = process_tree_cpu_seconds(api.pid)
                worker_before = process_tree_cpu_seconds(worker.pid)
                database_before = postgres_cpu_seconds()
                result = run_load(
                    f"http://127.0.0.1:{port}",
                    requests,
                    rate,
                    args.seconds,
                    args.load_processes,
                )
                api_ms = (process_tree_cpu_seconds(api.pid) - api_before) * 1000
                time.sleep(2)  # let the projection finish what was appended
                worker_ms = (process_tree_cpu_seconds(worker.pid) - worker_before) * 1000
                database_ms = (postgres_cpu_seconds() - database_before) * 1000
                stop.set()
                thread.join()
                lags = sampler.lags_ms()
                statuses = ", ".join(f"{k}: {v}" for k, v in sorted(result.statuses.items()))
                answered = max(result.completed, 1)
                print(f"appends   {result.summary()}  ({statuses})")
                print(
                    f"          cpu per append: API {api_ms / answered:.2f} ms, projection "
                    f"worker {worker_ms / answered:.2f} ms, PostgreSQL "
                    f"{database_ms / answered:.2f} ms (the lag sampler's queries too); "
                    f"load average {os.getloadavg()[0]:.1f}"
                )
                print(
                    f"          projection lag p50 {percentile(lags, 50):7.1f} ms  "
                    f"p99 {percentile(lags, 99):7.1f} ms  max {max(lags or [0]):7.1f} ms"
                )
                if sustained(result):
                    best = max(best, result.achieved_rate)
        finally:
            api.terminate()
            worker.terminate()
            api.wait()
            worker.wait()
        baseline = library_baseline(url, args.seconds)
        print(f"library baseline: one save per event, closed loop: {baseline:,.0f} events/s")
        print(
            f"highest rate sustained (p99 under {SUSTAINED_P99_MS:.0f} ms, no errors): "
            f"{best:,.0f}/s; ratio to the library's loop {best / baseline:.2f}; "
            f"load average {os.getloadavg()[0]:.1f}"
        )


if __name__ == "__main__":
    main()
