"""The processes compose.yaml runs, run here without Docker: `credit migrate` once, then
`credit serve` (two uvicorn workers) and `credit worker` side by side, with compose.yaml's own
production settings on a scratch PostgreSQL database. Once /readyz says so, a recorder writes
and reads back through the worker's projections; the metrics of both API processes add up."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import make_url

from tests.builders import AUTHORITY_CODE, enterprise, licence
from tests.postgres import ADMIN_URL, postgres_reachable
from tests.reliability.api_process import free_port
from tests.unit.test_deployment import compose, env_file, service_environment

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 180  # two API processes and a worker on a machine whose cores are busy


@pytest.fixture
def scratch_database() -> Iterator[str]:
    reachable, reason = postgres_reachable()
    if not reachable:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is unreachable in CI: {reason}")
        pytest.skip(f"PostgreSQL unreachable: {reason}")
    import psycopg

    name = f"credit_deploy_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def production_environment(database_url: str, service: str) -> dict[str, str]:
    """compose.yaml's environment for `service`, from a fresh env file, on this database."""
    secrets = env_file()
    environment = service_environment(compose()["services"][service], secrets)
    environment["CREDIT_DATABASE_URL"] = database_url
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("CREDIT_", "PROMETHEUS"))}
    return {**inherited, **environment, "COLUMNS": "200"}


def credit(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def wait_until_ready(url: str, processes: list[subprocess.Popen[bytes]]) -> httpx.Response:
    deadline = time.monotonic() + STARTUP_SECONDS
    last: httpx.Response | None = None
    while time.monotonic() < deadline:
        for process in processes:
            assert process.poll() is None, f"{process.args!r} exited with {process.returncode}"
        try:
            last = httpx.get(f"{url}/readyz", timeout=5)
            if last.status_code == 200:
                return last
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"not ready in {STARTUP_SECONDS} s: {last.text if last else 'no answer'}")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.mark.slow
def test_migrate_then_api_and_worker_serve_a_write_and_its_read(scratch_database, tmp_path):
    env = production_environment(scratch_database, "api")
    worker_env = production_environment(scratch_database, "worker")
    migrated = credit(production_environment(scratch_database, "migrate"), "migrate")
    assert migrated.returncode == 0, migrated.stderr
    created = credit(
        env,
        "clients",
        "create",
        "deploy-recorder",
        "--role",
        "recorder",
        "--agency-name",
        "郑州市交通运输局",
        "--agency-code",
        AUTHORITY_CODE,
        "--authority-code",
        AUTHORITY_CODE,
        "--sector",
        "road_transport",
    )
    assert created.returncode == 0, created.stderr
    [secret] = re.findall(r"^client_secret=(\S+)$", created.stdout, re.MULTILINE)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    api_log = (tmp_path / "api.log").open("wb")
    worker_log = (tmp_path / "worker.log").open("wb")
    [*serve_command] = compose()["services"]["api"]["command"]
    assert serve_command[:2] == ["credit", "serve"]
    serve_args = [a if a != "8000" else str(port) for a in serve_command[1:]]
    serve_args[serve_args.index("0.0.0.0")] = "127.0.0.1"
    api = subprocess.Popen(
        [sys.executable, "-m", "service.cli", *serve_args],
        cwd=ROOT,
        env=env,
        stdout=api_log,
        stderr=subprocess.STDOUT,
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "worker"],
        cwd=ROOT,
        env=worker_env,
        stdout=worker_log,
        stderr=subprocess.STDOUT,
    )
    try:
        ready = wait_until_ready(url, [api, worker])
        assert ready.json()["migrations_at_head"] is True
        assert (httpx.get(f"{url}/livez", timeout=5)).status_code == 200

        with httpx.Client(base_url=url, timeout=30) as http:
            token = http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=("deploy-recorder", secret),
            )
            assert token.status_code == 200, token.text
            http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
            opened = http.post("/v1/subjects", json=enterprise())
            assert opened.status_code == 201, opened.text
            subject_id = opened.json()["subject_id"]
            recorded = http.post(f"/v1/subjects/{subject_id}/events", json=licence())
            assert recorded.status_code == 201, recorded.text
            # projected by the worker process, read by an API process
            status = http.get(
                f"/v1/subjects/{subject_id}/status",
                params={"min_position": recorded.json()["position"]},
                headers={"X-Request-ID": "deploy-check-0001"},
            )
            assert status.status_code == 200, status.text
            assert status.headers["X-Request-ID"] == "deploy-check-0001"
            assert status.json()["published_records"]["total"] == 1

            # from 127.0.0.1 with the env file's metrics token; without it, refused
            metrics_token = env["CREDIT_METRICS_TOKEN"]
            metrics = http.get("/metrics", headers={"Authorization": f"Bearer {metrics_token}"})
            assert metrics.status_code == 200
            opened_once = 'method="POST",route="/v1/subjects",status="201"} 1.0'
            assert "credit_http_requests_total{" + opened_once in metrics.text
            assert re.search(
                r'credit_projection_lag_events\{projector="credit_file"\} 0\.0', metrics.text
            )
            assert 'credit_db_pool_connections_in_use{pool="write"}' in metrics.text
            # summed over the worker processes (multiprocess mode has no per-process collectors)
            assert "python_gc_objects_collected_total" not in metrics.text

        assert credit(worker_env, "projections", "ready").returncode == 0
    finally:
        stop(api)
        stop(worker)
        api_log.close()
        worker_log.close()
    # every log line is JSON; the read's line carries its request id and its route template
    lines = [
        json.loads(line)
        for line in (tmp_path / "api.log").read_text().splitlines()
        if line.startswith("{")
    ]
    status_lines = [line for line in lines if line.get("request_id") == "deploy-check-0001"]
    assert any(
        line.get("route") == "/v1/subjects/{subject_id}/status" and line.get("status") == 200
        for line in status_lines
    ), status_lines
    assert subject_id not in (tmp_path / "api.log").read_text()
    worker_lines = (tmp_path / "worker.log").read_text().splitlines()
    assert any(line.startswith("{") and json.loads(line)["level"] for line in worker_lines)
