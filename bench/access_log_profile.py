"""Instructions per access-log commit on PostgreSQL: batches of entries appended to the access
log as the group commit writes them (`AccessLog.append`, one transaction a batch), counted by
valgrind over a child process, once with `--batches` batches and once with five times as many;
the difference over the extra batches is the figure, start-up and warm-up left out.

    python -m bench.access_log_profile --batches 40 --batch-size 4
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid

from bench.fixtures import machine, scratch_postgres, valgrind_instructions
from service.access.access_log import AccessEntry, AccessLog
from service.store.database import Database
from service.store.read_store import sync_engine


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


def counted_loop(url: str, batches: int, size: int) -> None:
    """The child process valgrind counts: a warm-up, then `batches` commits."""
    log = AccessLog(sync_engine(Database.from_url(url)))
    for n in range(10):
        log.append(batch(n, size))
    for n in range(batches):
        log.append(batch(n, size))
    print(f"appended {batches}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--counted-loop", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.counted_loop:
        counted_loop(args.counted_loop, args.batches, args.batch_size)
        return
    print(f"command: python -m bench.access_log_profile {' '.join(sys.argv[1:])}")
    print(f"machine: {machine()}, load average {os.getloadavg()[0]:.1f}")
    counts = []
    for batches in (args.batches, 5 * args.batches):
        with scratch_postgres() as url:  # each run on an empty log, as the other
            refs, printed = valgrind_instructions(
                [
                    "-m",
                    "bench.access_log_profile",
                    "--counted-loop",
                    url,
                    "--batches",
                    str(batches),
                    "--batch-size",
                    str(args.batch_size),
                ]
            )
        assert f"appended {batches}" in printed, printed[-2000:]
        counts.append(refs)
    per_batch = (counts[1] - counts[0]) / (4 * args.batches)
    print(
        f"instructions per access-log commit of {args.batch_size} entries (valgrind): "
        f"{per_batch:,.0f}, {per_batch / args.batch_size:,.0f} per entry"
    )
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
