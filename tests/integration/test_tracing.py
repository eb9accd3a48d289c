"""OpenTelemetry tracing by configuration: off by default; on, requests are spans named by their
route template and SQL statements spans without their parameters. Run in a child process: a
tracer provider and the SQLAlchemy instrumentation are global to a process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from service import tracing

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]

CHILD = """
import json, sys
from fastapi.testclient import TestClient
from api.app import create_app
from service.settings import Settings

if sys.argv[1] == "off, a provider set":  # by another library of the process, say
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

    given = TracerProvider()
    given.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    trace.set_tracer_provider(given)
settings = Settings(
    tracing=sys.argv[1] == "on", database_url=sys.argv[2], run_projections_in_api=False
)
app = create_app(settings)  # as `credit serve` does: the services are built in the lifespan
with TestClient(app) as client:  # which migrates: SQL
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/livez").status_code == 200
from opentelemetry import trace
provider = trace.get_tracer_provider()
if hasattr(provider, "force_flush"):
    provider.force_flush()
    provider.shutdown()
"""


def run_child(mode: str, tmp_path: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CREDIT_", "OTEL_"))}
    env["OTEL_TRACES_EXPORTER"] = "console"
    env["OTEL_SERVICE_NAME"] = "credit-test"
    result = subprocess.run(
        [sys.executable, "-c", CHILD, mode, f"sqlite:///{tmp_path}/credit.sqlite3"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_requests_and_sql_are_spans_when_tracing_is_on_and_nothing_when_off(tmp_path):
    traced = run_child("on", tmp_path)
    assert '"name": "GET /openapi.json"' in traced
    assert '"service.name": "credit-test"' in traced
    assert '"db.statement": "SELECT' in traced or '"db.query.text": "SELECT' in traced
    assert "/livez" not in traced  # the platform's probes are left out
    (tmp_path / "off").mkdir()
    assert run_child("off", tmp_path / "off").strip() == ""


def test_requests_are_no_spans_when_tracing_is_off_though_a_tracer_provider_is_set(tmp_path):
    """FastAPI traces requests itself wherever a provider is set: off, the service makes none."""
    assert run_child("off, a provider set", tmp_path).strip() == ""


def test_tracing_without_its_extra_stops_with_one_line_naming_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)  # as if not installed
    with pytest.raises(
        tracing.TracingUnavailable, match=r"pip install 'credit-transport\[tracing\]'"
    ):
        tracing.check_tracing_available()
