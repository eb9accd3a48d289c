"""A refusal under a business rule names the rule in its problem+json (`rule`), beside the
stable `type` and status it always had; a problem that is no rule's refusal has no `rule`."""

from __future__ import annotations

import pytest

from tests.builders import (
    OTHER_AUTHORITY_CODE,
    enterprise,
    follow_up,
    licence,
    list_entry,
    penalty,
)

pytestmark = pytest.mark.api
PROBLEMS = "https://credit-transport.example/problems/"
UNKNOWN = "6b9d7c4e-0000-8000-8000-000000000000"


async def a_subject(client) -> str:
    answer = await client.post("/v1/subjects", json=enterprise(1301))
    assert answer.status_code == 201, answer.text
    return answer.json()["subject_id"]


async def test_a_future_decision_date_names_its_rule(client):
    url = f"/v1/subjects/{await a_subject(client)}/events"
    answer = await client.post(url, json=penalty(decision_date="2026-11-21"))
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json() == {
        "type": PROBLEMS + "invalid-input",
        "title": "Unprocessable content",
        "status": 422,
        "detail": "decision_date 2026-11-21 is in the future (today is 2026-11-20)",
        "instance": url,
        "rule": "decision-date-not-in-future",
    }


async def test_follow_ups_name_the_rule_of_the_record_they_point_at(client):
    url = f"/v1/subjects/{await a_subject(client)}/events"
    granted = (await client.post(url, json=licence())).json()
    wrong_type = await client.post(
        url,
        json=follow_up("ListExited", "EXIT-1", entry_record_id=granted["record_id"], reason="期满"),
    )
    no_such_record = await client.post(
        url, json=follow_up("RecordRevoked", "REV-1", target_record_id=UNKNOWN, reason="复议撤销")
    )
    assert (wrong_type.status_code, wrong_type.json()["type"]) == (409, PROBLEMS + "rule-violated")
    assert wrong_type.json()["rule"] == "referenced-record-type"
    assert (no_such_record.status_code, no_such_record.json()["type"]) == (
        422,
        PROBLEMS + "record-not-found",
    )
    assert no_such_record.json()["rule"] == "record-of-this-subject"


async def test_a_second_open_list_entry_names_its_rule(client):
    url = f"/v1/subjects/{await a_subject(client)}/events"
    assert (await client.post(url, json=list_entry("L-1"))).status_code == 201
    again = await client.post(url, json=list_entry("L-2"))
    assert again.status_code == 409
    assert again.json()["type"] == PROBLEMS + "rule-violated"
    assert again.json()["rule"] == "one-open-entry-per-list"


async def test_acting_on_another_authoritys_record_names_the_owner_and_the_rule(client):
    url = f"/v1/subjects/{await a_subject(client)}/events"
    decided = (await client.post(url, json=penalty())).json()
    revoke = follow_up(
        "RecordRevoked",
        "REV-2",
        target_record_id=decided["record_id"],
        reason="复议撤销",
        authority_code=OTHER_AUTHORITY_CODE,
    )
    answer = await client.post(url, json=revoke)
    assert answer.status_code == 403
    problem = answer.json()
    assert problem["type"] == PROBLEMS + "not-record-owner"
    # the owner first, as before; the rule is added after it
    assert list(problem)[-2:] == ["owner_authority_code", "rule"]
    assert problem["rule"] == "owner-acts-on-record"


async def test_an_invalid_code_names_the_rule_of_its_kind(client):
    answer = await client.post("/v1/subjects", json=enterprise(1, code="91410105MA00000017"))
    assert answer.status_code == 422
    assert answer.json()["type"] == PROBLEMS + "invalid-input"
    assert answer.json()["rule"] == "uscc-valid"


async def test_a_problem_that_is_no_rules_refusal_carries_no_rule(client):
    unknown = await client.post(f"/v1/subjects/{UNKNOWN}/events", json=penalty())
    assert unknown.status_code == 404
    assert "rule" not in unknown.json()
    url = f"/v1/subjects/{await a_subject(client)}/events"
    stale = await client.post(url, json=penalty(), headers={"If-Match": '"7"'})
    assert stale.status_code == 412
    assert "rule" not in stale.json()
