"""Import throughput: a national-format penalty file into PostgreSQL with `credit import`, in
events/s and peak memory of the import process, against a raw COPY of the same file into a
plain table (the hardware limit), in the same run; then `credit rebuild` of every read model
from the imported events.

    .venv/bin/python -m bench.import_throughput --rows 1000000 --subjects 200000

The file is written to disk first and the import streams it, as an operator would run it.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from sqlalchemy import make_url

from bench.fixtures import PENALTY_COLUMNS, machine, one_row, penalty_rows, scratch_postgres

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]


def write_file(path: Path, rows: int, subjects: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(PENALTY_COLUMNS)
        writer.writerows(penalty_rows(rows, subjects))


def run_measured(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run a command; return its wall seconds and peak resident memory in MB."""
    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        process = subprocess.Popen(
            args, cwd=ROOT, env={**os.environ, **env}, stdout=output, stderr=output
        )
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            output.seek(0)
            raise RuntimeError(f"{args[1]} failed: {output.read().decode()[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024


def raw_copy_rate(conninfo: str, path: Path, rows: int, table: str = "raw_penalties") -> float:
    with psycopg.connect(conninfo) as conn:
        conn.execute(
            f"CREATE TABLE {table} ("
            + ", ".join(f"{c.lower()} text" for c in PENALTY_COLUMNS)
            + ")"
        )
        started = time.perf_counter()
        with (
            path.open("rb") as source,
            conn.cursor().copy(f"COPY {table} FROM STDIN (FORMAT csv, HEADER)") as copy,
        ):
            while chunk := source.read(1 << 20):
                copy.write(chunk)
        conn.commit()
        return rows / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--subjects", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--skip-rebuild", action="store_true")
    args = parser.parse_args()
    print(f"command: python -m bench.import_throughput {' '.join(sys.argv[1:])}")
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="credit-bench-") as folder, scratch_postgres() as url:
        path = Path(folder) / "penalties.csv"
        write_file(path, args.rows, args.subjects)
        env = {
            "CREDIT_DATABASE_URL": url,
            "CREDIT_SUBJECT_ID_KEY": "bench",
            "CREDIT_MIGRATE_ON_START": "false",
        }
        import_seconds, import_mb = run_measured(
            [
                str(BIN / "credit"),
                "import",
                str(path),
                "--recorded-by",
                "bench",
                "--batch-size",
                str(args.batch_size),
            ],
            env,
        )
        conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(conninfo) as conn:
            events = one_row(conn, "SELECT count(*) FROM credit_events")[0]
            sealed = one_row(conn, "SELECT count(*) FROM event_seals")[0]
        rebuild = None
        if not args.skip_rebuild:
            rebuild = run_measured([str(BIN / "credit"), "rebuild"], env)
        baseline = raw_copy_rate(conninfo, path, args.rows)
        size_mb = path.stat().st_size / 1e6
    rate = events / import_seconds
    print(
        f"file: {args.rows:,} penalty rows for {args.subjects:,} subjects, {size_mb:,.0f} MB; "
        f"{events:,} events incl. registrations ({sealed:,} sealed); batch size {args.batch_size}"
    )
    print(
        f"import (parse, validate, register, append, seal): {rate:10,.0f} events/s "
        f"({import_seconds:.1f} s), peak RSS of the import process {import_mb:,.0f} MB"
    )
    if rebuild:
        print(
            f"rebuild of every read model from those events:   {events / rebuild[0]:10,.0f} "
            f"events/s ({rebuild[0]:.1f} s), peak RSS {rebuild[1]:,.0f} MB"
        )
    print(f"baseline raw COPY of the same file:                {baseline:10,.0f} rows/s")
    print(f"ratio import events/s / COPY rows/s: {rate / baseline:.3f}")


if __name__ == "__main__":
    main()
