"""Rebuilding subjects from their streams, as an import does for each batch's subjects that its
cache no longer holds (`CreditLedger.load_many`): CPU and instructions per subject.

    .venv/bin/python -m bench.subject_loads --rows 20000 --subjects 4000 --instructions

An import of a large file keeps a bounded number of subjects between its batches; past that,
a batch's subjects are read back and rebuilt from their events, which at a million rows for
200,000 subjects is most of them. The store is made by the import itself (`import_stream` of
the benchmark's penalty file, into a scratch PostgreSQL database), then every subject is
loaded in batches of 2,000 ids, as the import asks, two ways: whole (every record's content
digest, as a subject read to answer has them) and as an import of new decision numbers asks
(the digests of its rows' decision numbers only, none of them here). CPU is the best of
`--rounds` loads of all of them in this process. Instructions are counted by valgrind in a
child that loads them all once and one that loads them three times, the difference divided by
the loads between, so that the start-up drops out.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from typing import Any

from bench.fixtures import machine, penalty_csv, scratch_postgres, valgrind_instructions

BATCH = 2000  # ids per load_many call, an import batch's
WAYS = {True: "whole", False: "for new rows"}


def services(url: str) -> Any:
    from service.bootstrap import build_services
    from service.settings import Settings

    settings = Settings(environment="test", database_url=url, subject_id_key="bench")
    return build_services(settings, migrate=False)


def subject_ids(built: Any) -> list[Any]:
    rows = built.files.ledger._select("SELECT DISTINCT originator_id, 1 FROM {table}", "", (), ())
    return sorted(row[0] for row in rows)


def load_all(built: Any, ids: list[Any], whole: bool) -> int:
    """Every subject loaded once, in batches as an import asks; the events replayed. `whole`:
    with every record's digest (as a subject is read to answer); else as an import of new
    decision numbers asks (the digests of the rows' decision numbers, none of them here)."""
    events = 0
    digests_for: set[str] | None = None if whole else set()
    for start in range(0, len(ids), BATCH):
        chunk = set(ids[start : start + BATCH])
        loaded = built.files.ledger.load_many(chunk, digests_for=digests_for)
        events += sum(subject.version for subject in loaded.values())
    return events


def counted(url: str, repeats: int, whole: bool) -> None:
    built = services(url)
    try:
        ids = subject_ids(built)
        load_all(built, ids[:BATCH], whole)  # first-use caches out of the difference
        for _ in range(repeats):
            load_all(built, ids, whole)
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
    parser.add_argument("--whole", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.url is not None:
        counted(args.url, args.repeats, args.whole)
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
            seconds: dict[bool, list[float]] = {True: [], False: []}
            for _ in range(args.rounds):
                for whole in (True, False):
                    started = time.process_time()
                    events = load_all(built, ids, whole)
                    seconds[whole].append(time.process_time() - started)
        finally:
            built.close_sync()
        print(
            f"store: {len(ids):,} subjects, {events:,} events ({events / len(ids):.1f} a subject)"
        )
        for whole in (True, False):
            best, median = min(seconds[whole]), sorted(seconds[whole])[args.rounds // 2]
            print(
                f"load_many, {WAYS[whole]}: {best / len(ids) * 1e6:,.0f} µs CPU per subject, "
                f"best of {args.rounds} (median {median / len(ids) * 1e6:,.0f}), "
                f"{best / events * 1e6:,.1f} µs per event"
            )
        if args.instructions:
            for whole in (True, False):
                counts = {}
                for repeats in (1, 3):
                    arguments = ["-m", "bench.subject_loads", "--url", url]
                    arguments += ["--repeats", str(repeats), *(["--whole"] if whole else [])]
                    counts[repeats], _ = valgrind_instructions(arguments)
                per_subject = (counts[3] - counts[1]) / (2 * len(ids))
                print(
                    f"instructions per subject loaded, {WAYS[whole]} (valgrind, 3 loads of all "
                    f"less 1): {per_subject:,.0f}, {per_subject * len(ids) / events:,.0f} per event"
                )


if __name__ == "__main__":
    main()
