"""Status on two time axes (`as_of`, `valid_at`) for one subject with a long history, on SQLite
and PostgreSQL: the answer from the bitemporal history against a fold of the whole stream.

    .venv/bin/python -m bench.as_of_latency --events 10000 --requests 200 --projection

Each request asks a random (as_of, valid_at) pair over the subject's three years. `history`
is the query as the endpoint runs it, in-process (a few indexed queries, then the rules);
`http` is the whole request through the ASGI app (token check, the answer, the access-log row
written before it leaves; `log` is that write alone); `fold` reads and folds every event, as
as-of answers did before; `now` is the status today from the read models (no parameters), for
comparison. With --projection, what keeping the history costs the projector: the same rebuild
with the history written and without it, alternately, in the same run."""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx

from api.app import create_app
from api.queries.subjects import _status_at
from bench.fixtures import AUTHORITY_CODE, long_credit_file, machine, scratch_postgres
from projections.cases.projector import CaseProjector
from projections.credit_file.as_of import end_of_day, status_as_of
from projections.credit_file.projector import CreditFileProjector, PageHistory
from projections.runner import ProjectionRunner
from service.access.access_log import AccessEntry
from service.bootstrap import build_services
from service.clock import FixedClock
from service.querying.status import status_now
from service.settings import Settings

NOW = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)


@contextmanager
def database(backend: str) -> Iterator[str]:
    if backend == "postgres":
        with scratch_postgres() as url:
            yield url
        return
    with tempfile.TemporaryDirectory(prefix="credit-bench-") as folder:
        yield f"sqlite:///{Path(folder) / 'bench.sqlite3'}"


def figures(name: str, seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    return (
        f"{name:8s} n={len(ms):4d}  median {statistics.median(ms):7.2f} ms  "
        f"p90 {ms[int(0.9 * (len(ms) - 1))]:7.2f} ms  p99 {ms[int(0.99 * (len(ms) - 1))]:7.2f} ms  "
        f"max {ms[-1]:7.2f} ms"
    )


async def measure(services, settings, subject_id, pairs, folds: int) -> list[str]:
    history = []
    for known_as_of, on in pairs[:5]:  # warm the statement cache and the pools
        await _status_at(services, subject_id, known_as_of, on)
    for known_as_of, on in pairs:
        started = time.perf_counter()
        await _status_at(services, subject_id, known_as_of, on)
        history.append(time.perf_counter() - started)

    fold = []
    for known_as_of, on in pairs[:folds]:
        started = time.perf_counter()
        events = services.ledger.stream_page(subject_id, after_version=0, limit=1_000_000)
        expected = status_as_of(
            events,
            end_of_day(known_as_of, services.clock.zone),
            on,
            services.policy,
            zone=services.clock.zone,
        )
        fold.append(time.perf_counter() - started)
        assert expected is not None  # the subject is known by then
        assert await _status_at(services, subject_id, known_as_of, on) == {
            **expected,
            "known_as_of": known_as_of,
        }
    now = []
    today = services.clock.date_of(NOW)
    for _ in range(len(pairs) // 10):
        started = time.perf_counter()
        await status_now(services.read_engine, services.policy, subject_id, today)
        now.append(time.perf_counter() - started)

    log = []
    entry = AccessEntry("bench", "agency", AUTHORITY_CODE, subject_id, "status_as_of", "b", {})
    for _ in range(len(pairs) // 4):
        started = time.perf_counter()
        services.access_log.append([entry])
        log.append(time.perf_counter() - started)

    # last: the app's lifespan closes the services when it ends
    client, _ = services.clients.create("bench", "agency", "郑州市交通运输局", AUTHORITY_CODE)
    token = services.tokens.issue(client).access_token
    app = create_app(settings, services=services)
    http = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://credit.bench",
            headers={"Authorization": f"Bearer {token}", "X-Purpose": "bench"},
        ) as api:
            url = f"/v1/subjects/{subject_id}/status"
            for known_as_of, on in pairs:
                params = {"as_of": known_as_of.isoformat(), "valid_at": on.isoformat()}
                started = time.perf_counter()
                response = await api.get(url, params=params)
                http.append(time.perf_counter() - started)
                assert response.status_code == 200, response.text

    return [
        figures("history", history),
        figures("http", http),
        figures("log", log),
        figures("fold", fold),
        figures("now", now),
    ]


class NoPageHistory(PageHistory):
    def applied(self, *args) -> None:
        pass


class WithoutHistory(CreditFileProjector):
    page_history = NoPageHistory


def projection_cost(services) -> list[str]:
    """Rebuild rates without and with the history, alternately; ends with it written."""
    rates: dict[str, list[float]] = {"without history": [], "with history": []}
    for _ in range(2):
        for label, projector in (
            ("without history", WithoutHistory),
            ("with history", CreditFileProjector),
        ):
            runner = ProjectionRunner(
                services.ledger.recorder,
                services.ledger.mapper,
                services.write_engine,
                [projector(services.policy), CaseProjector(services.clock.zone)],
                page_size=services.settings.projection_page_size,
            )
            started = time.perf_counter()
            applied = runner.rebuild()
            rates[label].append(applied / (time.perf_counter() - started))
    return [
        f"rebuild {label:16s} {', '.join(f'{rate:,.0f}' for rate in found)} events/s"
        for label, found in rates.items()
    ]


def run(backend: str, events: int, requests: int, folds: int, projection: bool) -> list[str]:
    with database(backend) as url:
        settings = Settings(environment="test", database_url=url, subject_id_key="bench")
        clock = FixedClock(NOW, settings.zone)
        services = build_services(settings, clock=clock)
        try:
            started = time.perf_counter()
            subject_id = long_credit_file(services.files, clock, events=events)
            built = time.perf_counter() - started
            started = time.perf_counter()
            services.runner.catch_up()
            projected = time.perf_counter() - started
            rng = random.Random(1)
            first = date(2023, 11, 21)
            pairs = [
                (
                    first + timedelta(days=rng.randint(0, 1095)),
                    first + timedelta(days=rng.randint(0, 1095)),
                )
                for _ in range(requests)
            ]
            lines = projection_cost(services) if projection else []
            lines += asyncio.run(measure(services, settings, subject_id, pairs, folds))
        finally:
            services.close_sync()
    return [
        f"{backend}: {events:,} events appended in {built:.1f} s, projected in {projected:.1f} s; "
        f"load average {os.getloadavg()[0]:.1f} (other work shares the 2 cores)",
        *(f"  {line}" for line in lines),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--projection", action="store_true", help="also time the rebuild")
    args = parser.parse_args()
    print(f"command: python -m bench.as_of_latency {' '.join(sys.argv[1:])}")
    print(f"machine: {machine()}")
    for backend in args.backends.split(","):
        for line in run(backend, args.events, args.requests, args.folds, args.projection):
            print(line, flush=True)


if __name__ == "__main__":
    main()
