"""Group commit for the access log. Every read waits until its entries are durable before its
answer leaves (an unlogged read is not served); writing each read's entries in a transaction of
its own would make every read queue behind one disk flush under the chain's lock. Entries from
reads that arrive while a batch is being written share the next transaction instead."""

from __future__ import annotations

import asyncio

from starlette.concurrency import run_in_threadpool

from service.access.access_log import AccessEntry, AccessLog
from service.metrics import ACCESS_LOG_BATCH


class AccessLogWriter:
    def __init__(self, log: AccessLog, max_batch: int = 1000):
        self.log = log
        self.max_batch = max_batch
        self._pending: list[tuple[list[AccessEntry], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

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
                await run_in_threadpool(self.log.append, rows)
            except Exception as error:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(error)
            else:
                ACCESS_LOG_BATCH.observe(len(rows))
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)
