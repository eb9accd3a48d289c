"""Webhook delivery of changes on PostgreSQL: how many deliveries a second the delivery workers
(`credit deliver`) carry, and the delay from an append's acknowledgement to the delivery's
arrival at the receiver; against the same number of signed POSTs sent from one process to the
same receivers (the transport's ceiling), in the same run.

    .venv/bin/python -m bench.notifications --subscriptions 10000 --endpoints 100 \
        --subjects 1000 --rate 2 --seconds 30 --workers 1,2

Set-up: `--subjects` enterprises registered; `--subscriptions` subscriptions to
`record.published`, each with a webhook, made through the service's own subscription path by
`--clients` API clients (one per group of endpoints), each following one subject (so that every
subject is followed by subscriptions / subjects of them); their callbacks spread over
`--endpoints` ports of one receiver process on 127.0.0.1 (plain asyncio, one path per
subscription), which answers 204, records when each `webhook-id` arrived and verifies the
signature of one request in `--verify-every` with the subscription's secret.

Each run: the projection worker (`credit worker`) and `w` delivery workers (`credit deliver`,
default settings) are started; penalties (each a `record.published`) are appended in this
process through the command path (`services.files.append`) at `--rate` a second for
`--seconds`, to subjects in turn, and the acknowledgement time of each is kept. The run ends
when every delivery arrived or `--drain-seconds` after the last append. Delay: arrival at the
receiver less the append's acknowledgement, per delivery. Between runs what was not delivered
is set aside (marked abandoned, cursors moved to the end) so that runs do not share a backlog.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import multiprocessing
import os
import pstats
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx2
import psycopg
from sqlalchemy import make_url
from standardwebhooks import Webhook

from bench.append_latency import percentile
from bench.fixtures import (
    analyse,
    enterprise_code,
    machine,
    one_row,
    penalty_command,
    scratch_postgres,
)
from bench.fixtures import server_env as base_env
from bench.status_latency import BIN
from service.commanding.commands import RegisterSubject, record_command_adapter
from service.notifications.deliveries import payload
from service.notifications.webhooks import TargetRules, post, resolve, signed_headers

ROOT = Path(__file__).resolve().parents[1]
KIND = "record.published"
BASELINE_PREFIX = "baseline-"


# -- the receiver ------------------------------------------------------------------------------


class _Receiver(asyncio.Protocol):
    """HTTP/1.1 POSTs with keep-alive, answered 204; what arrived is appended to `log`."""

    def __init__(self, log: list[tuple[str, str, float]], verify: Callable[[bytes, dict], None]):
        self.log = log
        self.verify = verify
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1").split("\r\n")
            headers = {}
            for line in head[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            arrived = time.time()
            path = head[0].split(" ")[1]
            self.log.append((path, headers.get("webhook-id", ""), arrived))
            self.verify(body, headers)
            self.transport.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")


def receive(count: int, every: int, control: Pipe) -> None:
    """Listen on `count` ports (told back at once) until told to stop; then answer the log and
    the signatures checked. The subscriptions' secrets come once they are made."""
    log: list[tuple[str, str, float]] = []
    checked = Counter[str]()
    seen = 0
    hooks: dict[str, Webhook] = {}

    def verify(body: bytes, headers: dict) -> None:
        nonlocal seen
        seen += 1
        if seen % every:
            return
        try:
            sid = json.loads(body)["subscription_id"]
            hooks[sid].verify(body, headers)
        except Exception:
            checked["failed"] += 1
        else:
            checked["verified"] += 1

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        servers = [
            await loop.create_server(lambda: _Receiver(log, verify), "127.0.0.1", 0, backlog=512)
            for _ in range(count)
        ]
        control.send([server.sockets[0].getsockname()[1] for server in servers])
        while not control.poll():
            await asyncio.sleep(0.05)
        hooks.update({sid: Webhook(secret) for sid, secret in control.recv().items()})
        while not control.poll():
            await asyncio.sleep(0.05)
        command = control.recv()
        while command == "log":  # the log so far, and on
            control.send((list(log), dict(checked)))
            while not control.poll():
                await asyncio.sleep(0.05)
            command = control.recv()
        for server in servers:
            server.close()
        control.send((log, dict(checked)))

    asyncio.run(serve())


# -- set-up ------------------------------------------------------------------------------------


def services_for(url: str) -> Any:
    from service.bootstrap import build_services
    from service.settings import Settings

    settings = Settings(
        environment="test",
        database_url=url,
        subject_id_key="bench",
        webhook_allow_private_targets=True,
    )
    return build_services(settings, migrate=False)


def register(services: Any, count: int) -> list[UUID]:
    ids = []
    for n in range(count):
        ack = services.files.register(
            RegisterSubject(
                kind="enterprise",
                code=enterprise_code(n),
                name=f"郑州宏达道路运输有限公司{n}",
                region_code="410105",
                sectors=["road_transport"],
            ),
            recorded_by="bench",
        )
        ids.append(ack.subject_id)
    services.runner.catch_up()  # subscriptions look subjects up in the read model
    return ids


def subscribe(
    services: Any, subjects: list[UUID], count: int, ports: list[int], clients: int
) -> tuple[dict[str, str], Counter[UUID]]:
    """`count` subscriptions with webhooks; answers their secrets by subscription id and how
    many subscriptions follow each subject."""
    per_client = max(1, len(ports) // clients)
    now = datetime.now(UTC)

    def one(n: int) -> tuple[str, str, UUID]:
        endpoint = n % len(ports)
        subject = subjects[n % len(subjects)]
        subscription, _, secret = services.subscriptions.subscribe(
            f"bench-agency-{endpoint // per_client}",
            [KIND],
            subject_ids=[subject],
            callback_url=f"http://127.0.0.1:{ports[endpoint]}/hooks/{n}",
            now=now,
        )
        return str(subscription.subscription_id), secret, subject

    with ThreadPoolExecutor(4) as pool:  # as several agencies subscribing at once
        made = list(pool.map(one, range(count)))
    return {sid: secret for sid, secret, _ in made}, Counter(subject for _, _, subject in made)


def penalty(n: int, run: str) -> Any:
    # "general": published, so that every append is one record.published
    return record_command_adapter.validate_python(
        penalty_command(f"郑交执罚〔2026〕{run}-{n:07d}号", "general")
    )


def append_steadily(
    services: Any, subjects: list[UUID], rate: float, seconds: float, run: str
) -> dict[UUID, float]:
    """Penalties at a fixed rate through the command path; answers when each was acknowledged
    (committed), by record id."""
    acknowledged: dict[UUID, float] = {}
    count = int(rate * seconds)
    start = time.perf_counter()
    for n in range(count):
        delay = start + n / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        ack = services.files.append(
            subjects[n % len(subjects)], penalty(n, run), recorded_by="bench"
        )
        acknowledged[ack.record_id] = time.time()
    return acknowledged


def set_aside(conninfo: str) -> None:
    """What a run left undelivered is not the next run's backlog."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("UPDATE webhook_deliveries SET status = 'abandoned' WHERE status = 'pending'")
        conn.execute(
            "UPDATE subscription_webhooks SET cursor_position = "
            "(SELECT position FROM projection_tracking WHERE name = 'changes'), "
            "cursor_ordinal = 2147483647, consecutive_failures = 0, state = 'active'"
        )


def delivered(conninfo: str) -> int:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        return one_row(conn, "SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'")[
            0
        ]


def change_records(conninfo: str) -> dict[str, UUID]:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        rows = conn.execute("SELECT change_id, record_id FROM changes WHERE kind = %s", (KIND,))
        return {str(change): record for change, record in rows}


# -- the baseline --------------------------------------------------------------------------------


def baseline(count: int, secrets: dict[str, str], ports: list[int], wire: bool) -> float:
    """`count` signed POSTs one after another from this process; answers POSTs a second. With
    `wire`, through the worker's own wire code (check the target, a client and connection per
    POST); else plain, over one keep-alive client: the transport's ceiling."""
    rules = TargetRules(require_https=False, allow_private=True)
    hooks = list(secrets.items())
    client = httpx2.Client(trust_env=False)
    started = time.perf_counter()
    for n in range(count):
        sid, secret = hooks[n % len(hooks)]
        webhook_id = f"{BASELINE_PREFIX}{n}"
        body = payload(UUID(sid), {"change_id": webhook_id, "kind": KIND, "position": n})
        headers = signed_headers(secret, webhook_id, datetime.now(UTC), body)
        url = f"http://127.0.0.1:{ports[n % len(ports)]}/hooks/baseline"
        if wire:
            outcome = post(resolve(url, rules), body, headers, rules)
            assert outcome.delivered, outcome
        else:
            answer = client.post(
                url, content=body.encode(), headers={**headers, "Content-Type": "application/json"}
            )
            assert answer.status_code == 204, answer
    rate = count / (time.perf_counter() - started)
    client.close()
    return rate


# -- a run ---------------------------------------------------------------------------------------


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [str(BIN / "credit"), *args],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def profile_round(services: Any) -> str:
    """One delivery worker's round in this process under cProfile, after appends: where its
    time goes (the fill of delivery rows, then the sends, batch by batch)."""
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    filled = services.deliveries.fan_out()
    filled_at = time.perf_counter()
    sent = services.deliveries.deliver_due()
    profiler.disable()
    ended = time.perf_counter()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(18)
    return (
        f"one round: fill {filled:,} rows in {filled_at - started:.2f} s, "
        f"send {sent} in {ended - filled_at:.2f} s\n" + out.getvalue()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=10_000)
    parser.add_argument("--endpoints", type=int, default=100)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--subjects", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=2, help="appends a second")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", default="1,2", help="delivery workers, one run each")
    parser.add_argument("--drain-seconds", type=float, default=60)
    parser.add_argument("--verify-every", type=int, default=50)
    parser.add_argument("--profile", action="store_true", help="profile one worker's round")
    args = parser.parse_args()
    print(f"command: python -m bench.notifications {' '.join(sys.argv[1:])}")
    print(f"machine: {machine()}; receiver, workers, appends and PostgreSQL share the machine")
    context = multiprocessing.get_context("spawn")
    control, theirs = context.Pipe()
    receiver = context.Process(
        target=receive, args=(args.endpoints, args.verify_every, theirs), daemon=True
    )
    receiver.start()
    ports: list[int] = control.recv()
    with scratch_postgres() as url:
        conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        services = services_for(url)
        try:
            began = time.perf_counter()
            subjects = register(services, args.subjects)
            secrets, followers = subscribe(
                services, subjects, args.subscriptions, ports, args.clients
            )
            analyse(url)
            print(
                f"{args.subjects:,} subjects, {args.subscriptions:,} subscriptions with webhooks "
                f"to {args.endpoints} receiving ports on 127.0.0.1 ({args.clients} clients), "
                f"set up in {time.perf_counter() - began:.0f} s; each subject followed by "
                f"{min(followers.values())}-{max(followers.values())} subscriptions"
            )
            control.send(secrets)
            env = {
                **base_env(url),
                "CREDIT_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
                "CREDIT_DELIVER_WEBHOOKS_IN_WORKER": "false",
            }
            projection = start(["worker"], env)
            try:
                results = []
                for workers in [int(w) for w in args.workers.split(",")]:
                    set_aside(conninfo)
                    before = delivered(conninfo)
                    run = f"w{workers}-{time.time_ns() % 10**6}"
                    delivery_workers = [start(["deliver"], env) for _ in range(workers)]
                    try:
                        first = time.time()
                        acks = append_steadily(services, subjects, args.rate, args.seconds, run)
                        appended = time.time() - first
                        expected = len(acks) * (args.subscriptions // args.subjects)
                        deadline = time.monotonic() + args.drain_seconds
                        while (done := delivered(conninfo) - before) < expected:
                            if time.monotonic() > deadline:
                                break
                            time.sleep(0.5)
                        if args.profile and workers == 1:
                            stop(delivery_workers)
                            delivery_workers = []
                            set_aside(conninfo)
                            append_steadily(services, subjects, args.rate, 2, run + "p")
                            time.sleep(1)  # projected
                            print(profile_round(services))
                    finally:
                        stop(delivery_workers)
                    control.send("log")
                    log, _ = control.recv()
                    records = change_records(conninfo)
                    delays, arrivals, seen = [], [], set()
                    for path, webhook_id, arrived in log:
                        record = records.get(webhook_id)
                        if record not in acks or (path, webhook_id) in seen:
                            continue
                        seen.add((path, webhook_id))
                        delays.append((arrived - acks[record]) * 1000)
                        arrivals.append(arrived)
                    last = max(arrivals, default=first)
                    rate = len(arrivals) / (last - first) if arrivals else 0.0
                    print(
                        f"{workers} delivery worker(s): {len(acks):,} appends in {appended:.1f} s "
                        f"({len(acks) / appended:,.1f}/s) -> {expected:,} deliveries offered "
                        f"({expected / appended:,.0f}/s); delivered {len(arrivals):,} "
                        f"({done:,} recorded) in {last - first:.1f} s from the first append: "
                        f"{rate:,.1f} deliveries/s; delay append->arrival p50 "
                        f"{percentile(delays, 50):,.0f} ms p99 {percentile(delays, 99):,.0f} ms "
                        f"max {max(delays, default=0):,.0f} ms"
                    )
                    results.append((workers, rate, len(arrivals)))
            finally:
                stop([projection])
            count = max([n for _, _, n in results] + [200])
            count = min(count, 5000)
            ceiling = baseline(count, secrets, ports, wire=False)
            wire = baseline(min(count, 1000), secrets, ports, wire=True)
            control.send("stop")
            log, checked = control.recv()
            receiver.join(timeout=10)
            print(
                f"baseline: {count:,} signed POSTs one after another from one process over one "
                f"keep-alive client (the transport's ceiling): {ceiling:,.1f} POSTs/s; through "
                f"the worker's wire code (a client and connection per POST): {wire:,.1f} POSTs/s"
            )
            for workers, rate, _ in results:
                print(
                    f"ratio deliveries/s with {workers} worker(s) / baseline POSTs/s: "
                    f"{rate / ceiling:.3f}"
                )
            print(
                f"signatures checked at the receiver (1 in {args.verify_every}): "
                f"{checked.get('verified', 0)} valid, {checked.get('failed', 0)} invalid; "
                f"{len(log):,} requests received in all"
            )
        finally:
            services.close_sync()


if __name__ == "__main__":
    main()
