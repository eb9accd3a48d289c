"""Status query latency over HTTP on PostgreSQL, open loop at fixed offered rates, against a
bare FastAPI + asyncpg primary-key read of the same table (the Python limit) in the same run.

    .venv/bin/python -m bench.status_latency --subjects 20000 --rates 100,300 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import make_url

from bench.fixtures import machine, penalty_csv, scratch_postgres
from service.bootstrap import build_services
from service.importing import import_stream
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def start_server(args: list[str], env: dict[str, str], port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        args,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server on port {port} did not start")


async def open_loop(url_for, rate: int, seconds: float) -> tuple[list[float], int]:
    """Send at a fixed offered rate whatever the answers do; latency counts from the
    scheduled send time, so queueing delay is not hidden (no coordinated omission)."""
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:
        start = time.perf_counter()

        async def one(scheduled: float) -> None:
            nonlocal errors
            response = await client.get(url_for())
            if response.status_code != 200:
                errors += 1
            latencies.append(time.perf_counter() - scheduled)

        tasks = []
        total = int(rate * seconds)
        for n in range(total):
            scheduled = start + n / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(scheduled)))
        await asyncio.gather(*tasks)
    return latencies, errors


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=20_000)
    parser.add_argument("--rates", default="100,300")
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    with scratch_postgres() as url:
        settings = Settings(environment="test", database_url=url, subject_id_key="bench")
        services = build_services(settings, migrate=False)
        import_stream(
            io.BytesIO(penalty_csv(args.subjects * 3, args.subjects)),
            "seed.csv",
            services.files,
            recorded_by="bench",
            batch_size=2000,
        )
        services.runner.catch_up()
        with services.write_engine.connect() as conn:
            ids = [str(r[0]) for r in conn.exec_driver_sql("SELECT subject_id FROM subjects")]
        services.close_sync()
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        bin_dir = Path(sys.executable).parent
        servers = {
            "service": (
                start_server(
                    [str(bin_dir / "credit"), "serve", "--port", "8765"],
                    {"CREDIT_DATABASE_URL": url, "CREDIT_SUBJECT_ID_KEY": "bench"},
                    8765,
                ),
                8765,
            ),
            "baseline": (
                start_server(
                    [
                        str(bin_dir / "uvicorn"),
                        "bench.baseline_app:app",
                        "--port",
                        "8766",
                        "--log-level",
                        "warning",
                    ],
                    {"BASELINE_DSN": dsn},
                    8766,
                ),
                8766,
            ),
        }
        print(f"command: python -m bench.status_latency {' '.join(sys.argv[1:])}")
        print(
            f"machine: {machine()}; {len(ids):,} subjects, {args.subjects * 3:,} penalties; "
            "client and servers share the machine"
        )
        try:
            for rate in [int(r) for r in args.rates.split(",")]:
                for name, (_, port) in servers.items():
                    rng = random.Random(rate)
                    base = f"http://127.0.0.1:{port}/v1/subjects/"
                    latencies, errors = asyncio.run(
                        open_loop(
                            lambda base=base, rng=rng: f"{base}{rng.choice(ids)}/status",
                            rate,
                            args.seconds,
                        )
                    )
                    print(
                        f"{name:9s} offered {rate:5d}/s: p50 {percentile(latencies, 50):7.2f} ms"
                        f"  p99 {percentile(latencies, 99):7.2f} ms  p99.9 "
                        f"{percentile(latencies, 99.9):7.2f} ms  mean "
                        f"{statistics.fmean(latencies) * 1000:7.2f} ms  errors {errors}"
                    )
        finally:
            for process, _ in servers.values():
                process.terminate()
                process.wait()


if __name__ == "__main__":
    main()
