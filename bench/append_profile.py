"""Where one append's CPU goes, in-process: the ASGI app called directly (no socket, no HTTP
parser) with penalties posted as bench/append_latency.py posts them (each with its own decision
number and Idempotency-Key), on a scratch PostgreSQL store. Prints CPU per append (the
process's, all threads: the request threads and the group commits included), the Python
function calls per append (cProfile's count, which the machine's load does not move) and the
functions that take the time (cProfile of every thread).

    .venv/bin/python -m bench.append_profile --subjects 1000 --appends 2000 --concurrency 8

With `--loop-only N` it only runs N appends after the warm-up, for an outside profiler: under
valgrind, the difference between a run of N and one of 5N, divided by 4N, is the instructions
of one append (the start-up and warm-up cancel out). Seeding under valgrind would take longer
than the runs: `--keep-store FILE` seeds a store and keeps it (its URL and token in FILE), and
`--store FILE` runs on a copy of it (so that every run starts from the same streams), and
`--drop` drops it.

    .venv/bin/python -m bench.append_profile --subjects 1000 --keep-store /tmp/store.json
    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
        .venv/bin/python -m bench.append_profile --store /tmp/store.json --loop-only 200
    (the same with --loop-only 1000; then with --drop)

`--instructions` does all of that and prints the figure, beside the library's own loop (one
save per event, as `bench.append_latency`'s baseline) counted the same way, and their ratio:

    .venv/bin/python -m bench.append_profile --subjects 3000 --instructions
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import os
import pstats
import sys
import tempfile
import threading
import time
import uuid
from typing import Any

from starlette.types import ASGIApp

from bench.append_latency import append_requests, library_app, library_saves, seed
from bench.asgi import answer_status, request_scope, service_app
from bench.fixtures import (
    copy_of,
    drop_database,
    machine,
    scratch_postgres,
    valgrind_instructions,
)
from bench.status_profile import with_lifespan


class Appends:
    """Fresh append requests, each with its own decision number and Idempotency-Key."""

    def __init__(self, ids: list[str], token: str):
        self.ids, self.token = ids, token

    def take(self, count: int) -> list[tuple[dict[str, Any], bytes]]:
        requests = append_requests(self.ids, self.token, count, uuid.uuid4().hex[:6])
        return [
            (request_scope(method, path, headers), body) for method, path, headers, body in requests
        ]


async def request_loop(
    app: ASGIApp, requests: list[tuple[dict[str, Any], bytes]], concurrency: int
) -> float:
    """CPU seconds (the process's, all threads) per append, `concurrency` in flight."""
    queue = iter(requests)

    async def lane() -> None:
        for scope, body in queue:
            status = await answer_status(app, scope, body)
            if status != 201:
                raise RuntimeError(f"answered {status}")

    started = time.process_time()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return (time.process_time() - started) / len(requests)


def instructions_per_append(subjects: int, appends: int) -> dict[str, float]:
    """Valgrind's instructions for `5 * appends` appends less those for `appends`, per append,
    on copies of one store seeded with `subjects` subjects; and the same for the library's loop
    on a database of its own. Start-up, seeding and warm-up drop out."""
    counted = {}
    with (
        tempfile.NamedTemporaryFile("w", suffix=".json") as service_store,
        scratch_postgres() as url,
        scratch_postgres() as library_url,
    ):
        ids, token = seed(url, subjects)
        json.dump({"url": url, "ids": ids, "token": token}, service_store)
        service_store.flush()
        runs = {
            "service": lambda n: [
                *("--store", service_store.name, "--loop-only", str(n)),
                *("--concurrency", "1"),
            ],
            "library": lambda n: ["--library-url", library_url, "--library-loop", str(n)],
        }
        for which, arguments in runs.items():
            short, long = (
                valgrind_instructions(["-m", "bench.append_profile", *arguments(n)])[0]
                for n in (appends, 5 * appends)
            )
            counted[which] = (long - short) / (4 * appends)
    return counted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=1000)
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="runs of the CPU loop")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--loop-only", type=int, default=0, metavar="N")
    parser.add_argument("--profile", action="store_true", help="cProfile every thread instead")
    parser.add_argument("--profile-out", help="with --profile: also write the stats to this file")
    parser.add_argument("--keep-store", metavar="FILE", help="seed a store, keep it, and stop")
    parser.add_argument("--store", metavar="FILE", help="run on a store --keep-store kept")
    parser.add_argument("--drop", action="store_true", help="with --store: drop it")
    parser.add_argument(
        "--instructions", action="store_true", help="count them (valgrind), and the library's"
    )
    parser.add_argument(
        "--instructions-appends", type=int, default=250, help="the shorter counted run's"
    )
    parser.add_argument("--library-loop", type=int, help=argparse.SUPPRESS)  # a counted run's
    parser.add_argument("--library-url", help=argparse.SUPPRESS)  # and its database
    args = parser.parse_args()
    if args.library_loop is not None:
        app, counters = library_app(args.library_url)
        library_saves(app, counters, 300)  # warm, as the service's loop is
        library_saves(app, counters, args.library_loop)
        app.close()
        return
    print(f"command: python -m bench.append_profile {' '.join(sys.argv[1:])}", flush=True)
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f}", flush=True)
    if args.instructions:
        counted = instructions_per_append(args.subjects, args.instructions_appends)
        service, library = counted["service"], counted["library"]
        print(f"instructions per append (valgrind, all threads, concurrency 1): {service:,.0f}")
        print(f"the library's loop, one save per event:                        {library:,.0f}")
        print(f"ratio of the library's count to the service's: {library / service:.2f}")
        return
    with contextlib.ExitStack() as stack:
        if args.store:
            with open(args.store) as file:
                kept = json.load(file)
            ids, token = kept["ids"], kept["token"]
            if args.drop:
                drop_database(kept["url"])
                return
            url = stack.enter_context(copy_of(kept["url"]))
        else:
            url = stack.enter_context(scratch_postgres(keep=bool(args.keep_store)))
            ids, token = seed(url, args.subjects)
            if args.keep_store:
                with open(args.keep_store, "w") as file:
                    json.dump({"url": url, "ids": ids, "token": token}, file)
                print(f"store kept: {args.keep_store}")
                return
        if args.store:
            os.environ["CREDIT_TOKEN_TTL_SECONDS"] = "3600"
        app = service_app(url)
        appends = Appends(ids, token)
        c = args.concurrency

        async def run() -> None:
            if args.store:
                # The kept token has expired by now: a fresh one, lasting the run under valgrind.
                services = app.state.services
                client = services.clients.get("bench-recorder")
                assert client is not None, "the kept store has its client"
                appends.token = services.tokens.issue(client).access_token
            await request_loop(app, appends.take(300), c)  # warm: pools, caches, first compiles
            if args.loop_only:
                await request_loop(app, appends.take(args.loop_only), c)
                return
            if args.profile:
                for profile in profiles:
                    profile.clear()
                await request_loop(app, appends.take(args.appends), c)
                out = io.StringIO()
                stats = pstats.Stats(stream=out)
                for profile in profiles:
                    profile.create_stats()
                    if profile.stats:
                        stats.add(profile)
                calls = stats.total_calls  # type: ignore[attr-defined]
                print(f"{calls / args.appends:6.0f} Python calls per append, every thread")
                stats.sort_stats("tottime").print_stats(args.top)
                stats.sort_stats("cumulative").print_stats(args.top)
                if args.profile_out:
                    stats.dump_stats(args.profile_out)
                print(out.getvalue())
                return
            runs = [
                await request_loop(app, appends.take(args.appends), c) for _ in range(args.rounds)
            ]
            print(
                f"service   {min(runs) * 1e6:8.0f} µs CPU per append (least of {len(runs)}: "
                + ", ".join(f"{r * 1e6:.0f}" for r in runs)
                + f"); load average {os.getloadavg()[0]:.1f}"
            )

        profiles: list[cProfile.Profile] = []
        if args.profile:
            # Every thread profiled from its start (the requests run in worker threads, the
            # group commit in whichever of them leads); the counts are cleared after the warm-up.
            def profiled(frame: Any, event: str, arg: Any) -> None:
                profile = cProfile.Profile(time.thread_time)
                profiles.append(profile)
                profile.enable()

            threading.setprofile(profiled)
            main_profile = cProfile.Profile(time.thread_time)
            profiles.append(main_profile)
            main_profile.enable()
        asyncio.run(with_lifespan(app, run))


if __name__ == "__main__":
    main()
