"""The five further kinds of administrative information (行政强制, 行政确认, 行政裁决, 行政奖励,
行政监督检查) over HTTP: each is recorded, read back in the subject's records with the publication
its policy period gives it, and counts in no grade; bad input writes nothing."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import httpx
import pytest

from domain.codes import make_uscc
from service.bootstrap import Services
from tests.builders import ADMINISTRATIVE_CONTENT, administrative_record, enterprise

pytestmark = pytest.mark.api
PROBLEM = "application/problem+json"
# An authority the test recorder holds no permit for.
UNPERMITTED_AUTHORITY_CODE = make_uscc("11410100MB0000009")


async def register(client: httpx.AsyncClient, serial: int) -> str:
    response = await client.post("/v1/subjects", json=enterprise(serial))
    assert response.status_code in (200, 201), response.text
    return str(response.json()["subject_id"])


def stream_version(services: Services, subject_id: str) -> int:
    return int(services.ledger.repository.get(UUID(subject_id)).version)


async def test_each_kind_is_recorded_and_read_back_with_the_policys_publication(
    client: httpx.AsyncClient, auditor: dict[str, str]
) -> None:
    sid = await register(client, 41)
    created: dict[str, Any] = {}
    for number, record_type in enumerate(ADMINISTRATIVE_CONTENT, start=1):
        body = administrative_record(record_type, f"郑交〔2026〕{number:04d}号")
        response = await client.post(f"/v1/subjects/{sid}/events", json=body)
        assert response.status_code == 201, response.text
        created[record_type] = response.json()
    last = max(answer["position"] for answer in created.values())

    every = await client.get(
        f"/v1/subjects/{sid}/records",
        params={"include": "all", "min_position": last},
        headers=auditor,
    )
    assert every.status_code == 200, every.text
    shown = {record["type"]: record for record in every.json()["records"]}
    assert {name: shown[name]["record_id"] for name in shown} == {
        name: answer["record_id"] for name, answer in created.items()
    }
    published = {"state": "published", "from": "2026-10-09", "until": "2029-10-09"}
    never = {"state": "not_published", "from": None, "until": None}
    assert {name: (r["family"], r["publication"]) for name, r in shown.items()} == {
        "AdministrativeCoercionApplied": ("coercion", never),
        "AdministrativeConfirmationMade": ("confirmation", published),
        "AdministrativeAdjudicationMade": ("adjudication", never),
        "AdministrativeRewardGranted": ("reward", published),
        "AdministrativeInspectionConducted": ("inspection", published),
    }
    reward = shown["AdministrativeRewardGranted"]
    assert reward["summary"] == "道路运输安全生产先进单位"
    assert reward["details"]["data_source_code"] == make_uscc("11410100MB0000003")
    assert shown["AdministrativeCoercionApplied"]["details"]["coercion_kind"] == "measure"

    # a querying agency sees the published ones only
    public = await client.get(f"/v1/subjects/{sid}/records")
    assert sorted(r["type"] for r in public.json()["records"]) == [
        "AdministrativeConfirmationMade",
        "AdministrativeInspectionConducted",
        "AdministrativeRewardGranted",
    ]

    # counted by family among the published records, and in no grade, list or tier
    status = (await client.get(f"/v1/subjects/{sid}/status")).json()
    assert status["published_records"] == {
        "total": 3,
        "by_family": {"confirmation": 1, "reward": 1, "inspection": 1},
    }
    assert (status["grades"], status["lists"], status["warnings"]) == ([], [], [])
    assert status["supervision"]["tier"] == "trustworthy"
    # published from the decision date: the day before, nothing was
    before = await client.get(f"/v1/subjects/{sid}/status", params={"valid_at": "2026-10-08"})
    assert before.json()["published_records"] == {"total": 0, "by_family": {}}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            administrative_record(
                "AdministrativeCoercionApplied", "Q-1", coercion_kind="detention_order"
            ),
            "coercion_kind",
        ),
        (
            {
                key: value
                for key, value in administrative_record(
                    "AdministrativeInspectionConducted", "Q-2"
                ).items()
                if key != "result"
            },
            "result",
        ),
        (
            administrative_record(
                "AdministrativeRewardGranted", "Q-3", data_source_code="11410100MB00000019"
            ),
            "data_source_code",
        ),
        (administrative_record("AdministrativeConfirmationMade", "Q-4", content=""), "content"),
        (
            administrative_record("AdministrativeAdjudicationMade", "Q-5", penalty_amount="1"),
            "penalty_amount",
        ),
    ],
)
async def test_bad_input_is_a_problem_and_writes_nothing(
    client: httpx.AsyncClient, services: Services, body: dict[str, Any], field: str
) -> None:
    sid = await register(client, 42)
    response = await client.post(f"/v1/subjects/{sid}/events", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["type"].endswith("/validation-error")
    assert field in response.text
    assert stream_version(services, sid) == 1


async def test_a_decision_in_the_future_is_refused_by_its_rule(
    client: httpx.AsyncClient, services: Services
) -> None:
    sid = await register(client, 43)
    body = administrative_record("AdministrativeRewardGranted", "Q-6", decision_date="2026-11-21")
    response = await client.post(f"/v1/subjects/{sid}/events", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["rule"] == "decision-date-not-in-future"
    assert stream_version(services, sid) == 1


async def test_only_an_authority_the_recorder_holds_may_record_one(
    client: httpx.AsyncClient, services: Services
) -> None:
    sid = await register(client, 44)
    body = administrative_record(
        "AdministrativeCoercionApplied", "Q-7", authority_code=UNPERMITTED_AUTHORITY_CODE
    )
    response = await client.post(f"/v1/subjects/{sid}/events", json=body)
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["type"].endswith("/forbidden")
    assert stream_version(services, sid) == 1
