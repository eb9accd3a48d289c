"""The projection runner on a real store: exactly-once pages, restarts, kills and failures."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import exc

from service.commanding.commands import RegisterSubject, record_command_adapter
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


def caught_up_subject(services):
    """A subject registered beside another's records, the runner caught up: its id."""
    fill(services, subjects=1, records_each=2)
    subject = services.files.register(RegisterSubject(**enterprise(2)), recorded_by="t").subject_id
    services.runner.catch_up()
    return subject


def penalty_a_page(services, subject, reference: str) -> None:
    """A penalty appended to `subject`, then applied by the runner as a page of its own."""
    services.files.append(
        subject, record_command_adapter.validate_python(penalty(reference)), recorded_by="t"
    )
    assert services.runner.process_next_page() == 1


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


def test_a_failing_projector_stops_alone_loudly_and_changes_nothing(services):
    head = fill(services, subjects=2, records_each=2)
    before = dump(services.write_engine)

    class Broken:
        name, tables = "broken", ()

        def apply(self, conn, events):
            raise ValueError("cannot project this")

    services.runner.projectors = [Broken(), *services.runner.projectors]
    services.runner.start()
    deadline = time.monotonic() + 10
    # cases follows credit_file (it reads its records), so wait for the later of the two
    while (
        min(services.runner.position(name) for name in ("credit_file", "cases")) < head
        and time.monotonic() < deadline
    ):
        time.sleep(0.02)
    assert services.runner.running  # the others go on
    assert "projector broken failed on position 1" in str(services.runner.failure)
    states = services.runner.states()
    assert states["broken"].position == 0
    assert states["broken"].failure.position == 1
    assert states["broken"].failure.error == "ValueError: cannot project this"
    assert states["credit_file"].position == head and states["cases"].position == head
    assert dump(services.write_engine) != before


def test_a_projector_refusing_an_event_mid_page_undoes_nothing_of_the_others(services):
    """A page is applied to every read model in one transaction; when one refuses an event in
    it, the page is applied again a read model at a time: the others' rows are those of a run
    without the refusing one (nothing lost, nothing twice), and the refusing one keeps the
    events before the one it failed on."""
    from projections.runner import ProjectionFailed

    head = fill(services, subjects=3, records_each=3)
    services.runner.catch_up()
    expected = dump(services.write_engine)

    class RefusesTheThird:
        name, tables = "refuses_the_third", ()

        def __init__(self):
            self.kept: list[int] = []

        def apply(self, conn, events):
            if any(position == 3 for position, _ in events):
                raise ValueError("cannot project the third")
            self.kept += [position for position, _ in events]

    refusing = RefusesTheThird()
    services.runner.projectors = [*services.runner.projectors, refusing]
    services.runner.page_size = 100
    with pytest.raises(ProjectionFailed, match="refuses_the_third failed on position 3"):
        services.runner.rebuild()
    assert dump(services.write_engine) == expected
    states = services.runner.states()
    assert states["refuses_the_third"].position == 2 and refusing.kept == [1, 2]
    assert all(state.position == head for name, state in states.items() if name != refusing.name)


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
    services.runner.crash = RuntimeError("projector broke")
    response = await client.get("/health")
    assert response.status_code == 503
    assert "projector broke" in response.json()["projections"]["failure"]


def mixed_history(services) -> None:
    """Records, follow-ups that end, revoke or correct earlier records, and cases through
    their steps: everything the projectors write back to stored rows."""
    from service.access.permissions import RecordingPermit
    from service.commanding.cases import ObjectionApplication, RepairApplication
    from tests.builders import AUTHORITY_CODE, follow_up, list_entry

    def record(subject_id, body):
        return services.files.append(
            subject_id, record_command_adapter.validate_python(body), recorded_by="t"
        ).record_id

    permit = RecordingPermit(frozenset({AUTHORITY_CODE}), frozenset({"road_transport"}))
    for n in range(3):
        company = enterprise(700 + n)
        sid = services.files.register(RegisterSubject(**company), recorded_by="t").subject_id
        old = record(sid, penalty(f"MX-OLD-{n}", decision_date="2026-06-01"))
        wrong = record(sid, penalty(f"MX-WRONG-{n}", decision_date="2026-06-02"))
        typo = record(sid, penalty(f"MX-TYPO-{n}", decision_date="2026-06-03"))
        entry = record(sid, list_entry(f"MX-LIST-{n}"))
        record(sid, rating(f"MX-R-{n}"))
        record(
            sid,
            follow_up("ListExited", f"MX-EXIT-{n}", entry_record_id=str(entry), reason="期满"),
        )
        record(
            sid,
            follow_up("RecordRevoked", f"MX-REV-{n}", target_record_id=str(wrong), reason="撤销"),
        )
        record(
            sid,
            follow_up(
                "RecordCorrected",
                f"MX-COR-{n}",
                target_record_id=str(typo),
                changes={"severity": "minor"},
                reason="更正",
            ),
        )
        services.runner.catch_up()
        repair = services.cases.apply_for_repair(
            RepairApplication(
                subject_code=company["code"],
                record_id=old,
                corrections=["已整改"],
                commitment_signed=True,
                applicant="公司",
            )
        )
        objection = services.cases.file_objection(
            ObjectionApplication(
                subject_code=company["code"],
                record_id=typo,
                grounds="wrong_content",
                statement="金额有误",
                applicant="公司",
            )
        )
        services.runner.catch_up()
        for number, action, fields in (
            (repair.case_number, "accept", {}),
            (repair.case_number, "approve", {"reasons": "同意"}),
            (
                objection.case_number,
                "resolve",
                {"outcome": "corrected", "reasons": "复核", "changes": {"fine_amount": "0.5"}},
            ),
        ):
            services.cases.take_step(number, action, permit=permit, fields=fields)
            services.runner.catch_up()


def test_pages_of_one_event_and_one_page_of_all_give_the_same_read_models(services):
    mixed_history(services)
    incremental = dump(services.write_engine)
    assert {c["status"] for c in incremental["cases"]} == {"approved", "resolved"}
    assert {r["state"] for r in incremental["records"]} == {"active", "revoked", "repaired"}
    services.runner.page_size = 1
    services.runner.rebuild()
    assert dump(services.write_engine) == incremental
    services.runner.page_size = 10_000
    services.runner.rebuild()
    assert dump(services.write_engine) == incremental


def test_a_run_of_events_recorded_at_one_instant_is_one_version_row_however_paged(services):
    # The fixed clock records every event at the same instant: one run of five events.
    subject = services.files.register(RegisterSubject(**enterprise(61)), recorded_by="t")
    for n in range(4):
        services.files.append(
            subject.subject_id,
            record_command_adapter.validate_python(penalty(f"RUN-{n}")),
            recorded_by="t",
        )
    services.runner.page_size = 1
    services.runner.rebuild()
    paged = dump(services.write_engine)["subject_versions"]
    services.runner.page_size = 1000
    services.runner.rebuild()
    whole = dump(services.write_engine)["subject_versions"]
    assert [row["version"] for row in whole] == [1, 5]  # the registration, the run's last
    assert paged == whole


def test_a_caught_up_runner_polls_without_reading_the_skips(services):
    """An idle poll reads the positions and the log's next page only; the operators' skips are
    read when there are events to apply."""
    from sqlalchemy import event

    fill(services, subjects=1, records_each=2)
    services.runner.catch_up()
    statements: list[str] = []

    def seen(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    event.listen(services.write_engine, "before_cursor_execute", seen)
    try:
        assert services.runner.process_next_page() == 0
        idle = list(statements)
        services.files.register(RegisterSubject(**enterprise(2)), recorded_by="t")
        statements.clear()
        assert services.runner.process_next_page() > 0
    finally:
        event.remove(services.write_engine, "before_cursor_execute", seen)
    assert any("projection_tracking" in s for s in idle)
    assert not any("projection_skips" in s for s in idle)
    assert any("projection_skips" in s for s in statements)


def test_a_page_checks_out_one_connection_writes_twice_and_inserts_no_tracking_row_it_finds(
    services,
):
    """Each checkout pings the database first, and a page visits every projector: the page
    holds one connection throughout, and applies the read models in two transactions (the
    credit file's, then the others'), besides its two short reads (the positions, the skips).
    A projector's tracking row is inserted only where it is missing (its first page, or its
    first after a rebuild dropped the rows)."""
    from sqlalchemy import event

    fill(services, subjects=1, records_each=2)
    services.runner.catch_up()
    checkouts: list[object] = []
    commits: list[int] = []
    statements: list[str] = []

    def checked_out(*args) -> None:
        checkouts.append(args[0])

    def committed(conn) -> None:
        commits.append(len(statements))  # the statements sent before it

    def seen(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    engine = services.write_engine
    event.listen(engine, "before_cursor_execute", seen)
    event.listen(engine.pool, "checkout", checked_out)
    event.listen(engine, "commit", committed)
    try:
        services.files.register(RegisterSubject(**enterprise(2)), recorded_by="t")
        assert services.runner.process_next_page() == 1
        page_checkouts, page_commits = len(checkouts), len(commits)
        page_statements = list(statements)
        services.runner.rebuild()
    finally:
        event.remove(engine, "commit", committed)
        event.remove(engine.pool, "checkout", checked_out)
        event.remove(engine, "before_cursor_execute", seen)
    assert page_checkouts == 1 and page_commits == 4
    # The commits that advanced a tracked position: the two that applied the read models.
    ends = commits[:page_commits]
    advanced = [
        end
        for start, end in zip([0, *ends[:-1]], ends, strict=True)
        if any(
            s.lstrip().upper().startswith("UPDATE PROJECTION_TRACKING")
            for s in statements[start:end]
        )
    ]
    assert len(advanced) == 2
    assert not any(
        s.lstrip().upper().startswith("INSERT INTO PROJECTION_TRACKING") for s in page_statements
    )
    # After the rebuild dropped them, each projector's row is inserted again, and tracks the head.
    inserted = [
        s
        for s in statements[len(page_statements) :]
        if s.lstrip().upper().startswith("INSERT INTO PROJECTION_TRACKING")
    ]
    assert len(inserted) >= len(services.runner.names)
    head = services.ledger.recorder.max_notification_id()
    assert set(services.runner.positions().values()) == {head}


def test_a_page_sends_the_statements_it_built_once_not_new_ones(services):
    """Making a statement and its cache key cost SQLAlchemy about as much again as executing it,
    and a live runner's page of one event sent a dozen: every page of the same kind of events
    executes the statements the pages before it executed, none built anew."""
    from sqlalchemy import event
    from sqlalchemy.sql import ClauseElement

    subject = caught_up_subject(services)
    executed: list[list[ClauseElement]] = []

    def seen(conn, clause, *args) -> None:
        if isinstance(clause, ClauseElement):
            executed[-1].append(clause)

    event.listen(services.write_engine, "before_execute", seen)
    try:
        for n in range(3):
            executed.append([])
            penalty_a_page(services, subject, f"ONCE-{n}")
    finally:
        event.remove(services.write_engine, "before_execute", seen)
    first, second, third = ({id(clause) for clause in page} for page in executed)
    assert len(third) >= 5  # the positions, the stored rows read, the advances
    built_anew = [str(clause) for clause in executed[2] if id(clause) not in first | second]
    assert built_anew == []


def test_pages_end_their_reads_by_commit_and_the_driver_keeps_its_prepared_statements(services):
    """psycopg drops every statement it prepared on a connection after a ROLLBACK: the page's
    reads of positions and skips end by COMMIT, so that the statements a runner sends on every
    page stay prepared, parsed and planned once by the server rather than on every page."""
    from sqlalchemy import event

    subject = caught_up_subject(services)
    rollbacks: list[object] = []

    def rolled_back(conn) -> None:
        rollbacks.append(conn)

    engine = services.write_engine
    event.listen(engine, "rollback", rolled_back)
    try:
        for n in range(8):
            penalty_a_page(services, subject, f"KEPT-{n}")
    finally:
        event.remove(engine, "rollback", rolled_back)
    assert rollbacks == []
    if engine.dialect.name == "postgresql":  # the pool's one connection, as the pages left it
        with engine.connect() as conn:
            prepared = conn.exec_driver_sql("SELECT count(*) FROM pg_prepared_statements")
            assert prepared.scalar_one() >= 5


def committed_position(services, name: str) -> int:
    """A projector's position as another connection sees it (on SQLite, a plain reader: the
    service's connections begin by taking the write lock, which the page holds)."""
    url = services.write_engine.url
    query = "SELECT position FROM projection_tracking WHERE name = ?"
    if url.get_backend_name() == "sqlite":
        with closing(sqlite3.connect(url.database)) as db:
            return db.execute(query, (name,)).fetchone()[0]
    with services.write_engine.connect() as conn:
        return conn.exec_driver_sql(query.replace("?", "%(name)s"), {"name": name}).scalar_one()


def test_a_page_is_committed_for_the_credit_file_before_the_other_read_models_apply_it(services):
    """Status and record reads wait on the credit file alone: its part of a page is committed
    first, and the other read models apply the page after."""
    fill(services, subjects=1, records_each=1)
    services.runner.catch_up()
    seen: list[tuple[int, int]] = []

    class LooksAtTheCreditFile:
        name, tables = "looks", ()

        def apply(self, conn, events):
            seen.append((events[-1][0], committed_position(services, "credit_file")))

    services.runner.projectors = [*services.runner.projectors, LooksAtTheCreditFile()]
    services.runner.catch_up()
    seen.clear()
    services.files.register(RegisterSubject(**enterprise(2)), recorded_by="t")
    assert services.runner.process_next_page() == 1
    head = services.ledger.recorder.max_notification_id()
    assert seen == [(head, head)]


def test_a_runner_started_twice_follows_the_log_in_one_thread(services):
    """Two apps sharing one process's services each start its runner: one thread follows the
    log, and stopping the runner stops it (a second thread would read the store after it was
    closed)."""
    import threading

    def following() -> list[threading.Thread]:
        name = f"projections-{services.runner.name}"
        return [thread for thread in threading.enumerate() if thread.name == name]

    services.runner.start()
    services.runner.start()
    try:
        assert len(following()) == 1
    finally:
        services.runner.stop()
    assert not following()
    services.runner.start()  # and a stopped runner starts again
    try:
        assert len(following()) == 1
    finally:
        services.runner.stop()
