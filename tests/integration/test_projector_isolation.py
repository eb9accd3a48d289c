"""A projector that raises on an event stops alone: the other read models go on projecting and
answering, /health names the projector with the event's position, type and error, reads that
wait on the stopped read model answer 503 at once, and an operator resumes it once fixed (or
skips the event, recorded with a reason, which a rebuild and a replay check honour)."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import date

import pytest
from sqlalchemy import create_engine, make_url, select, text

from alembic import command
from projections.cases.projector import CaseProjector
from projections.runner import ProjectionFailed, ProjectionRunner
from projections.tables import cases, projection_skips, projection_tracking
from service.commanding.cases import CaseNumbers, ObjectionApplication
from service.commanding.commands import RegisterSubject, record_command_adapter
from service.replay.check import verify_read_models
from service.replay.generations import rebuild_beside
from service.store.database import Database
from service.store.migrations import alembic_config, upgrade
from service.store.read_store import sync_engine
from tests.builders import enterprise, penalty
from tests.integration.readmodel import dump
from tests.integration.test_cli import credit
from tests.postgres import ADMIN_URL, postgres_reachable

pytestmark = pytest.mark.integration
COMPANY = enterprise(811)


class BreaksOnObjections(CaseProjector):
    """The cases projector with a bug: it raises on every objection while `broken` is set."""

    broken = True

    def apply(self, conn, events):
        if self.broken and any(type(e).__name__ == "ObjectionFiled" for _, e in events):
            raise RuntimeError("objections are not understood")
        super().apply(conn, events)


def with_broken_cases(services) -> BreaksOnObjections:
    broken = BreaksOnObjections(services.clock.zone)
    services.runner.projectors = [
        broken if p.name == "cases" else p for p in services.runner.projectors
    ]
    return broken


async def wait_for(client, predicate, seconds: float = 15):
    deadline = time.monotonic() + seconds
    while True:
        body = (await client.get("/health")).json()
        if predicate(body) or time.monotonic() > deadline:
            return body
        await asyncio.sleep(0.05)


async def record(client, subject_id, ref: str) -> int:
    response = await client.post(f"/v1/subjects/{subject_id}/events", json=penalty(ref))
    assert response.status_code == 201, response.text
    return response.json()["position"]


async def file_objection(client, record_id) -> dict:
    response = await client.post(
        "/v1/cases/objection",
        json={
            "subject_code": COMPANY["code"],
            "record_id": record_id,
            "grounds": "wrong_content",
            "statement": "金额有误",
            "applicant": "公司",
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


async def setup(client) -> tuple[str, list[str]]:
    sid = (await client.post("/v1/subjects", json=COMPANY)).json()["subject_id"]
    acks = [
        (await client.post(f"/v1/subjects/{sid}/events", json=penalty(f"ISO-{n}"))).json()
        for n in range(2)
    ]
    ready = await client.get(
        f"/v1/subjects/{sid}/status", params={"min_position": acks[-1]["position"]}
    )
    assert ready.status_code == 200, ready.text
    return sid, [a["record_id"] for a in acks]


async def test_a_raising_projector_stops_alone_and_resumes_once_fixed(client, services, settings):
    broken = with_broken_cases(services)
    sid, record_ids = await setup(client)
    filed = await file_objection(client, record_ids[0])
    failing = filed["position"]

    health = await wait_for(
        client, lambda b: b["projections"]["projectors"]["cases"]["status"] == "failed"
    )
    assert health["status"] == "degraded"
    cases = health["projections"]["projectors"]["cases"]
    assert cases["failure"] == {
        "position": failing,
        "event_type": "ObjectionFiled",
        "error": "RuntimeError: objections are not understood",
        "at": cases["failure"]["at"],
    }
    assert cases["position"] == failing - 1
    assert f"cases failed on position {failing}" in health["projections"]["failure"]

    # The credit file read model goes on: a later write is read back with min_position.
    later = await record(client, sid, "ISO-LATER")
    status = await client.get(f"/v1/subjects/{sid}/status", params={"min_position": later})
    assert status.status_code == 200, status.text
    assert status.json()["position"] >= later
    health = (await client.get("/health")).json()
    assert health["projections"]["projectors"]["credit_file"]["position"] >= later
    # The stopped one says so at once instead of timing out.
    started = time.monotonic()
    stuck = await client.post(
        "/v1/cases:progress",
        json={"case_number": filed["case_number"], "query_code": filed["query_code"]},
        params={"min_position": failing},
    )
    assert stuck.status_code == 503 and stuck.json()["type"].endswith("/projection-stopped")
    assert time.monotonic() - started < settings.read_your_writes_timeout_seconds

    shown = credit(settings, "projections", "status")
    assert shown.returncode == 0, shown.stderr
    assert f"cases\tposition {failing - 1}" in shown.stdout
    assert f"FAILED on {failing} (ObjectionFiled)" in shown.stdout
    assert "objections are not understood" in shown.stdout

    # A restart of nothing: the fix is in, and an operator resumes from another process.
    broken.broken = False
    resumed = credit(settings, "projections", "resume", "cases")
    assert resumed.returncode == 0, resumed.stderr
    health = await wait_for(client, lambda b: b["status"] == "ok" and b["projections"]["lag"] == 0)
    assert health["status"] == "ok", health
    progress = await client.post(
        "/v1/cases:progress",
        json={"case_number": filed["case_number"], "query_code": filed["query_code"]},
        params={"min_position": failing},
    )
    assert progress.status_code == 200, progress.text
    assert progress.json()["status"] == "filed"


@pytest.mark.slow
async def test_a_skip_needs_the_failed_position_and_a_reason_and_is_honoured_by_rebuild_and_replay(
    client, services, settings
):
    with_broken_cases(services)  # never fixed: the event can never be projected
    sid, record_ids = await setup(client)
    failing = (await file_objection(client, record_ids[0]))["position"]
    await wait_for(client, lambda b: b["projections"]["projectors"]["cases"]["status"] == "failed")

    wrong = credit(
        settings, "projections", "skip", "cases", "--position", str(failing + 1),
        "--reason", "x", "--by", "ops",
    )  # fmt: skip
    assert wrong.returncode == 2 and "only the event it stopped on" in wrong.stderr
    blank = credit(
        settings, "projections", "skip", "cases", "--position", str(failing),
        "--reason", "  ", "--by", "ops",
    )  # fmt: skip
    assert blank.returncode == 2 and "needs a reason" in blank.stderr
    with services.write_engine.connect() as conn:
        assert conn.execute(select(projection_skips)).all() == []

    skipped = credit(
        settings, "projections", "skip", "cases", "--position", str(failing),
        "--reason", "objection of a test that cannot be projected", "--by", "ops-zhang",
    )  # fmt: skip
    assert skipped.returncode == 0, skipped.stderr
    with services.write_engine.connect() as conn:
        [row] = conn.execute(select(projection_skips)).mappings().all()
    assert (row["projector"], row["position"], row["event_type"], row["skipped_by"]) == (
        "cases",
        failing,
        "ObjectionFiled",
        "ops-zhang",
    )
    later = await record(client, sid, "ISO-AFTER-SKIP")
    health = await wait_for(
        client, lambda b: b["status"] == "ok" and b["projections"]["position"] >= later
    )
    assert health["status"] == "ok", health
    assert health["projections"]["projectors"]["cases"]["skipped"][0]["position"] == failing

    services.runner.stop()
    live = dump(services.write_engine)
    assert live["cases"] == []  # the skipped filing is not in the read model
    replay = verify_read_models(services)
    assert replay.ok, replay.differences[:5]
    assert replay.positions == {
        "credit_file": later,
        "cases": later,
        "report_records": later,
        "changes": later,
        "notices": later,
    }
    services.runner.rebuild()  # passes over the skipped event again: it cannot fail there
    assert dump(services.write_engine) == live
    assert services.runner.failures == {}
    rebuild_beside(services)  # so does a new generation, built beside and switched in
    assert dump(services.write_engine) == live
    assert services.runner.states()["cases"].position == later


def test_a_restart_tries_the_failed_event_again_and_clears_the_failure(services):
    """The fix deployed, a new process's runner tries the recorded event again: a restart is a
    resume."""
    services.runner.stop()
    broken = with_broken_cases(services)
    company = enterprise(812)
    sid = services.files.register(RegisterSubject(**company), recorded_by="t").subject_id
    record_id = services.files.append(
        sid, record_command_adapter.validate_python(penalty("ISO-R")), recorded_by="t"
    ).record_id
    services.runner.catch_up()
    failing = services.cases.file_objection(
        ObjectionApplication(
            subject_code=company["code"],
            record_id=record_id,
            grounds="wrong_content",
            statement="金额有误",
            applicant="公司",
        )
    ).position
    with pytest.raises(ProjectionFailed):
        services.runner.catch_up()
    assert services.runner.states()["cases"].failure.position == failing

    broken.broken = False
    restarted = ProjectionRunner(
        services.ledger.recorder,
        services.ledger.mapper,
        services.write_engine,
        services.runner.projectors,
    )
    restarted.catch_up()
    state = restarted.states()["cases"]
    assert state.position == failing and state.failure is None


@pytest.fixture(params=["sqlite", "postgres"])
def blank_database(request, tmp_path):
    """An empty database of its own, for migrating from an older revision."""
    if request.param == "sqlite":
        yield Database.from_url(f"sqlite:///{tmp_path}/old.sqlite3")
        return
    import psycopg

    reachable, reason = postgres_reachable()
    if not reachable:
        pytest.skip(f"PostgreSQL unreachable: {reason}")
    name = f"credit_migrate_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        yield Database.from_url(url)
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_shared_position_of_a_deployed_database_becomes_one_per_projector(blank_database):
    command.upgrade(alembic_config(blank_database), "0008")
    engine = create_engine(blank_database.sync_url())
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO projection_tracking (name, position, updated_at) "
                    "VALUES ('read_models', 4242, CURRENT_TIMESTAMP)"
                )
            )
            for n, number in enumerate(
                ("XF20261120831416", "XF20261120000007", "YY20261119000012")
            ):
                conn.execute(
                    cases.insert().values(
                        case_id=uuid.uuid4(),
                        case_number=number,
                        kind="repair",
                        subject_id=uuid.uuid4(),
                        target_record_id=uuid.uuid4(),
                        authority_code="A",
                        query_code_hash="h",
                        status="filed",
                        filed_on=date(2026, 11, 20),
                        missing=[],
                        steps=[],
                        position=n,
                    )
                )
        upgrade(blank_database)
        with engine.connect() as conn:
            rows = dict(
                conn.execute(
                    select(projection_tracking.c.name, projection_tracking.c.position)
                ).all()
            )
            series: dict[str, int] = dict(
                conn.execute(text("SELECT series, last_serial FROM case_number_series")).all()
            )
    finally:
        engine.dispose()
    assert rows == {"credit_file": 4242, "cases": 4242}
    # Serials go on after the random numbers handed out before: none of them comes again.
    assert series == {"XF20261120": 831416, "YY20261119": 12}
    live = sync_engine(blank_database)
    try:
        assert CaseNumbers(live).allocate("XF", date(2026, 11, 20)) == "XF20261120831417"
    finally:
        live.dispose()
