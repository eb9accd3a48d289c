"""Replay checks over HTTP: started in the background by an auditor, followed to their result, a
tampered read-model row named by subject and field, one check at a time, queries answered
meanwhile, and a check whose process died shown as interrupted."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import psycopg
import pytest
from sqlalchemy import insert, select, update
from starlette.concurrency import run_in_threadpool

from projections.tables import records, subjects
from service.access.tables import replay_checks
from service.commanding.commands import RegisterSubject, record_command_adapter
from service.replay.jobs import scratch_name
from tests.builders import enterprise, penalty, rating
from tests.postgres import ADMIN_URL

pytestmark = pytest.mark.api
CHECKS = "/v1/audit/replay-checks"


def fill(services, count: int = 3) -> list:
    """Subjects with a rating and a penalty each, projected; returns their subject ids."""
    ids = []
    for n in range(count):
        subject = services.files.register(RegisterSubject(**enterprise(800 + n)), recorded_by="t")
        for body in (rating(f"RPL-R-{n}"), penalty(f"RPL-P-{n}")):
            services.files.append(
                subject.subject_id, record_command_adapter.validate_python(body), recorded_by="t"
            )
        ids.append(subject.subject_id)
    services.runner.catch_up()
    return ids


async def result(http, url: str, headers, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        check = (await http.get(url, headers=headers)).json()
        if check["state"] != "running":
            return check
        assert time.monotonic() < deadline, f"the check still runs: {check}"
        await asyncio.sleep(0.1)


async def test_a_check_passes_then_names_a_tampered_row_by_subject_and_field(
    anonymous, role_headers, services
):
    auditor = role_headers["auditor"]
    subject_ids = fill(services)
    started = await anonymous.post(CHECKS, headers=auditor)
    assert started.status_code == 202, started.text
    first = started.json()
    assert started.headers["location"] == f"{CHECKS}/{first['check_id']}"
    assert first["state"] == "running" and first["requested_by"] == "test-auditor"
    assert first["started_at"].endswith("Z")  # UTC
    passed = await result(anonymous, started.headers["location"], auditor)
    assert passed["state"] == "passed", passed["differences"]
    assert passed["progress"] == {"events_replayed": 9, "events_total": 9}
    # 3 subjects, 6 records, 6 record revisions, 6 subject versions; the 3 penalties' rows of the
    # figures' read model and their 3 sector rows; 12 changes (each rating and penalty
    # published, each rating's grade given and lowered by the penalty) and 3 told statuses
    assert (passed["position"], passed["rows_compared"], passed["difference_count"]) == (9, 42, 0)
    assert passed["differences"] == [] and passed["finished_at"] >= passed["started_at"]

    # Someone edits the live read models behind the projector's back.
    with services.write_engine.begin() as conn:
        rating_id = conn.execute(
            select(records.c.record_id).where(
                records.c.subject_id == subject_ids[1], records.c.type == "RatingIssued"
            )
        ).scalar_one()
        conn.execute(update(records).where(records.c.record_id == rating_id).values(grade="AAA"))
        conn.execute(
            update(subjects).where(subjects.c.subject_id == subject_ids[2]).values(sectors=["taxi"])
        )
    started = await anonymous.post(CHECKS, headers=auditor)
    assert started.status_code == 202, started.text
    failed = await result(anonymous, started.headers["location"], auditor)
    assert failed["state"] == "failed", failed
    assert failed["difference_count"] == 2
    assert sorted(failed["differences"], key=lambda d: d["table"]) == [
        {
            "table": "records",
            "key": str(rating_id),
            "subject_id": str(subject_ids[1]),
            "field": "grade",
            "live": "AAA",
            "replayed": "A",
        },
        {
            "table": "subjects",
            "key": str(subject_ids[2]),
            "subject_id": str(subject_ids[2]),
            "field": "sectors",
            "live": ["taxi"],
            "replayed": ["road_transport"],
        },
    ]
    listed = (await anonymous.get(CHECKS, headers=auditor)).json()["checks"]
    assert [c["check_id"] for c in listed] == [failed["check_id"], passed["check_id"]]
    assert [c["state"] for c in listed] == ["failed", "passed"]
    assert "differences" not in listed[0]


async def test_only_auditors_start_or_read_checks(anonymous, role_headers):
    for role in ("agency", "recorder", "admin"):
        headers = role_headers[role]
        assert (await anonymous.post(CHECKS, headers=headers)).status_code == 403
        assert (await anonymous.get(CHECKS, headers=headers)).status_code == 403
        assert (await anonymous.get(f"{CHECKS}/{uuid4()}", headers=headers)).status_code == 403
    assert (await anonymous.post(CHECKS)).status_code == 401
    missing = await anonymous.get(f"{CHECKS}/{uuid4()}", headers=role_headers["auditor"])
    assert missing.status_code == 404
    assert missing.json()["type"].endswith("/replay-check-not-found")


async def test_one_check_at_a_time_and_queries_are_answered_while_it_runs(
    anonymous, role_headers, services
):
    auditor, agency = role_headers["auditor"], role_headers["agency"]
    subject_ids = fill(services)
    first = await anonymous.post(CHECKS, headers=auditor)
    assert first.status_code == 202
    second = await anonymous.post(CHECKS, headers=auditor)
    assert second.status_code == 409
    assert second.json()["type"].endswith("/replay-check-running")
    assert second.json()["running_check"] == first.json()["check_id"]
    assert second.json()["running_check_url"] == first.headers["location"]

    answered, progress = 0, []
    while True:
        polled = await anonymous.get(first.headers["location"], headers=auditor)
        assert polled.status_code == 200, polled.text
        if (check := polled.json())["state"] != "running":
            break
        progress.append(check["progress"])
        status = await anonymous.get(f"/v1/subjects/{subject_ids[0]}/status", headers=agency)
        assert status.status_code == 200
        answered += 1
        # A pause as a client's polling would have: unpaced, a check slowed by a busy machine
        # outlasts the client's burst and the poll is refused with 429.
        await asyncio.sleep(0.02)
    assert answered > 0
    replayed = [p["events_replayed"] for p in progress]
    assert replayed == sorted(replayed)
    assert all(p["events_total"] in (None, 9) for p in progress)
    assert (await result(anonymous, first.headers["location"], auditor))["state"] == "passed"
    assert (await anonymous.post(CHECKS, headers=auditor)).status_code == 202


async def test_a_check_whose_process_died_shows_as_interrupted(anonymous, role_headers, services):
    auditor = role_headers["auditor"]
    fill(services, count=1)
    # A check whose process was killed: its process ends without a result.
    started = await anonymous.post(CHECKS, headers=auditor)
    [(process, _)] = services.replay_checks._children.values()
    process.kill()
    killed = await result(anonymous, started.headers["location"], auditor, timeout=30)
    assert killed["state"] == "error"
    assert killed["error"].startswith("interrupted: the check process ended (exit status -9)")

    # The service stops while a check runs: the check says it was interrupted.
    started = await anonymous.post(CHECKS, headers=auditor)
    assert started.status_code == 202
    await run_in_threadpool(services.replay_checks.close)
    stopped = (await anonymous.get(started.headers["location"], headers=auditor)).json()
    assert stopped["state"] == "error" and stopped["error"].startswith("interrupted"), stopped

    # A check left running by a machine that went down: no process here, no heartbeat since.
    long_ago = datetime.now(UTC) - timedelta(minutes=5)
    orphan = uuid4()
    with services.write_engine.begin() as conn:
        conn.execute(
            insert(replay_checks).values(
                check_id=orphan,
                state="running",
                requested_by="test-auditor",
                started_at=long_ago,
                heartbeat_at=long_ago,
                events_replayed=1,
                events_total=3,
            )
        )
    if not services.database.is_sqlite:  # and the scratch database its process left
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{scratch_name(orphan)}"')
    seen = (await anonymous.get(f"{CHECKS}/{orphan}", headers=auditor)).json()
    assert seen["state"] == "error" and seen["error"].startswith("interrupted")
    assert seen["progress"] == {"events_replayed": 1, "events_total": 3}
    if not services.database.is_sqlite:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            left = conn.execute(
                "SELECT count(*) FROM pg_database WHERE datname = %s", (scratch_name(orphan),)
            ).fetchone()
        assert left == (0,)
    again = await anonymous.post(CHECKS, headers=auditor)
    assert again.status_code == 202
    assert (await result(anonymous, again.headers["location"], auditor))["state"] == "passed"
