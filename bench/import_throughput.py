"""Import throughput: a national-format penalty file into PostgreSQL with `credit import`, in
events/s, CPU seconds and peak memory of the import process, against a raw COPY of the same file
into a plain table (the hardware limit), in the same run; then `credit rebuild` of every read
model from the imported events.

    .venv/bin/python -m bench.import_throughput --rows 1000000 --subjects 200000

The file is written to disk first and the import streams it, as an operator would run it.
`--instructions` also counts the instructions per row of the import process (valgrind, the
difference between imports of 2,000 and 12,000 rows, so that start-up drops out); `--profile
FILE` runs the import under cProfile, writes its statistics to FILE and prints the costliest
functions.
"""

from __future__ import annotations

import argparse
import csv
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from sqlalchemy import make_url

from bench.fixtures import (
    PENALTY_COLUMNS,
    machine,
    one_row,
    parallel_ceiling,
    penalty_rows,
    process_tree_rss_mb,
    scratch_postgres,
    valgrind_instructions,
)

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]


def write_file(path: Path, rows: int, subjects: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(PENALTY_COLUMNS)
        writer.writerows(penalty_rows(rows, subjects))


def run_measured(args: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Run a command; return its wall seconds, peak resident memory in MB (of the process and
    the processes it starts, together, sampled every second: each sample reads all of /proc)
    and CPU seconds (theirs too)."""
    with tempfile.TemporaryFile() as output:
        started = time.perf_counter()
        process = subprocess.Popen(
            args, cwd=ROOT, env={**os.environ, **env}, stdout=output, stderr=output
        )
        peak_mb = 0.0
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            peak_mb = max(peak_mb, process_tree_rss_mb(process.pid))
            time.sleep(1.0)
        elapsed = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            output.seek(0)
            raise RuntimeError(f"{args[1]} failed: {output.read().decode()[-2000:]}")
    return elapsed, max(peak_mb, usage.ru_maxrss / 1024), usage.ru_utime + usage.ru_stime


def import_args(
    path: Path, batch_size: int, prefix: list[str] | None = None, processes: int = 1
) -> list[str]:
    """`credit import` of the file, as an operator runs it (after `prefix`: a profiler)."""
    command = [str(BIN / "credit")] if prefix is None else [*prefix, str(BIN / "credit")]
    return [
        *command,
        "import",
        str(path),
        "--recorded-by",
        "bench",
        "--batch-size",
        str(batch_size),
        "--processes",
        str(processes),
    ]


def bench_env(url: str) -> dict[str, str]:
    return {
        "CREDIT_DATABASE_URL": url,
        "CREDIT_SUBJECT_ID_KEY": "bench",
        "CREDIT_MIGRATE_ON_START": "false",
    }


# The two imports whose difference counts instructions per row: start-up and the first batches
# (imports, caches) drop out. Rows per subject as in the measured file.
COUNTED_ROWS = (2_000, 12_000)


def counted_instructions(folder: Path, rows: int, subjects: int, batch_size: int) -> int:
    """Instructions valgrind counts in `credit import` of `rows` rows, in a database of its own."""
    path = folder / f"counted-{rows}.csv"
    write_file(path, rows, subjects)
    with scratch_postgres() as url:
        # Under valgrind a batch's transaction runs some fifty times slower: past the library's
        # 5 s limit on a transaction left idle, which would end the connection.
        env = {**os.environ, **bench_env(url), "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "0"}
        # The console script is a Python file: valgrind counts the interpreter running it.
        refs, _ = valgrind_instructions(import_args(path, batch_size, []), env=env, cwd=ROOT)
    return refs


def instructions_per_row(folder: Path, rows: int, subjects: int, batch_size: int) -> float:
    small, large = COUNTED_ROWS
    per_subject = rows / subjects
    counts = [
        counted_instructions(folder, n, max(1, round(n / per_subject)), batch_size)
        for n in (small, large)
    ]
    return (counts[1] - counts[0]) / (large - small)


def print_profile(path: Path, top: int = 30) -> None:
    stats = pstats.Stats(str(path))
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)


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
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions per row (valgrind)"
    )
    parser.add_argument("--profile", type=Path, help="cProfile the import into this file")
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="import with this many processes (`credit import --processes`); with more than "
        "one, an import by one process runs too, into a database of its own, for the speed-up",
    )
    args = parser.parse_args()
    print(f"command: python -m bench.import_throughput {' '.join(sys.argv[1:])}")
    print(f"machine: {machine()}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="credit-bench-") as folder, scratch_postgres() as url:
        path = Path(folder) / "penalties.csv"
        write_file(path, args.rows, args.subjects)
        env = bench_env(url)
        profiler = None
        if args.profile is not None:
            profiler = [sys.executable, "-m", "cProfile", "-o", str(args.profile.resolve())]
        import_seconds, import_mb, import_cpu = run_measured(
            import_args(path, args.batch_size, profiler, args.processes), env
        )
        by_one, ceiling = None, 1.0
        if args.processes > 1:
            ceiling = parallel_ceiling(args.processes)
            with scratch_postgres() as one_url:
                by_one = run_measured(import_args(path, args.batch_size), bench_env(one_url))
        conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(conninfo) as conn:
            events = one_row(conn, "SELECT count(*) FROM credit_events")[0]
            sealed = one_row(conn, "SELECT count(*) FROM event_seals")[0]
        rebuild = None
        if not args.skip_rebuild:
            rebuild = run_measured([str(BIN / "credit"), "rebuild"], env)[:2]
        baseline = raw_copy_rate(conninfo, path, args.rows)
        size_mb = path.stat().st_size / 1e6
        load = os.getloadavg()
        per_row = None
        if args.instructions:
            per_row = instructions_per_row(Path(folder), args.rows, args.subjects, args.batch_size)
    rate = events / import_seconds
    print(
        f"file: {args.rows:,} penalty rows for {args.subjects:,} subjects, {size_mb:,.0f} MB; "
        f"{events:,} events incl. registrations ({sealed:,} sealed); batch size {args.batch_size}"
    )
    by = f"by {args.processes} processes" if args.processes > 1 else "by one process"
    print(
        f"import {by} (parse, validate, register, append, seal): {rate:10,.0f} events/s "
        f"({import_seconds:.1f} s), peak RSS of the import's processes {import_mb:,.0f} MB"
    )
    print(
        f"CPU of the import's processes: {import_cpu:.1f} s, {events / import_cpu:,.0f} events "
        f"per CPU second, {import_cpu / args.rows * 1e6:,.0f} µs per row"
    )
    if by_one is not None:
        one_seconds, one_mb, one_cpu = by_one
        print(
            f"the same import by one process:                 {events / one_seconds:10,.0f} "
            f"events/s ({one_seconds:.1f} s, CPU {one_cpu:.1f} s), peak RSS {one_mb:,.0f} MB"
        )
        print(
            f"speed-up of {args.processes} processes: {one_seconds / import_seconds:.2f} "
            f"(on this machine {args.processes} Python processes that only compute do "
            f"{ceiling:.2f} times the work of one)"
        )
    if rebuild:
        print(
            f"rebuild of every read model from those events:   {events / rebuild[0]:10,.0f} "
            f"events/s ({rebuild[0]:.1f} s), peak RSS {rebuild[1]:,.0f} MB"
        )
    print(f"baseline raw COPY of the same file:                {baseline:10,.0f} rows/s")
    print(f"ratio import events/s / COPY rows/s: {rate / baseline:.3f}")
    print(f"load average after the import and COPY: {' '.join(f'{x:.2f}' for x in load)}")
    if per_row is not None:
        small, large = COUNTED_ROWS
        print(
            f"instructions per row of the import process (valgrind, {large:,} rows less "
            f"{small:,}): {per_row:,.0f}"
        )
    if args.profile is not None:
        print_profile(args.profile)


if __name__ == "__main__":
    main()
