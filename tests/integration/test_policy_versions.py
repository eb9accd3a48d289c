"""The policy in operation: a faulty file stops the start, a new version applies from its date,
and time passing changes the status without any new event."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from domain.policy import PolicyError
from service.bootstrap import build_services
from service.policy.loader import DEFAULT_POLICY_PATH
from tests.builders import AUTHORITY_CODE, enterprise, penalty, rating

pytestmark = pytest.mark.integration


def test_a_faulty_policy_file_stops_the_start_and_says_where(settings, tmp_path):
    text = DEFAULT_POLICY_PATH.read_text().replace(
        '{ grade = "A", min_score = 85, max_score = 95 }',
        '{ grade = "A", min_score = 80, max_score = 95 }',
        1,
    )
    broken = tmp_path / "policy.toml"
    broken.write_text(text)
    with pytest.raises(PolicyError) as refused:
        build_services(settings.model_copy(update={"policy_file": broken}), migrate=False)
    assert "version[0].schemes.highway_construction.bands" in str(refused.value)
    assert "policy.toml" in str(refused.value)


NEW_VERSION = """
# A later version for this test only: general conduct costs 20 on highway construction.
"""


async def test_a_new_version_applies_from_its_date_and_the_status_names_it(
    settings, services, tmp_path, clock
):
    import httpx

    from api.app import create_app

    text = DEFAULT_POLICY_PATH.read_text()
    last = text.rindex("[[version]]")
    extra = (
        text[last:]
        .replace('id = "2026-36"', 'id = "test-2026-11"', 1)
        .replace("effective_from = 2026-04-01", "effective_from = 2026-11-15", 1)
    )
    extra = extra.replace(
        "deduction = { minor = 1, general = 5, serious = 15 }",
        "deduction = { minor = 1, general = 20, serious = 30 }",
        1,
    )
    path = tmp_path / "policy.toml"
    path.write_text(text + "\n" + NEW_VERSION + extra)
    custom = settings.model_copy(update={"policy_file": path})
    built = build_services(custom, clock=clock, migrate=False)
    role_client, _ = built.clients.create(
        "t-rec",
        "recorder",
        "局",
        "11410100MB00000018",
        authority_codes=["11410100MB00000018"],
        sectors=["road_transport"],
    )
    token = built.tokens.issue(role_client).access_token
    app = create_app(custom, services=built)
    today = clock.moment
    clock.moment = today - timedelta(days=10)  # recorded on 2026-11-10, before the new version
    async with app.router.lifespan_context(app):
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://t",
            headers={"Authorization": f"Bearer {token}"},
        )
        sid = (await http.post("/v1/subjects", json=enterprise(77))).json()["subject_id"]
        await http.post(f"/v1/subjects/{sid}/events", json=rating("V-R"))
        ack = (
            await http.post(
                f"/v1/subjects/{sid}/events", json=penalty("V-P", decision_date="2026-10-01")
            )
        ).json()
        clock.moment = today
        now = (
            await http.get(f"/v1/subjects/{sid}/status", params={"min_position": ack["position"]})
        ).json()
        before = (
            await http.get(f"/v1/subjects/{sid}/status", params={"as_of": "2026-11-14"})
        ).json()
    assert now["evaluated_on"] == "2026-11-20", now
    assert (now["policy_version"], now["grades"][0]["score"]) == ("test-2026-11", "68.00")
    assert (before["policy_version"], before["grades"][0]["score"]) == ("2026-36", "83.00")


async def test_each_penalty_is_published_by_the_version_in_force_on_its_decision_date(
    client, auditor
):
    """527号 until 2023-04-30, 令第58号 from 2023-05-01, 令第36号 from 2026-04-01: a general
    penalty on each side of both edges, and the statuses name the version of their day."""
    sid = (await client.post("/v1/subjects", json=enterprise(79))).json()["subject_id"]
    last = {}
    for day in ("2023-04-30", "2023-05-01", "2026-03-31", "2026-04-01"):
        last = (
            await client.post(
                f"/v1/subjects/{sid}/events", json=penalty(f"EDGE-{day}", decision_date=day)
            )
        ).json()
    page = (
        await client.get(
            f"/v1/subjects/{sid}/records",
            params={"include": "all", "min_position": last["position"]},
            headers=auditor,
        )
    ).json()
    until = {r["source_ref"]: r["publication"]["until"] for r in page["records"]}
    assert until == {
        "EDGE-2023-04-30": "2024-04-30",  # 527号: general at most a year
        "EDGE-2023-05-01": "2026-05-01",  # 令第58号: three years
        "EDGE-2026-03-31": "2029-03-31",
        "EDGE-2026-04-01": "2027-04-01",  # 令第36号: general at most a year
    }
    for day, version in (
        ("2023-04-30", "2019-527"),
        ("2023-05-01", "2023-58"),
        ("2026-03-31", "2023-58"),
        ("2026-04-01", "2026-36"),
    ):
        about = (await client.get(f"/v1/subjects/{sid}/status", params={"valid_at": day})).json()
        assert about["policy_version"] == version, about


async def test_a_rating_running_out_changes_the_status_with_no_new_event(client, clock):
    sid = (await client.post("/v1/subjects", json=enterprise(78))).json()["subject_id"]
    until = (clock.moment.date() + timedelta(days=2)).isoformat()
    ack = (
        await client.post(
            f"/v1/subjects/{sid}/events",
            json=rating(
                "RUN-OUT", decision_date="2026-01-01", valid_from="2026-01-01", valid_until=until
            ),
        )
    ).json()
    during = (
        await client.get(f"/v1/subjects/{sid}/status", params={"min_position": ack["position"]})
    ).json()
    clock.moment += timedelta(days=2)
    after = (await client.get(f"/v1/subjects/{sid}/status")).json()
    assert [g["grade"] for g in during["grades"]] == ["A"]
    assert after["grades"] == [] and after["version"] == during["version"]
    assert after["evaluated_on"] == (date(2026, 11, 22)).isoformat()


async def test_a_rating_under_a_scheme_no_longer_in_force_is_refused(settings, tmp_path, clock):
    """A later version without sector_default: ratings decided before it takes effect may use
    the scheme, ratings decided after may not."""
    import httpx

    from api.app import create_app

    text = DEFAULT_POLICY_PATH.read_text()
    last = text[text.rindex("[[version]]") :]
    later = (
        last[: last.index("[version.schemes.sector_default]")]
        + last[last.index("[version.lists.watch]") :]
    )
    later = (
        later.replace('id = "2026-36"', 'id = "test-no-sector-default"', 1)
        .replace("effective_from = 2026-04-01", "effective_from = 2026-11-15", 1)
        .replace(', sector_default = "B"', "")
        .replace(", sector_default = 3", "")
    )
    assert "sector_default" not in later
    path = tmp_path / "policy.toml"
    path.write_text(text + "\n" + later)
    custom = settings.model_copy(update={"policy_file": path})
    built = build_services(custom, clock=clock, migrate=False)
    recorder, _ = built.clients.create(
        "t-rec",
        "recorder",
        "局",
        AUTHORITY_CODE,
        authority_codes=[AUTHORITY_CODE],
        sectors=["road_transport"],
    )
    token = built.tokens.issue(recorder).access_token
    app = create_app(custom, services=built)
    try:
        async with app.router.lifespan_context(app):
            http = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://t",
                headers={"Authorization": f"Bearer {token}"},
            )
            sid = (await http.post("/v1/subjects", json=enterprise(79))).json()["subject_id"]
            after, before = (
                rating(ref, scheme="sector_default", decision_date=day, valid_from=day)
                for ref, day in (("V-AFTER", "2026-11-16"), ("V-BEFORE", "2026-11-14"))
            )
            refused = await http.post(f"/v1/subjects/{sid}/events", json=after)
            accepted = await http.post(f"/v1/subjects/{sid}/events", json=before)
    finally:
        built.close_sync()
    assert refused.status_code == 422, refused.text
    assert refused.json()["type"].endswith("/validation-error")
    assert refused.json()["detail"] == (
        "scheme 'sector_default' is not in force on 2026-11-16 (policy test-no-sector-default; "
        "schemes in force: highway_construction, road_transport_quality, driver_integrity)"
    )
    assert accepted.status_code == 201, accepted.text
