"""The import's CPU per row in process: `import_stream` called directly on a national-format
penalty file held in memory, into a scratch PostgreSQL database, with the garbage collector as
the import sets it and, as the baseline in the same run, with it switched off.

    .venv/bin/python -m bench.import_cpu --rows 20000 --subjects 4000 [--keep-every-subject]
    .venv/bin/python -m bench.import_cpu --instructions

With `--instructions`, valgrind's count of the instructions per row instead, a figure the
machine's load does not move: two imports of files of 1,000 and 4,000 rows (a subject for five
rows), each into an empty store in a process of its own, the difference divided by 3,000.

Without the process start-up, the file on disk and the progress display that
`bench.import_throughput` includes, for comparing the import's own code; a sampling profiler
(py-spy) can be pointed at it, as at any process.
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import sys
import tempfile
import time

from bench.fixtures import machine, penalty_csv, scratch_postgres, valgrind_instructions

# The two files counted with --instructions, in rows (a subject for every five).
COUNTED_ROWS = (1_000, 4_000)


def import_cpu(data: bytes, url: str, batch_size: int, *, collector: bool) -> tuple[float, int]:
    """CPU seconds of one import of `data` into an empty store at `url`, and the rows accepted."""
    from service.bootstrap import build_services
    from service.commanding.importing.batch import import_stream
    from service.settings import Settings

    settings = Settings(environment="test", database_url=url, subject_id_key="bench")
    services = build_services(settings, migrate=False)
    try:
        if not collector:
            gc.disable()
        started = time.process_time()
        report = import_stream(
            io.BytesIO(data),
            "penalties.csv",
            services.files,
            recorded_by="bench",
            batch_size=batch_size,
        )
        return time.process_time() - started, report.accepted
    finally:
        gc.enable()
        services.close_sync()


def instructions_per_row(batch_size: int) -> float:
    """Valgrind's instructions for importing COUNTED_ROWS[1] rows less those for COUNTED_ROWS[0],
    per row: start-up, the service's building and the first use of each path drop out."""
    counts = []
    for rows in COUNTED_ROWS:
        with tempfile.NamedTemporaryFile(suffix=".csv") as file, scratch_postgres() as url:
            file.write(penalty_csv(rows, rows // 5))
            file.flush()
            arguments = ["-m", "bench.import_cpu", "--file", file.name, "--url", url]
            count, _ = valgrind_instructions([*arguments, "--batch-size", str(batch_size)])
            counts.append(count)
    return (counts[1] - counts[0]) / (COUNTED_ROWS[1] - COUNTED_ROWS[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--subjects", type=int, default=4_000)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument(
        "--keep-every-subject",
        action="store_true",
        help="lift the import's bound on the subjects it keeps between batches (memory no import "
        "may take: what reading subjects back from the store costs, by difference)",
    )
    parser.add_argument("--instructions", action="store_true", help="count them (valgrind)")
    parser.add_argument("--file", help=argparse.SUPPRESS)  # a counted run's file
    parser.add_argument("--url", help=argparse.SUPPRESS)  # and its store
    args = parser.parse_args()
    if args.file is not None:
        with open(args.file, "rb") as counted:
            import_cpu(counted.read(), args.url, args.batch_size, collector=True)
        return
    if args.instructions:
        print(f"command: python -m bench.import_cpu {' '.join(sys.argv[1:])}")
        print(f"machine: {machine()}")
        print(f"instructions per row: {instructions_per_row(args.batch_size):,.0f}")
        return
    if args.keep_every_subject:
        from service.commanding.importing import batch

        batch.IMPORT_SUBJECTS_KEPT = batch.IMPORT_RECORDS_KEPT = sys.maxsize
    print(f"command: python -m bench.import_cpu {' '.join(sys.argv[1:])}")
    print(f"machine: {machine()}")
    data = penalty_csv(args.rows, args.subjects)
    figures = {}
    for collector in (True, False):
        load = os.getloadavg()[0]
        with scratch_postgres() as url:
            seconds, accepted = import_cpu(data, url, args.batch_size, collector=collector)
        assert accepted == args.rows, f"{accepted} of {args.rows} rows accepted"
        figures[collector] = seconds
        label = "collector as the import sets it" if collector else "collector off (baseline)"
        print(
            f"{label:34} {seconds:6.2f} s CPU, {seconds / args.rows * 1e6:5.0f} µs per row "
            f"(load average {load:.2f})"
        )
    print(f"ratio to the collector off: {figures[True] / figures[False]:.2f}")


if __name__ == "__main__":
    main()
