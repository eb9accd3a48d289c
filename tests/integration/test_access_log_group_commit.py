"""Concurrent reads share access-log transactions, and each still waits for its own commit."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from service.access.access_log import AccessEntry
from service.access.group_commit import AccessLogWriter

pytestmark = pytest.mark.integration


def entry(n: int) -> AccessEntry:
    return AccessEntry("c", "agency", "A", uuid.UUID(int=n), "status", "p", {"n": n})


async def test_concurrent_reads_share_commits_and_all_entries_chain(services):
    commits = []
    writer = AccessLogWriter(services.access_log)
    original = services.access_log.append

    def counting_append(entries):
        commits.append(len(entries))
        original(entries)

    services.access_log.append = counting_append
    await asyncio.gather(*(writer.append([entry(n)]) for n in range(60)))
    assert sum(commits) == 60
    assert len(commits) < 60  # reads that arrived during a commit shared the next one
    assert services.access_log.verify() is None
    logged = services.access_log.for_subject(uuid.UUID(int=7), after_seq=None, limit=10)
    assert [row["returned"] for row in logged] == [{"n": 7}]


async def test_a_failed_commit_fails_every_read_in_it_and_the_next_batch_goes_on(services):
    writer = AccessLogWriter(services.access_log)
    original = services.access_log.append
    failing = {"left": 1}

    def flaky_append(entries):
        if failing["left"]:
            failing["left"] -= 1
            raise OSError("disk full")
        original(entries)

    services.access_log.append = flaky_append
    results = await asyncio.gather(
        *(writer.append([entry(n)]) for n in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, OSError) for r in results)
    await writer.append([entry(99)])
    assert [
        r["seq"]
        for r in services.access_log.for_subject(uuid.UUID(int=99), after_seq=None, limit=5)
    ] == [1]


def test_on_postgresql_rows_are_stored_as_sqlalchemys_insert_stores_them(services):
    """PostgreSQL's append hands its statements to the driver as they are (one insert for the
    batch): the same contents appended through SQLAlchemy's insert, as on SQLite, are stored
    with the same values, the JSON column's text included, and the chain holds across both."""
    from sqlalchemy import insert, text

    chain = services.access_log.chain
    if services.write_engine.dialect.name != "postgresql":
        pytest.skip("the driver's statements are PostgreSQL's")
    contents = [
        dict(entry(n).__dict__) | {"returned": {"n": n, "名": "行政许可", "x": [1.5, None, True]}}
        for n in (1, 2, 3)
    ]
    with services.write_engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": chain.name})
        through_sqlalchemy = chain._chained(contents, chain.head(conn))
        conn.execute(insert(chain.table), through_sqlalchemy)
    as_is = chain.append(contents)
    assert [row["seq"] for row in as_is] == [4, 5, 6]
    columns = ", ".join(c for c in chain.columns if c not in ("seq", "at", "prev_hash", "hash"))
    with services.write_engine.connect() as conn:
        stored = conn.execute(
            text(
                f"SELECT {columns}, returned::text AS raw, pg_typeof(at)::text AS at_type "
                "FROM access_log ORDER BY seq"
            )
        ).all()
    assert [tuple(row) for row in stored[:3]] == [tuple(row) for row in stored[3:]]
    assert stored[0].raw == json.dumps(contents[0]["returned"])  # as psycopg's Json writes it
    assert services.access_log.verify() is None


def on_postgresql(services) -> None:
    if services.write_engine.dialect.name != "postgresql":
        pytest.skip("the group commit writes through asyncpg on PostgreSQL only")


async def test_on_postgresql_batches_are_written_on_the_event_loop_as_psycopg_writes_them(
    services,
):
    """Given the database, the writer commits through asyncpg on the event loop, not the
    thread: the rows it stores equal those the psycopg path stores from the same contents, the
    JSON column's text included, and the chain holds across both."""
    from sqlalchemy import text

    on_postgresql(services)
    writer = AccessLogWriter(services.access_log, services.database)
    psycopg_append = services.access_log.append

    def not_in_the_thread(entries):
        raise AssertionError("written by the thread's path")

    returned = {"n": 1, "名": "行政许可", "x": [1.5, None, True], "when": "2026-12-06"}
    entries = [
        AccessEntry("c", "agency", "A", uuid.UUID(int=n), "status", "p", returned)
        for n in (1, 2, 3)
    ]
    services.access_log.append = not_in_the_thread
    try:
        await writer.append(entries)
    finally:
        services.access_log.append = psycopg_append
        await writer.aclose()
    services.access_log.append(entries)
    columns = ", ".join(
        c for c in services.access_log.chain.columns if c not in ("seq", "at", "prev_hash", "hash")
    )
    with services.write_engine.connect() as conn:
        stored = conn.execute(
            text(f"SELECT {columns}, returned::text AS raw, at FROM access_log ORDER BY seq")
        ).all()
    assert [tuple(row)[:-1] for row in stored[:3]] == [tuple(row)[:-1] for row in stored[3:]]
    assert stored[0].raw == json.dumps(returned)
    assert stored[0].at.tzinfo is not None and stored[0].at == stored[2].at  # one batch, one time
    assert services.access_log.verify() is None


async def test_on_postgresql_concurrent_reads_share_commits_and_a_failed_one_fails_its_reads(
    services,
):
    on_postgresql(services)
    writer = AccessLogWriter(services.access_log, services.database)
    commits = []
    original = services.access_log.append_on_asyncpg

    async def counting_append(driver, dialect, entries):
        commits.append(len(entries))
        if len(commits) == 2:
            raise OSError("disk full")
        await original(driver, dialect, entries)

    services.access_log.append_on_asyncpg = counting_append
    try:
        first = await asyncio.gather(*(writer.append([entry(n)]) for n in range(3)))
        second = await asyncio.gather(
            *(writer.append([entry(n)]) for n in range(3, 6)), return_exceptions=True
        )
        await asyncio.gather(*(writer.append([entry(n)]) for n in range(6, 66)))
    finally:
        await writer.aclose()
    assert first == [None] * 3
    assert all(isinstance(r, OSError) for r in second)  # every read of the failed commit
    assert commits[:2] == [3, 3] and sum(commits[2:]) == 60 and len(commits) < 62
    assert services.access_log.verify() is None
    logged = services.access_log.for_subject(uuid.UUID(int=4), after_seq=None, limit=5)
    assert logged == []  # nothing of the failed commit was written
    assert [
        r["seq"] for r in services.access_log.for_subject(uuid.UUID(int=6), after_seq=None, limit=5)
    ] == [4]


async def test_on_postgresql_a_connection_lost_between_batches_is_replaced_for_the_next(services):
    """The writer holds its connection from one batch to the next. The server ends it (a restart)
    after one batch while the next waits: the next is written on a new connection, not failed
    on the closed one."""
    on_postgresql(services)
    writer = AccessLogWriter(services.access_log, services.database)
    original = services.access_log.append_on_asyncpg
    later: list[asyncio.Future[None]] = []

    async def then_ended(driver, dialect, entries):
        await original(driver, dialect, entries)
        if not later:
            later.append(asyncio.ensure_future(writer.append([entry(2)])))
            await asyncio.sleep(0)  # the next read is waiting for the writer
            with services.write_engine.connect() as conn:
                conn.exec_driver_sql(f"SELECT pg_terminate_backend({driver.get_server_pid()})")
            for _ in range(500):
                if driver.is_closed():
                    break
                await asyncio.sleep(0.01)
            assert driver.is_closed()

    services.access_log.append_on_asyncpg = then_ended
    try:
        await writer.append([entry(1)])
        await later[0]
        await writer.append([entry(3)])  # and the engine's pool serves the batches after it
    finally:
        await writer.aclose()
    assert services.access_log.verify() is None
    assert [
        r["seq"] for r in services.access_log.for_subject(uuid.UUID(int=2), after_seq=None, limit=5)
    ] == [2]


async def test_on_postgresql_a_commit_failing_in_its_transaction_leaves_no_lock_held(services):
    """A batch whose insert fails after the chain's lock was taken is rolled back: the lock is
    free for the other writers at once, and the writer's next batch is written."""
    on_postgresql(services)
    writer = AccessLogWriter(services.access_log, services.database)
    unwritable = AccessEntry("c", "agency", "A", uuid.UUID(int=1), "status", "p", {"x": object()})
    try:
        with pytest.raises(TypeError):
            await writer.append([unwritable])
        with services.write_engine.connect() as conn:
            free = "SELECT pg_try_advisory_xact_lock(hashtext('access_log'))"
            assert conn.exec_driver_sql(free).scalar() is True
            conn.rollback()
        await writer.append([entry(2)])
    finally:
        await writer.aclose()
    assert [
        r["seq"] for r in services.access_log.for_subject(uuid.UUID(int=2), after_seq=None, limit=5)
    ] == [1]


async def test_on_postgresql_the_connection_is_held_from_one_read_to_the_next(
    services, monkeypatch
):
    """Reads apart from each other (each its own commit) are written on the one connection
    checked out for the first: no checkout and ping for each. Ended by the server while idle
    (a restart), it is replaced before the next read's commit, which is written."""
    from sqlalchemy import event

    from service.access import group_commit

    on_postgresql(services)
    checkouts = []
    made = group_commit.access_log_engine

    def counted_engine(database):
        engine = made(database)
        event.listen(engine.sync_engine, "checkout", lambda *_: checkouts.append(1))
        return engine

    monkeypatch.setattr(group_commit, "access_log_engine", counted_engine)
    writer = AccessLogWriter(services.access_log, services.database)
    servers, drivers = [], []
    original = services.access_log.append_on_asyncpg

    async def noting_the_server(driver, dialect, entries):
        servers.append(driver.get_server_pid())
        drivers.append(driver)
        await original(driver, dialect, entries)

    services.access_log.append_on_asyncpg = noting_the_server
    try:
        for n in range(3):
            await writer.append([entry(n)])
        assert len(checkouts) == 1 and len(set(servers)) == 1
        with services.write_engine.connect() as conn:
            conn.exec_driver_sql(f"SELECT pg_terminate_backend({servers[0]})")
        for _ in range(500):  # until the loop has seen the server end it
            if drivers[0].is_closed():
                break
            await asyncio.sleep(0.01)
        await writer.append([entry(3)])
    finally:
        await writer.aclose()
    assert len(checkouts) == 2 and servers[3] != servers[0]
    assert services.access_log.verify() is None
    assert [
        r["seq"] for r in services.access_log.for_subject(uuid.UUID(int=3), after_seq=None, limit=5)
    ] == [4]


def test_rows_of_one_append_that_name_different_columns_are_refused_and_nothing_is_written(
    services,
):
    contents = [
        dict(entry(1).__dict__),
        {k: v for k, v in entry(2).__dict__.items() if k != "purpose"},
    ]
    with pytest.raises(ValueError, match="names the same columns"):
        services.access_log.chain.append(contents)
    assert services.access_log.for_subject(uuid.UUID(int=1), after_seq=None, limit=5) == []


def one_statement(query: str) -> bool:
    """The lock and the insert in one statement."""
    return query.startswith("INSERT INTO access_log") and "pg_advisory_xact_lock" in query


class Queries:
    """The chain's statements the writer's connection sends, each batch's apart (not the
    driver's own, such as its look-up of the types of a statement's parameters)."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.drivers: set[int] = set()

    def follow(self, log) -> None:
        original = log.append_on_asyncpg

        async def noted(driver, dialect, entries):
            if id(driver) not in self.drivers:
                self.drivers.add(id(driver))
                driver.add_query_logger(self._note)
            self.batches.append([])
            await original(driver, dialect, entries)

        log.append_on_asyncpg = noted

    def _note(self, record) -> None:
        if "access_log" in record.query or record.query in ("COMMIT", "ROLLBACK"):
            self.batches[-1].append(record.query)


def followed_writer(services) -> tuple[AccessLogWriter, Queries]:
    """A writer on PostgreSQL's path (the event loop's), and the chain's statements it sends."""
    on_postgresql(services)
    queries = Queries()
    queries.follow(services.access_log)
    return AccessLogWriter(services.access_log, services.database), queries


def seqs_of(services, n: int) -> list[int]:
    return [
        r["seq"] for r in services.access_log.for_subject(uuid.UUID(int=n), after_seq=None, limit=5)
    ]


async def test_on_postgresql_a_writer_alone_on_the_chain_appends_in_one_statement(services):
    """Once a writer's append found the chain where its previous one left it, each next batch
    is chained after that head and written in one statement, one round trip; the chain holds
    and every entry has its place."""
    writer, queries = followed_writer(services)
    try:
        for n in range(5):
            await writer.append([entry(n)])
        await asyncio.gather(*(writer.append([entry(n)]) for n in range(5, 25)))
    finally:
        await writer.aclose()
    assert [len(batch) for batch in queries.batches[:2]] == [4, 4]  # lock, head, insert, COMMIT
    assert all(len(batch) == 1 for batch in queries.batches[2:]), queries.batches
    assert all(one_statement(batch[0]) for batch in queries.batches[2:])
    assert len(queries.batches) < 25  # the concurrent reads shared statements too
    assert services.access_log.verify() is None
    assert [seqs_of(services, n) for n in range(5)] == [[1], [2], [3], [4], [5]]
    assert sorted(s for n in range(5, 25) for s in seqs_of(services, n)) == list(range(6, 26))


async def test_on_postgresql_a_batch_after_another_writers_append_is_chained_after_it(services):
    """Another writer (another process, or this one's thread path) appends after the head this
    writer left: the one statement writes nothing (the next seq is taken), the batch is written
    after the real head, and the writer appends in one statement again only once it is alone."""
    writer, queries = followed_writer(services)
    try:
        for n in range(3):
            await writer.append([entry(n)])
        services.access_log.append([entry(100)])  # psycopg's path: seq 4
        await writer.append([entry(3)])
        await writer.append([entry(4)])
        await writer.append([entry(5)])
    finally:
        await writer.aclose()
    assert services.access_log.verify() is None
    assert [seqs_of(services, n) for n in (0, 1, 2, 100, 3, 4, 5)] == [[n] for n in range(1, 8)]
    attempt, after_it, alone_again = queries.batches[3:]
    assert len(attempt) == 5 and one_statement(attempt[0])  # then the lock and head
    assert len(after_it) == 4  # the chain moved since its last append: not alone
    assert len(alone_again) == 1


async def test_on_postgresql_a_chain_ending_elsewhere_than_where_it_was_left_is_not_forked(
    services,
):
    """The chain's last row is no longer the one this writer appended (a database put back to
    an earlier point, then appended to by another writer: the same seq, another hash). The one
    statement writes nothing, as the predecessor it names is not in the table, and the batch is
    chained after the row that is."""
    from sqlalchemy import text

    from tests.tampering import as_superuser

    writer, queries = followed_writer(services)
    try:
        for n in range(3):
            await writer.append([entry(n)])
        with as_superuser(services) as conn:  # as a restore of the database would
            conn.execute(text("DELETE FROM access_log WHERE seq = 3"))
        services.access_log.append([entry(200)])  # seq 3 again, with another hash
        await writer.append([entry(3)])
    finally:
        await writer.aclose()
    assert len(queries.batches[3]) == 5  # the one statement, then the lock and head
    assert services.access_log.verify() is None
    assert [seqs_of(services, n) for n in (0, 1, 2, 200, 3)] == [[1], [2], [], [3], [4]]


async def test_on_postgresql_two_writers_appending_at_once_keep_one_chain(services):
    """Two writers, as two API processes, each with its own connection and its own idea of the
    head, append batches at once: every entry is written once and the chain holds."""
    from service.access.access_log import AccessLog

    on_postgresql(services)
    other_log = AccessLog(services.write_engine, services.access_log.chain.hash_)
    writers = [
        AccessLogWriter(services.access_log, services.database),
        AccessLogWriter(other_log, services.database),
    ]
    try:
        for round_ in range(20):
            await asyncio.gather(
                *(
                    writers[k % 2].append([entry(round_ * 10 + k)])
                    for k in range(6)
                    for _ in range(1 + round_ % 3)
                )
            )
    finally:
        for writer in writers:
            await writer.aclose()
    assert services.access_log.verify() is None
    logged = [s for n in range(200) for s in seqs_of(services, n)]
    assert sorted(logged) == list(range(1, len(logged) + 1))
    assert len(logged) == sum(6 * (1 + r % 3) for r in range(20))
