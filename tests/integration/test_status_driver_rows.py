"""A status read on PostgreSQL reads its rows through asyncpg's connection itself, not through
SQLAlchemy's result layer: the rows, and the statuses made of them, are the same as through
SQLAlchemy, value for value and type for type, over subjects with every kind of record and
follow-up, one at a time and in a batch, on several days. On SQLite the read is SQLAlchemy's,
and the same comparison holds it to the way it was read before."""

from __future__ import annotations

import json
import logging
from datetime import date, timedelta
from typing import Any
from uuid import UUID

import orjson
import pytest
from sqlalchemy import event, exc, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from bench.fixtures import long_credit_file
from domain.credit_status import RecordFact, evaluate
from domain.events import RULE_INPUT_TYPES
from projections.credit_file import queries
from projections.credit_file.queries import (
    ARRAY_STATUS_STATEMENT,
    ONE_STATUS_STATEMENT,
    STATUS_STATEMENT,
    record_fact,
    status_view,
    statuses,
    statuses_from_pool,
    tracked_position,
)
from service.commanding.commands import RegisterSubject
from service.store.read_store import json_loads
from tests.builders import enterprise, individual

pytestmark = pytest.mark.integration


async def statuses_before(conn, subject_ids, today, policy):
    """`statuses` as it was: SQLAlchemy's rows, read by column name."""
    from domain import publication

    wanted = list(dict.fromkeys(subject_ids))
    if len(wanted) == 1:
        rows = await conn.execute(ONE_STATUS_STATEMENT, {"today": today, "subject_id": wanted[0]})
    else:
        rows = await conn.execute(STATUS_STATEMENT, {"today": today, "subject_ids": wanted})
    result: dict[UUID, dict[str, Any]] = {}
    facts: dict[UUID, list[RecordFact]] = {}
    authorities: dict[str, str] = {}
    position = None
    for row in rows:
        position = row.tracked
        status = result.get(row.subject_id)
        if status is None:
            facts[row.subject_id] = []
            status = result[row.subject_id] = {
                "subject_id": row.subject_id,
                "kind": row.kind,
                "name": row.name,
                "code_masked": row.code_masked,
                "region_code": row.region_code,
                "sectors": json.loads(row.sectors),  # the statement gives its text
                "version": row.version,
                "last_position": row.position,
                "published_records": {"total": 0, "by_family": {}},
            }
        if row.record_id is None:
            continue
        if publication.published_on(today, row.publish_from, row.publish_until):
            counts = status["published_records"]
            counts["by_family"][row.family] = counts["by_family"].get(row.family, 0) + 1
            counts["total"] += 1
        if row.type in RULE_INPUT_TYPES:
            authorities[str(row.record_id)] = row.authority_name
            facts[row.subject_id].append(record_fact(row))
    for subject_id, status in result.items():
        status.update(status_view(evaluate(facts[subject_id], policy, today), authorities))
    if position is None:
        position = await tracked_position(conn)
    return result, int(position or 0)


def typed(value: Any) -> Any:
    """The value with the type of every part of it, so that equal values of other types (an
    int for a Decimal, 1.0 for 1.00, a str for a UUID) differ."""
    if isinstance(value, dict):
        return {typed(k): typed(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return (type(value).__name__, [typed(v) for v in value])
    return (type(value).__module__, type(value).__name__, repr(value))


def same(new: Any, old: Any) -> None:
    assert typed(new) == typed(old)
    assert list(new) == list(old)  # in the same order
    for key in old:
        assert orjson.dumps(new[key], default=str) == orjson.dumps(old[key], default=str)


@pytest.fixture
def subjects_of_every_kind(services, clock) -> list[UUID]:
    ids = [
        long_credit_file(services.files, clock, events=events, seed=seed)
        for seed, events in ((1, 400), (2, 150), (3, 40))
    ]
    ids.append(
        services.files.register(RegisterSubject(**enterprise(801)), recorded_by="t").subject_id
    )
    ids.append(
        services.files.register(RegisterSubject(**individual(802)), recorded_by="t").subject_id
    )
    services.runner.catch_up()
    return ids


async def test_a_status_read_answers_as_it_did_through_sqlalchemy(
    services, clock, subjects_of_every_kind
):
    ids = subjects_of_every_kind
    unknown = UUID(int=7)
    today = clock.moment.astimezone(clock.zone).date()
    days = [today, today - timedelta(days=1), today - timedelta(days=200), date(2024, 1, 1)]
    days.append(today + timedelta(days=400))
    engine = services.read_engine
    async with engine.connect() as conn:
        for day in days:
            for subject_id in [*ids, unknown]:
                old = await statuses_before(conn, [subject_id], day, services.policy)
                for new in (
                    await statuses(conn, [subject_id], day, services.policy),
                    await statuses_from_pool(engine, [subject_id], day, services.policy),
                ):
                    same(new[0], old[0])
                    assert new[1] == old[1]
            batch = [ids[2], unknown, *ids, ids[0]]
            old = await statuses_before(conn, batch, day, services.policy)
            for new in (
                await statuses(conn, batch, day, services.policy),
                await statuses_from_pool(engine, batch, day, services.policy),
            ):
                assert set(new[0]) == set(old[0]) == set(ids)
                for subject_id in ids:
                    same(new[0][subject_id], old[0][subject_id])
                assert new[1] == old[1]
        assert (await statuses(conn, [unknown], today, services.policy))[0] == {}
        assert await statuses_from_pool(engine, [], today, services.policy) == (
            {},
            await tracked_position(conn),
        )


async def test_the_driver_reads_the_rows_sqlalchemy_reads(services, clock, subjects_of_every_kind):
    """Value for value and type for type, in the same order (PostgreSQL only: SQLite is read
    through SQLAlchemy)."""
    ids = subjects_of_every_kind
    today = clock.moment.astimezone(clock.zone).date()
    async with services.read_engine.connect() as conn:
        if conn.dialect.driver != "asyncpg":
            pytest.skip("the driver's own read is PostgreSQL's")
        for wanted in ([ids[0]], [ids[3]], ids):
            through_driver = list(await queries._status_rows(conn, wanted, today))
            statement = ONE_STATUS_STATEMENT if len(wanted) == 1 else ARRAY_STATUS_STATEMENT
            key = "subject_id" if len(wanted) == 1 else "subject_ids"
            value = wanted[0] if len(wanted) == 1 else wanted
            through_sqlalchemy = list(await conn.execute(statement, {"today": today, key: value}))
            assert len(through_driver) == len(through_sqlalchemy) > 0
            for mine, theirs in zip(through_driver, through_sqlalchemy, strict=True):
                assert typed(tuple(mine)) == typed(tuple(theirs))
            listed = list(
                await conn.execute(STATUS_STATEMENT, {"today": today, "subject_ids": wanted})
            )
            # the expanding list SQLite and SQLAlchemy use: the same rows (among subjects
            # without records, in whatever order)
            assert sorted(repr(typed(tuple(row))) for row in through_driver) == sorted(
                repr(typed(tuple(row))) for row in listed
            )


async def test_a_status_read_followed_by_a_listener_goes_through_sqlalchemy(
    services, clock, subjects_of_every_kind
):
    """Tracing's spans (and anything else listening to the engine's statements) see the status
    statement: while something listens, it is not read through the driver alone."""
    seen: list[str] = []

    def listener(conn, cursor, statement, *args) -> None:
        seen.append(statement)

    today = clock.moment.astimezone(clock.zone).date()
    engine = services.read_engine.sync_engine
    event.listen(engine, "before_cursor_execute", listener)
    try:
        async with services.read_engine.connect() as conn:
            found, _ = await statuses(conn, subjects_of_every_kind[:1], today, services.policy)
            batch, _ = await statuses(conn, subjects_of_every_kind, today, services.policy)
        from_pool, _ = await statuses_from_pool(
            services.read_engine, subjects_of_every_kind, today, services.policy
        )
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert sum("LEFT OUTER JOIN records" in statement for statement in seen) == 3
    same(from_pool, batch)
    async with services.read_engine.connect() as conn:
        same(found, (await statuses(conn, subjects_of_every_kind[:1], today, services.policy))[0])
        same(batch, (await statuses(conn, subjects_of_every_kind, today, services.policy))[0])


async def test_a_status_read_whose_pooled_connection_was_lost_is_answered_from_a_new_one(
    services, clock
):
    """The pool's connection ended by the server between two reads (a restart, an
    administrator): the read meets it closed, drops it, and answers through SQLAlchemy on
    another connection."""
    engine = services.read_engine
    if engine.dialect.driver != "asyncpg":
        pytest.skip("the pool's own connection is read on PostgreSQL")
    subjects = [
        services.files.register(RegisterSubject(**enterprise(n)), recorded_by="t").subject_id
        for n in (811, 812)
    ]
    services.runner.catch_up()
    today = clock.moment.astimezone(clock.zone).date()
    await engine.dispose()  # one connection in the pool: the one the reads below check out
    answered = await statuses_from_pool(engine, subjects, today, services.policy)
    assert set(answered[0]) == set(subjects)
    pooled = await engine.raw_connection()
    lost = pooled.driver_connection.get_server_pid()
    pooled.close()
    with services.write_engine.connect() as admin:
        # PostgreSQL 14 on waits (here up to 10 s) until the backend has ended
        assert admin.scalar(text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": lost})
    again = await statuses_from_pool(engine, subjects, today, services.policy)
    assert again[1] == answered[1]
    for subject_id in subjects:
        same(again[0][subject_id], answered[0][subject_id])
    pooled = await engine.raw_connection()
    assert pooled.driver_connection.get_server_pid() != lost
    pooled.close()


async def test_a_status_read_that_cannot_connect_raises_sqlalchemys_error(services, clock):
    """What the pool's checkout raises, SQLAlchemy's own connection raises wrapped (its
    DBAPIError, which the API answers as a problem): the read raises that."""
    engine = services.read_engine
    if engine.dialect.driver != "asyncpg":
        pytest.skip("the pool's own connection is read on PostgreSQL")
    nowhere = create_async_engine(engine.url.set(database="credit_no_such_database"))
    today = clock.moment.astimezone(clock.zone).date()
    try:
        with pytest.raises(exc.DBAPIError):
            await statuses_from_pool(nowhere, [UUID(int=7)], today, services.policy)
    finally:
        await nowhere.dispose()


async def test_a_status_reads_connection_the_pool_closes_is_closed_cleanly(services, clock, caplog):
    """A pool that closes a connection given back (one that keeps none here; a full one) closes
    it through the driver, from within SQLAlchemy's greenlet: no error logged, and its backend
    ends at once rather than when the garbage collector finds the connection."""
    engine = services.read_engine
    if engine.dialect.driver != "asyncpg":
        pytest.skip("the pool's own connection is read on PostgreSQL")
    subject = services.files.register(RegisterSubject(**enterprise(821)), recorded_by="t")
    services.runner.catch_up()
    today = clock.moment.astimezone(clock.zone).date()
    keeps_none = create_async_engine(
        engine.url, poolclass=NullPool, isolation_level="AUTOCOMMIT", json_deserializer=json_loads
    )
    opened: list[Any] = []
    event.listen(keeps_none.sync_engine, "connect", lambda driver, _: opened.append(driver))
    try:
        with caplog.at_level(logging.ERROR, logger="sqlalchemy.pool"):
            answered, _ = await statuses_from_pool(
                keeps_none, [subject.subject_id], today, services.policy
            )
        assert set(answered) == {subject.subject_id}
        assert [record.getMessage() for record in caplog.records] == []
        assert len(opened) == 1 and opened[0].driver_connection.is_closed()
    finally:
        await keeps_none.dispose()
