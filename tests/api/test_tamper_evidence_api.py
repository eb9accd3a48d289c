"""Checkpoints, proofs and exports over HTTP, as an auditor (or anyone, for what is public)
would use them."""

from __future__ import annotations

import base64

import pytest

from domain.integrity import event_leaf, signature_valid
from domain.merkle import verify_consistency, verify_inclusion
from service.integrity.checkpoints import Checkpoint
from service.integrity.verifier import verify_export
from tests.builders import enterprise, penalty

pytestmark = pytest.mark.api


async def some_events(client, serial: int = 1) -> list[dict]:
    subject = (await client.post("/v1/subjects", json=enterprise(serial))).json()
    acks = [subject]
    for n in range(2):
        response = await client.post(
            f"/v1/subjects/{subject['subject_id']}/events", json=penalty(f"API-{serial}-{n}")
        )
        acks.append(response.json())
    return acks


def keys(document: dict) -> dict[str, bytes]:
    return {k["key_id"]: base64.b64decode(k["public_key"]) for k in document["keys"]}


def signed(checkpoint: dict, public_keys: dict[str, bytes]) -> bool:
    saved = Checkpoint.from_json(checkpoint)
    return signature_valid(public_keys[saved.key_id], saved.signature, saved.message())


async def test_checkpoints_are_made_on_demand_and_published_to_anyone(
    client, anonymous, auditor, role_headers
):
    assert (await anonymous.get("/v1/audit/checkpoints/latest", headers={})).status_code == 404
    await some_events(client)
    made = await anonymous.post("/v1/audit/checkpoints", headers=auditor)
    assert made.status_code == 201
    again = await anonymous.post("/v1/audit/checkpoints", headers=auditor)
    assert again.status_code == 200 and again.json() == made.json()
    refused = await anonymous.post("/v1/audit/checkpoints", headers=role_headers["agency"])
    assert refused.status_code == 403

    public = {"Authorization": ""}
    latest = (await anonymous.get("/v1/audit/checkpoints/latest", headers=public)).json()
    assert latest == made.json() and latest["tree_size"] == 3
    published = (await anonymous.get("/v1/audit/checkpoint-keys", headers=public)).json()
    assert signed(latest, keys(published))
    listed = (await anonymous.get("/v1/audit/checkpoints", headers=public)).json()
    assert [c["tree_size"] for c in listed["checkpoints"]] == [3]
    assert (await anonymous.get("/v1/audit/checkpoints/3", headers=public)).json() == latest
    missing = await anonymous.get("/v1/audit/checkpoints/2", headers=public)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


async def test_inclusion_and_consistency_proofs_verify_against_checkpoints(
    client, anonymous, auditor, role_headers
):
    first_acks = await some_events(client, 1)
    old = (await anonymous.post("/v1/audit/checkpoints", headers=auditor)).json()
    later_acks = await some_events(client, 2)
    late = await anonymous.get(
        "/v1/audit/proofs/inclusion",
        params={"position": later_acks[1]["position"]},
        headers=auditor,
    )
    assert late.status_code == 409 and "newer checkpoint" in late.json()["detail"]
    new = (await anonymous.post("/v1/audit/checkpoints", headers=auditor)).json()

    for ack in first_acks + later_acks:
        response = await anonymous.get(
            "/v1/audit/proofs/inclusion", params={"position": ack["position"]}, headers=auditor
        )
        body = response.json()
        proof = [bytes.fromhex(h) for h in body["proof"]]
        leaf = event_leaf(bytes.fromhex(body["event_hash"]))
        assert verify_inclusion(
            leaf, body["leaf_index"], new["tree_size"], proof, bytes.fromhex(new["root"])
        )
    at_old = await anonymous.get(
        "/v1/audit/proofs/inclusion",
        params={"position": first_acks[2]["position"], "tree_size": old["tree_size"]},
        headers=auditor,
    )
    body = at_old.json()
    assert verify_inclusion(
        event_leaf(bytes.fromhex(body["event_hash"])),
        body["leaf_index"],
        old["tree_size"],
        [bytes.fromhex(h) for h in body["proof"]],
        bytes.fromhex(old["root"]),
    )
    denied = await anonymous.get(
        "/v1/audit/proofs/inclusion", params={"position": 1}, headers=role_headers["agency"]
    )
    assert denied.status_code == 403
    unknown = await anonymous.get(
        "/v1/audit/proofs/inclusion", params={"position": 999}, headers=auditor
    )
    assert unknown.status_code == 404

    consistency = (
        await anonymous.get(
            "/v1/audit/proofs/consistency",
            params={"old_size": old["tree_size"]},
            headers={"Authorization": ""},
        )
    ).json()
    assert consistency["new_size"] == new["tree_size"] == 6
    assert verify_consistency(
        old["tree_size"],
        new["tree_size"],
        bytes.fromhex(old["root"]),
        bytes.fromhex(new["root"]),
        [bytes.fromhex(h) for h in consistency["proof"]],
    )
    never = await anonymous.get(
        "/v1/audit/proofs/consistency", params={"old_size": 4}, headers=auditor
    )
    assert never.status_code == 404


async def test_a_subject_export_streams_signed_ndjson_that_verifies_offline(
    client, anonymous, auditor, role_headers, services
):
    acks = await some_events(client, 1)
    await some_events(client, 2)
    saved = (await anonymous.post("/v1/audit/checkpoints", headers=auditor)).json()
    await some_events(client, 3)
    sid = acks[0]["subject_id"]
    response = await anonymous.get(
        "/v1/audit/export",
        params={"subject_id": sid, "since_tree_size": saved["tree_size"]},
        headers={**auditor, "X-Purpose": "annual-audit"},
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    published = (await anonymous.get("/v1/audit/checkpoint-keys")).json()
    report = verify_export(
        response.content.splitlines(keepends=True),
        saved_checkpoint=saved,
        trusted_keys=keys(published),
    )
    assert report.ok, report.findings
    assert (report.scope, report.events, report.tree_size) == ("subject", 3, 9)
    log = await anonymous.get(f"/v1/subjects/{sid}/access-log", headers=auditor)
    assert [(e["action"], e["purpose"]) for e in log.json()["entries"]][-1] == (
        "export",
        "annual-audit",
    )

    whole = await anonymous.get("/v1/audit/export", headers=auditor)
    assert verify_export(whole.content.splitlines(keepends=True), trusted_keys=keys(published)).ok

    unknown = await anonymous.get(
        "/v1/audit/export",
        params={"subject_id": "0b6f3c4e-8d3a-4f57-9a8e-2f1d3c4b5a69"},
        headers=auditor,
    )
    assert unknown.status_code == 404
    too_far = await anonymous.get(
        "/v1/audit/export", params={"since_tree_size": 99}, headers=auditor
    )
    assert too_far.status_code == 422
    agency = await anonymous.get("/v1/audit/export", headers=role_headers["agency"])
    assert agency.status_code == 403
