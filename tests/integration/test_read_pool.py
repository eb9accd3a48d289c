"""The read pool on PostgreSQL keeps every connection it opens: a burst of reads past its size
waits for a connection instead of opening backends that are closed again when given back (each
new backend costs PostgreSQL 5 to 10 ms of CPU, which a busy server can least spare)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, text
from sqlalchemy.pool import QueuePool

from service.store.database import Database
from service.store.read_store import READ_POOL_CONNECTIONS, async_engine

pytestmark = pytest.mark.integration


async def burst(engine, reads: int) -> list[int]:
    """`reads` reads at once, each holding its connection a moment; their backends' pids."""

    async def read() -> int:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT pg_sleep(0.05)"))
            return (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()

    return await asyncio.gather(*(read() for _ in range(reads)))


async def test_a_burst_past_the_pool_waits_and_no_backend_is_opened_twice(postgres_database):
    engine = async_engine(Database.from_url(postgres_database))
    opened = []
    event.listen(engine.sync_engine, "connect", lambda *_: opened.append(1))
    try:
        first = await burst(engine, 2 * READ_POOL_CONNECTIONS)
        assert len(opened) == len(set(first)) <= READ_POOL_CONNECTIONS
        pool = engine.pool
        assert isinstance(pool, QueuePool)
        assert pool.checkedin() == len(opened)  # given back, none closed
        second = await burst(engine, 2 * READ_POOL_CONNECTIONS)
        assert set(second) <= set(first)  # the same backends served the second burst
        assert len(opened) == len(set(first))
    finally:
        await engine.dispose()
