"""Growth: the status query's latency and the import's rate as the store grows to 10,000,
100,000 and 1,000,000 subjects, each against a baseline measured at the same size in the same
run (a bare FastAPI + asyncpg primary-key read of the same subjects table; a raw COPY of the
same probe file).

    .venv/bin/python -m bench.growth --sizes 10000,100000,1000000

At each size the store is first filled with `credit import` (one penalty for each new subject),
the read models catch up, and the tables are analysed as autovacuum would after such a load.
Then, at that size:
- a probe import of the same shape every time (half penalties for subjects already held,
  whose streams must be read back, half for new subjects) gives the import rate;
- status requests over HTTP for subjects drawn from the whole store, at a fixed offered rate
  well below saturation, give the p50 (and p99) of the service and of the baseline.
The service's p50 at the largest size over its p50 at the smallest is the figure the target
(at most 1.2) is about.
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import random
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from sqlalchemy import make_url

from bench.fixtures import (
    AUTHORITY_CODE,
    PENALTY_COLUMNS,
    analyse,
    machine,
    one_row,
    penalty_row,
    scratch_postgres,
    server_env,
)
from bench.import_throughput import BIN, raw_copy_rate, run_measured
from bench.loadgen import run_load
from bench.status_latency import start_service_and_baseline

PROBE_ROWS = 40_000  # large enough that the process's start-up is a small part
STATUS_RATE = 50.0


def write_penalties(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(PENALTY_COLUMNS)
        writer.writerows(rows)


class Numbering:
    """Decision numbers unique across every file of the run."""

    def __init__(self) -> None:
        self.next = 0

    def take(self) -> int:
        self.next += 1
        return self.next


def fill_rows(first: int, last: int, numbers: Numbering, rng: random.Random):
    """Streamed, not listed: the import child's peak memory is read when it exits, and a
    child forked from a large parent starts out as large as the parent."""
    return (penalty_row(numbers.take(), subject, rng) for subject in range(first, last))


def probe_rows(held: int, numbers: Numbering, rng: random.Random) -> list[list[str]]:
    """Half for subjects already held (drawn from all of them), half for new ones just above."""
    old = [penalty_row(numbers.take(), rng.randrange(held), rng) for _ in range(PROBE_ROWS // 2)]
    new = list(fill_rows(held, held + PROBE_ROWS // 2, numbers, rng))
    mixed = old + new
    rng.shuffle(mixed)
    return mixed


def import_file(path: Path, env: dict[str, str]) -> tuple[float, float]:
    args = [str(BIN / "credit"), "import", str(path), "--recorded-by", "bench"]
    return run_measured(args, env)[:2]


def counts(conninfo: str) -> tuple[int, int]:
    with psycopg.connect(conninfo) as conn:
        events = one_row(conn, "SELECT count(*) FROM credit_events")[0]
        subjects = one_row(conn, "SELECT count(*) FROM subjects")[0]
    return events, subjects


def database_mb(conninfo: str) -> float:
    with psycopg.connect(conninfo) as conn:
        return one_row(conn, "SELECT pg_database_size(current_database())")[0] / 1e6


def catch_up(url: str) -> tuple[int, float]:
    """Bring the read models up to the log's head, in a process of its own (so that this one
    stays small); returns events applied and seconds."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_catch_up, (url,))


def _catch_up(url: str) -> tuple[int, float]:
    from projections.runner import BULK_PAGE_SIZE
    from service.bootstrap import build_services
    from service.settings import Settings

    services = build_services(
        Settings(environment="test", database_url=url, subject_id_key="bench"), migrate=False
    )
    try:
        started = time.perf_counter()
        applied = services.runner.catch_up(page_size=BULK_PAGE_SIZE)
        return applied, time.perf_counter() - started
    finally:
        services.close_sync()


def make_token(url: str, client_id: str) -> str:
    from service.bootstrap import build_services
    from service.settings import Settings

    services = build_services(
        Settings(environment="test", database_url=url, subject_id_key="bench"), migrate=False
    )
    try:
        client, _ = services.clients.create(client_id, "agency", "基准测试", AUTHORITY_CODE)
        return services.tokens.issue(client).access_token
    finally:
        services.close_sync()


def subject_ids(conninfo: str, sample: int, rng: random.Random) -> list[str]:
    with psycopg.connect(conninfo) as conn:
        count = one_row(conn, "SELECT count(*) FROM subjects")[0]
        ids = [
            str(r[0])
            for r in conn.execute(
                "SELECT subject_id FROM subjects TABLESAMPLE BERNOULLI (%s)",
                (min(100.0, 100.0 * 3 * sample / count),),
            )
        ]
    return [rng.choice(ids) for _ in range(sample)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"command: python -m bench.growth {' '.join(sys.argv[1:])}")
    print(f"machine: {machine()}")
    rng = random.Random(11)
    numbers = Numbering()
    with tempfile.TemporaryDirectory(prefix="credit-bench-") as folder, scratch_postgres() as url:
        conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        env = server_env(url)
        ports, servers = start_service_and_baseline(env, conninfo)
        p50s: dict[str, dict[int, float]] = {"service": {}, "baseline": {}}
        held = 0
        try:
            for size in sizes:
                fill = Path(folder) / f"fill-{size}.csv"
                write_penalties(fill, fill_rows(held, size, numbers, rng))
                before, _ = counts(conninfo)
                fill_seconds, _ = import_file(fill, env)
                after, _ = counts(conninfo)
                fill.unlink()
                applied, projected = catch_up(url)
                analyse(url)
                held = size
                print(
                    f"\n{size:,} subjects: filled with {after - before:,} events in "
                    f"{fill_seconds:.0f} s ({(after - before) / fill_seconds:,.0f} events/s), "
                    f"read models caught up in {projected:.0f} s "
                    f"({applied / projected:,.0f} events/s); "
                    f"database {database_mb(conninfo):,.0f} MB"
                )
                probe = Path(folder) / f"probe-{size}.csv"
                write_penalties(probe, probe_rows(held, numbers, rng))
                before, _ = counts(conninfo)
                probe_seconds, probe_mb = import_file(probe, env)
                after, _ = counts(conninfo)
                copy_rate = raw_copy_rate(conninfo, probe, PROBE_ROWS, table=f"raw_{size}")
                probe.unlink()
                held += PROBE_ROWS // 2
                catch_up(url)
                rate = (after - before) / probe_seconds
                print(
                    f"  probe import of {PROBE_ROWS:,} rows: {rate:,.0f} events/s "
                    f"(peak RSS {probe_mb:,.0f} MB); raw COPY {copy_rate:,.0f} rows/s; "
                    f"ratio {rate / copy_rate:.3f}"
                )
                sample = subject_ids(conninfo, 2000, rng)
                # a token of its own at each size: filling a million subjects outlasts one
                auth = {"Authorization": f"Bearer {make_token(url, f'bench-agency-{size}')}"}
                requests = [("GET", f"/v1/subjects/{sid}/status", auth, b"") for sid in sample]
                for name, port in ports.items():
                    run_load(f"http://127.0.0.1:{port}", requests[:100], 50, 2)  # warm
                    result = run_load(
                        f"http://127.0.0.1:{port}", requests, STATUS_RATE, args.seconds
                    )
                    print(f"  status {name:9s} {result.summary()}  {dict(result.statuses)}")
                    if result.errors:
                        raise SystemExit(f"{name} answered with errors at {size:,} subjects")
                    p50s[name][size] = result.percentile(50)
        finally:
            for process in servers.values():
                process.terminate()
                process.wait()
    first, last = sizes[0], sizes[-1]
    print()
    for name in p50s:
        print(
            f"{name}: p50 at {last:,} subjects / p50 at {first:,}: "
            f"{p50s[name][last] / p50s[name][first]:.2f}"
        )


if __name__ == "__main__":
    main()
