"""The projection runner on a real store: exactly-once pages, restarts, kills and failures."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import exc

from service.commands import RegisterSubject, record_command_adapter
from tests.builders import enterprise, penalty, rating
from tests.integration.readmodel import dump

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def fill(services, subjects: int, records_each: int) -> int:
    """Write through the command service; returns the log head."""
    for n in range(subjects):
        ack = services.files.register(RegisterSubject(**enterprise(n + 1)), recorded_by="t")
        for m in range(records_each):
            body = penalty(f"P-{n}-{m}") if m % 2 else rating(f"R-{n}-{m}")
            services.files.append(
                ack.subject_id, record_command_adapter.validate_python(body), recorded_by="t"
            )
    return services.ledger.recorder.max_notification_id()


def test_catch_up_applies_each_event_once_and_resumes_where_it_stopped(services):
    head = fill(services, subjects=5, records_each=4)
    services.runner.page_size = 7
    assert services.runner.process_next_page() == 7
    assert services.runner.position() == 7
    # a new runner (a restart) resumes from the tracked position
    from projections.runner import ProjectionRunner

    restarted = ProjectionRunner(
        services.ledger.recorder,
        services.ledger.mapper,
        services.write_engine,
        services.runner.projectors,
        page_size=7,
    )
    assert restarted.catch_up() == head - 7
    assert restarted.position() == head
    rows = dump(services.write_engine)
    assert len(rows["subjects"]) == 5 and len(rows["records"]) == 20


def test_a_runner_killed_mid_page_leaves_read_models_equal_to_a_rebuild(
    services, settings, tmp_path
):
    head = fill(services, subjects=6, records_each=10)
    services.runner.page_size = 50
    services.runner.process_next_page()  # the first page is committed before the kill
    committed = services.runner.position()
    marker = tmp_path / "in-page"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.stall_in_page",
            settings.database_url,
            str(marker),
        ],
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert process.poll() is None, "the stalling projector exited early"
            assert time.monotonic() < deadline, "the stalling projector never reached its page"
            time.sleep(0.05)
    finally:
        process.kill()  # SIGKILL, inside the open page transaction
        process.wait()
    assert services.runner.position() == committed
    services.runner.catch_up()
    assert services.runner.position() == head
    resumed = dump(services.write_engine)
    services.runner.rebuild()
    assert dump(services.write_engine) == resumed
    assert len(resumed["records"]) == 60


def test_a_failing_projector_stops_the_runner_loudly_and_changes_nothing(services):
    fill(services, subjects=2, records_each=2)
    before = dump(services.write_engine)

    class Broken:
        name, tables = "broken", ()

        def apply(self, conn, events):
            raise ValueError("cannot project this")

    services.runner.projectors = [*services.runner.projectors, Broken()]
    services.runner.start()
    deadline = time.monotonic() + 10
    while services.runner.running and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not services.runner.running
    assert "projector broken failed" in str(services.runner.failure)
    assert services.runner.position() == 0
    assert dump(services.write_engine) == before


def test_a_lost_connection_in_a_projector_is_retried_not_fatal(services):
    """SQLAlchemy reports some lost connections as errors other than OperationalError (an
    InterfaceError, a DBAPIError it marks connection_invalidated): they are transient too."""
    head = fill(services, subjects=2, records_each=2)

    class LosesItsConnectionTwice:
        name, tables, failures = "flaky", (), 0

        def apply(self, conn, events):
            if self.failures < 2:
                self.failures += 1
                raise exc.InterfaceError(
                    "SELECT 1", {}, Exception("connection is closed"), connection_invalidated=True
                )

    flaky = LosesItsConnectionTwice()
    services.runner.projectors = [*services.runner.projectors, flaky]
    services.runner.start()
    deadline = time.monotonic() + 10
    while services.runner.position() < head and time.monotonic() < deadline:
        time.sleep(0.02)
    assert services.runner.running and services.runner.failure is None
    assert services.runner.position() == head and flaky.failures == 2


async def test_health_reports_a_stopped_runner_with_503(client, services):
    services.runner.failure = RuntimeError("projector broke")
    response = await client.get("/health")
    assert response.status_code == 503
    assert "projector broke" in response.json()["projections"]["failure"]
