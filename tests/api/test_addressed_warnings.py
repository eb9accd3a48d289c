"""Early warnings told to the authority they are addressed to: a recorder's client subscribes to
the warnings addressed to its own authorities and reads them from the feed, and receives them
by webhook (a real HTTP receiver), for subjects it never followed; another authority's client
is told only its own; a code withdrawn from a client tells it nothing more; a client granted no
authority is refused under a named rule, in Chinese when asked; migration 0027 fills the
addressed authority of the warnings told before it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy import inspect, select, update

from projections.tables import changes
from service.access.tables import api_clients
from service.notifications.tables import subscriptions
from tests.api.test_subscriptions import caught_up, feed, new_subject, record, subscribe
from tests.api.test_webhooks import Moment, Receiver, delivery_worker, run
from tests.builders import AUTHORITY_CODE, OTHER_AUTHORITY_CODE, penalty

pytestmark = pytest.mark.api
ADDRESSED = {"addressed_to_us": True, "kinds": ["warning.raised"]}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    yield made
    made.close()


@pytest.fixture
def settings(settings):
    """The tests' receivers listen on loopback."""
    return settings.model_copy(update={"webhook_allow_private_targets": True})


def recorder_of(services, client_id: str, authority_code: str) -> dict[str, str]:
    """A bearer header of a recorder granted one authority code only."""
    client, _ = services.clients.create(
        client_id,
        "recorder",
        "郑州市交通运输综合执法支队",
        authority_code,
        authority_codes=[authority_code],
        sectors=["road_transport"],
    )
    return {"Authorization": f"Bearer {services.tokens.issue(client).access_token}"}


async def warned(client, serial: int, authority_code: str) -> tuple[str, int]:
    """A subject with two general penalties within 12 months by the authority: a repeated
    conduct warning addressed to it. Answers the subject and the last write's position."""
    subject = await new_subject(client, serial)
    for n, day in ((1, "2026-09-01"), (2, "2026-10-15")):
        ref = f"罚-{serial}-{n}"
        told = await record(
            client, subject, penalty(ref, decision_date=day, authority_code=authority_code)
        )
    return subject, told["position"]


def shown(page: dict) -> list[tuple[str, str, str]]:
    return [(c["subject_id"], c["kind"], c["after"]["authority_code"]) for c in page["changes"]]


async def test_each_authority_reads_the_warnings_addressed_to_it_of_subjects_it_never_followed(
    client, services
):
    ours = recorder_of(services, "warned-authority", AUTHORITY_CODE)
    theirs = recorder_of(services, "other-authority", OTHER_AUTHORITY_CODE)
    made = await subscribe(client, ours, ADDRESSED)
    assert made["subscription"]["addressed_to_us"] is True
    assert made["subscription"]["subject_count"] == 0
    assert made["not_found"] == []
    await subscribe(client, theirs, ADDRESSED)

    first, _ = await warned(client, 1, AUTHORITY_CODE)
    second, last = await warned(client, 2, OTHER_AUTHORITY_CODE)
    await caught_up(services, last)

    # Each is told the warning addressed to it, and nothing else of those subjects (their
    # record.published changes are not addressed, and not followed).
    mine = await feed(client, ours)
    assert shown(mine) == [(first, "warning.raised", AUTHORITY_CODE)]
    assert mine["changes"][0]["after"]["warning"] == "repeated_conduct"
    assert shown(await feed(client, theirs)) == [(second, "warning.raised", OTHER_AUTHORITY_CODE)]
    # The recorder granted both authorities follows neither subject and subscribed to nothing.
    assert (await feed(client, {}))["changes"] == []

    # A code withdrawn from the client: the warnings addressed to it are no longer its.
    with services.write_engine.begin() as conn:
        conn.execute(
            update(api_clients)
            .where(api_clients.c.client_id == "warned-authority")
            .values(authority_codes=[])
        )
    assert (await feed(client, ours))["changes"] == []


async def test_a_warning_addressed_to_an_authority_is_posted_to_its_webhook_only(
    client, services, receiver
):
    ours = recorder_of(services, "warned-authority", AUTHORITY_CODE)
    theirs = recorder_of(services, "other-authority", OTHER_AUTHORITY_CODE)
    made = await subscribe(client, ours, {**ADDRESSED, "callback_url": receiver.url})
    await subscribe(client, theirs, {**ADDRESSED, "callback_url": receiver.url + "?other"})
    first, _ = await warned(client, 1, AUTHORITY_CODE)
    _, last = await warned(client, 2, OTHER_AUTHORITY_CODE)
    await caught_up(services, last)

    worker = delivery_worker(services, Moment())
    assert await run(worker) == 4  # two delivery rows written, two sent
    sent = {
        json.loads(body)["subscription_id"]: json.loads(body)["change"]
        for _, body in receiver.received
    }
    ours_sent = sent[made["subscription"]["subscription_id"]]
    assert (ours_sent["subject_id"], ours_sent["kind"]) == (first, "warning.raised")
    assert ours_sent["after"]["authority_code"] == AUTHORITY_CODE
    # What the webhook got is what the feed shows the same client.
    assert [ours_sent] == (await feed(client, ours))["changes"]
    assert {c["after"]["authority_code"] for c in sent.values()} == {
        AUTHORITY_CODE,
        OTHER_AUTHORITY_CODE,
    }

    # The code withdrawn: the next warning addressed to it is not delivered to that client.
    with services.write_engine.begin() as conn:
        conn.execute(
            update(api_clients)
            .where(api_clients.c.client_id == "warned-authority")
            .values(authority_codes=[])
        )
    _, later = await warned(client, 3, AUTHORITY_CODE)
    await caught_up(services, later)
    assert await run(worker) == 0
    assert len(receiver.received) == 2


async def test_a_client_granted_no_authority_is_refused_under_its_rule(client, role_headers):
    agency = role_headers["agency"]
    refused = await client.post(
        "/v1/subscriptions", json=ADDRESSED, headers={**agency, "Accept-Language": "zh-CN"}
    )
    assert refused.status_code == 403, refused.text
    problem = refused.json()
    assert refused.headers["content-type"] == "application/problem+json"
    assert problem["rule"] == "addressed-to-own-authorities"
    assert problem["type"].endswith("/forbidden")
    assert "执法机构代码" in problem["detail"] and "no authority" in problem["detail_en"]
    # Such a subscription names no subject and no kind but warnings.
    for wrong in (
        {**ADDRESSED, "codes": ["91410105MA00000016"]},
        {**ADDRESSED, "kinds": ["warning.raised", "record.published"]},
    ):
        answer = await client.post("/v1/subscriptions", json=wrong)
        assert answer.status_code == 422, answer.text
    assert (await client.get("/v1/subscriptions", headers=agency)).json()["subscriptions"] == []


async def test_the_migration_fills_the_addressed_authority_of_warnings_already_told(
    client, services, settings
):
    """0027 down and up again, on SQLite and PostgreSQL: the column goes and comes back filled
    from each warning's payload; the addressed subscriptions go with it, the others stay."""
    from alembic import command
    from service.store.database import Database
    from service.store.migrations import alembic_config

    ours = recorder_of(services, "warned-authority", AUTHORITY_CODE)
    await subscribe(client, ours, ADDRESSED)
    subject, _ = await warned(client, 1, AUTHORITY_CODE)
    kept = await subscribe(client, ours, {"subject_ids": [subject], "kinds": ["warning.raised"]})
    _, last = await warned(client, 2, OTHER_AUTHORITY_CODE)
    await caught_up(services, last)
    services.runner.stop()

    def addressed() -> list[tuple[str, str | None, str | None]]:
        with services.write_engine.connect() as conn:
            rows = conn.execute(
                select(changes.c.kind, changes.c.addressed_to, changes.c.after).order_by(
                    changes.c.position, changes.c.ordinal
                )
            )
            return [(kind, to, (after or {}).get("authority_code")) for kind, to, after in rows]

    before = addressed()
    config = alembic_config(Database.from_url(settings.database_url))
    command.downgrade(config, "0026")
    with services.write_engine.connect() as conn:
        assert "addressed_to" not in {c["name"] for c in inspect(conn).get_columns("changes")}
        assert "subscription_authorities" not in inspect(conn).get_table_names()
        left = conn.execute(select(subscriptions.c.subscription_id)).scalars().all()
    assert [str(s) for s in left] == [kept["subscription"]["subscription_id"]]
    command.upgrade(config, "head")
    after = addressed()
    assert after == before
    assert sorted(str(to) for kind, to, _ in after if kind == "warning.raised") == [
        AUTHORITY_CODE,
        OTHER_AUTHORITY_CODE,
    ]
    assert all(to == code for kind, to, code in after if kind == "warning.raised")
    assert {to for kind, to, _ in after if kind != "warning.raised"} == {None}
