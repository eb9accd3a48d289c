"""Import throughput: national-format penalty rows into PostgreSQL, events/s, with a raw COPY
of the same rows into a plain table as the hardware baseline in the same run.

    .venv/bin/python -m bench.import_throughput --rows 100000 --subjects 20000
"""

from __future__ import annotations

import argparse
import io
import resource
import sys
import time

import psycopg
from sqlalchemy import make_url

from bench.fixtures import PENALTY_COLUMNS, machine, penalty_csv, penalty_rows, scratch_postgres
from service.bootstrap import build_services
from service.importing import import_stream
from service.settings import Settings


def raw_copy_rate(url: str, rows: int, subjects: int) -> float:
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as conn:
        conn.execute(
            "CREATE TABLE raw_penalties ("
            + ", ".join(f"{c.lower()} text" for c in PENALTY_COLUMNS)
            + ")"
        )
        started = time.perf_counter()
        with conn.cursor().copy("COPY raw_penalties FROM STDIN") as copy:
            for row in penalty_rows(rows, subjects):
                copy.write_row(row)
        conn.commit()
        return rows / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--subjects", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=2000)
    args = parser.parse_args()
    data = penalty_csv(args.rows, args.subjects)
    with scratch_postgres() as url:
        settings = Settings(environment="test", database_url=url, subject_id_key="bench")
        services = build_services(settings, migrate=False)
        started = time.perf_counter()
        report = import_stream(
            io.BytesIO(data),
            "bench.csv",
            services.files,
            recorded_by="bench",
            batch_size=args.batch_size,
        )
        import_seconds = time.perf_counter() - started
        assert report.accepted == args.rows, report.to_dict()
        events = report.accepted + len({r[2] for r in penalty_rows(args.rows, args.subjects)})
        started = time.perf_counter()
        projected = services.runner.catch_up()
        projection_seconds = time.perf_counter() - started
        services.close_sync()
        baseline = raw_copy_rate(url, args.rows, args.subjects)
    rate = events / import_seconds
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"command: python -m bench.import_throughput {' '.join(sys.argv[1:])}")
    print(f"machine: {machine()}")
    print(
        f"rows: {args.rows:,} penalty rows for {args.subjects:,} subjects "
        f"({events:,} events incl. registrations), batch size {args.batch_size}"
    )
    print(f"import (validate, register, append):  {rate:10,.0f} events/s  ({import_seconds:.1f} s)")
    print(
        f"projection catch-up of those events:  {projected / projection_seconds:10,.0f} events/s  "
        f"({projection_seconds:.1f} s)"
    )
    print(f"baseline raw COPY of the same rows:    {baseline:10,.0f} rows/s")
    print(
        f"ratio import / raw COPY: {rate / baseline:.3f}; peak RSS {peak_mb:,.0f} MB "
        f"(includes the file held in memory)"
    )


if __name__ == "__main__":
    main()
