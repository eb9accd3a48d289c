"""What one batch status request (`POST /v1/status:batch`, 50 codes and an invalid one) costs
in-process: the ASGI app called directly, as bench/status_profile.py calls it, on a scratch
PostgreSQL store. Prints CPU per request (all threads, the access-log commits included), the
Python calls per request (cProfile's count, which the machine's load does not move) and a
digest of the first answers' bytes, to compare an answer before and after a change.

    .venv/bin/python -m bench.batch_status_profile --subjects 500 --requests 200
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import hashlib
import logging
import os
import pstats
import random
import sys
import time
from collections.abc import MutableMapping
from typing import Any

import orjson

from bench.fixtures import enterprise_code, machine, scratch_postgres, seeded_store, server_env
from bench.status_profile import scope_for, with_lifespan


async def post(app: Any, scope: dict[str, Any], body: bytes) -> tuple[int, bytes]:
    status, answer = 0, b""

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal status, answer
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            answer += message.get("body", b"")

    headers = [*scope["headers"], (b"content-length", str(len(body)).encode())]
    await app({**scope, "headers": headers}, receive, send)
    return status, answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=500)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3, help="CPU runs; the least counts")
    args = parser.parse_args()
    print(f"command: python -m bench.batch_status_profile {' '.join(sys.argv[1:])}", flush=True)
    print(f"machine: {machine()}", flush=True)
    with scratch_postgres() as url:
        _, token = seeded_store(url, rows=args.subjects * 3, subjects=args.subjects, role="agency")
        os.environ.update(server_env(url))
        from api.app import create_app
        from service.logs import configure_logging
        from service.settings import get_settings

        get_settings.cache_clear()
        app = create_app(get_settings())
        configure_logging(get_settings().log_format)  # as `credit serve`, written to nowhere
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 (until the process ends)
        rng = random.Random(7)
        codes = [enterprise_code(n) for n in range(args.subjects)]
        bodies = [
            orjson.dumps({"codes": [*rng.sample(codes, 50), "not-a-code"]}) for _ in range(50)
        ]
        scope = scope_for("/v1/status:batch", token)
        scope |= {
            "method": "POST",
            "app": app,
            "headers": [*scope["headers"], (b"content-type", b"application/json")],
        }

        async def loop(requests: int) -> float:
            started = time.process_time()
            for n in range(requests):
                status, answer = await post(app, scope, bodies[n % len(bodies)])
                if status != 200:
                    raise RuntimeError(f"answered {status}: {answer[:200]!r}")
            return (time.process_time() - started) / requests

        async def run() -> None:
            await loop(20)  # warm: pools, caches, first compiles
            digest = hashlib.sha256()
            for body in bodies[:10]:
                digest.update((await post(app, scope, body))[1])
            cpu = min([await loop(args.requests) for _ in range(args.rounds)])
            profile = cProfile.Profile()
            profile.enable()
            await loop(args.requests)
            profile.disable()
            calls = pstats.Stats(profile).total_calls / args.requests  # type: ignore[attr-defined]
            print(f"batch-50  {cpu * 1e6:8.0f} µs CPU, {calls:6.0f} Python calls per request")
            print(f"answers   sha256 {digest.hexdigest()} (the first 10 batches' bytes)")

        asyncio.run(with_lifespan(app, run))


if __name__ == "__main__":
    main()
