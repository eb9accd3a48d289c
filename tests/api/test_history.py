"""An auditor's view of a subject's whole history, paged or streamed as NDJSON."""

from __future__ import annotations

import json
from uuid import UUID

import pytest

from tests.builders import follow_up, individual, penalty

pytestmark = pytest.mark.api


async def a_history(client) -> tuple[str, list[dict]]:
    created = (await client.post("/v1/subjects", json=individual(41))).json()
    sid = created["subject_id"]
    acks = []
    for n, severity in enumerate(["minor", "general", "serious"]):
        acks.append(
            (
                await client.post(
                    f"/v1/subjects/{sid}/events", json=penalty(f"H-{n}", severity=severity)
                )
            ).json()
        )
    acks.append(
        (
            await client.post(
                f"/v1/subjects/{sid}/events",
                json=follow_up(
                    "RecordRevoked",
                    "H-REV",
                    target_record_id=acks[1]["record_id"],
                    reason="复议撤销",
                ),
            )
        ).json()
    )
    return sid, acks


async def test_an_auditor_sees_every_event_with_its_times_and_provenance(client, auditor, services):
    sid, acks = await a_history(client)
    response = await client.get(f"/v1/subjects/{sid}/history", headers=auditor)
    assert response.status_code == 200
    events = response.json()["events"]
    assert [e["type"] for e in events] == [
        "SubjectRegistered",
        "PenaltyDecided",
        "PenaltyDecided",
        "PenaltyDecided",
        "RecordRevoked",
    ]
    assert [e["version"] for e in events] == [1, 2, 3, 4, 5]
    assert [e["position"] for e in events[1:]] == [a["position"] for a in acks]
    assert events[1]["schema_version"] == 3 and events[0]["schema_version"] == 2
    assert events[1]["valid_time"] == "2026-10-15"
    assert events[1]["recorded_by"] == "test-recorder"
    assert events[1]["data"]["source_ref"] == "H-0"
    assert events[0]["data"]["code"] == "(sealed)"
    assert individual(41)["code"] not in response.text
    log = services.access_log.for_subject(UUID(sid), after_seq=None, limit=10)
    assert [e["action"] for e in log] == ["history"]


async def test_history_filters_pages_and_streams(client, auditor):
    sid, _ = await a_history(client)
    only = await client.get(
        f"/v1/subjects/{sid}/history", params={"type": "RecordRevoked"}, headers=auditor
    )
    assert [e["type"] for e in only.json()["events"]] == ["RecordRevoked"]
    first = (
        await client.get(f"/v1/subjects/{sid}/history", params={"limit": 2}, headers=auditor)
    ).json()
    assert [e["version"] for e in first["events"]] == [1, 2]
    rest = (
        await client.get(
            f"/v1/subjects/{sid}/history",
            params={"after_version": first["next_after_version"]},
            headers=auditor,
        )
    ).json()
    assert [e["version"] for e in rest["events"]] == [3, 4, 5]
    assert rest["next_after_version"] is None
    streamed = await client.get(
        f"/v1/subjects/{sid}/history", headers={**auditor, "Accept": "application/x-ndjson"}
    )
    assert streamed.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in streamed.text.splitlines()]
    assert [line["version"] for line in lines] == [1, 2, 3, 4, 5]
    valid = await client.get(
        f"/v1/subjects/{sid}/history", params={"valid_from": "2026-10-15"}, headers=auditor
    )
    assert len(valid.json()["events"]) == 4  # the registration has no valid time


async def test_history_is_for_auditors_only(client, role_headers):
    sid, _ = await a_history(client)
    for role in ("recorder", "agency", "admin"):
        response = await client.get(f"/v1/subjects/{sid}/history", headers=role_headers[role])
        assert response.status_code == 403
    missing = await client.get(
        "/v1/subjects/6b9d7c4e-0000-8000-8000-000000000000/history", headers=role_headers["auditor"]
    )
    assert missing.status_code == 404
