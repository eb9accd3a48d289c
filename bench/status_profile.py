"""Where one status request's CPU goes, in-process: the ASGI app called directly (no socket, no
HTTP parser), against the bare FastAPI + asyncpg baseline called the same way, on the same
scratch PostgreSQL store. Prints CPU per request (all threads, the access-log commits
included), what each middleware adds (the request loop rerun with that one left out), what the
route's access-log write and its status query with the rules' evaluation cost (the loop rerun
with each taken out), and the functions that take the time (cProfile of the event loop's
thread).

    .venv/bin/python -m bench.status_profile --subjects 2000 --requests 3000 --concurrency 8

With `--loop-only` it only runs the request loop, for an outside profiler such as
`valgrind --tool=callgrind` to look into. With `--instructions` it also counts the
instructions per request of the service and of the baseline: valgrind over a child process
that runs the loop against the store seeded here (seeding under valgrind would take an hour),
`--requests` and five times as many requests, the difference over the extra requests.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import make_url
from starlette.types import ASGIApp

from bench.asgi import answer_status, request_scope, service_app
from bench.fixtures import (
    machine,
    scratch_postgres,
    seeded_store,
    valgrind_instructions,
)


def _name(middleware: Any) -> str:
    return getattr(middleware.cls, "__name__", repr(middleware.cls))


def scope_for(path: str, token: str) -> dict[str, Any]:
    """The scope uvicorn would build for `GET path` with a bearer token."""
    return request_scope("GET", path, {"Authorization": f"Bearer {token}", "Accept": "*/*"})


async def request_loop(
    app: ASGIApp, scopes: list[dict[str, Any]], requests: int, concurrency: int
) -> float:
    """CPU seconds (the process's, all threads) per request for `requests` requests with
    `concurrency` in flight."""
    queue = iter(range(requests))

    async def lane() -> None:
        for n in queue:
            status = await answer_status(app, scopes[n % len(scopes)])
            if status != 200:
                raise RuntimeError(f"answered {status}")

    started = time.process_time()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return (time.process_time() - started) / requests


async def calls_per_request(
    app: ASGIApp, scopes: list[dict[str, Any]], requests: int, concurrency: int
) -> float:
    """Python function calls (cProfile's count; a coroutine's every resumption is one) per
    request: a measure of work that does not vary with the machine's load."""
    profile = cProfile.Profile()
    profile.enable()
    await request_loop(app, scopes, requests, concurrency)
    profile.disable()
    return pstats.Stats(profile).total_calls / requests  # type: ignore[attr-defined]


async def with_lifespan(app: Any, work: Callable[[], Awaitable[Any]]) -> Any:
    async with app.router.lifespan_context(app):
        return await work()


def without(app: Any, middleware_name: str) -> ASGIApp:
    """The app's middleware stack rebuilt without the named middleware class."""
    kept = [m for m in app.user_middleware if _name(m) != middleware_name]
    saved = app.user_middleware
    app.user_middleware = kept
    try:
        return app.build_middleware_stack()
    finally:
        app.user_middleware = saved


@contextmanager
def part_taken_out(part: str) -> Iterator[None]:
    """The status route with one part of its work taken out, to time the rest: "access log"
    (the read's entries not written), "status" (each subject's status answered from memory
    after its first read: no query, no rules' evaluation)."""
    from api.queries import subjects

    if part == "access log":

        async def unlogged(*_: Any, **__: Any) -> None:
            return None

        name, replacement = "log_reads", unlogged
    else:
        read = subjects.status_now
        kept: dict[Any, Any] = {}

        async def remembered(engine: Any, policy: Any, subject_id: Any, today: Any) -> Any:
            if subject_id not in kept:
                kept[subject_id] = await read(engine, policy, subject_id, today)
            return kept[subject_id]

        name, replacement = "status_now", remembered
    saved = getattr(subjects, name)
    setattr(subjects, name, replacement)
    try:
        yield
    finally:
        setattr(subjects, name, saved)


PARTS = ("access log", "status")


def status_scopes(ids: list[str], token: str, app: Any) -> list[dict[str, Any]]:
    rng = random.Random(7)
    scopes = [scope_for(f"/v1/subjects/{rng.choice(ids)}/status", token) for _ in range(2000)]
    for scope in scopes:
        scope["app"] = app  # what the app sets when called whole, for the stacks rebuilt
    return scopes


def baseline_app(url: str) -> Any:
    os.environ["BASELINE_DSN"] = (
        make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    )
    from bench.baseline_app import app

    return app


def counted_loop(store: str, which: str, requests: int, concurrency: int) -> None:
    """The child process valgrind counts: `requests` status reads of the seeded store
    (described in the JSON file `store`) after a warm-up, by the service or the baseline."""
    with open(store) as file:
        seeded = json.load(file)
    # Under valgrind a read takes some fifty times as long: the answer deadline would turn the
    # first reads queued behind the warm-up into 503s.
    os.environ["CREDIT_REQUEST_DEADLINE_SECONDS"] = "600"
    app = service_app(seeded["url"]) if which == "service" else baseline_app(seeded["url"])
    scopes = status_scopes(seeded["ids"], seeded["token"], app)

    async def run() -> None:
        await request_loop(app, scopes, 100, concurrency)  # pools, caches, first compiles
        await request_loop(app, scopes, requests, concurrency)

    asyncio.run(with_lifespan(app, run))
    print(f"answered {requests}")


def instructions_per_request(store: str, which: str, requests: int, concurrency: int) -> float:
    """Valgrind's instructions per request: runs of `requests` and five times as many, the
    difference over the extra ones (start-up and warm-up drop out)."""
    counts = []
    for n in (requests, 5 * requests):
        refs, printed = valgrind_instructions(
            [
                "-m",
                "bench.status_profile",
                "--counted-loop",
                store,
                "--which",
                which,
                "--requests",
                str(n),
                "--concurrency",
                str(concurrency),
            ]
        )
        assert f"answered {n}" in printed, printed[-2000:]
        counts.append(refs)
    return (counts[1] - counts[0]) / (4 * requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--rounds", type=int, default=3, help="runs of each variant")
    parser.add_argument("--loop-only", action="store_true")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count instructions per request, service and baseline (valgrind; minutes)",
    )
    parser.add_argument(
        "--instructions-requests",
        type=int,
        default=200,
        help="requests in the shorter counted run (the longer has five times as many)",
    )
    parser.add_argument("--counted-loop", help=argparse.SUPPRESS)
    parser.add_argument("--which", choices=["service", "baseline"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.counted_loop:
        counted_loop(args.counted_loop, args.which, args.requests, args.concurrency)
        return
    print(f"command: python -m bench.status_profile {' '.join(sys.argv[1:])}", flush=True)
    print(f"machine: {machine()}", flush=True)
    if args.instructions:
        # The counted runs come after the others and are slow: a token of the longest lifetime.
        os.environ["CREDIT_TOKEN_TTL_SECONDS"] = "3600"
    with scratch_postgres() as url:
        ids, token = seeded_store(
            url, rows=args.subjects * 3, subjects=args.subjects, role="agency"
        )
        app = service_app(url)
        baseline = baseline_app(url)
        scopes = status_scopes(ids, token, app)
        n, c = args.requests, args.concurrency

        async def run() -> None:
            await request_loop(app, scopes, 300, c)  # warm: pools, caches, first compiles
            if args.loop_only:
                await request_loop(app, scopes, n, c)
                return
            # The machine is shared: CPU time per request varies by a fifth from run to run, so
            # each variant also counts the Python function calls it makes per request (cProfile,
            # the same whatever else runs), and of its CPU figures (`rounds` runs, interleaved)
            # the least counts.
            stacks: dict[str, ASGIApp] = {"(all)": app}
            for middleware in reversed(app.user_middleware):
                stacks[_name(middleware)] = without(app, _name(middleware))
            figures: dict[str, list[float]] = {name: [] for name in stacks}
            for _ in range(args.rounds):
                for name, stack in stacks.items():
                    figures[name].append(await request_loop(stack, scopes, n, c))
            calls = {
                name: await calls_per_request(stack, scopes, n, c) for name, stack in stacks.items()
            }
            per_request = min(figures["(all)"])
            print(
                f"service   {per_request * 1e6:8.0f} µs CPU, "
                f"{calls['(all)']:6.0f} Python calls per status request"
            )
            print("what each middleware adds (all, less the loop without it):")
            for name, runs in figures.items():
                if name != "(all)":
                    print(
                        f"  {name:28s} {(per_request - min(runs)) * 1e6:+8.0f} µs "
                        f"{calls['(all)'] - calls[name]:+6.0f} calls"
                    )
            # The same for the parts of the route's own work, the whole stack timed again in
            # the same rounds (the figures above are minutes older).
            parts: dict[str, list[float]] = {"(all)": [], **{part: [] for part in PARTS}}
            for _ in range(args.rounds):
                parts["(all)"].append(await request_loop(app, scopes, n, c))
                for part in PARTS:
                    with part_taken_out(part):
                        parts[part].append(await request_loop(app, scopes, n, c))
            whole = min(parts["(all)"])
            print(
                "what each part of the route's work costs (all, "
                f"{whole * 1e6:.0f} µs, less the loop without it):"
            )
            for part in PARTS:
                print(f"  {part:28s} {(whole - min(parts[part])) * 1e6:+8.0f} µs")
            # CPU time of the event loop's thread (the access-log commits run in worker threads)
            profile = cProfile.Profile(time.thread_time)
            profile.enable()
            await request_loop(app, scopes, n, c)
            profile.disable()
            out = io.StringIO()
            stats = pstats.Stats(profile, stream=out)
            stats.sort_stats("cumulative").print_stats(args.top)
            stats.sort_stats("tottime").print_stats(args.top)
            print(out.getvalue())

        asyncio.run(with_lifespan(app, run))
        if not args.loop_only:

            async def run_baseline() -> None:
                await request_loop(baseline, scopes, 300, c)
                per_request = min(
                    [await request_loop(baseline, scopes, n, c) for _ in range(args.rounds)]
                )
                calls = await calls_per_request(baseline, scopes, n, c)
                print(
                    f"baseline  {per_request * 1e6:8.0f} µs CPU, {calls:6.0f} Python calls "
                    "per request"
                )

            asyncio.run(with_lifespan(baseline, run_baseline))
        if args.instructions:
            with tempfile.NamedTemporaryFile("w", suffix=".json") as store:
                json.dump({"url": url, "ids": ids, "token": token}, store)
                store.flush()
                counted = {
                    which: instructions_per_request(
                        store.name, which, args.instructions_requests, c
                    )
                    for which in ("service", "baseline")
                }
            print(
                f"instructions per status request (valgrind, all threads): service "
                f"{counted['service']:,.0f}, baseline {counted['baseline']:,.0f}, ratio "
                f"{counted['service'] / counted['baseline']:.2f}"
            )


if __name__ == "__main__":
    main()
