"""Recording over HTTP: registration, appends, idempotency, concurrency control, errors."""

from __future__ import annotations

import orjson
import pytest

from domain.codes import make_uscc
from tests.builders import (
    OTHER_AUTHORITY_CODE,
    enterprise,
    follow_up,
    individual,
    licence,
    list_entry,
    penalty,
    rating,
    resident_id,
)

pytestmark = pytest.mark.api
PROBLEM = "application/problem+json"


async def register(client, body=None) -> dict:
    response = await client.post("/v1/subjects", json=body or enterprise())
    assert response.status_code in (200, 201), response.text
    return response.json()


async def test_registering_a_code_twice_returns_the_same_subject(client):
    first = await client.post("/v1/subjects", json=enterprise(7))
    second = await client.post("/v1/subjects", json=enterprise(7, name="另一个名字"))
    assert first.status_code == 201
    assert second.status_code == 200
    assert first.json()["subject_id"] == second.json()["subject_id"]
    assert second.json()["created"] is False
    assert first.headers["location"] == f"/v1/subjects/{first.json()['subject_id']}"


async def test_a_code_registered_as_another_kind_is_a_conflict(client):
    await register(client, enterprise(8))
    response = await client.post("/v1/subjects", json=enterprise(8, kind="public_body"))
    assert response.status_code == 409
    assert response.json()["type"].endswith("/subject-kind-mismatch")


async def test_an_individuals_id_number_never_appears_in_ids_or_answers(client):
    body = individual(5)
    created = (await client.post("/v1/subjects", json=body)).json()
    assert body["code"] not in str(created)
    status = await client.get(
        f"/v1/subjects/{created['subject_id']}/status", params={"min_position": created["position"]}
    )
    assert status.status_code == 200
    assert body["code"] not in status.text
    assert status.json()["code_masked"] == body["code"][:6] + "********" + body["code"][-4:]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (enterprise(1, code="91410105MA00000017"), "check character"),
        (individual(1, code="410105198503140031"), "check digit"),
        (individual(1, code=resident_id(1, birth="20991231")), "future"),
        (individual(1, code="410105850314003"), "18"),
        ({**enterprise(1), "kind": "vehicle", "code": "豫I12345"}, "plate"),
        (enterprise(1, region_code="991234"), "region"),
    ],
)
async def test_invalid_codes_are_refused_with_the_reason(client, body, reason):
    response = await client.post("/v1/subjects", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert reason in response.json()["detail"]
    assert body["code"] not in response.text or body["kind"] != "individual"


async def test_appending_an_event_acknowledges_id_version_and_position(client):
    subject = await register(client)
    response = await client.post(f"/v1/subjects/{subject['subject_id']}/events", json=penalty())
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["version"] == 2
    assert body["position"] > subject["position"]
    assert body["event_id"] == body["record_id"]
    assert response.headers["etag"] == '"2"'


async def test_a_retried_post_with_an_idempotency_key_returns_the_first_answer(client):
    subject = await register(client)
    url = f"/v1/subjects/{subject['subject_id']}/events"
    headers = {"Idempotency-Key": "req-0001"}
    first = await client.post(url, json=penalty(), headers=headers)
    retry = await client.post(url, json=penalty(), headers=headers)
    assert first.status_code == retry.status_code == 201
    assert first.json() == retry.json()


async def test_an_idempotency_key_reused_for_another_request_is_refused(client):
    subject = await register(client)
    url = f"/v1/subjects/{subject['subject_id']}/events"
    headers = {"Idempotency-Key": "req-0002"}
    await client.post(url, json=penalty("A-1"), headers=headers)
    response = await client.post(url, json=penalty("A-2"), headers=headers)
    assert response.status_code == 422
    assert response.json()["type"].endswith("/idempotency-key-reused")


async def test_the_same_decision_number_from_the_same_authority_is_one_record(client):
    subject = await register(client)
    url = f"/v1/subjects/{subject['subject_id']}/events"
    first = await client.post(url, json=penalty("郑交执罚〔2026〕0100号"))
    again = await client.post(url, json=penalty("郑交执罚〔2026〕0100号"))
    other_authority = await client.post(
        url, json=penalty("郑交执罚〔2026〕0100号", authority_code=OTHER_AUTHORITY_CODE)
    )
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["record_id"] == first.json()["record_id"]
    assert again.json()["version"] == 2
    assert other_authority.status_code == 201
    assert other_authority.json()["version"] == 3


async def test_the_same_decision_number_with_other_content_is_a_conflict(client):
    subject = await register(client)
    url = f"/v1/subjects/{subject['subject_id']}/events"
    await client.post(url, json=penalty("X-1", fine_amount="2.0"))
    response = await client.post(url, json=penalty("X-1", fine_amount="3.0"))
    assert response.status_code == 409
    assert "RecordCorrected" in response.json()["detail"]


async def test_if_match_gives_optimistic_concurrency(client):
    subject = await register(client)
    url = f"/v1/subjects/{subject['subject_id']}/events"
    stale = await client.post(url, json=penalty("C-1"), headers={"If-Match": '"1"'})
    assert stale.status_code == 201
    response = await client.post(url, json=penalty("C-2"), headers={"If-Match": '"1"'})
    assert response.status_code == 412
    assert response.json()["type"].endswith("/version-mismatch")
    assert "version 2" in response.json()["detail"]


@pytest.mark.parametrize(
    ("content", "status", "problem"),
    [
        (b'{"type": "PenaltyDecided",', 400, "malformed-json"),
        (b'{"type": "PenaltyWished", "decision_date": "2026-01-01"}', 422, "validation-error"),
        (b"[]", 422, "validation-error"),
    ],
)
async def test_malformed_bodies_are_refused_and_nothing_is_written(
    client, services, content, status, problem
):
    subject = await register(client)
    response = await client.post(
        f"/v1/subjects/{subject['subject_id']}/events",
        content=content,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == status
    assert response.json()["type"].endswith(problem)
    assert await _stream_version(services, subject) == 1


@pytest.mark.parametrize(
    ("scheme", "grade", "reason", "rule"),
    [
        (
            "bridge_building",
            "A",
            "scheme 'bridge_building' is not in force on 2026-03-01",
            "rating-scheme-known",
        ),
        (
            "highway_construction",
            "AAA",
            "grade 'AAA' is not a grade of highway_construction",
            "rating-grade-of-scheme",
        ),
        (
            "driver_integrity",
            "C",
            "grade 'C' is not a grade of driver_integrity",
            "rating-grade-of-scheme",
        ),
        ("highway_construction", "AAAAA", "grade: String should have at most 4 characters", None),
    ],
)
async def test_a_rating_outside_the_policy_in_force_is_refused_as_invalid(
    client, services, scheme, grade, reason, rule
):
    """Schemes and grades are the policy's vocabulary, not the schema's: a value outside it
    gets the answer a value outside the schema gets, and names the rule."""
    subject = await register(client)
    response = await client.post(
        f"/v1/subjects/{subject['subject_id']}/events", json=rating(scheme=scheme, grade=grade)
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"].endswith("/validation-error")
    assert reason in response.json()["detail"]
    assert response.json().get("rule") == rule
    assert await _stream_version(services, subject) == 1


async def test_a_rating_whose_grade_contradicts_its_score_is_refused_and_nothing_written(
    client, services
):
    """733号 gives AA for 95-100: an AA of 94.9 is refused, naming the rule; so is a correction
    that would leave a stored rating so."""
    subject = await register(client)
    events = f"/v1/subjects/{subject['subject_id']}/events"
    response = await client.post(events, json=rating(grade="AA", score="94.9"))
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["type"].endswith("/invalid-input")
    assert problem["rule"] == "rating-score-in-grade-band"
    assert "grade 'AA' contradicts score 94.9" in problem["detail"]
    assert await _stream_version(services, subject) == 1
    stored = await client.post(events, json=rating(grade="A", score="94.9"))
    assert stored.status_code == 201, stored.text
    correction = follow_up(
        "RecordCorrected",
        "更正-1",
        target_record_id=stored.json()["record_id"],
        changes={"grade": "AA"},
        reason="等级录入错误",
    )
    refused = await client.post(events, json=correction)
    assert (refused.status_code, refused.json()["rule"]) == (422, "rating-score-in-grade-band")
    assert await _stream_version(services, subject) == 2


async def test_a_black_listed_subject_with_a_serious_penalty_is_refused_the_red_list(
    client, services
):
    """守信激励 presupposes no serious dishonesty: the entry is refused naming the rule and what
    stands in the way, and nothing is written."""
    subject = await register(client)
    events = f"/v1/subjects/{subject['subject_id']}/events"
    for body in (
        penalty("罚-1", severity="serious", decision_date="2026-05-10"),
        list_entry("黑-1", decision_date="2026-06-01"),
    ):
        assert (await client.post(events, json=body)).status_code == 201
    response = await client.post(
        events, json=list_entry("红-1", list_type="red", decision_date="2026-11-01")
    )
    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["type"].endswith("/rule-violated")
    assert problem["rule"] == "red-list-criteria-met"
    assert "red-list criteria on 2026-11-01 (policy 2026-36)" in problem["detail"]
    assert "on the black list" in problem["detail"]
    assert "serious conduct" in problem["detail"]
    assert await _stream_version(services, subject) == 3


async def test_a_future_decision_date_is_refused(client, services):
    subject = await register(client)
    response = await client.post(
        f"/v1/subjects/{subject['subject_id']}/events", json=penalty(decision_date="2026-11-21")
    )
    assert response.status_code == 422
    assert "in the future" in response.json()["detail"]
    assert await _stream_version(services, subject) == 1


async def test_a_negative_fine_is_refused(client):
    subject = await register(client)
    response = await client.post(
        f"/v1/subjects/{subject['subject_id']}/events", json=penalty(fine_amount="-1")
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["location"][-1] == "fine_amount"


async def test_an_unknown_subject_is_404(client):
    response = await client.post(
        "/v1/subjects/6b9d7c4e-0000-8000-8000-000000000000/events", json=penalty()
    )
    assert response.status_code == 404
    assert response.json()["type"].endswith("/subject-not-found")


async def test_a_body_over_the_size_limit_is_413(client, services, settings):
    subject = await register(client)
    huge = penalty(facts="超" * (settings.max_body_bytes // 2))
    response = await client.post(f"/v1/subjects/{subject['subject_id']}/events", json=huge)
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM
    assert await _stream_version(services, subject) == 1


async def test_follow_ups_must_name_a_record_of_the_right_type(client):
    subject = await register(client)
    url = f"/v1/subjects/{subject['subject_id']}/events"
    granted = (await client.post(url, json=licence())).json()
    wrong = await client.post(
        url,
        json=follow_up("ListExited", "EXIT-1", entry_record_id=granted["record_id"], reason="期满"),
    )
    missing = await client.post(
        url,
        json=follow_up(
            "RecordRevoked",
            "REV-1",
            target_record_id="6b9d7c4e-0000-8000-8000-000000000000",
            reason="复议撤销",
        ),
    )
    assert wrong.status_code == 409
    assert "LicenceGranted" in wrong.json()["detail"]
    assert missing.status_code == 422
    assert missing.json()["type"].endswith("/record-not-found")


async def _stream_version(services, subject) -> int:
    """Straight from the event store: what was written, not what was projected."""
    from uuid import UUID

    return services.ledger.repository.get(UUID(subject["subject_id"])).version


async def test_the_plain_append_answers_as_the_solved_one(client, role_headers, solved_paths):
    """An append with a JSON body skips FastAPI's dependency solving (api/fast_path.py); a body
    sent with another media type (here with a charset), or one that fails validation, goes
    through the solver. Both give the same answers byte for byte (a record, its retry with the
    same Idempotency-Key, its repeat), and the same refusals of the token and its scope."""

    solved = solved_paths
    subject = await register(client)
    url = f"/v1/subjects/{subject['subject_id']}/events"
    plain = {"Content-Type": "application/json"}
    through_solver = {"Content-Type": "application/json; charset=utf-8"}

    def answer(response):
        """All but the request's own id."""
        headers = [(k, v) for k, v in response.headers.multi_items() if k != "x-request-id"]
        return response.status_code, response.content, headers

    async def post(headers: dict, body: dict):
        del solved[:]
        response = await client.post(url, content=orjson.dumps(body), headers=headers)
        return response, list(solved)

    for n, (first_way, then_way) in enumerate([(plain, through_solver), (through_solver, plain)]):
        keyed = {"Idempotency-Key": f"same-answer-{n}"}
        first, first_solved = await post({**first_way, **keyed}, penalty(f"SAME-{n}"))
        retried, retried_solved = await post({**then_way, **keyed}, penalty(f"SAME-{n}"))
        assert first.status_code == 201, first.text
        assert answer(first) == answer(retried)
        repeat, _ = await post(first_way, penalty(f"SAME-{n}"))
        repeated, _ = await post(then_way, penalty(f"SAME-{n}"))
        assert repeat.status_code == 200
        assert answer(repeat) == answer(repeated)
        assert [first_solved == [], retried_solved == []] == [
            first_way is plain,
            then_way is plain,
        ]
    # If-Match, malformed (400) from the endpoint on either way; a well-formed one appends.
    version = repeat.json()["version"]
    bad, bad_solved = await post({**plain, "If-Match": "3"}, penalty("SAME-M"))
    assert bad.status_code == 400 and bad_solved == []
    pinned, _ = await post({**plain, "If-Match": f'"{version}"'}, penalty("SAME-P"))
    assert pinned.status_code == 201 and pinned.json()["version"] == version + 1
    # Invalid input is left to the solver, which answers it as before.
    invalid, invalid_solved = await post(plain, {**penalty("SAME-X"), "severity": "huge"})
    assert invalid.status_code == 422 and invalid_solved == [url]
    long_key, long_key_solved = await post(
        {**plain, "Idempotency-Key": "k" * 201}, penalty("SAME-K")
    )
    assert long_key.status_code == 422 and long_key_solved == [url]
    # The same refusals: no token, and a token without credit:record (a querying agency's).
    nobody, nobody_solved = await post({**plain, "Authorization": ""}, penalty("SAME-N"))
    assert nobody.status_code == 401 and nobody_solved == []
    agency, agency_solved = await post({**plain, **role_headers["agency"]}, penalty("SAME-A"))
    assert agency.status_code == 403 and agency_solved == []
    assert agency.json()["detail"] == (
        "this needs the credit:record scope, which this token does not carry"
    )
    # A record of an authority the client does not record for: the permit is the endpoint's.
    foreign = penalty("SAME-F", authority_code=make_uscc("11410100MB0000009"))
    foreign_plain, _ = await post(plain, foreign)
    foreign_solved, _ = await post(through_solver, foreign)
    assert foreign_plain.status_code == 403
    assert answer(foreign_plain) == answer(foreign_solved)
