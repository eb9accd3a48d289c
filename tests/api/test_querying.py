"""Querying over HTTP: status, look-up by code, batch status, records, read-your-writes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from api.schemas import Status
from tests.builders import enterprise, follow_up, individual, licence, list_entry, penalty, rating

pytestmark = pytest.mark.api


async def record(client, subject_id, body) -> dict:
    response = await client.post(f"/v1/subjects/{subject_id}/events", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def new_subject(client, body=None) -> str:
    response = await client.post("/v1/subjects", json=body or enterprise())
    assert response.status_code == 201, response.text
    return response.json()["subject_id"]


async def test_status_shows_grade_lists_and_published_counts(client):
    sid = await new_subject(client)
    await record(client, sid, rating())
    await record(client, sid, licence())
    await record(client, sid, penalty("P-1", severity="general", decision_date="2026-10-01"))
    await record(client, sid, penalty("P-2", severity="minor", decision_date="2026-10-02"))
    last = await record(client, sid, list_entry())
    response = await client.get(
        f"/v1/subjects/{sid}/status", params={"min_position": last["position"]}
    )
    assert response.status_code == 200
    status = response.json()
    assert status["position"] >= last["position"]
    assert status["version"] == 6
    # the rating of 88 (A) loses 5 for the general and 1 for the minor penalty decided after
    # it (82, B), and the black-list entry forces the lowest grade
    [grade] = status["grades"]
    assert (grade["scheme"], grade["base_grade"], grade["base_score"]) == (
        "highway_construction",
        "A",
        "88.00",
    )
    assert [(a["amount"], a["rule"]) for a in grade["adjustments"]] == [
        ("5", "highway_construction.adjustments.deduction.general"),
        ("1", "highway_construction.adjustments.deduction.minor"),
    ]
    assert (grade["score"], grade["grade"]) == ("82.00", "D")
    assert grade["forced_by"] == "highway_construction.adjustments.black_list_forces_lowest_grade"
    assert status["policy_version"] == "2026-36"
    assert status["supervision"] == {"tier": "seriously_dishonest", "sampling_ratio": "0.8"}
    assert [(m["list_type"], m["entered_on"]) for m in status["lists"]] == [("black", "2026-06-01")]
    # the minor penalty is not published; licence, general penalty, rating, black list are
    assert status["published_records"] == {
        "total": 4,
        "by_family": {"licence": 1, "penalty": 1, "rating": 1, "list": 1},
    }
    assert response.headers["etag"] == 'W/"6-2026-11-20"'
    Status.model_validate(status)  # the hand-serialised answer keeps the documented shape


async def test_an_unchanged_status_answers_304_to_its_etag(client):
    sid = await new_subject(client)
    created = await record(client, sid, licence())
    first = await client.get(
        f"/v1/subjects/{sid}/status", params={"min_position": created["position"]}
    )
    again = await client.get(
        f"/v1/subjects/{sid}/status", headers={"If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304


async def test_a_red_list_membership_is_suspended_while_a_black_list_entry_lasts(client):
    sid = await new_subject(client)
    red = await record(
        client,
        sid,
        list_entry("红-1", list_type="red", decision_date="2026-02-01", planned_end=None),
    )
    black = await record(client, sid, list_entry("黑-1", decision_date="2026-06-01"))

    async def lists(**params: str) -> list[str]:
        status = await client.get(
            f"/v1/subjects/{sid}/status", params={"min_position": black["position"], **params}
        )
        return [m["list_type"] for m in status.json()["lists"]]

    assert await lists() == ["black"]
    assert await lists(valid_at="2026-05-31") == ["red"]
    last = await record(
        client,
        sid,
        follow_up(
            "ListExited",
            "移出-1",
            decision_date="2026-11-01",
            entry_record_id=black["record_id"],
            reason="信用修复",
        ),
    )
    shown = await client.get(
        f"/v1/subjects/{sid}/status", params={"min_position": last["position"]}
    )
    assert [(m["list_type"], m["record_id"]) for m in shown.json()["lists"]] == [
        ("red", red["record_id"])
    ]


async def test_an_expired_rating_and_an_exited_list_no_longer_count(client, auditor):
    sid = await new_subject(client)
    await record(
        client,
        sid,
        rating(
            "R-old", valid_from="2024-01-01", valid_until="2025-01-01", decision_date="2024-01-01"
        ),
    )
    entry = await record(client, sid, list_entry(list_type="red", planned_end=None))
    last = await record(
        client,
        sid,
        follow_up(
            "ListExited",
            "EXIT-1",
            decision_date="2026-11-01",
            entry_record_id=entry["record_id"],
            reason="主动退出",
        ),
    )
    status = (
        await client.get(f"/v1/subjects/{sid}/status", params={"min_position": last["position"]})
    ).json()
    assert status["grades"] == []
    assert status["lists"] == []
    records = (
        await client.get(f"/v1/subjects/{sid}/records", params={"include": "all"}, headers=auditor)
    ).json()
    by_type = {r["type"]: r for r in records["records"]}
    assert by_type["ListEntered"]["publication"] == {
        "state": "expired",
        "from": "2026-06-01",
        "until": "2026-11-01",
    }
    assert by_type["ListEntered"]["ended_on"] == "2026-11-01"
    assert by_type["RatingIssued"]["publication"]["state"] == "expired"


async def test_records_show_publication_windows_by_severity_and_era(client, auditor):
    sid = await new_subject(client)
    await record(
        client, sid, penalty("OLD-SERIOUS", severity="serious", decision_date="2025-06-30")
    )
    await record(
        client, sid, penalty("NEW-SERIOUS", severity="serious", decision_date="2026-06-30")
    )
    await record(client, sid, penalty("OLD-GENERAL", decision_date="2023-04-30"))
    await record(client, sid, penalty("MIDDLE-GENERAL", decision_date="2025-08-01"))
    await record(client, sid, penalty("NEW-GENERAL", decision_date="2025-11-01"))
    await record(client, sid, penalty("NEW-GENERAL-36", decision_date="2026-04-01"))
    last = await record(
        client, sid, penalty("NEW-WARNING", decision_date="2026-04-01", penalty_categories=["警告"])
    )
    page = (
        await client.get(
            f"/v1/subjects/{sid}/records",
            params={"include": "all", "min_position": last["position"]},
            headers=auditor,
        )
    ).json()
    windows = {r["source_ref"]: r["publication"] for r in page["records"]}
    # 527号 until 2023-04-30: general 3 months-1 year; 令第58号 from 2023-05-01: 3 months-3 years
    # whatever the severity; 令第36号 from 2026-04-01: general 3 months-1 year, serious 1-3 years,
    # a warning alone minor and not published
    assert windows["OLD-SERIOUS"] == {
        "state": "published",
        "from": "2025-06-30",
        "until": "2028-06-30",
    }
    assert windows["NEW-SERIOUS"]["until"] == "2029-06-30"
    assert windows["OLD-GENERAL"] == {
        "state": "expired",
        "from": "2023-04-30",
        "until": "2024-04-30",
    }
    assert windows["MIDDLE-GENERAL"] == {
        "state": "published",
        "from": "2025-08-01",
        "until": "2028-08-01",
    }
    assert windows["NEW-GENERAL-36"]["until"] == "2027-04-01"
    assert windows["NEW-WARNING"] == {"state": "not_published", "from": None, "until": None}
    published = (await client.get(f"/v1/subjects/{sid}/records")).json()
    assert {r["source_ref"] for r in published["records"]} == {
        "OLD-SERIOUS",
        "NEW-SERIOUS",
        "MIDDLE-GENERAL",
        "NEW-GENERAL",
        "NEW-GENERAL-36",
    }


async def test_recorded_at_carries_its_utc_offset_on_every_backend(client):
    sid = await new_subject(client)
    last = await record(client, sid, licence())
    page = await client.get(
        f"/v1/subjects/{sid}/records", params={"min_position": last["position"]}
    )
    [found] = page.json()["records"]
    # SQLite hands its timestamps back naive: a naive one would not equal this aware one
    assert datetime.fromisoformat(found["recorded_at"]) == datetime(2026, 11, 20, 4, tzinfo=UTC)


async def test_revoked_and_corrected_records(client, auditor):
    sid = await new_subject(client)
    annulled = await record(client, sid, penalty("P-ANNUL"))
    changed = await record(client, sid, penalty("P-CHANGE", severity="general"))
    await record(
        client,
        sid,
        follow_up(
            "RecordRevoked", "REV-1", target_record_id=annulled["record_id"], reason="复议撤销"
        ),
    )
    last = await record(
        client,
        sid,
        follow_up(
            "RecordCorrected",
            "COR-1",
            target_record_id=changed["record_id"],
            changes={"severity": "serious", "fine_amount": "5.0"},
            reason="处罚决定更正",
        ),
    )
    page = (
        await client.get(
            f"/v1/subjects/{sid}/records",
            params={"include": "all", "min_position": last["position"]},
            headers=auditor,
        )
    ).json()
    by_ref = {r["source_ref"]: r for r in page["records"]}
    assert set(by_ref) == {"P-ANNUL", "P-CHANGE"}
    assert by_ref["P-ANNUL"]["publication"]["state"] == "revoked"
    assert by_ref["P-CHANGE"]["corrected"] is True
    assert by_ref["P-CHANGE"]["severity"] == "serious"
    assert by_ref["P-CHANGE"]["details"]["fine_amount"] == "5.0"
    assert by_ref["P-CHANGE"]["publication"]["until"] == "2029-10-15"
    published = (await client.get(f"/v1/subjects/{sid}/records")).json()
    assert [r["source_ref"] for r in published["records"]] == ["P-CHANGE"]


async def test_records_are_cursor_paginated_newest_first(client):
    sid = await new_subject(client)
    for n in range(7):
        last = await record(client, sid, penalty(f"PAGE-{n}"))
    seen, cursor = [], None
    while True:
        params = {"limit": 3, "min_position": last["position"]}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get(f"/v1/subjects/{sid}/records", params=params)).json()
        seen += [r["source_ref"] for r in page["records"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"PAGE-{n}" for n in reversed(range(7))]
    bad = await client.get(f"/v1/subjects/{sid}/records", params={"cursor": "not-ours"})
    assert bad.status_code == 400


async def test_lookup_by_code_and_batch_status(client):
    company = enterprise(11)
    person = individual(12)
    sid = await new_subject(client, company)
    await new_subject(client, person)
    last = await record(client, sid, rating())
    found = await client.post(
        "/v1/subjects:lookup",
        json={"code": company["code"].lower()},
        params={"min_position": last["position"]},
    )
    assert found.status_code == 200
    assert found.json()["subject_id"] == sid
    batch = await client.post(
        "/v1/status:batch",
        json={"codes": [company["code"], person["code"], "91410105MA99999999", "not-a-code"]},
    )
    assert batch.status_code == 200
    results = batch.json()["results"]
    assert [r["found"] for r in results] == [True, True, False, False]
    assert results[0]["status"]["grades"][0]["grade"] == "A"
    assert results[1]["code_masked"] == person["code"][:6] + "********" + person["code"][-4:]
    assert person["code"] not in batch.text
    assert results[3]["reason"] == "not a valid USCC, resident ID or plate"


async def test_batch_status_takes_at_most_200_codes(client):
    response = await client.post("/v1/status:batch", json={"codes": ["X" * 18] * 201})
    assert response.status_code == 422


async def test_unknown_subject_status_is_404(client):
    response = await client.get("/v1/subjects/6b9d7c4e-0000-8000-8000-000000000000/status")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_read_your_writes_waits_then_gives_up_with_503(client, services):
    services.runner.stop()
    services.settings.read_your_writes_timeout_seconds = 0.3
    registered = (await client.post("/v1/subjects", json=enterprise())).json()
    response = await client.get(
        f"/v1/subjects/{registered['subject_id']}/status",
        params={"min_position": registered["position"]},
    )
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"


async def test_a_min_position_no_write_returned_is_refused_without_waiting(client, services):
    services.settings.read_your_writes_timeout_seconds = 30
    sid = await new_subject(client)
    response = await client.get(f"/v1/subjects/{sid}/status", params={"min_position": 10_000})
    assert response.status_code == 422
    assert "beyond the log's head" in response.json()["detail"]


async def test_the_plain_status_read_answers_and_logs_as_the_solved_one(
    client, services, role_headers, solved_paths
):
    """A status read with only the id skips FastAPI's dependency solving (api/fast_path.py);
    any query parameter sends it through the solver. Both answer the same bytes, check the
    same token and scope, and log the read before answering."""
    from sqlalchemy import select

    from service.access.tables import access_log

    solved = solved_paths
    subjects = [await new_subject(client, enterprise(n)) for n in (31, 32, 33)]
    await record(client, subjects[0], rating())
    await record(client, subjects[1], penalty("FAST-1", severity="general"))
    last = await record(client, subjects[1], list_entry())
    agency = {**role_headers["agency"], "X-Purpose": "%E8%A1%8C%E6%94%BF%E8%AE%B8%E5%8F%AF"}
    for sid in subjects:
        through_solver = await client.get(
            f"/v1/subjects/{sid}/status", params={"min_position": last["position"]}, headers=agency
        )
        del solved[:]
        plain = await client.get(f"/v1/subjects/{sid}/status", headers=agency)
        assert solved == []  # the plain read took the fast path
        assert plain.status_code == through_solver.status_code == 200
        assert plain.content == through_solver.content
        assert plain.headers["etag"] == through_solver.headers["etag"]
        assert plain.headers["content-type"] == through_solver.headers["content-type"]
    with services.write_engine.connect() as conn:
        logged = conn.execute(
            select(access_log.c.subject_id, access_log.c.action, access_log.c.purpose)
            .where(access_log.c.client_id == "test-agency")
            .order_by(access_log.c.seq)
        ).all()
    assert [(str(s), a, p) for s, a, p in logged] == [
        (sid, "status", "行政许可") for sid in subjects for _ in range(2)
    ]
    # The same refusals: no token, and a token without credit:read (the administrator's).
    nobody = await client.get(f"/v1/subjects/{subjects[0]}/status", headers={"Authorization": ""})
    assert nobody.status_code == 401
    admin = await client.get(f"/v1/subjects/{subjects[0]}/status", headers=role_headers["admin"])
    assert admin.status_code == 403
    assert admin.json()["detail"] == (
        "this needs the credit:read scope, which this token does not carry"
    )
    assert solved == []


async def test_a_purpose_sent_as_utf_8_is_logged_as_written_and_one_not_utf_8_is_refused(
    client, services, role_headers
):
    """X-Purpose is documented as percent-encoded UTF-8; curl and many clients send the UTF-8
    bytes as they are, which the server hands on as Latin-1. Both reach the access log as the
    caller wrote them, on the fast path and through FastAPI's solving; bytes that are not
    UTF-8 are refused, with nothing logged."""
    from urllib.parse import quote

    from sqlalchemy import select

    from service.access.tables import access_log

    registered = await client.post("/v1/subjects", json=enterprise(35))
    sid, position = registered.json()["subject_id"], registered.json()["position"]
    agency = role_headers["agency"]
    projected = await client.get(  # once the subject is in the read model
        f"/v1/subjects/{sid}/status", params={"min_position": position}, headers=agency
    )
    assert projected.status_code == 200, projected.text
    written = "行政许可审查"
    for sent in (written.encode(), quote(written)):
        for params in ({}, {"min_position": position}):  # the fast path, then FastAPI's solving
            answer = await client.get(
                f"/v1/subjects/{sid}/status", params=params, headers={**agency, "X-Purpose": sent}
            )
            assert answer.status_code == 200, answer.text
    refused = await client.get(
        f"/v1/subjects/{sid}/status", headers={**agency, "X-Purpose": "été".encode("latin-1")}
    )
    assert refused.status_code == 422
    assert "percent-encoded UTF-8" in refused.json()["detail"]
    with services.write_engine.connect() as conn:
        logged = conn.execute(
            select(access_log.c.purpose)
            .where(access_log.c.client_id == "test-agency")
            .order_by(access_log.c.seq)
        ).scalars()
        assert list(logged) == ["unspecified"] + [written] * 4
