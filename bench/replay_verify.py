"""Replay verification on PostgreSQL: rebuild every read model from the log into a scratch
database and compare it with the live one; events/s of the replay and of the whole check, and
of `credit rebuild`'s path (the live read models rebuilt in place) on the same store. The
baseline, in the same run: reading and decoding every event in the same pages and projecting
nothing, which any replay pays.

    .venv/bin/python -m bench.replay_verify --rows 100000 --subjects 20000 --runs 3
"""

from __future__ import annotations

import argparse
import io
import sys
import time

from bench.fixtures import machine, penalty_csv, scratch_postgres
from projections.runner import BULK_PAGE_SIZE
from service.bootstrap import build_services
from service.commanding.importing.batch import import_stream
from service.replay.check import verify_read_models
from service.settings import Settings


def read_and_decode(services) -> int:
    position, count = 0, 0
    while notifications := services.runner.recorder.select_notifications(
        position, BULK_PAGE_SIZE, inclusive_of_start=False
    ):
        count += len([services.ledger.mapper.to_domain_event(n) for n in notifications])
        position = notifications[-1].id
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--subjects", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3, help="checks to run; the best is shown")
    args = parser.parse_args()
    with scratch_postgres() as url:
        services = build_services(
            Settings(environment="test", database_url=url, subject_id_key="bench"), migrate=False
        )
        import_stream(
            io.BytesIO(penalty_csv(args.rows, args.subjects)),
            "bench.csv",
            services.files,
            recorded_by="bench",
            batch_size=2000,
        )
        started = time.perf_counter()
        caught_up = services.runner.catch_up()  # the live runner's own pages
        catch_up_seconds = time.perf_counter() - started
        # What autovacuum does after a bulk load (PostgreSQL 13+ vacuums after inserts too);
        # otherwise the first replay sets every row's hint bits and races autovacuum.
        with services.write_engine.connect().execution_options(
            isolation_level="AUTOCOMMIT"
        ) as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE)")
        checks = []
        for _ in range(args.runs):
            started = time.perf_counter()
            report = verify_read_models(services)
            checks.append((time.perf_counter() - started, report))
        baselines = []
        for _ in range(args.runs):
            started = time.perf_counter()
            decoded = read_and_decode(services)
            baselines.append(time.perf_counter() - started)
        rebuilds = []
        for _ in range(args.runs):
            started = time.perf_counter()
            rebuilt = services.runner.rebuild(page_size=BULK_PAGE_SIZE)
            rebuilds.append(time.perf_counter() - started)
        services.close_sync()
    seconds, report = min(checks, key=lambda check: check[0])
    phases = ", ".join(f"{phase} {s:.2f} s" for phase, s in report.seconds.items())
    print(f"command: python -m bench.replay_verify {' '.join(sys.argv[1:])}")
    print(f"machine: {machine()}")
    print(
        f"replay check: {report.events:,} events replayed, {report.rows_compared:,} rows "
        f"compared, {report.difference_count} differences; best of {len(checks)} "
        f"in {seconds:.2f} s ({phases})"
    )
    print(
        f"  replay {report.replay_rate:,.0f} events/s; whole check "
        f"{report.events / seconds:,.0f} events/s "
        f"(all runs: {', '.join(f'{s:.2f} s' for s, _ in checks)})"
    )
    print(
        f"baseline, read and decode only: {decoded:,} events, best of {len(baselines)} in "
        f"{min(baselines):.2f} s: {decoded / min(baselines):,.0f} events/s; ratio replay / "
        f"baseline {report.replay_rate / (decoded / min(baselines)):.2f}"
    )
    print(
        f"live runner catching up after the import (pages of "
        f"{Settings().projection_page_size:,}): {caught_up:,} events in {catch_up_seconds:.2f} s: "
        f"{caught_up / catch_up_seconds:,.0f} events/s"
    )
    print(
        f"credit rebuild (live tables, in place): {rebuilt:,} events, best of {len(rebuilds)} "
        f"in {min(rebuilds):.2f} s: {rebuilt / min(rebuilds):,.0f} events/s "
        f"(all runs: {', '.join(f'{s:.2f} s' for s in rebuilds)})"
    )


if __name__ == "__main__":
    main()
