"""Subscriptions and the change feed over HTTP: an agency follows subjects by code, reads the
changes of those subjects and kinds only, in log order, a page at a time; a long poll answers
as soon as a change arrives; another client's subscription is not found."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import select

from service.access.tables import access_log
from tests.builders import AUTHORITY_CODE, enterprise, follow_up, list_entry, penalty, uscc

pytestmark = pytest.mark.api


async def new_subject(http, serial: int) -> str:
    """A subject registered and in the credit file's read model, where subscribing finds it."""
    response = await http.post("/v1/subjects", json=enterprise(serial))
    assert response.status_code == 201, response.text
    registered = response.json()
    status = await http.get(
        f"/v1/subjects/{registered['subject_id']}/status",
        params={"min_position": registered["position"]},
    )
    assert status.status_code == 200, status.text
    return registered["subject_id"]


async def record(http, subject_id: str, body: dict) -> dict:
    response = await http.post(f"/v1/subjects/{subject_id}/events", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def caught_up(services, position: int) -> None:
    """Wait until the changes read model has reached the write at `position`."""
    for _ in range(200):
        if services.runner.position("changes") >= position:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the changes read model did not reach {position}")


async def feed(http, headers, **params) -> dict:
    response = await http.get("/v1/feeds/changes", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def subscribe(http, headers, body: dict, **params) -> dict:
    response = await http.post("/v1/subscriptions", json=body, headers=headers, params=params)
    assert response.status_code == 201, response.text
    return response.json()


async def test_the_feed_holds_only_the_subscribed_subjects_and_kinds_in_log_order(
    client, role_headers, services
):
    agency = role_headers["agency"]
    first, second, other = [await new_subject(client, n) for n in (1, 2, 3)]
    made = await subscribe(
        client,
        agency,
        {
            "codes": [uscc(1), uscc(2), uscc(99), "not-a-code"],
            "kinds": ["record.published", "list.entered"],
        },
    )
    assert made["subscription"]["subject_count"] == 2
    assert made["subscription"]["kinds"] == ["record.published", "list.entered"]
    # A code not on file, and one that is no code, are reported back; the others followed.
    assert made["not_found"] == [
        {"index": 2, "submitted": uscc(99), "reason": "unknown"},
        {"index": 3, "submitted": "not-a-code", "reason": "invalid"},
    ]

    told = await record(client, first, penalty("P-1"))  # published: told
    await record(client, other, penalty("P-2"))  # a subject not followed
    await record(client, second, list_entry())  # published and entered: both told
    await record(client, first, penalty("P-3", severity="minor"))  # not published
    revocation = follow_up(
        "RecordRevoked", "撤-P-1", target_record_id=told["record_id"], reason="行政复议撤销"
    )
    last = await record(client, first, revocation)  # record.revoked: a kind not asked for
    await caught_up(services, last["position"])

    page = await feed(client, agency, limit=2)
    assert [(c["subject_id"], c["kind"], c["record_type"]) for c in page["changes"]] == [
        (first, "record.published", "PenaltyDecided"),
        (second, "record.published", "ListEntered"),
    ]
    published = page["changes"][0]
    assert (published["record_id"], published["position"]) == (
        told["record_id"],
        told["position"],
    )
    assert published["before"] is None
    # A general penalty is published from its decision day for a year (令第36号).
    assert published["after"] == {
        "family": "penalty",
        "severity": "general",
        "decision_date": "2026-10-15",
        "publish_from": "2026-10-15",
        "publish_until": "2027-10-15",
        "authority_code": AUTHORITY_CODE,
        "authority_name": "郑州市交通运输综合执法支队",
    }
    rest = await feed(client, agency, limit=2, after=page["next"])
    assert [(c["subject_id"], c["kind"]) for c in rest["changes"]] == [(second, "list.entered")]
    assert rest["changes"][0]["after"]["list_type"] == "black"
    end = await feed(client, agency, limit=2, after=rest["next"])
    assert end["changes"] == [] and end["position"] >= last["position"]
    # Each subject of each page is in its access log (查询留痕), as the feed's client's read.
    async with services.read_engine.connect() as conn:
        logged = (
            await conn.execute(
                select(access_log.c.subject_id, access_log.c.client_id)
                .where(access_log.c.action == "changes")
                .order_by(access_log.c.seq)
            )
        ).all()
    assert [(str(s), c) for s, c in logged] == [
        (first, "test-agency"),
        (second, "test-agency"),
        (second, "test-agency"),
    ]


async def test_a_long_poll_answers_as_soon_as_a_change_arrives(client, role_headers, services):
    agency = role_headers["agency"]
    registered = (await client.post("/v1/subjects", json=enterprise(1))).json()
    subject = registered["subject_id"]
    # Subscribing right after registering: min_position waits for the credit file to show it.
    await subscribe(
        client,
        agency,
        {"subject_ids": [subject], "kinds": ["record.published"]},
        min_position=registered["position"],
    )
    start = await feed(client, agency)
    assert start["changes"] == []

    began = time.monotonic()
    polling = asyncio.create_task(feed(client, agency, after=start["next"], wait=20))
    await asyncio.sleep(0.3)
    assert not polling.done()  # nothing new yet: it waits
    written = await record(client, subject, penalty("P-1"))
    page = await polling
    assert [c["record_id"] for c in page["changes"]] == [written["record_id"]]
    assert time.monotonic() - began < 10  # well before the 20 s asked for

    # With nothing new, a short wait ends empty, the cursor past what was there.
    again = await feed(client, agency, after=page["next"], wait=0.2)
    assert again["changes"] == [] and again["next"]


async def test_another_clients_subscription_is_not_found_and_tells_it_nothing(
    client, role_headers, services
):
    agency = role_headers["agency"]
    other_client, _ = services.clients.create(
        "test-agency-2", "agency", "开封市交通运输局", AUTHORITY_CODE
    )
    other = {"Authorization": f"Bearer {services.tokens.issue(other_client).access_token}"}
    subject = await new_subject(client, 1)
    made = await subscribe(client, agency, {"codes": [uscc(1)], "kinds": ["record.published"]})
    mine = f"/v1/subscriptions/{made['subscription']['subscription_id']}"

    assert (await client.get(mine, headers=other)).status_code == 404
    assert (await client.delete(mine, headers=other)).status_code == 404
    assert (await client.get("/v1/subscriptions", headers=other)).json() == {"subscriptions": []}
    written = await record(client, subject, penalty("P-1"))
    await caught_up(services, written["position"])
    assert (await feed(client, other))["changes"] == []
    assert len((await feed(client, agency))["changes"]) == 1

    listed = (await client.get("/v1/subscriptions", headers=agency)).json()["subscriptions"]
    assert [s["subscription_id"] for s in listed] == [made["subscription"]["subscription_id"]]
    assert (await client.get(mine, headers=agency)).json() == made["subscription"]
    assert (await client.delete(mine, headers=agency)).status_code == 204
    assert (await client.get(mine, headers=agency)).status_code == 404
    assert (await feed(client, agency))["changes"] == []  # no longer followed


async def test_a_subscription_naming_no_subject_on_file_or_no_known_kind_is_refused(
    client, role_headers
):
    agency = role_headers["agency"]
    nothing = await client.post(
        "/v1/subscriptions",
        json={"codes": [uscc(7)], "kinds": ["record.published"]},
        headers=agency,
    )
    assert nothing.status_code == 422
    assert "nothing was subscribed" in nothing.json()["detail"]
    await new_subject(client, 1)
    unknown_kind = await client.post(
        "/v1/subscriptions",
        json={"codes": [uscc(1)], "kinds": ["record.deleted"]},
        headers=agency,
    )
    assert unknown_kind.status_code == 422
    # The administrator's token reads no credit file: it neither subscribes nor reads the feed.
    admin = role_headers["admin"]
    assert (await client.get("/v1/feeds/changes", headers=admin)).status_code == 403
    assert (await client.get("/v1/subscriptions", headers=admin)).status_code == 403
    bad = await client.get(
        "/v1/feeds/changes", params={"after": "bm90LWEtY3Vyc29y"}, headers=agency
    )
    assert bad.status_code == 400


@pytest.mark.slow
async def test_a_hundred_thousand_codes_fit_in_one_request_and_the_unknown_are_told(
    client, role_headers
):
    """A whole register of operators at once: over the usual body limit, within the
    subscriptions' own; every code not on file is reported back by its place."""
    agency = role_headers["agency"]
    subjects = [await new_subject(client, n) for n in (1, 50_000)]
    codes = [uscc(n) for n in range(1, 100_001)]
    response = await client.post(
        "/v1/subscriptions", json={"codes": codes, "kinds": ["list.entered"]}, headers=agency
    )
    assert response.status_code == 201, response.text[:300]
    made = response.json()
    assert made["subscription"]["subject_count"] == len(subjects)
    assert len(made["not_found"]) == 99_998
    assert {n["index"] for n in made["not_found"]}.isdisjoint({0, 49_999})
    too_many = await client.post(
        "/v1/subscriptions",
        json={"codes": codes, "subject_ids": subjects[:1], "kinds": ["list.entered"]},
        headers=agency,
    )
    assert too_many.status_code == 422
