"""Checkpoints of the 国密 suite over HTTP: format 3 with its SM3 root and SM2 signature, SM2
keys published beside Ed25519 ones, and an export that verifies offline from what anyone can
download."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import text

from domain.crypto_suite import signature_valid
from service.integrity.checkpoints import Checkpoint
from service.integrity.verifier import checkpoint_signed, verify_export
from tests.builders import enterprise, penalty
from tests.integration.test_tamper_evidence import events_table, stored_events
from tests.tampering import as_superuser

pytestmark = pytest.mark.api


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"crypto_suite": "gm"})


async def test_a_gm_checkpoint_and_its_sm2_key_are_published_and_verify(client, anonymous, auditor):
    subject = (await client.post("/v1/subjects", json=enterprise(91))).json()
    await client.post(f"/v1/subjects/{subject['subject_id']}/events", json=penalty("GM-API-1"))
    made = await anonymous.post("/v1/audit/checkpoints", headers=auditor)
    assert made.status_code == 201, made.text
    latest = (await anonymous.get("/v1/audit/checkpoints/latest")).json()
    assert latest["format"] == "credit-checkpoint/3" and len(latest["sm3_root"]) == 64
    assert latest["sm2"]["algorithm"] == "SM2"
    published = (await anonymous.get("/v1/audit/checkpoint-keys")).json()["keys"]
    assert sorted(k["algorithm"] for k in published) == ["Ed25519", "SM2"]
    keys = {k["key_id"]: base64.b64decode(k["public_key"]) for k in published}
    checkpoint = Checkpoint.from_json(latest)
    assert checkpoint.sm2_signature is not None
    assert signature_valid(
        "SM2", keys[latest["sm2"]["key_id"]], checkpoint.sm2_signature, checkpoint.message()
    )
    assert checkpoint_signed(latest, keys)
    export = await anonymous.get(
        "/v1/audit/export", headers={**auditor, "X-Purpose": "annual-audit"}
    )
    assert export.status_code == 200, export.text
    report = verify_export(
        export.content.splitlines(keepends=True), saved_checkpoint=latest, trusted_keys=keys
    )
    assert report.ok, report.findings
    assert any(note.endswith("(SM3)") for note in report.notes)


async def test_a_checkpoint_over_an_event_that_no_longer_matches_its_seal_is_refused(
    client, anonymous, auditor, services
):
    subject = (await client.post("/v1/subjects", json=enterprise(92))).json()
    await client.post(f"/v1/subjects/{subject['subject_id']}/events", json=penalty("GM-API-2"))
    position, *_, state = stored_events(services)[-1]
    table, column = events_table(services)
    with as_superuser(services) as conn:  # before any checkpoint took it into the SM3 chain
        conn.execute(
            text(f"UPDATE {table} SET state = :state WHERE {column} = :p"),
            {"state": state.replace(b"GM-API-2", b"GM-API-9"), "p": position},
        )
    refused = await anonymous.post("/v1/audit/checkpoints", headers=auditor)
    assert refused.status_code == 409, refused.text
    assert refused.json()["type"].endswith("/seal-no-longer-holds")
    assert "no longer matches its SHA-256 seal" in refused.json()["detail"]
    assert services.checkpoints.latest() is None
