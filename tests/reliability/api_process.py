"""The API as a separate process (uvicorn), for tests that kill it or its database under load."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from service.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
# httpx.get and httpx.post make a client a call, and each client loads the certificate
# authorities (some 35 ms of CPU) for TLS that these plain-HTTP requests never use, while the
# writers send hundreds: one context, made once, for every request of these tests.
TLS = ssl.create_default_context()


def get(url: str, **options: Any) -> httpx.Response:
    return httpx.get(url, verify=TLS, **options)


def post(url: str, **options: Any) -> httpx.Response:
    return httpx.post(url, verify=TLS, **options)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_api(settings: Settings, port: int) -> subprocess.Popen:
    """Starts the API on this port and returns once /health answers 200."""
    env = {
        **os.environ,
        "CREDIT_DATABASE_URL": settings.database_url,
        "CREDIT_SUBJECT_ID_KEY": settings.subject_id_key.get_secret_value(),
        "CREDIT_ENVIRONMENT": "test",
        "CREDIT_CLIENT_SECRET_SCRYPT_N": "2",
        # One client sends these tests' hundreds of writes and retries as fast as the machine
        # allows, past the per-client limit (tests/api/test_rate_limit.py holds that limit).
        "CREDIT_RATE_LIMIT_BURST": "100000",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "api.app:create_served_app",
            "--factory",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    process.wait()
    raise AssertionError("the API did not start")
