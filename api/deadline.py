"""Every request is answered within a bound: 503 problem+json with Retry-After if no answer has
started by then, whatever held it (a dead database, a queue for a worker thread, a busy CPU).

The waits inside have bounds of their own (service/store/database.py), which answer first in the
usual case with `database-unavailable`; this is the backstop that makes the bound hold for the
sum of them and for what has none (a thread of the pool is only freed when its work returns).
The abandoned work runs on: a write it makes may still commit, as with any 503 on a write, and
its client's retry with the same Idempotency-Key records it once."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from api.errors import DeadlineExceeded, send_problem
from api.observability import route_template

log = logging.getLogger(__name__)


class AnswerWithin:
    def __init__(self, app: Any, *, seconds: float, exempt_prefixes: tuple[str, ...] = ()):
        self.app = app
        self.seconds = seconds
        self.exempt_prefixes = exempt_prefixes
        self._abandoned: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if (
            scope["type"] != "http"
            or not self.seconds
            or scope["path"].startswith(self.exempt_prefixes)
        ):
            await self.app(scope, receive, send)
            return
        # One future settled by whichever comes first: the answer starting, the work ending
        # (answered or failed), or the deadline's timer. Cheaper per request than a task
        # waiting on an event and `asyncio.wait` over the two.
        loop = asyncio.get_running_loop()
        decided = loop.create_future()
        started = False
        abandoned = False

        def decide(_: object = None) -> None:
            if not decided.done():
                decided.set_result(None)

        async def guarded_send(message: dict) -> None:
            nonlocal started
            if abandoned:
                return  # answered already: what the work would have said is dropped
            if message["type"] == "http.response.start":
                started = True
                decide()
            await send(message)

        work = asyncio.ensure_future(self.app(scope, receive, guarded_send))
        work.add_done_callback(decide)
        timer = loop.call_later(self.seconds, decide)
        try:
            await decided
        finally:
            timer.cancel()
        if work.done() or started:
            await work  # the answer is under way: let it finish, however long the body takes
            return
        abandoned = True
        self._abandoned.add(work)
        work.add_done_callback(self._finished)
        log.warning(
            "no answer within %.1fs on %s %s: answered 503; the work runs on",
            self.seconds,
            scope.get("method"),
            route_template(scope),  # the template: a path may hold ids
        )
        await send_problem(scope, send, DeadlineExceeded(self.seconds))

    def _finished(self, work: asyncio.Task[None]) -> None:
        self._abandoned.discard(work)
        if not work.cancelled() and work.exception() is not None:
            log.warning("abandoned request failed afterwards: %r", work.exception())
