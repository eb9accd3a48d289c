"""Instructions per access-log commit on PostgreSQL: batches of entries appended to the access
log as the group commit writes them (`AccessLog.append_on_asyncpg` on the event loop, the
writer's connection held; one transaction a batch), in one statement as while the process appends
alone and in four as after another writer's append, and, as the baseline in the same run, as
psycopg writes them (`AccessLog.append`, a pool checkout with its ping a batch: the group
commit's path before, and still its path on SQLite or under tracing). Counted by valgrind over a
child process, once with `--batches` batches and once with five times as many; the difference
over the extra batches is the figure, start-up and warm-up left out. valgrind counts the
process's own instructions, not the kernel's: a round trip's system calls are not in them, so
`--cpu` also times each path's commits in process (user and system CPU, the least of `--rounds`
runs), where they are.

    python -m bench.access_log_profile --batches 40 --batch-size 4 --cpu
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid

from bench.fixtures import machine, scratch_postgres, valgrind_instructions
from service.access.access_log import AccessEntry, AccessLog
from service.store.database import Database
from service.store.read_store import access_log_engine, sync_engine

PATHS = {
    "one-statement": "the group commit's on asyncpg, alone on the chain: one statement",
    "four-statements": "the group commit's on asyncpg, after another writer: four statements",
    "psycopg": "baseline, psycopg with a checkout and ping a commit",
}


def batch(n: int, size: int) -> list[AccessEntry]:
    """Entries as a status read logs them: who, for what, and the status it returned."""
    return [
        AccessEntry(
            f"client-{n % 7}",
            "agency",
            "11410100MB0000001",
            uuid.UUID(int=n * size + k),
            "status",
            "supervision",
            {"status": "published", "grade": "B", "records": n % 5, "名称": "行政许可"},
        )
        for k in range(size)
    ]


def counted_loop(url: str, batches: int, size: int, path: str) -> float:
    """The child process valgrind counts: a warm-up, then `batches` commits. Returns the CPU
    (user and system) per commit of these."""
    database = Database.from_url(url)
    log = AccessLog(sync_engine(database))
    if path == "psycopg":
        for n in range(10):
            log.append(batch(n, size))
        started = time.process_time()
        for n in range(10, 10 + batches):
            log.append(batch(n, size))
        cpu = (time.process_time() - started) / batches
    else:
        cpu = asyncio.run(on_the_event_loop(log, database, batches, size, path == "one-statement"))
    return cpu


async def on_the_event_loop(
    log: AccessLog, database: Database, batches: int, size: int, alone: bool
) -> float:
    engine = access_log_engine(database)
    async with engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        started = 0.0
        for n in range(10 + batches):
            if n == 10:
                started = time.process_time()
            if not alone:
                log.chain._alone = False  # as after another writer's append: four statements
            await log.append_on_asyncpg(driver, engine.dialect, batch(n, size))
        cpu = (time.process_time() - started) / batches
    await engine.dispose()
    return cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument(
        "--cpu", action="store_true", help="also time each path's commits in process"
    )
    parser.add_argument("--rounds", type=int, default=5, help="runs of each path with --cpu")
    parser.add_argument("--counted-loop", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--path", choices=PATHS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.counted_loop:
        counted_loop(args.counted_loop, args.batches, args.batch_size, args.path)
        print(f"appended {args.batches}")
        return
    print(f"command: python -m bench.access_log_profile {' '.join(sys.argv[1:])}")
    print(f"machine: {machine()}, load average {os.getloadavg()[0]:.1f}")
    per_batch = {path: per_commit(path, args.batches, args.batch_size) for path in PATHS}
    for path, label in PATHS.items():
        print(
            f"instructions per access-log commit of {args.batch_size} entries (valgrind), "
            f"{label}: {per_batch[path]:,.0f}, {per_batch[path] / args.batch_size:,.0f} per entry, "
            f"ratio to the baseline {per_batch[path] / per_batch['psycopg']:.2f}"
        )
    if args.cpu:
        cpu: dict[str, list[float]] = {path: [] for path in PATHS}
        with scratch_postgres() as url:
            for _ in range(args.rounds):  # the paths interleaved: the machine's load moves
                for path in PATHS:
                    cpu[path].append(counted_loop(url, args.batches * 5, args.batch_size, path))
        for path, label in PATHS.items():
            least = min(cpu[path])
            print(
                f"CPU per access-log commit of {args.batch_size} entries (in process, least of "
                f"{args.rounds}), {label}: {least * 1e6:,.0f} µs, ratio to the baseline "
                f"{least / min(cpu['psycopg']):.2f}"
            )
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


def per_commit(path: str, batches: int, size: int) -> float:
    counts = []
    for commits in (batches, 5 * batches):
        with scratch_postgres() as url:  # each run on an empty log, as the other
            refs, printed = valgrind_instructions(
                [
                    "-m",
                    "bench.access_log_profile",
                    "--counted-loop",
                    url,
                    "--batches",
                    str(commits),
                    "--batch-size",
                    str(size),
                    "--path",
                    path,
                ]
            )
        assert f"appended {commits}" in printed, printed[-2000:]
        counts.append(refs)
    return (counts[1] - counts[0]) / (4 * batches)


if __name__ == "__main__":
    main()
