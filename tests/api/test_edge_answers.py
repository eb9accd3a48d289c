"""What the HTTP edge adds to an answer, byte for byte: the status line, every header in order,
the body, and the request's log line, for a status read and its refusals, a batch, and the
answers the middleware gives itself (body too large, no route). The expected answers in
`edge_answers.json` were taken from the service before its middleware was rewritten for speed:
a header added, dropped, reordered or changed, or a log line changed, fails here."""

from __future__ import annotations

import importlib
import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from service.logs import logging_config
from tests.builders import enterprise, penalty, rating

pytestmark = pytest.mark.api

EXPECTED = Path(__file__).with_name("edge_answers.json")
GENERATED_ID = re.compile(r"[0-9a-f]{32}")
SUPPLIED_ID = "trace-0123456789abcdef"
UNKNOWN = "00000000-0000-4000-8000-000000000000"


class Lines(logging.Handler):
    """The request log's lines as the service formats them (JSON, `credit serve`'s format)."""

    def __init__(self) -> None:
        super().__init__()
        config = logging_config("json")["formatters"]["default"]
        module, _, name = config["()"].rpartition(".")
        formatter = getattr(importlib.import_module(module), name)
        self.setFormatter(
            formatter(
                config["fmt"], rename_fields=config["rename_fields"], timestamp=config["timestamp"]
            )
        )
        from asgi_correlation_id import CorrelationIdFilter

        self.addFilter(CorrelationIdFilter(default_value="-"))
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))


def _plain(answer, request_id: str | None) -> dict[str, Any]:
    headers = []
    for name, value in answer.headers.raw:
        text = value.decode("latin-1")
        if name == b"x-request-id":
            # A generated id is random: its form is what stays the same.
            assert text == request_id or GENERATED_ID.fullmatch(text), text
            text = "<supplied>" if text == request_id else "<generated>"
        headers.append([name.decode("latin-1"), text])
    return {"status": answer.status_code, "headers": headers, "body": answer.text}


def _line(line: dict[str, Any]) -> dict[str, Any]:
    assert isinstance(line.pop("time"), str)
    if line["logger"] == "api.requests":
        assert isinstance(line.pop("duration_ms"), float | int)
    line["message"] = GENERATED_ID.sub("<generated>", line["message"])
    if GENERATED_ID.fullmatch(line["request_id"]):
        line["request_id"] = "<generated>"
    elif line["request_id"] == SUPPLIED_ID:
        line["request_id"] = "<supplied>"
    return line


async def _answers(anonymous, role_headers) -> dict[str, Any]:
    recorder = role_headers["recorder"]
    agency = {**role_headers["agency"], "X-Purpose": "%E8%A1%8C%E6%94%BF%E8%AE%B8%E5%8F%AF"}
    created = await anonymous.post("/v1/subjects", json=enterprise(41), headers=recorder)
    sid = created.json()["subject_id"]
    for body in (rating(), penalty("EDGE-1", severity="general")):
        recorded = await anonymous.post(f"/v1/subjects/{sid}/events", json=body, headers=recorder)
        assert recorded.status_code == 201, recorded.text
    status = f"/v1/subjects/{sid}/status"
    # Once the read model has the records (it may run behind the writes): every answer alike.
    position = recorded.json()["position"]
    first = await anonymous.get(status, headers=agency, params={"min_position": position})
    assert first.status_code == 200, first.text
    requests: dict[str, tuple[str, str, dict[str, Any]]] = {
        "status": ("GET", status, {"headers": agency}),
        "status with a request id": (
            "GET",
            status,
            {"headers": {**agency, "X-Request-ID": SUPPLIED_ID}},
        ),
        "status with a request id refused": (
            "GET",
            status,
            {"headers": {**agency, "X-Request-ID": "bad\tid"}},
        ),
        "status unchanged": (
            "GET",
            status,
            {"headers": {**agency, "If-None-Match": first.headers["etag"]}},
        ),
        "status through the solver": (
            "GET",
            status,
            {"headers": agency, "params": {"min_position": 1}},
        ),
        "status of no subject": ("GET", f"/v1/subjects/{UNKNOWN}/status", {"headers": agency}),
        "status without a token": ("GET", status, {}),
        "status with a bad token": ("GET", status, {"headers": {"Authorization": "Bearer x.y.z"}}),
        "status without the scope": ("GET", status, {"headers": role_headers["admin"]}),
        "status of a malformed id": ("GET", "/v1/subjects/not-an-id/status", {"headers": agency}),
        "status as of a future day": (
            "GET",
            status,
            {"headers": agency, "params": {"as_of": "2099-01-01"}},
        ),
        "status with a purpose too long": (
            "GET",
            status,
            {"headers": {**agency, "X-Purpose": "x" * 201}},
        ),
        "batch": (
            "POST",
            "/v1/status:batch",
            {"headers": agency, "json": {"codes": [enterprise(41)["code"], "not-a-code"]}},
        ),
        "batch without codes": ("POST", "/v1/status:batch", {"headers": agency, "json": {}}),
        "batch too large": (
            "POST",
            "/v1/status:batch",
            {"headers": agency, "content": b"{" + b" " * 2_000_000 + b"}"},
        ),
        "no route": ("GET", "/v1/nothing-here", {"headers": agency}),
    }
    handler = Lines()
    # The request log, and the request id's own warnings.
    loggers = [logging.getLogger(name) for name in ("api.requests", "asgi_correlation_id")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    answers = {}
    try:
        for name, (method, path, options) in requests.items():
            del handler.lines[:]
            answer = await anonymous.request(method, path, **options)
            supplied = options.get("headers", {}).get("X-Request-ID")
            answers[name] = _plain(answer, supplied) | {
                "log": [_line(line) for line in handler.lines]
            }
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)
    return answers


async def test_the_edge_answers_as_it_did(anonymous, role_headers):
    answers = await _answers(anonymous, role_headers)
    expected = json.loads(EXPECTED.read_text())
    for name, answer in answers.items():
        assert answer == expected[name], name
    assert answers.keys() == expected.keys()
