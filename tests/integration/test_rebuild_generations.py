"""Rebuilding the read models beside the live ones: queries answer from the old generation until
the switch, the switch is atomic, the new generation equals a replay from scratch, and the live
runner goes on with it."""

from __future__ import annotations

import asyncio
import gc
import threading
from typing import Any

import pytest
from sqlalchemy import select, text, update

from projections.partitions import partition_of
from projections.runner import ProjectionFailed
from projections.tables import projection_tracking, records
from service.commanding.commands import RegisterSubject, record_command_adapter
from service.replay.check import verify_read_models
from service.replay.generations import rebuild_beside
from tests.builders import enterprise, penalty, rating
from tests.integration.readmodel import dump
from tests.integration.test_projection_runner import mixed_history
from tests.tampering import as_superuser

pytestmark = pytest.mark.integration

OLD = "旧一代的机关"  # an authority name the log never recorded: only the old generation has it


def fill(services, subjects: int = 3) -> list[tuple[Any, Any]]:
    """Subjects with a rating and a penalty each; (subject id, rating's record id)."""
    made = []
    for n in range(subjects):
        subject = services.files.register(RegisterSubject(**enterprise(700 + n)), recorded_by="t")
        rated = services.files.append(
            subject.subject_id,
            record_command_adapter.validate_python(rating(f"GEN-R-{n}")),
            recorded_by="t",
        )
        services.files.append(
            subject.subject_id,
            record_command_adapter.validate_python(penalty(f"GEN-P-{n}")),
            recorded_by="t",
        )
        made.append((subject.subject_id, rated.record_id))
    services.runner.catch_up()
    return made


def mark_old_generation(services, record_id) -> None:
    with services.write_engine.begin() as conn:
        conn.execute(
            update(records).where(records.c.record_id == record_id).values(authority_name=OLD)
        )


def authority_of(services, record_id) -> str:
    with services.write_engine.connect() as conn:
        return conn.execute(
            select(records.c.authority_name).where(records.c.record_id == record_id)
        ).scalar_one()


def test_the_new_generation_equals_a_replay_and_the_old_one_is_compared(services):
    made = fill(services)
    subject_id, record_id = made[1]
    real = authority_of(services, record_id)
    mark_old_generation(services, record_id)
    seen: list[tuple[int, int]] = []
    report = rebuild_beside(services, lambda done, total: seen.append((done, total)), compare=True)
    # 3 registrations, 3 ratings, 3 penalties
    assert report.events == 9 and seen[0] == (0, 9) and seen[-1] == (9, 9)
    assert report.positions == services.runner.positions()
    assert [(d.table, d.field, d.live, d.replayed) for d in report.differences] == [
        ("records", "authority_name", OLD, real)
    ]
    assert report.differences[0].subject_id == str(subject_id)
    assert authority_of(services, record_id) == real
    assert verify_read_models(services).ok


def test_the_live_runner_goes_on_with_the_new_generation(services):
    fill(services, subjects=1)
    rebuild_beside(services)
    subject = services.files.register(RegisterSubject(**enterprise(799)), recorded_by="t")
    services.files.append(
        subject.subject_id,
        record_command_adapter.validate_python(penalty("GEN-AFTER")),
        recorded_by="t",
    )
    assert services.runner.catch_up() == 2  # from the position the switch recorded, no more
    with services.write_engine.connect() as conn:
        assert conn.execute(
            select(records.c.source_ref).where(records.c.subject_id == subject.subject_id)
        ).scalars().all() == ["GEN-AFTER"]
    assert verify_read_models(services).ok


def test_a_generation_that_fails_is_not_switched_in(services, monkeypatch):
    made = fill(services, subjects=2)
    _, record_id = made[0]
    mark_old_generation(services, record_id)
    before = services.runner.positions()
    projector = services.runner.projectors[0]
    real_apply = projector.apply

    def refuse(conn, events):
        if any(position > 3 for position, _ in events):
            raise ValueError("a projector bug")
        real_apply(conn, events)

    monkeypatch.setattr(projector, "apply", refuse)
    with pytest.raises(ProjectionFailed, match="a projector bug"):
        rebuild_beside(services)
    monkeypatch.undo()
    assert authority_of(services, record_id) == OLD  # the live generation, untouched
    assert services.runner.positions() == before
    assert not services.runner.states()[projector.name].failure
    if not services.database.is_sqlite:
        with services.write_engine.connect() as conn:
            assert not conn.execute(
                text(
                    "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'credit_generation_%' "
                    "OR nspname LIKE 'credit_retired_%'"
                )
            ).all()


def test_indexes_keys_and_grants_keep_their_names(services):
    if services.database.is_sqlite:
        pytest.skip("a SQLite rebuild copies rows into the live tables, which stay")
    fill(services, subjects=1)
    shape = text(
        "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
        "ORDER BY 1, 2"
    )
    grants = text(
        "SELECT table_name, grantee, privilege_type FROM information_schema.role_table_grants "
        "WHERE table_schema = 'public' ORDER BY 1, 2, 3"
    )
    logged = text(
        "SELECT relname, relpersistence FROM pg_class JOIN pg_namespace n ON n.oid = relnamespace "
        "WHERE nspname = 'public' AND relkind = 'r' ORDER BY 1"
    )
    with services.write_engine.begin() as conn:
        conn.execute(text("DROP ROLE IF EXISTS credit_generation_reader"))
        conn.execute(text("CREATE ROLE credit_generation_reader"))
        conn.execute(text("GRANT SELECT ON records TO credit_generation_reader"))
    try:
        with services.write_engine.connect() as conn:
            before = [conn.execute(q).all() for q in (shape, grants, logged)]
        rebuild_beside(services)
        with services.write_engine.connect() as conn:
            after = [conn.execute(q).all() for q in (shape, grants, logged)]
        assert after == before
    finally:
        with services.write_engine.begin() as conn:
            conn.execute(text("REVOKE ALL ON records FROM credit_generation_reader"))
            conn.execute(text("DROP ROLE credit_generation_reader"))


async def test_queries_answer_from_the_old_generation_until_the_switch(services, client):
    """A rebuild in a thread; status queries meanwhile all answer, from the old generation
    until the switch and from the new one after it, never from a mixture or one then the
    other again."""
    made = fill(services, subjects=2)
    subject_id, record_id = made[0]
    real = authority_of(services, record_id)
    mark_old_generation(services, record_id)
    building, go_on = threading.Event(), threading.Event()
    outcome: list[BaseException | None] = []

    def progress(done: int, total: int) -> None:
        building.set()
        go_on.wait(60)

    def run() -> None:
        try:
            rebuild_beside(services, progress)
            outcome.append(None)
        except BaseException as error:
            outcome.append(error)

    async def authority() -> str:
        response = await client.get(f"/v1/subjects/{subject_id}/status")
        assert response.status_code == 200, response.text
        [grade] = response.json()["grades"]
        return grade["authority_name"]

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert await asyncio.to_thread(building.wait, 60)
        assert await authority() == OLD  # the new generation is being built beside
    finally:
        go_on.set()
    answers = []
    while thread.is_alive():
        answers.append(await authority())
        await asyncio.sleep(0.005)
    thread.join()
    assert outcome == [None]
    answers.append(await authority())
    assert set(answers) <= {OLD, real}
    switched = answers.index(real)
    assert answers[switched:] == [real] * (len(answers) - switched)


def test_a_generation_built_by_partition_equals_one_built_by_one_process(services):
    """Two processes, each projecting the events of its half of the subjects, into the one
    generation schema: table by table the same rows as the single process's build, which
    `compare` holds against it at the switch."""
    if services.database.is_sqlite:
        pytest.skip("SQLite builds a generation in one process")
    mixed_history(services)
    made = fill(services, subjects=6)
    assert {partition_of(subject_id, 2) for subject_id, _ in made} == {0, 1}
    rebuild_beside(services)
    single = dump(services.write_engine)
    assert all(single[name] for name in ("subjects", "records", "cases", "changes"))
    seen: list[tuple[int, int]] = []
    collecting = gc.get_threshold()
    report = rebuild_beside(
        services, lambda done, total: seen.append((done, total)), partitions=2, compare=True
    )
    assert (gc.get_threshold(), gc.get_freeze_count()) == (collecting, 0)  # as it was
    assert report.compared and report.difference_count == 0, report.differences[:5]
    parted = dump(services.write_engine)
    for table in single:
        assert parted[table] == single[table], table
    events = services.ledger.count_events(up_to=services.ledger.recorder.max_notification_id())
    assert report.events == events and seen[-1] == (events, events)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert report.positions == services.runner.positions()
    assert set(report.positions.values()) == {services.ledger.recorder.max_notification_id()}
    with services.write_engine.connect() as conn:  # the partitions' rows went with the schema
        assert not conn.execute(
            select(projection_tracking.c.name).where(projection_tracking.c.name.like("%@%"))
        ).all()
    assert verify_read_models(services).ok


def test_a_generation_built_by_partition_that_fails_is_not_switched_in(services):
    """An event no projector can read, in one partition: the rebuild stops with the read
    model's own name, not its partition's, and the live generation stays."""
    if services.database.is_sqlite:
        pytest.skip("SQLite builds a generation in one process")
    made = fill(services, subjects=4)
    subject_id, record_id = made[0]
    mark_old_generation(services, record_id)
    before = services.runner.positions()
    table = services.ledger.recorder.events_table_name
    with as_superuser(services) as conn:
        [position] = conn.execute(
            text(
                f"UPDATE {table} SET topic = 'domain.events:NoSuchEvent' WHERE notification_id = "
                f"(SELECT max(notification_id) FROM {table} WHERE originator_id = :subject) "
                "RETURNING notification_id"
            ),
            {"subject": subject_id},
        ).one()
    with pytest.raises(ProjectionFailed) as failed:
        rebuild_beside(services, partitions=2)
    # The credit file stops on it; the read models that read the credit file's stop before it.
    assert [(f.projector, f.position) for f in failed.value.failures] == [("credit_file", position)]
    assert authority_of(services, record_id) == OLD  # the live generation, untouched
    assert services.runner.positions() == before
    with services.write_engine.connect() as conn:
        assert not conn.execute(
            text(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'credit_generation_%' "
                "OR nspname LIKE 'credit_retired_%'"
            )
        ).all()
