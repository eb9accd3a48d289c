"""Calling the service's ASGI app in-process, as the profiles do: no socket, no HTTP parser,
so that what they count is the app's own work."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import MutableMapping
from typing import Any

from starlette.types import ASGIApp

from bench.fixtures import server_env


def request_scope(method: str, path: str, headers: dict[str, str]) -> dict[str, Any]:
    """The scope uvicorn would build for the request."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1")]
        + [(name.lower().encode(), value.encode()) for name, value in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def answer_status(app: ASGIApp, scope: dict[str, Any], body: bytes = b"") -> int:
    """Send the request, with `body`, and return the status of the app's answer."""
    status = 0
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)  # the client stays: nothing more comes
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(dict(scope), receive, send)
    return status


def service_app(url: str) -> Any:
    """The service's app as `credit serve` builds it against `url`, logging a JSON line per
    request as it does, written to nowhere."""
    os.environ.update(server_env(url))
    from api.app import create_app
    from service.logs import configure_logging
    from service.settings import get_settings

    get_settings.cache_clear()
    app = create_app(get_settings())
    configure_logging(get_settings().log_format)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 (until the process ends)
    return app
