"""Repair propagation over HTTP (令第36号): a repair approved tells every agency that read the
subject's file while the record was on it to stop using the record; each sees its own notices
only and acknowledges them; the case's progress counts both; a rebuild keeps the notices' ids
and the acknowledgements."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from service.replay.generations import rebuild_beside
from tests.api.test_cases import progress, repair, setup_records
from tests.builders import AUTHORITY_CODE as OTHER

pytestmark = pytest.mark.api


async def projected(services, name: str, position: int) -> None:
    for _ in range(400):
        if services.runner.position(name) >= position:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the {name} read model did not reach {position}")


async def notices_of(http, headers) -> list[dict]:
    response = await http.get("/v1/notices", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["notices"]


async def approved_repair(client, services, clock, records) -> tuple[dict, int]:
    """A repair of the `old` penalty, filed and approved after the reads so far: the access
    log keeps the wall clock's time, so the service's clock is moved past it."""
    clock.moment = datetime.now(UTC) + timedelta(seconds=1)
    filed = (await client.post("/v1/cases/repair", json=repair(records["old"]))).json()
    after = {"min_position": filed["position"]}
    accepted = await client.post(f"/v1/cases/{filed['case_number']}:accept", json={}, params=after)
    assert accepted.status_code == 200, accepted.text
    approved = await client.post(
        f"/v1/cases/{filed['case_number']}:approve", json={"reasons": "符合条件"}, params=after
    )
    assert approved.status_code == 200, approved.text
    position = approved.json()["position"]
    await projected(services, "notices", position)
    return filed, position


async def test_the_agencies_that_read_the_record_are_told_to_stop_using_it_and_confirm(
    client, role_headers, services, clock
):
    agency = role_headers["agency"]
    records = await setup_records(client)  # the recorder reads the status: it is told too
    read = await client.get(f"/v1/subjects/{records['subject_id']}/status", headers=agency)
    assert read.status_code == 200
    other, _ = services.clients.create("test-agency-2", "agency", "开封市交通运输局", OTHER)
    unread = {"Authorization": f"Bearer {services.tokens.issue(other).access_token}"}
    filed, position = await approved_repair(client, services, clock, records)

    [notice] = await notices_of(client, agency)
    assert (notice["kind"], notice["record_id"], notice["subject_id"]) == (
        "record.repaired",
        records["old"],
        records["subject_id"],
    )
    assert (notice["position"], notice["acknowledged_at"]) == (position, None)
    assert len(await notices_of(client, role_headers["recorder"])) == 1
    assert await notices_of(client, unread) == []  # never read the file: nothing to stop using
    view = await progress(client, filed, position)
    assert view["propagation"] == {"told": 2, "acknowledged": 0}

    # Another client's notice is not found, and nothing is written.
    url = f"/v1/notices/{notice['notice_id']}/acknowledgement"
    foreign = await client.post(url, headers=unread)
    assert foreign.status_code == 404
    assert foreign.json()["type"].endswith("notice-not-found")
    confirmed = await client.post(url, headers=agency)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["acknowledged_at"] is not None
    again = await client.post(url, headers=agency)
    assert again.status_code == 409
    view = await progress(client, filed, position)
    assert view["propagation"] == {"told": 2, "acknowledged": 1}

    # A rebuild derives the notices again, with their ids; the confirmation stays: in place,
    # and as `credit rebuild` does it, in a new generation beside the live one.
    for rebuild in (services.runner.rebuild, lambda: rebuild_beside(services)):
        await asyncio.to_thread(rebuild)
        [rebuilt] = await notices_of(client, agency)
        assert rebuilt["notice_id"] == notice["notice_id"]
        assert rebuilt["acknowledged_at"] == confirmed.json()["acknowledged_at"]
        assert len(await notices_of(client, role_headers["recorder"])) == 1
        assert (await progress(client, filed, position))["propagation"] == {
            "told": 2,
            "acknowledged": 1,
        }


async def test_an_open_case_has_no_propagation_and_an_unknown_notice_is_not_found(
    client, role_headers, services
):
    records = await setup_records(client)
    filed = (await client.post("/v1/cases/repair", json=repair(records["old"]))).json()
    assert (await progress(client, filed))["propagation"] is None
    missing = await client.post(
        "/v1/notices/3a7c2e91-5b4d-5f6a-8c0e-1d2f3a4b5c6d/acknowledgement",
        headers=role_headers["agency"],
    )
    assert missing.status_code == 404
    bad = await client.get("/v1/notices", params={"after": -1}, headers=role_headers["agency"])
    assert bad.status_code == 422
