"""Group commit for the access log. Every read waits until its entries are durable before its
answer leaves (an unlogged read is not served); writing each read's entries in a transaction of
its own would make every read queue behind one disk flush under the chain's lock. Entries from
reads that arrive while a batch is being written share the next transaction instead."""

from __future__ import annotations

import asyncio
import contextvars
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from projections.driver import statements_followed
from service.access.access_log import AccessEntry, AccessLog
from service.metrics import ACCESS_LOG_BATCH, count_pool_use
from service.store.database import Database
from service.store.read_store import access_log_engine

if TYPE_CHECKING:
    import asyncpg

Batch = list[tuple[list[AccessEntry], asyncio.Future[None]]]


class AccessLogWriter:
    def __init__(self, log: AccessLog, database: Database | None = None, max_batch: int = 1000):
        """`database`: where `log` is, to write on PostgreSQL through asyncpg on the event loop
        (a connection of the writer's own, held from one batch to the next): a batch costs a
        fraction of the instructions of psycopg's round trips in a thread. Without it, or on
        SQLite, or where something follows the engine's statements (tracing), in a thread."""
        self.log = log
        self.max_batch = max_batch
        self._on_postgresql = database if database is not None and not database.is_sqlite else None
        self._engine: AsyncEngine | None = None
        self._engine_loop: asyncio.AbstractEventLoop | None = None
        self._held: tuple[AsyncConnection, asyncpg.Connection] | None = None
        self._pending: Batch = []
        self._writer: asyncio.Task[None] | None = None
        # The batches are written one at a time, in a thread of the writer's own: handing a
        # batch to it costs less than a turn of the shared pool's (anyio's limiter and queue).
        # Started on the first batch, again after `close` if the services are used again.
        self._thread: ThreadPoolExecutor | None = None

    async def append(self, entries: list[AccessEntry]) -> None:
        """Returns once the entries are committed; raises what the commit raised."""
        if not entries:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((entries, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_pending())
        await done

    def _take(self) -> tuple[Batch, list[AccessEntry]]:
        batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
        return batch, [entry for entries, _ in batch for entry in entries]

    @staticmethod
    def _settle(batch: Batch, rows: int, error: Exception | None = None) -> None:
        if error is None:
            ACCESS_LOG_BATCH.observe(rows)
        for _, done in batch:
            if not done.done():
                if error is None:
                    done.set_result(None)
                else:
                    done.set_exception(error)

    async def _write_pending(self) -> None:
        try:
            engine = self._loop_engine()
            if engine is None or statements_followed(engine.sync_engine):
                await self._write_in_thread()
            else:
                await self._write_on_loop(engine)
        except Exception as error:  # no read waits for ever on a writer that stopped: each
            batch, rows = self._take()  # is answered with the error, which the API logs
            while batch:
                self._settle(batch, len(rows), error)
                batch, rows = self._take()

    async def _write_in_thread(self) -> None:
        while self._pending:
            batch, rows = self._take()
            try:
                if self._thread is None:
                    self._thread = ThreadPoolExecutor(1, thread_name_prefix="access-log")
                # In the context of the read that started the writer, as the shared pool ran it.
                await asyncio.get_running_loop().run_in_executor(
                    self._thread, contextvars.copy_context().run, self.log.append, rows
                )
            except Exception as error:
                self._settle(batch, len(rows), error)
            else:
                self._settle(batch, len(rows))

    async def _write_on_loop(self, engine: AsyncEngine) -> None:
        while self._pending:
            try:
                driver = await self._held_driver(engine)
            except Exception as error:  # the database is away: this batch fails, the next tries
                batch, rows = self._take()
                self._settle(batch, len(rows), error)
                continue
            batch, rows = self._take()
            try:
                await self.log.append_on_asyncpg(driver, engine.dialect, rows)
            except Exception as error:
                self._settle(batch, len(rows), error)
            else:
                self._settle(batch, len(rows))

    async def _held_driver(self, engine: AsyncEngine) -> asyncpg.Connection:
        """The writer's connection, held from one batch to the next, however long between:
        checking a connection out and pinging it cost some 300 µs of CPU, as much as a commit
        of a read alone. One the server ended meanwhile (a restart, an idle timeout) is seen
        closed here, with no round trip, and replaced by one checked out anew (and pinged)."""
        if self._held is not None:
            conn, driver = self._held
            if not driver.is_closed():
                return driver
            self._held = None
            await conn.invalidate()
            await conn.close()
        conn = await engine.connect().start()
        try:
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
        except BaseException:
            await conn.close()  # the pool's one connection, back for the next batch
            raise
        self._held = (conn, driver)
        return driver

    def _loop_engine(self) -> AsyncEngine | None:
        """The writer's engine on PostgreSQL, made in the running event loop, whose connections
        it holds (the loop a test's client ran is gone when the next client starts its own)."""
        if self._on_postgresql is None:
            return None
        loop = asyncio.get_running_loop()
        if self._engine is None or self._engine_loop is not loop:
            self._held = None  # of the loop before, which no longer runs
            self._engine = access_log_engine(self._on_postgresql)
            self._engine_loop = loop
            count_pool_use(self._engine.sync_engine, "access-log")
        return self._engine

    def close(self) -> None:
        """Let the writer's thread end once the batch it writes, if any, is written."""
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.shutdown(wait=False)

    async def aclose(self) -> None:
        """`close`, and the engine's connection closed, in the loop that opened it."""
        self.close()
        engine, self._engine = self._engine, None
        held, self._held = self._held, None
        if engine is not None and self._engine_loop is asyncio.get_running_loop():
            if held is not None:
                await held[0].close()
            await engine.dispose()
