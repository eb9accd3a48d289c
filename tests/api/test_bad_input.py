"""A catalogue of bad input: every malformed request or import row with its exact answer, and
proof that nothing was written (the event log's head does not move)."""

from __future__ import annotations

import base64
import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.builders import (
    PENALTY_FILE_HEADER,
    enterprise,
    follow_up,
    individual,
    penalty,
    penalty_file,
    penalty_file_row,
    resident_id,
    uscc,
)

pytestmark = pytest.mark.api
PROBLEM = "application/problem+json"
FORMULA = "=cmd|' /C calc'!A0"


def _swap(code: str, position: int, char: str) -> str:
    return code[:position] + char + code[position + 1 :]


def _wrong_check(code: str) -> str:
    return code[:-1] + ("1" if code[-1] != "1" else "2")


@dataclass(frozen=True)
class Bad:
    """One bad request: `{subject}` and `{other_record}` in the path or body are filled in."""

    method: str
    path: str
    status: int
    problem: str
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)


EVENTS = "/v1/subjects/{subject}/events"
JSON = {"content-type": "application/json"}


def _register(body: Any) -> Bad:
    return Bad("POST", "/v1/subjects", 422, "validation-error", json=body)


def _append(body: Any, status: int = 422, problem: str = "validation-error", **kw: Any) -> Bad:
    return Bad("POST", EVENTS, status, problem, json=body, **kw)


def _without(body: dict, key: str) -> dict:
    return {k: v for k, v in body.items() if k != key}


CASES = {
    # Registering a subject: codes and region
    "uscc-wrong-check-character": Bad(
        "POST", "/v1/subjects", 422, "invalid-input", json=enterprise(1, code=_wrong_check(uscc(1)))
    ),
    **{
        f"uscc-with-{c}": Bad(
            "POST",
            "/v1/subjects",
            422,
            "invalid-input",
            json=enterprise(1, code=_swap(uscc(1), 12, c)),
        )
        for c in "IOSVZ"
    },
    "uscc-17-characters": Bad(
        "POST", "/v1/subjects", 422, "invalid-input", json=enterprise(1, code=uscc(1)[:17])
    ),
    "id-wrong-check-digit": Bad(
        "POST",
        "/v1/subjects",
        422,
        "invalid-input",
        json=individual(1, code=_wrong_check(resident_id(1))),
    ),
    "id-15-digits": Bad(
        "POST", "/v1/subjects", 422, "invalid-input", json=individual(1, code="410105850314003")
    ),
    "id-future-birth-date": Bad(
        "POST",
        "/v1/subjects",
        422,
        "invalid-input",
        json=individual(1, code=resident_id(1, birth="20261121")),
    ),
    "plate-bad-province": Bad(
        "POST",
        "/v1/subjects",
        422,
        "invalid-input",
        json={**enterprise(1), "kind": "vehicle", "code": "美A12345"},
    ),
    "region-990000": _register(enterprise(1, region_code="990000")),
    "subject-unknown-kind": _register(enterprise(1, kind="company")),
    "subject-extra-field": _register(enterprise(1, email="x@example.com")),
    "subject-missing-name": _register(_without(enterprise(1), "name")),
    "subject-json-array": Bad(
        "POST", "/v1/subjects", 422, "validation-error", content=b"[]", headers=JSON
    ),
    # Appending an event
    "future-decision-date": _append(penalty(decision_date="2026-11-21"), problem="invalid-input"),
    "negative-fine": _append(penalty(fine_amount="-1")),
    "fine-7-decimals": _append(penalty(fine_amount="0.1234567")),
    "fine-not-a-number": _append(penalty(fine_amount="贰万")),
    "body-over-size-limit": _append(
        penalty(facts="超" * 100_000), status=413, problem="payload-too-large"
    ),
    "facts-over-20000-characters": _append(penalty(facts="x" * 20_001)),
    "empty-facts": _append(penalty(facts="")),
    "invalid-utf8-json": Bad(
        "POST",
        EVENTS,
        400,
        "malformed-json",
        content=b'{"type": "PenaltyDecided", "facts": "\xff\xfe\xc3"}',
        headers=JSON,
    ),
    "truncated-json": Bad(
        "POST", EVENTS, 400, "malformed-json", content=b'{"type": "PenaltyDecided",', headers=JSON
    ),
    "event-json-array": Bad("POST", EVENTS, 422, "validation-error", content=b"[]", headers=JSON),
    "unknown-event-type": _append(penalty(type="PenaltyWished")),
    "event-extra-field": _append(penalty(handling_officer="多余字段")),  # no field of a penalty
    "event-missing-facts": _append(_without(penalty(), "facts")),
    "wrong-date-format": _append(penalty(decision_date="2026/10/15")),
    "authority-code-wrong-check": _append(penalty(authority_code=_wrong_check(uscc(9)))),
    "if-match-not-an-entity-tag": _append(
        penalty(), status=400, problem="invalid-if-match", headers={"If-Match": "abc"}
    ),
    "if-match-tag-that-is-no-version": _append(
        penalty(), status=412, problem="version-mismatch", headers={"If-Match": '"abc"'}
    ),
    "idempotency-key-201-chars": _append(penalty(), headers={"Idempotency-Key": "k" * 201}),
    "follow-up-of-another-subjects-record": _append(
        follow_up("RecordRevoked", "REV-1", target_record_id="{other_record}", reason="复议撤销"),
        problem="record-not-found",
    ),
    "subject-id-not-a-uuid": Bad(
        "POST", "/v1/subjects/not-a-uuid/events", 422, "validation-error", json=penalty()
    ),
    # Reading
    "batch-status-201-codes": Bad(
        "POST", "/v1/status:batch", 422, "validation-error", json={"codes": [uscc(1)] * 201}
    ),
    "batch-status-no-codes": Bad(
        "POST", "/v1/status:batch", 422, "validation-error", json={"codes": []}
    ),
    "bad-cursor": Bad(
        "GET",
        "/v1/subjects/{subject}/records",
        400,
        "invalid-cursor",
        params={"cursor": "not-a-cursor"},
    ),
    "negative-min-position": Bad(
        "GET",
        "/v1/subjects/{subject}/status",
        422,
        "validation-error",
        params={"min_position": -1},
    ),
    "limit-zero": Bad(
        "GET", "/v1/subjects/{subject}/records", 422, "validation-error", params={"limit": 0}
    ),
    # Found by fuzzing (tests/api/test_schema_fuzz.py): each was a server error before.
    "nul-in-facts": _append(penalty(facts="超限\x00运输")),
    "lone-surrogate-in-facts": _append(
        None, content=json.dumps(penalty(facts="\ud800")).encode(), headers=JSON
    ),
    "nul-in-subject-name": _register(enterprise(1, name="宏达\x00运输")),
    "nul-in-x-purpose": Bad(
        "GET",
        "/v1/subjects/{subject}/status",
        422,
        "validation-error",
        headers={"X-Purpose": "%00"},
    ),
    "nul-in-case-number": Bad(
        "POST", "/v1/cases/XF2026%00112:accept", 404, "case-not-found", json={}
    ),
    "min-position-over-64-bits": Bad(
        "GET",
        "/v1/subjects/{subject}/status",
        422,
        "validation-error",
        params={"min_position": 2**64},
    ),
    "min-position-beyond-the-log": Bad(
        "GET",
        "/v1/subjects/{subject}/status",
        422,
        "validation-error",
        params={"min_position": 2**62},
    ),
    "access-log-after-over-64-bits": Bad(
        "GET",
        "/v1/subjects/{subject}/access-log",
        422,
        "validation-error",
        params={"after": 2**64},
    ),
    "tree-size-over-64-bits": Bad("GET", f"/v1/audit/checkpoints/{2**64}", 422, "validation-error"),
    "cursor-over-64-bits": Bad(
        "GET",
        "/v1/subjects/{subject}/records",
        400,
        "invalid-cursor",
        params={"cursor": base64.urlsafe_b64encode(b'{"p": %d}' % 2**64).decode()},
    ),
}


def _fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**names) if "{" in value else value
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, names) for v in value]
    return value


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
async def test_bad_requests_get_their_exact_problem_and_write_nothing(client, services, case):
    subject = await _created(client, "/v1/subjects", enterprise(1))
    other = await _created(client, "/v1/subjects", enterprise(2))
    record = await _created(client, f"/v1/subjects/{other['subject_id']}/events", penalty())
    names = {"subject": subject["subject_id"], "other_record": record["record_id"]}
    head = services.ledger.recorder.max_notification_id()

    response = await client.request(
        case.method,
        _fill(case.path, names),
        json=_fill(case.json, names) if case.content is None else None,
        content=case.content,
        headers=case.headers,
        params=case.params,
    )

    assert response.status_code == case.status, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"].endswith("/" + case.problem), response.text
    assert services.ledger.recorder.max_notification_id() == head


async def test_a_facts_field_of_10001_characters_is_within_the_limit(client):
    subject = await _created(client, "/v1/subjects", enterprise(1))
    response = await client.post(
        f"/v1/subjects/{subject['subject_id']}/events", json=penalty(facts="x" * 10_001)
    )
    assert response.status_code == 201, response.text


async def _created(client, path: str, body: dict) -> dict:
    response = await client.post(path, json=body)
    assert response.status_code == 201, response.text
    return response.json()


# Import files ---------------------------------------------------------------------------------

HEADER = [*PENALTY_FILE_HEADER, "CF_XDR_ZJHM"]


def _row(n: int, zjhm: str = "", **changes: str) -> list[str]:
    return [*penalty_file_row(n, **changes), zjhm]


def _csv(header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


BAD_ROWS = {
    "natural-person-15-digit-id": (
        _row(2, "410105850314003", CF_XDR_LB="自然人", CF_XDR_SHXYM="", CF_XDR_MC="王建国"),
        "CF_XDR_ZJHM",
    ),
    "future-decision-date": (
        _row(2, CF_JDRQ="2026-11-21"),
        "CF_JDRQ 处罚决定日期：决定日期不能晚于今天",
    ),
    "negative-fine": (_row(2, CF_NR_FK="-3"), "CF_NR_FK"),
    "fine-7-decimals": (_row(2, CF_NR_FK="0.1234567"), "CF_NR_FK"),
    "uscc-wrong-check-character": (_row(2, CF_XDR_SHXYM=_wrong_check(uscc(2))), "CF_XDR_SHXYM"),
    "uscc-with-O": (_row(2, CF_XDR_SHXYM=_swap(uscc(2), 12, "O")), "CF_XDR_SHXYM"),
    "wrong-date-format": (_row(2, CF_JDRQ="2026年13月45日"), "CF_JDRQ"),
    "empty-required-cell": (_row(2, CF_SY=""), "CF_SY"),
}


@pytest.mark.parametrize(("row", "reason"), list(BAD_ROWS.values()), ids=list(BAD_ROWS))
async def test_a_bad_import_row_is_rejected_by_line_and_the_good_rows_are_kept(
    client, services, row, reason
):
    good = [_row(1), _row(3)]
    data = _csv(HEADER, [good[0], row, good[1]])
    response = await client.post("/v1/imports", files={"file": ("batch.csv", data, "text/csv")})
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["rows_read"], report["accepted"]) == (3, 2)
    assert [r["line"] for r in report["rejected"]] == [3]
    assert reason in report["rejected"][0]["reason"]
    head = services.ledger.recorder.max_notification_id()
    assert head == 4  # two good rows: a subject and a penalty each; the bad row wrote nothing
    again = await client.post("/v1/imports", files={"file": ("good.csv", _csv(HEADER, good))})
    assert (again.json()["accepted"], again.json()["already_present"]) == (0, 2)
    assert services.ledger.recorder.max_notification_id() == head


async def test_a_formula_cell_is_accepted_and_stored_verbatim(client, services):
    data = _csv(HEADER, [_row(1, CF_SY=FORMULA)])
    report = (await client.post("/v1/imports", files={"file": ("batch.csv", data)})).json()
    assert (report["accepted"], report["rejected"]) == (1, [])
    head = services.ledger.recorder.max_notification_id()
    found = await client.post(
        "/v1/subjects:lookup", json={"code": uscc(1)}, params={"min_position": head}
    )
    assert found.status_code == 200, found.text
    records = await client.get(f"/v1/subjects/{found.json()['subject_id']}/records")
    assert [r["details"]["facts"] for r in records.json()["records"]] == [FORMULA]


async def test_a_gbk_file_without_a_bom_is_read(client, services):
    data = penalty_file([penalty_file_row(1, CF_SY="车辆超限运输（超限 30%）")], encoding="gbk")
    assert not data.startswith(b"\xef\xbb\xbf")
    response = await client.post("/v1/imports", files={"file": ("批量.csv", data, "text/csv")})
    assert response.status_code == 200, response.text
    assert (response.json()["accepted"], response.json()["rejected"]) == (1, [])


BAD_FILES = {
    "duplicate-column-names": (
        _csv([*PENALTY_FILE_HEADER, "CF_SY"], [[*penalty_file_row(1), "重复"]]),
        "duplicate column",
    ),
    "missing-required-column": (
        _csv(PENALTY_FILE_HEADER[:3] + PENALTY_FILE_HEADER[4:], [penalty_file_row(1)[:3]]),
        "CF_WSH",
    ),
    "empty-file": (b"", "no content"),
    "binary-blob": (bytes(range(256)) * 8, "not a CSV text file"),
}


@pytest.mark.parametrize(("data", "detail"), list(BAD_FILES.values()), ids=list(BAD_FILES))
async def test_an_unreadable_import_file_is_refused_whole(client, services, data, detail):
    response = await client.post("/v1/imports", files={"file": ("batch.csv", data, "text/csv")})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"].endswith("/import-file-invalid")
    assert detail in response.json()["detail"]
    assert not services.ledger.recorder.max_notification_id()
