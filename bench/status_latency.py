"""Status queries over HTTP on PostgreSQL at fixed offered rates up to saturation, against a
bare FastAPI + asyncpg primary-key read of the same table (the Python limit), in the same run,
with the same number of server processes. Also a batch status of 50 codes.

    .venv/bin/python -m bench.status_latency --subjects 20000 --rates 200,500,1000,1500 \
        --workers 1 --seconds 10

The load comes from bench/loadgen.py in processes of its own (open loop, latency from the
scheduled send time). The servers' CPU time per request is read from /proc (Linux) around each
run. Every status answer of the service also writes its access-log row
(查询留痕); the baseline writes nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import httpx
import orjson
from sqlalchemy import make_url

from bench.fixtures import (
    enterprise_code,
    machine,
    postgres_cpu_seconds,
    process_tree_cpu_seconds,
    scratch_postgres,
    seeded_store,
    server_env,
)
from bench.loadgen import LoadResult, run_load

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(args: list[str], env: dict[str, str], port: int) -> subprocess.Popen:
    """Start a server on a port nobody else holds, and wait until it answers."""
    process = subprocess.Popen(
        args,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"server on port {port} did not start")


def start_service_and_baseline(
    env: dict[str, str], dsn: str, workers: int = 1
) -> tuple[dict[str, int], dict[str, subprocess.Popen]]:
    """The service and the bare baseline, each with `workers` processes on a free port."""
    processes = ["--workers", str(workers)]
    ports = {"service": free_port(), "baseline": free_port()}
    servers = {
        "service": start_server(
            [str(BIN / "credit"), "serve", "--port", str(ports["service"]), *processes],
            env,
            ports["service"],
        )
    }
    try:
        servers["baseline"] = start_server(
            [
                str(BIN / "uvicorn"),
                "bench.baseline_app:app",
                "--port",
                str(ports["baseline"]),
                "--log-level",
                "warning",
                *processes,
            ],
            {"BASELINE_DSN": dsn},
            ports["baseline"],
        )
    except BaseException:
        servers["service"].terminate()
        raise
    return ports, servers


def seed(url: str, subjects: int) -> tuple[list[str], str]:
    """Subjects with three penalties each on average; returns their ids and an agency token."""
    return seeded_store(url, rows=subjects * 3, subjects=subjects, role="agency")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=20_000)
    parser.add_argument("--rates", default="200,500,1000,1500")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=1, help="server processes, each side")
    parser.add_argument("--load-processes", type=int, default=1)
    parser.add_argument("--batch-rate", type=float, default=20)
    args = parser.parse_args()
    print(f"command: python -m bench.status_latency {' '.join(sys.argv[1:])}")
    with scratch_postgres() as url:
        ids, token = seed(url, args.subjects)
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        env = server_env(url)
        ports, servers = start_service_and_baseline(env, dsn, args.workers)
        print(
            f"machine: {machine()}; {len(ids):,} subjects, {args.subjects * 3:,} penalties; "
            f"{args.workers} server process(es) each; load generator, servers and PostgreSQL "
            "share the machine"
        )
        rng = random.Random(7)
        sample = [rng.choice(ids) for _ in range(5000)]
        auth = {"Authorization": f"Bearer {token}"}
        status_requests = [("GET", f"/v1/subjects/{sid}/status", auth, b"") for sid in sample]
        best: dict[str, float] = {}
        cpu: dict[str, list[float]] = {name: [] for name in ports}
        rates = [float(r) for r in args.rates.split(",")]
        try:
            for port in ports.values():  # warm, unmeasured: each server's first requests
                run_load(f"http://127.0.0.1:{port}", status_requests, rates[0], WARM_SECONDS)
            for rate in rates:
                for name, port in ports.items():
                    result, cpu_ms, database_ms = measured(
                        servers[name],
                        partial(
                            run_load,
                            f"http://127.0.0.1:{port}",
                            status_requests,
                            rate,
                            args.seconds,
                            args.load_processes,
                        ),
                    )
                    _print(name, result, cpu_ms, database_ms)
                    if sustained(result):
                        best[name] = max(best.get(name, 0.0), result.achieved_rate)
                        cpu[name].append(cpu_ms)
            if cpu["service"] and cpu["baseline"]:
                service_cpu, baseline_cpu = min(cpu["service"]), min(cpu["baseline"])
                print(
                    f"server CPU per request (least of the sustained rates): service "
                    f"{service_cpu:.2f} ms, baseline {baseline_cpu:.2f} ms; "
                    f"ratio {service_cpu / baseline_cpu:.2f}"
                )
            print(
                f"highest rate sustained (p99 under {SUSTAINED_P99_MS:.0f} ms, no errors): "
                + ", ".join(f"{name} {best.get(name, 0):,.0f}/s" for name in ports)
                + (
                    f"; ratio {best.get('service', 0) / best['baseline']:.2f}"
                    if best.get("baseline")
                    else ""
                )
            )
            if best.get("baseline", 0) >= 0.95 * max(rates):  # achieved, a little under
                # A ratio to a rate the baseline was never pushed past says little.
                print(
                    "the baseline sustained the highest rate offered: its own limit is higher "
                    "and the ratio at most the one above (offer higher rates to find it)"
                )
            codes = [enterprise_code(n) for n in range(args.subjects)]
            batches = [
                (
                    "POST",
                    "/v1/status:batch",
                    {**auth, "Content-Type": "application/json"},
                    orjson.dumps({"codes": rng.sample(codes, 50)}),
                )
                for _ in range(200)
            ]
            result, cpu_ms, database_ms = measured(
                servers["service"],
                lambda: run_load(
                    f"http://127.0.0.1:{ports['service']}", batches, args.batch_rate, args.seconds
                ),
            )
            _print("batch-50", result, cpu_ms, database_ms)
        finally:
            for process in servers.values():
                process.terminate()
                process.wait()


SUSTAINED_P99_MS = 50.0
# A server's first requests pay for what it builds once (statements, caches, lazy imports).
WARM_SECONDS = 2.0


def sustained(result: LoadResult) -> bool:
    """The server kept up: every request answered without error, p99 within bounds."""
    return result.errors == 0 and result.percentile(99) < SUSTAINED_P99_MS


def measured(
    server: subprocess.Popen, load: Callable[[], LoadResult]
) -> tuple[LoadResult, float, float]:
    """The load's result, and the server's and PostgreSQL's CPU time per completed request, in
    ms (from /proc: user and system time of the server's processes and of the database's,
    whatever else shares the machine)."""
    before, database_before = process_tree_cpu_seconds(server.pid), postgres_cpu_seconds()
    result = load()
    spent = process_tree_cpu_seconds(server.pid) - before
    database = postgres_cpu_seconds() - database_before
    answered = max(result.completed, 1)
    return result, spent * 1000 / answered, database * 1000 / answered


def _print(name: str, result: LoadResult, cpu_ms: float, database_ms: float) -> None:
    statuses = ", ".join(f"{k}: {v}" for k, v in sorted(result.statuses.items()))
    print(
        f"{name:9s} {result.summary()}  cpu {cpu_ms:.2f} ms/request, PostgreSQL's "
        f"{database_ms:.2f}  ({statuses})"
    )


if __name__ == "__main__":
    main()
