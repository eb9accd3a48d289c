"""Group commit for the access log. Every read waits until its entries are durable before its
answer leaves (an unlogged read is not served); writing each read's entries in a transaction of
its own would make every read queue behind one disk flush under the chain's lock. Entries from
reads that arrive while a batch is being written share the next transaction instead."""

from __future__ import annotations

import asyncio
import contextvars
from concurrent.futures import ThreadPoolExecutor

from service.access.access_log import AccessEntry, AccessLog
from service.metrics import ACCESS_LOG_BATCH


class AccessLogWriter:
    def __init__(self, log: AccessLog, max_batch: int = 1000):
        self.log = log
        self.max_batch = max_batch
        self._pending: list[tuple[list[AccessEntry], asyncio.Future[None]]] = []
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

    async def _write_pending(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            rows = [entry for entries, _ in batch for entry in entries]
            try:
                if self._thread is None:
                    self._thread = ThreadPoolExecutor(1, thread_name_prefix="access-log")
                # In the context of the read that started the writer, as the shared pool ran it.
                await asyncio.get_running_loop().run_in_executor(
                    self._thread, contextvars.copy_context().run, self.log.append, rows
                )
            except Exception as error:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(error)
            else:
                ACCESS_LOG_BATCH.observe(len(rows))
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)

    def close(self) -> None:
        """Let the writer's thread end once the batch it writes, if any, is written."""
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.shutdown(wait=False)
