"""Rebuilding subjects from their streams, as an import does for each batch's subjects that its
cache no longer holds (`CreditLedger.load_many`): CPU and instructions per subject.

    .venv/bin/python -m bench.subject_loads --rows 20000 --subjects 4000 --instructions

An import of a large file keeps a bounded number of subjects between its batches; past that,
a batch's subjects are read back and rebuilt from their events, which at a million rows for
200,000 subjects is most of them. The store is made by the import itself (`import_stream` of
the benchmark's penalty file, into a scratch PostgreSQL database), then every subject is
loaded in batches of 2,000 ids, as the import asks. CPU is the best of `--rounds` loads of all
of them in this process. Instructions are counted by valgrind in a child that loads them all
once and one that loads them three times, the difference divided by the loads between, so that
the start-up drops out.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from typing import Any

from bench.fixtures import machine, penalty_csv, scratch_postgres, valgrind_instructions

BATCH = 2000  # ids per load_many call, an import batch's


def services(url: str) -> Any:
    from service.bootstrap import build_services
    from service.settings import Settings

    settings = Settings(environment="test", database_url=url, subject_id_key="bench")
    return build_services(settings, migrate=False)


def subject_ids(built: Any) -> list[Any]:
    rows = built.files.ledger._select("SELECT DISTINCT originator_id, 1 FROM {table}", "", (), ())
    return sorted(row[0] for row in rows)


def load_all(built: Any, ids: list[Any]) -> int:
    """Every subject loaded once, in batches as an import asks; the events replayed."""
    events = 0
    for start in range(0, len(ids), BATCH):
        loaded = built.files.ledger.load_many(set(ids[start : start + BATCH]))
        events += sum(subject.version for subject in loaded.values())
    return events


def counted(url: str, repeats: int) -> None:
    built = services(url)
    try:
        ids = subject_ids(built)
        load_all(built, ids[:BATCH])  # first-use caches out of the difference
        for _ in range(repeats):
            load_all(built, ids)
    finally:
        built.close_sync()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--subjects", type=int, default=4_000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--instructions", action="store_true", help="count (valgrind)")
    parser.add_argument("--url", help=argparse.SUPPRESS)  # a counted run's store
    parser.add_argument("--repeats", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.url is not None:
        counted(args.url, args.repeats)
        return
    from service.commanding.importing.batch import import_stream

    print(f"command: python -m bench.subject_loads {' '.join(sys.argv[1:])}")
    print(f"machine: {machine()}")
    with scratch_postgres() as url:
        built = services(url)
        try:
            data = io.BytesIO(penalty_csv(args.rows, args.subjects))
            import_stream(data, "penalties.csv", built.files, recorded_by="bench", batch_size=BATCH)
            ids = subject_ids(built)
            seconds = []
            for _ in range(args.rounds):
                started = time.process_time()
                events = load_all(built, ids)
                seconds.append(time.process_time() - started)
        finally:
            built.close_sync()
        seconds.sort()
        print(
            f"store: {len(ids):,} subjects, {events:,} events ({events / len(ids):.1f} a subject)"
        )
        print(
            f"load_many: {seconds[0] / len(ids) * 1e6:,.0f} µs CPU per subject, best of "
            f"{args.rounds} (median {seconds[len(seconds) // 2] / len(ids) * 1e6:,.0f}), "
            f"{seconds[0] / events * 1e6:,.1f} µs per event"
        )
        if args.instructions:
            counts = {}
            for repeats in (1, 3):
                arguments = ["-m", "bench.subject_loads", "--url", url, "--repeats", str(repeats)]
                counts[repeats], _ = valgrind_instructions(arguments)
            per_subject = (counts[3] - counts[1]) / (2 * len(ids))
            print(
                f"instructions per subject loaded (valgrind, 3 loads of all less 1): "
                f"{per_subject:,.0f}, {per_subject * len(ids) / events:,.0f} per event"
            )


if __name__ == "__main__":
    main()
