"""What every request leaves behind for operators: its request id (X-Request-ID, in every log
line written for it), one log line, and its count and duration in /metrics, all by the route's
template (`/v1/subjects/{subject_id}/status`), never its path: paths carry ids."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from typing import Any

from asgi_correlation_id import CorrelationIdMiddleware

from service.metrics import REQUEST_SECONDS, REQUESTS

log = logging.getLogger("api.requests")
REQUEST_ID_HEADER = "X-Request-ID"
# An incoming id is kept when it is one a tracing system or proxy would send (a UUID, a hex or
# base64url token, a W3C trace id); anything else is replaced by a fresh one, so that no header
# can put a line break, a long string or markup into the logs.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")
UNMATCHED = "unmatched"  # no route: a 404, labelled as one route so that paths never become labels


def sane_request_id(value: str) -> bool:
    return SANE_REQUEST_ID.fullmatch(value) is not None


def route_template(scope: Mapping[str, Any]) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED


class RequestMetrics:
    """Counts and times each HTTP request by method, route template and status, and logs it."""

    def __init__(self, app: Any):
        self.app = app
        # Each label set's series, looked up once: `labels()` takes a lock and checks its
        # arguments on every call. Bounded: methods x route templates x statuses.
        self._series_by_labels: dict[tuple[str, str, str], tuple[Any, Any]] = {}

    def _series(self, labels: tuple[str, str, str]) -> tuple[Any, Any]:
        series = self._series_by_labels.get(labels)
        if series is None:
            series = self._series_by_labels[labels] = (
                REQUESTS.labels(*labels),
                REQUEST_SECONDS.labels(*labels),
            )
        return series

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what an exception that escapes every handler becomes

        async def send_and_note(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            seconds = time.perf_counter() - started
            labels = (scope["method"], route_template(scope), str(status))
            count, duration = self._series(labels)
            count.inc()
            duration.observe(seconds)
            log.info(
                "%s %s %s",
                *labels,
                extra={
                    "method": labels[0],
                    "route": labels[1],
                    "status": status,
                    "duration_ms": round(seconds * 1000, 1),
                },
            )


def install(app: Any) -> None:
    """Outermost of the middleware: the request id is set before anything else runs or logs,
    and the metrics see every answer, the deadline's and the size limit's included."""
    app.add_middleware(RequestMetrics)
    app.add_middleware(
        CorrelationIdMiddleware,
        header_name=REQUEST_ID_HEADER,
        validator=sane_request_id,
        update_request_header=True,
    )
