"""`credit rebuild` on PostgreSQL: a new generation of every read model built beside the live one
and switched in, against the old in-place rebuild (emptying the live tables and replaying into
them) on the same store, and the baseline of reading and decoding every event, which any
rebuild pays; with `--partitions N`, first the new generation built by N processes, one per
subject partition (their start-up included). Prints events/s, the ratio to the 20,000 events/s
target, CPU time per event of the rebuilding processes and of the PostgreSQL backends serving
them, and, with `--instructions`,
instructions per event of the rebuilding process (valgrind's count, as the difference between
two replays of different lengths, so that start-up is left out: this machine's `perf` has no
hardware counters).

    .venv/bin/python -m bench.rebuild --rows 100000 --subjects 20000 --runs 2
    .venv/bin/python -m bench.rebuild --database credit_bench_rebuild_1m --runs 1 --instructions
    .venv/bin/python -m bench.rebuild --rows 166000 --subjects 34000 --runs 1 --partitions 2
"""

from __future__ import annotations

import argparse
import io
import os
import re
import resource
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy import make_url

from bench.fixtures import (
    ADMIN_URL,
    machine,
    penalty_csv,
    scratch_postgres,
    valgrind_instructions,
)
from projections.runner import BULK_PAGE_SIZE, ProjectionRunner
from service.bootstrap import build_services
from service.commanding.importing.batch import import_stream
from service.replay.check import scratch_database
from service.replay.generations import rebuild_beside
from service.replay.partitioned import few_collections
from service.settings import Settings
from service.store.read_store import sync_engine

TARGET = 20_000  # events/s, over 1,000,000 events
TICKS = os.sysconf("SC_CLK_TCK")


class ServerCpu:
    """CPU seconds of the PostgreSQL backends connected to one database, sampled from /proc
    while they live (a pooled connection lives until its engine is disposed)."""

    def __init__(self, database: str):
        self.database = database
        self.seen: dict[int, float] = {}
        self.first: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            while not self._stop.is_set():
                pids = [
                    pid
                    for (pid,) in conn.execute(
                        "SELECT pid FROM pg_stat_activity WHERE datname = %s "
                        "AND pid <> pg_backend_pid()",
                        (self.database,),
                    )
                ]
                for pid in pids:
                    cpu = _cpu_seconds(pid)
                    if cpu is not None:
                        self.first.setdefault(pid, cpu)
                        self.seen[pid] = cpu
                self._stop.wait(0.2)

    def __enter__(self) -> ServerCpu:
        # A backend opened before is counted from its first sample, a fifth of a second in.
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def seconds(self) -> float:
        return sum(self.seen[pid] - self.first[pid] for pid in self.seen)


def _cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def own_cpu() -> float:
    """This process's CPU seconds and its ended children's (a partitioned build's processes)."""
    return sum(
        usage.ru_utime + usage.ru_stime
        for usage in map(resource.getrusage, (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    )


def timed(database: str, work: Callable[[], int]) -> tuple[float, int, float, float]:
    """Seconds, events, own CPU seconds, server CPU seconds."""
    cpu = own_cpu()
    with ServerCpu(database) as server:
        started = time.perf_counter()
        events = work()
        seconds = time.perf_counter() - started
    return seconds, events, own_cpu() - cpu, server.seconds


def read_and_decode(services) -> int:
    position, count = 0, 0
    while notifications := services.runner.recorder.select_notifications(
        position, BULK_PAGE_SIZE, inclusive_of_start=False
    ):
        count += len([services.ledger.mapper.to_domain_event(n) for n in notifications])
        position = notifications[-1].id
    return count


@contextmanager
def store(args: argparse.Namespace) -> Iterator[str]:
    if args.database:
        yield make_url(ADMIN_URL).set(database=args.database).render_as_string(hide_password=False)
        return
    with scratch_postgres() as url:
        services = build_services(settings(url), migrate=False)
        import_stream(
            io.BytesIO(penalty_csv(args.rows, args.subjects)),
            "bench.csv",
            services.files,
            recorded_by="bench",
            batch_size=2000,
        )
        services.close_sync()
        yield url


def settings(url: str) -> Settings:
    return Settings(environment="test", database_url=url, subject_id_key="bench")


def replay_prefix(url: str, events: int) -> None:
    """The child process counted by valgrind: replay the first `events` events of the log
    with the live projectors into a scratch database (the rebuild's own loop)."""
    services = build_services(settings(url), migrate=False)
    # Under the cycle collector's settings of a rebuild (`rebuild_beside`), whose collections
    # of everything the process holds would otherwise be counted as the projectors' work.
    with scratch_database(services.database) as scratch, few_collections():
        engine = sync_engine(scratch)
        runner = ProjectionRunner(
            services.runner.recorder,
            services.ledger.mapper,
            engine,
            services.runner.projectors,
            page_size=BULK_PAGE_SIZE,
        )
        stop = services.ledger.recorder.max_notification_id() or 0
        done = 0
        while done < events and (moved := runner.process_next_page(stop=stop)):
            done += moved
        engine.dispose()
    services.close_sync()
    print(f"replayed {done}")


def instructions(url: str, events: int) -> tuple[int, int]:
    """Instructions valgrind counts in a child process replaying `events` events."""
    refs, printed = valgrind_instructions(
        ["-m", "bench.rebuild", "--replay-prefix", str(events), "--url", url]
    )
    done = re.search(r"replayed (\d+)", printed)
    assert done, printed[-2000:]
    return refs, int(done.group(1))


LABELS = {
    "partitioned": "credit rebuild --partitions {n}, the generation built by {n} processes",
    "generation": "credit rebuild, new generation beside the live one, switched in",
    "in place": "old rebuild, live tables emptied and replayed in place",
    "baseline": "baseline, read and decode every event, project nothing",
}


def show(kind: str, runs: list[tuple[float, int, float, float]], partitions: int) -> None:
    seconds, events, own, server = min(runs)
    print(
        f"{LABELS[kind].format(n=partitions)}: {events:,} events, best of {len(runs)} in "
        f"{seconds:.1f} s: "
        f"{events / seconds:,.0f} events/s, {events / seconds / TARGET:.2f} of the target; "
        f"CPU per event {own / events * 1e6:.0f} us here + {server / events * 1e6:.0f} us "
        f"in PostgreSQL; load average {os.getloadavg()[0]:.1f} "
        f"(all runs: {', '.join(f'{r[0]:.1f} s' for r in runs)})",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--subjects", type=int, default=20_000)
    parser.add_argument("--database", help="a kept store to rebuild (not dropped)")
    parser.add_argument("--runs", type=int, default=2, help="rebuilds of each kind; best shown")
    parser.add_argument("--instructions", action="store_true", help="count them (valgrind)")
    parser.add_argument("--skip-in-place", action="store_true", help="only the new rebuild")
    parser.add_argument(
        "--partitions",
        type=int,
        default=0,
        help="also time the generation built by this many processes (one per subject "
        "partition), before the single process's build",
    )
    parser.add_argument("--replay-prefix", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.replay_prefix:
        replay_prefix(args.url, args.replay_prefix)
        return
    print(f"command: python -m bench.rebuild {' '.join(sys.argv[1:])}", flush=True)
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f} at the start", flush=True)
    with store(args) as url:
        name = make_url(url).database or ""
        services = build_services(settings(url), migrate=False)
        head = services.ledger.recorder.max_notification_id() or 0
        print(f"store: {services.ledger.count_events(up_to=head):,} events", flush=True)
        kinds: dict[str, Callable[[], int]] = {
            "partitioned": lambda: rebuild_beside(services, partitions=args.partitions).events,
            "generation": lambda: rebuild_beside(services).events,
            "in place": lambda: services.runner.rebuild(page_size=BULK_PAGE_SIZE),
            "baseline": lambda: read_and_decode(services),
        }
        if args.skip_in_place:
            del kinds["in place"]
        if args.partitions < 2:
            del kinds["partitioned"]
        for kind, work in kinds.items():  # each printed as soon as measured
            show(kind, [timed(name, work) for _ in range(args.runs)], args.partitions)
        services.close_sync()
        counted = None
        if args.instructions:
            short, long = BULK_PAGE_SIZE, 3 * BULK_PAGE_SIZE
            (few, done_few), (many, done_many) = instructions(url, short), instructions(url, long)
            counted = (many - few) / (done_many - done_few)
    if counted is not None:
        print(
            f"instructions per event of the rebuilding process (valgrind, replays of "
            f"{done_many:,} and {done_few:,} events): {counted:,.0f}"
        )
    print(f"load average {os.getloadavg()[0]:.1f} at the end (other work shares the cores)")


if __name__ == "__main__":
    main()
