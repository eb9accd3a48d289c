"""What every request leaves behind for operators: its request id (X-Request-ID, in every log
line written for it), one log line, and its count and duration in /metrics, all by the route's
template (`/v1/subjects/{subject_id}/status`), never its path: paths carry ids."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from typing import Any
from uuid import uuid4

from asgi_correlation_id.context import correlation_id
from asgi_correlation_id.extensions.sentry import get_sentry_extension
from asgi_correlation_id.middleware import FAILED_VALIDATION_MESSAGE

from service.metrics import REQUEST_SECONDS, REQUESTS

log = logging.getLogger("api.requests")
correlation_log = logging.getLogger("asgi_correlation_id")  # where its warnings went
REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_KEY = REQUEST_ID_HEADER.lower().encode("latin-1")
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


class RequestTrail:
    """Each HTTP request's id, then its count, duration and log line (by method, route template
    and status). One middleware doing what asgi-correlation-id's `CorrelationIdMiddleware`
    (outermost) and a metrics middleware inside it did, with the same effects in the same order:
    every request runs one layer less (tests/api/test_edge_answers.py holds the headers and log
    lines to those of the two)."""

    def __init__(self, app: Any):
        self.app = app
        # Each label set's series, looked up once: `labels()` takes a lock and checks its
        # arguments on every call. Bounded: methods x route templates x statuses.
        self._series_by_labels: dict[tuple[str, str, str], tuple[Any, Any]] = {}
        self._tag_for_sentry = get_sentry_extension()

    def _series(self, labels: tuple[str, str, str]) -> tuple[Any, Any]:
        series = self._series_by_labels.get(labels)
        if series is None:
            series = self._series_by_labels[labels] = (
                REQUESTS.labels(*labels),
                REQUEST_SECONDS.labels(*labels),
            )
        return series

    def _request_id(self, scope: dict[str, Any]) -> str:
        """The request's id, as `CorrelationIdMiddleware(header_name=REQUEST_ID_HEADER,
        validator=sane_request_id, update_request_header=True)` takes it: the first X-Request-ID
        header if sane, else a new one (warned of when one was sent), written into the
        request's headers; set in its context variable (the log lines' `request_id`)."""
        headers = scope["headers"] = list(scope["headers"])  # as MutableHeaders(scope=) does
        sent = next(
            (value.decode("latin-1") for name, value in headers if name == REQUEST_ID_KEY), None
        )
        if not sent:
            request_id = uuid4().hex
        elif not sane_request_id(sent):
            request_id = uuid4().hex
            correlation_log.warning(FAILED_VALIDATION_MESSAGE, request_id)
        else:
            request_id = sent
        if request_id != sent:
            # MutableHeaders' __setitem__: the first such header replaced, any other dropped.
            found = [n for n, (name, _) in enumerate(headers) if name == REQUEST_ID_KEY]
            value = request_id.encode("latin-1")
            if found:
                for n in reversed(found[1:]):
                    del headers[n]
                headers[found[0]] = (REQUEST_ID_KEY, value)
            else:
                headers.append((REQUEST_ID_KEY, value))
        correlation_id.set(request_id)
        self._tag_for_sentry(request_id)
        return request_id

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":  # an id, as for a request; no answer to count
                self._request_id(scope)
            await self.app(scope, receive, send)
            return
        self._request_id(scope)
        started = time.perf_counter()
        status = 500  # what an exception that escapes every handler becomes

        async def send_and_note(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = _with_request_id(message)
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


def _with_request_id(message: dict[str, Any]) -> dict[str, Any]:
    """An answer's start with the request id appended to its headers, as the context has it
    when the answer starts (CorrelationIdMiddleware's `MutableHeaders(scope=message).append`)."""
    if message["type"] == "http.response.start" and (request_id := correlation_id.get()):
        message["headers"] = [*message["headers"], (REQUEST_ID_KEY, request_id.encode("latin-1"))]
    return message


def install(app: Any) -> None:
    """Outermost of the middleware: the request id is set before anything else runs or logs,
    and the metrics see every answer, the deadline's and the size limit's included."""
    app.add_middleware(RequestTrail)
