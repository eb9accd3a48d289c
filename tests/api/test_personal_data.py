"""Personal data and the access log: sealed at rest, revealed with a purpose, erased by
destroying a key, and every read of a subject written to a hash-chained log (查询留痕)."""

from __future__ import annotations

import os
import time
from datetime import datetime, timedelta
from urllib.parse import quote
from uuid import UUID

import pytest
from sqlalchemy import select, text, update

from service.access.tables import access_log
from tests.builders import AUTHORITY_CODE, enterprise, individual, penalty
from tests.tampering import as_superuser

pytestmark = pytest.mark.api


async def registered_person(client, phone="13800138000", address="郑州市金水路1号") -> dict:
    body = individual(31, phone=phone, address=address)
    created = await client.post("/v1/subjects", json=body)
    assert created.status_code == 201, created.text
    appended = await client.post(
        f"/v1/subjects/{created.json()['subject_id']}/events", json=penalty("P-PD-1")
    )
    return {**body, **appended.json()}


def stored_bytes(services) -> bytes:
    """Everything the event store holds, as stored."""
    with services.write_engine.connect() as conn:
        table = services.ledger.recorder.events_table_name
        return b"".join(bytes(row[0]) for row in conn.execute(text(f"SELECT state FROM {table}")))


async def test_an_individuals_id_phone_and_address_are_sealed_in_the_event_store(client, services):
    person = await registered_person(client)
    raw = stored_bytes(services)
    for secret in (person["code"], person["phone"], person["address"]):
        assert secret.encode() not in raw
    assert b"sealed:v1:" in raw
    assert (person["code"][:6] + "********" + person["code"][-4:]).encode() in raw
    # an enterprise's code is public and stays readable
    company = enterprise(32)
    await client.post("/v1/subjects", json=company)
    assert company["code"].encode() in stored_bytes(services)


async def test_an_auditor_reveals_an_id_number_only_with_a_purpose_and_it_is_logged(
    client, services, role_headers
):
    person = await registered_person(client)
    url = f"/v1/subjects/{person['subject_id']}:reveal"
    no_purpose = await client.post(url, json={}, headers=role_headers["auditor"])
    assert no_purpose.status_code == 422
    agency = await client.post(url, json={"purpose": "核查身份"}, headers=role_headers["agency"])
    assert agency.status_code == 403
    revealed = await client.post(
        url, json={"purpose": "信用修复复核"}, headers=role_headers["auditor"]
    )
    assert revealed.status_code == 200
    assert revealed.json()["code"] == person["code"]
    entries = services.access_log.for_subject(UUID(person["subject_id"]), after_seq=None, limit=50)
    assert [(e["action"], e["purpose"], e["client_id"]) for e in entries] == [
        ("reveal_code", "信用修复复核", "test-auditor")
    ]


async def test_erasing_a_subjects_key_makes_its_personal_data_unreadable_but_not_its_history(
    client, services, role_headers, second_admin
):
    person = await registered_person(client)
    subject_id = person["subject_id"]
    auditor = role_headers["auditor"]
    await client.post(
        f"/v1/subjects/{subject_id}:reveal", json={"purpose": "信用修复复核"}, headers=auditor
    )
    erase = f"/v1/admin/subjects/{subject_id}:erase-personal-data"
    reason = {"reason": "本人撤回同意（个人信息保护法第四十七条）"}
    assert (await client.post(erase, json=reason, headers=auditor)).status_code == 403
    asked = await client.post(erase, json=reason, headers=role_headers["admin"])
    assert asked.status_code == 202  # four eyes: a second admin approves
    approve = f"/v1/admin/approvals/{asked.json()['approval_id']}:approve"
    assert (await client.post(approve, headers=second_admin)).status_code == 200
    assert (await client.post(erase, json=reason, headers=role_headers["admin"])).status_code == 404

    gone = await client.post(
        f"/v1/subjects/{subject_id}:reveal", json={"purpose": "信用修复复核"}, headers=auditor
    )
    assert gone.status_code == 410
    assert gone.json()["type"].endswith("/personal-data-erased")
    # the history still loads, the status still answers, the chains still verify
    stream = list(services.ledger.events.get(UUID(subject_id)))
    assert [type(e).__name__ for e in stream] == ["SubjectRegistered", "PenaltyDecided"]
    status = await client.get(
        f"/v1/subjects/{subject_id}/status", params={"min_position": person["position"]}
    )
    assert status.status_code == 200
    assert status.json()["code_masked"] == person["code"][:6] + "********" + person["code"][-4:]
    assert services.access_log.verify() is None
    services.runner.rebuild()


async def test_every_read_of_a_subject_is_logged_with_client_purpose_and_what_was_returned(
    client, services, role_headers
):
    person = await registered_person(client)
    sid = person["subject_id"]
    agency = {**role_headers["agency"], "X-Purpose": quote("行政许可审查")}
    await client.get(
        f"/v1/subjects/{sid}/status", params={"min_position": person["position"]}, headers=agency
    )
    await client.post("/v1/subjects:lookup", json={"code": person["code"]}, headers=agency)
    await client.post(
        "/v1/status:batch", json={"codes": [person["code"], "not-a-code"]}, headers=agency
    )
    await client.get(f"/v1/subjects/{sid}/records", headers=agency)
    entries = services.access_log.for_subject(UUID(sid), after_seq=None, limit=50)
    assert [(e["action"], e["client_id"], e["purpose"]) for e in entries] == [
        ("status", "test-agency", "行政许可审查"),
        ("lookup", "test-agency", "行政许可审查"),
        ("batch_status", "test-agency", "行政许可审查"),
        ("records", "test-agency", "行政许可审查"),
    ]
    assert entries[0]["returned"]["published_records"] == 1
    assert entries[3]["returned"] == {"include": "published", "record_ids": [person["record_id"]]}
    assert all(person["code"] not in str(e) for e in entries)
    assert services.access_log.verify() is None


async def test_the_access_log_is_for_auditors_and_the_deciding_agency(
    client, services, role_headers
):
    person = await registered_person(client)
    url = f"/v1/subjects/{person['subject_id']}/access-log"
    await client.get(
        f"/v1/subjects/{person['subject_id']}/status",
        params={"min_position": person["position"]},
        headers=role_headers["agency"],
    )
    as_auditor = await client.get(
        url, params={"min_position": person["position"]}, headers=role_headers["auditor"]
    )
    as_recorder = await client.get(url)  # recorded the penalty: a deciding agency
    as_agency = await client.get(url, headers=role_headers["agency"])
    assert as_auditor.status_code == as_recorder.status_code == 200
    assert as_agency.status_code == 403
    assert [e["action"] for e in as_auditor.json()["entries"]] == ["status"]


@pytest.mark.parametrize("tamper", ["edit", "delete", "reorder"])
async def test_a_changed_removed_or_reordered_access_log_row_breaks_the_chain(
    client, services, role_headers, tamper
):
    person = await registered_person(client)
    for _ in range(4):
        read = await client.get(
            f"/v1/subjects/{person['subject_id']}/status",
            headers=role_headers["agency"],
            params={"min_position": person["position"]},  # each read logged: none finds nothing
        )
        assert read.status_code == 200, read.text
    assert services.access_log.verify() is None
    with as_superuser(services) as conn:  # the triggers refuse this to the service's roles
        if tamper == "edit":
            conn.execute(
                update(access_log).where(access_log.c.seq == 2).values(purpose="nothing to see")
            )
        elif tamper == "delete":
            conn.execute(access_log.delete().where(access_log.c.seq == 2))
        else:
            rows = {r.seq: r for r in conn.execute(select(access_log))}
            for seq, other in ((2, 3), (3, 2)):
                conn.execute(
                    update(access_log)
                    .where(access_log.c.seq == seq)
                    .values(
                        prev_hash=rows[other].prev_hash,
                        hash=rows[other].hash,
                        at=rows[other].at,
                        purpose=rows[other].purpose + " ",
                    )
                )
    assert services.access_log.verify() == (3 if tamper == "delete" else 2)


async def test_only_a_recorder_that_recorded_about_the_subject_is_its_deciding_agency(
    client, services
):
    person = await registered_person(client)
    agency, _ = services.clients.create(
        "agency-with-codes", "agency", "某局", AUTHORITY_CODE, authority_codes=[AUTHORITY_CODE]
    )
    token = services.tokens.issue(agency).access_token
    response = await client.get(
        f"/v1/subjects/{person['subject_id']}/access-log",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 403


def test_a_timestamp_read_back_without_its_zone_hashes_as_the_utc_it_was():
    from datetime import UTC, datetime

    from service.access.access_log import entry_hash

    row = {
        "seq": 1,
        "client_id": "c",
        "role": "agency",
        "agency_code": "x",
        "subject_id": UUID(int=1),
        "action": "status",
        "purpose": "p",
        "returned": {},
        "prev_hash": "0" * 64,
    }
    aware = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)
    assert entry_hash({**row, "at": aware}) == entry_hash({**row, "at": aware.replace(tzinfo=None)})


def test_a_rotation_in_one_process_is_followed_by_another(services, settings):
    from service.bootstrap import build_services

    other = build_services(settings, migrate=False)
    try:
        first_kid, _ = other.keys.active()
        rotated = services.keys.rotate()
        assert rotated != first_kid
        assert other.keys.active()[0] == rotated  # key_cache_seconds is 0 in tests
    finally:
        other.close_sync()


@pytest.fixture
def host_in_beijing():
    """The host's local zone is not UTC (time.tzset reads TZ), as on many agency servers."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Asia/Shanghai"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


async def test_the_access_log_holds_and_reads_in_utc_on_a_host_outside_utc(
    client, services, role_headers, host_in_beijing
):
    person = await registered_person(client)
    # Read once the read model has the subject (min_position): a read that finds nothing yet
    # is answered 404 and logs nothing, which a busy machine's projection made happen.
    read = await client.get(
        f"/v1/subjects/{person['subject_id']}/status",
        headers=role_headers["agency"],
        params={"min_position": person["position"]},
    )
    assert read.status_code == 200, read.text
    # SQLite hands its timestamps back naive: they must be read as UTC, not as local time
    assert services.access_log.verify() is None
    # The recorder decided the penalty: once the read model has it (min_position), it may read.
    page = await client.get(
        f"/v1/subjects/{person['subject_id']}/access-log",
        params={"min_position": person["position"]},
    )
    assert page.status_code == 200, page.text
    [entry] = page.json()["entries"]
    assert datetime.fromisoformat(entry["at"]).utcoffset() == timedelta(0)
