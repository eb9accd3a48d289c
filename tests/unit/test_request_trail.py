"""The request id as api/observability.py's RequestTrail takes and answers it, against
asgi-correlation-id's CorrelationIdMiddleware configured as the service had it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgi_correlation_id import CorrelationIdMiddleware
from asgi_correlation_id.context import correlation_id

from api.observability import REQUEST_ID_HEADER, RequestTrail, sane_request_id

SENT = [
    [],
    [(b"x-request-id", b"trace-0123456789abcdef")],
    [(b"x-request-id", b"bad\tid")],
    [(b"x-request-id", b"")],
    [(b"accept", b"*/*"), (b"x-request-id", b"short")],
    [(b"x-request-id", b"bad id"), (b"host", b"a"), (b"x-request-id", b"trace-0123456789abcdef")],
    [(b"x-request-id", b"trace-0123456789abcdef"), (b"x-request-id", b"trace-fedcba9876543210")],
]


async def _through(middleware: Any, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen["request"] = list(scope["headers"])
        seen["context"] = correlation_id.get()
        await send({"type": "http.response.start", "status": 204, "headers": [(b"a", b"b")]})
        await send({"type": "http.response.body", "body": b""})

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/", "headers": list(headers)}
    await asyncio.create_task(middleware(app)(scope, None, send))  # a context of its own
    generated = seen["context"] if seen["context"] not in {v.decode() for _, v in headers} else None

    def plain(value: bytes) -> bytes:
        return b"<generated>" if generated and value == generated.encode() else value

    return {
        "request": [(n, plain(v)) for n, v in seen["request"]],
        "answer": [(n, plain(v)) for n, v in sent[0]["headers"]],
        "generated": generated is not None,
    }


def library(app: Any) -> Any:
    return CorrelationIdMiddleware(
        app, header_name=REQUEST_ID_HEADER, validator=sane_request_id, update_request_header=True
    )


@pytest.mark.parametrize("headers", SENT)
async def test_the_request_id_is_taken_and_answered_as_the_library_did(headers):
    assert await _through(RequestTrail, headers) == await _through(library, headers)
