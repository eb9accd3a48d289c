"""An open-loop HTTP/1.1 load generator, run in processes of its own.

Requests leave on a fixed schedule (`rate` per second in all) whatever the answers do, and each
latency is measured from the request's scheduled time, so a server that falls behind shows its
queueing instead of slowing the generator down (no coordinated omission). Plain asyncio
streams with keep-alive connections and a minimal response parser keep the generator's own cost
per request far below httpx's, so that on a small machine the server, not the client, is
measured.

    python -m bench.loadgen --url http://127.0.0.1:8000/health --rate 500 --seconds 10

As a library: `run_load(requests, rate, seconds, processes)` with requests as a list of
(method, path, headers, body) tuples, cycled in order; returns a `LoadResult`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing
import time
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

Request = tuple[str, str, dict[str, str], bytes]
# How long an idle connection is used again: under the servers' keep-alive timeout (uvicorn's
# default, 5 s), with a second to spare for a request on its way.
KEPT_ALIVE_SECONDS = 4.0


@dataclass
class LoadResult:
    offered_rate: float
    seconds: float
    sent: int
    completed: int
    errors: int  # transport errors and status >= 400 not asked for
    statuses: dict[str, int]
    latencies_ms: list[float]

    @property
    def achieved_rate(self) -> float:
        return self.completed / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    def summary(self) -> str:
        return (
            f"offered {self.offered_rate:7,.0f}/s achieved {self.achieved_rate:7,.0f}/s  "
            f"p50 {self.percentile(50):8.2f} ms  p99 {self.percentile(99):8.2f} ms  "
            f"p99.9 {self.percentile(99.9):8.2f} ms  max {max(self.latencies_ms or [0]):8.1f} ms"
            f"  errors {self.errors}"
        )


def _encode(host: str, request: Request) -> bytes:
    method, path, headers, body = request
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status


async def _generate(
    base_url: str, requests: list[Request], rate: float, seconds: float, offset: int
) -> dict:
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    encoded = [_encode(f"{host}:{port}", r) for r in requests]
    # Kept-alive connections, each with when it was last used: one idle for longer than the
    # server keeps it (uvicorn's --timeout-keep-alive, 5 s) is closed by the server, and a
    # request written to it would fail as a transport error the server never saw; as HTTP
    # clients do (httpx's keepalive_expiry, 5 s), such a connection is not used again.
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    errors = 0

    async def one(scheduled: float, payload: bytes) -> None:
        nonlocal errors
        connection = None
        while idle and connection is None:
            reader, writer, last_used = idle.pop()
            if time.perf_counter() - last_used < KEPT_ALIVE_SECONDS:
                connection = reader, writer
            else:
                writer.close()
        try:
            if connection is None:
                connection = await asyncio.open_connection(host, port)
            reader, writer = connection
            writer.write(payload)
            status = await _read_response(reader)
            statuses[str(status)] = statuses.get(str(status), 0) + 1
            if status >= 400:
                errors += 1
            idle.append((reader, writer, time.perf_counter()))
        except (OSError, asyncio.IncompleteReadError, ValueError):
            errors += 1
            statuses["transport-error"] = statuses.get("transport-error", 0) + 1
            if connection is not None:
                connection[1].close()
            return
        latencies.append((time.perf_counter() - scheduled) * 1000)

    total = int(rate * seconds)
    start = time.perf_counter() + 0.05
    tasks = []
    for n in range(total):
        scheduled = start + n / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(scheduled, encoded[(offset + n) % len(encoded)])))
    await asyncio.gather(*tasks)
    for _, writer, _ in idle:
        writer.close()
    return {"sent": total, "latencies": latencies, "statuses": statuses, "errors": errors}


def _worker(args: tuple) -> dict:
    """One generator process. Its garbage collector is off while it runs: a generator holds
    every request's task, coroutine and answer until the end (tens of thousands of objects), and
    a full collection over them stopped it for 100 ms and more, during which requests left late
    and the latencies, taken from each request's scheduled time, counted the wait as the
    server's (a p99 over 50 ms at 400/s, found by timing the generator's collections against its
    slow requests). A run of seconds makes next to no cyclic garbage."""
    base_url, requests, rate, seconds, offset = args
    gc.collect()
    gc.disable()
    try:
        return asyncio.run(_generate(base_url, requests, rate, seconds, offset))
    finally:
        gc.enable()


def run_load(
    base_url: str,
    requests: list[Request],
    rate: float,
    seconds: float,
    processes: int = 1,
) -> LoadResult:
    """Offer `rate` requests/s for `seconds`, split over `processes` generator processes."""
    share = rate / processes
    jobs = [
        (base_url, requests, share, seconds, n * len(requests) // processes)
        for n in range(processes)
    ]
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        parts = pool.map(_worker, jobs)
    statuses: dict[str, int] = {}
    for part in parts:
        for status, count in part["statuses"].items():
            statuses[status] = statuses.get(status, 0) + count
    latencies = [latency for part in parts for latency in part["latencies"]]
    return LoadResult(
        offered_rate=rate,
        seconds=seconds,
        sent=sum(p["sent"] for p in parts),
        completed=len(latencies),
        errors=sum(p["errors"] for p in parts),
        statuses=statuses,
        latencies_ms=latencies,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--header", action="append", default=[], help="Name: value")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    parts = urlsplit(args.url)
    headers = dict(h.split(": ", 1) for h in args.header)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    result = run_load(
        f"{parts.scheme}://{parts.netloc}",
        [("GET", path, headers, b"")],
        args.rate,
        args.seconds,
        args.processes,
    )
    if args.json:
        document = asdict(result)
        document["achieved_rate"] = result.achieved_rate
        print(json.dumps(document))
    else:
        print(result.summary())


if __name__ == "__main__":
    main()
