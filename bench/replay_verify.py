"""Replay verification on PostgreSQL: rebuild every read model from the log into a scratch
database and compare it with the live one, events/s.

    .venv/bin/python -m bench.replay_verify --rows 100000 --subjects 20000
"""

from __future__ import annotations

import argparse
import io
import sys
import time

from bench.fixtures import machine, penalty_csv, scratch_postgres
from service.bootstrap import build_services
from service.importing import import_stream
from service.replay_check import verify_read_models
from service.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--subjects", type=int, default=20_000)
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
        services.runner.catch_up()
        started = time.perf_counter()
        report = verify_read_models(services)
        seconds = time.perf_counter() - started
        services.close_sync()
    print(f"command: python -m bench.replay_verify {' '.join(sys.argv[1:])}")
    print(f"machine: {machine()}")
    print(
        f"replayed {report.events:,} events and compared {report.rows_compared:,} rows in "
        f"{seconds:.1f} s: {report.events / seconds:,.0f} events/s; "
        f"differences: {len(report.differences)}"
    )


if __name__ == "__main__":
    main()
