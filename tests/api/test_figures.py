"""The credit office's figures over HTTP: who reads which authorities' figures, the figures of a
small month computed by hand, and a bad period told as a problem.

Recorded on 2026-11-20 (the tests' today, a Friday): a penalty decided 11-10 was due 11-19 (7
working days: 11, 12, 13, 16, 17, 18, 19), so it is 1 working day late; one decided 11-12 is
due 11-23, on time; a licence of another authority decided 11-16 is due 11-25, on time.

Their completeness, of the enterprise's 21 penalty and 18 licence indicators: the late penalty
fills every one (21 of 21); the one on time only what the service requires of a penalty (12 of
21, 57.14 %: below 60 %); the licence all but its certificate, number, legal representative,
data source with its code and remarks (12 of 18, 66.67 %)."""

from __future__ import annotations

import pytest

from tests.builders import (
    AUTHORITY_CODE,
    OTHER_AUTHORITY_CODE,
    enterprise,
    licence,
    penalty,
)

pytestmark = pytest.mark.api
NOVEMBER = {"from": "2026-11-01", "to": "2026-11-30"}
# What a penalty may carry beyond its required fields and its fine (builders.penalty has one).
EVERY_OPTIONAL_FIELD = {
    "confiscated_amount": "0.5",
    "licence_action": "暂扣道路运输证30日",
    "declared_publication_end": "2027-05-10",
    "legal_representative": "张建国",
    "effective_until": "2027-11-09",
    "data_source_name": "郑州市交通运输综合执法支队",
    "data_source_code": AUTHORITY_CODE,
    "remarks": "当事人已履行",
}


async def record_month(client) -> dict:
    sid = (await client.post("/v1/subjects", json=enterprise(701))).json()["subject_id"]
    url = f"/v1/subjects/{sid}/events"
    ids = {}
    for name, body in {
        "late": penalty("FIG-LATE", decision_date="2026-11-10", **EVERY_OPTIONAL_FIELD),
        "on_time": penalty("FIG-OK", decision_date="2026-11-12", fine_amount=None),
        "licence": licence(
            "FIG-L", decision_date="2026-11-16", authority_code=OTHER_AUTHORITY_CODE
        ),
    }.items():
        ack = await client.post(url, json=body)
        assert ack.status_code == 201, ack.text
        ids[name] = ack.json()["record_id"]
        ids["position"] = ack.json()["position"]
    return ids


def recorder_of(services, authority_code: str) -> dict[str, str]:
    client, _ = services.clients.create(
        "test-recorder-other",
        "recorder",
        "郑州市交通运输局",
        authority_code,
        authority_codes=[authority_code],
        sectors=["road_transport"],
    )
    return {"Authorization": f"Bearer {services.tokens.issue(client).access_token}"}


async def test_the_credit_office_reads_every_authoritys_timeliness(client, role_headers):
    ids = await record_month(client)
    answer = await client.get(
        "/v1/reports/timeliness",
        params={**NOVEMBER, "min_position": ids["position"]},
        headers=role_headers["credit_office"],
    )
    assert answer.status_code == 200, answer.text
    figure = answer.json()
    assert (figure["decided"], figure["on_time"], figure["late"], figure["rate"]) == (
        3,
        2,
        1,
        "66.67",
    )
    assert (figure["deadline_days"], figure["working_days"], figure["policy_version"]) == (
        7,
        True,
        "2026-36",
    )
    groups = {g["key"]: g for g in figure["groups"]}
    assert (groups[AUTHORITY_CODE]["decided"], groups[AUTHORITY_CODE]["rate"]) == (2, "50.00")
    [late] = groups[AUTHORITY_CODE]["late_records"]
    assert (late["record_id"], late["due_on"], late["recorded_on"], late["days_late"]) == (
        ids["late"],
        "2026-11-19",
        "2026-11-20",
        1,
    )
    assert (groups[OTHER_AUTHORITY_CODE]["decided"], groups[OTHER_AUTHORITY_CODE]["late"]) == (1, 0)
    audited = await client.get(
        "/v1/reports/timeliness", params=NOVEMBER, headers=role_headers["auditor"]
    )
    assert audited.json() == figure


async def test_a_recorder_reads_its_own_authorities_figures_only(client, services, role_headers):
    ids = await record_month(client)
    other = recorder_of(services, OTHER_AUTHORITY_CODE)
    mine = await client.get(
        "/v1/reports/timeliness",
        params={**NOVEMBER, "group_by": "region", "min_position": ids["position"]},
        headers=other,
    )
    assert mine.status_code == 200, mine.text
    assert (mine.json()["decided"], [g["key"] for g in mine.json()["groups"]]) == (1, ["410100"])
    refused = await client.get(
        "/v1/reports/completeness",
        params={**NOVEMBER, "authority_code": AUTHORITY_CODE},
        headers=other,
    )
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("/forbidden")
    agency = await client.get(
        "/v1/reports/timeliness", params=NOVEMBER, headers=role_headers["agency"]
    )
    assert agency.status_code == 403
    assert agency.json()["type"].endswith("/insufficient-scope")


async def test_completeness_names_the_fields_most_often_missing(client, role_headers):
    ids = await record_month(client)
    answer = await client.get(
        "/v1/reports/completeness",
        params={**NOVEMBER, "group_by": "sector", "min_position": ids["position"]},
        headers=role_headers["auditor"],
    )
    assert answer.status_code == 200, answer.text
    figure = answer.json()
    # 21 of 21 and 12 of 18 are complete, 12 of 21 is not: 2 of 3.
    assert (figure["records"], figure["complete"], figure["rate"], figure["threshold"]) == (
        3,
        2,
        "66.67",
        "0.6",
    )
    # Both the penalty on time and the licence lack remarks; every other field one of them.
    assert [(m["column"], m["records"]) for m in figure["most_missing"]] == [
        ("BZ", 2),
        ("CF_FRDB", 1),
        ("CF_GSJZQ", 1),
        ("CF_NR_FK", 1),
        ("CF_NR_WFFF", 1),
    ]
    assert figure["most_missing"][1]["title"] == "法定代表人"
    [sector] = figure["groups"]
    assert (sector["key"], sector["records"], sector["complete"]) == ("road_transport", 3, 2)
    [below] = sector["incomplete_records"]
    assert (below["record_id"], below["fields_filled"], below["fields_total"]) == (
        ids["on_time"],
        12,
        21,
    )
    assert below["share"] == "57.14"
    assert [m["column"] for m in below["missing"]] == [
        "CF_FRDB",
        "CF_NR_FK",
        "CF_NR_WFFF",
        "CF_NR_ZKDX",
        "CF_YXQ",
        "CF_GSJZQ",
        "CF_SJLY",
        "CF_SJLYDM",
        "BZ",
    ]


async def test_the_standards_further_fields_are_published_with_the_record(client, role_headers):
    ids = await record_month(client)
    sid = (await client.post("/v1/subjects", json=enterprise(701))).json()["subject_id"]
    page = await client.get(
        f"/v1/subjects/{sid}/records",
        params={"min_position": ids["position"]},
        headers=role_headers["agency"],
    )
    assert page.status_code == 200, page.text
    by_ref = {r["source_ref"]: r for r in page.json()["records"]}
    details = by_ref["FIG-LATE"]["details"]
    assert {name: details[name] for name in EVERY_OPTIONAL_FIELD} == EVERY_OPTIONAL_FIELD
    assert by_ref["FIG-OK"]["details"]["legal_representative"] is None


async def test_a_period_that_ends_before_it_starts_is_a_problem(client, role_headers):
    asked = {"from": "2026-11-30", "to": "2026-11-01"}
    headers = role_headers["credit_office"]
    answer = await client.get("/v1/reports/timeliness", params=asked, headers=headers)
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert (answer.json()["type"].rsplit("/", 1)[1], answer.json()["rule"]) == (
        "invalid-input",
        "report-period-valid",
    )
    in_chinese = await client.get(
        "/v1/reports/completeness",
        params={"from": "2025-01-01", "to": "2026-11-30"},
        headers={**headers, "Accept-Language": "zh-CN"},
    )
    assert in_chinese.status_code == 422
    assert in_chinese.json()["detail"].startswith("报告期须为")
    not_a_date = await client.get(
        "/v1/reports/timeliness", params={"from": "2026-11", "to": "2026-11-30"}, headers=headers
    )
    assert not_a_date.status_code == 422


async def test_the_fill_rate_sums_the_fields_of_the_records_by_authority(client, role_headers):
    """填报率: the indicator fields filled over those expected, summed over the records. A's two
    penalties fill 13 of 21 (what a penalty requires, and its fine) and 21 of 21: 34 of 42,
    80.95 %; with B's licence (12 of 18) the total is 46 of 60, 76.67 %, where the average of
    the three records' shares would give 76.19 %. The subject is in two sectors: by sector each
    counts A's records, the totals once."""
    subject = enterprise(702, sectors=["road_transport", "taxi"])
    sid = (await client.post("/v1/subjects", json=subject)).json()["subject_id"]
    url = f"/v1/subjects/{sid}/events"
    for body in (
        penalty("FILL-13", decision_date="2026-11-12"),
        penalty("FILL-21", decision_date="2026-11-13", **EVERY_OPTIONAL_FIELD),
        licence("FILL-L", decision_date="2026-11-16", authority_code=OTHER_AUTHORITY_CODE),
    ):
        ack = await client.post(url, json=body)
        assert ack.status_code == 201, ack.text
    position = ack.json()["position"]
    answer = await client.get(
        "/v1/reports/completeness",
        params={**NOVEMBER, "group_by": "authority", "min_position": position},
        headers=role_headers["auditor"],
    )
    assert answer.status_code == 200, answer.text
    figure = answer.json()
    assert [
        (g["key"], g["fields_filled"], g["fields_expected"], g["fill_rate"], g["rate"])
        for g in figure["groups"]
    ] == [
        (AUTHORITY_CODE, 34, 42, "80.95", "100.00"),
        (OTHER_AUTHORITY_CODE, 12, 18, "66.67", "100.00"),
    ]
    assert (figure["fields_filled"], figure["fields_expected"], figure["fill_rate"]) == (
        46,
        60,
        "76.67",
    )
    # By sector a record counts in each of its subject's sectors, and once in the totals.
    by_sector = (
        await client.get(
            "/v1/reports/completeness",
            params={**NOVEMBER, "group_by": "sector", "authority_code": AUTHORITY_CODE},
            headers=role_headers["auditor"],
        )
    ).json()
    assert [(g["key"], g["fields_expected"], g["fill_rate"]) for g in by_sector["groups"]] == [
        ("road_transport", 42, "80.95"),
        ("taxi", 42, "80.95"),
    ]
    assert (by_sector["fields_filled"], by_sector["fields_expected"]) == (34, 42)
    # A month without a record has no rate to give.
    empty = (
        await client.get(
            "/v1/reports/completeness",
            params={"from": "2026-10-01", "to": "2026-10-31"},
            headers=role_headers["auditor"],
        )
    ).json()
    assert (empty["fields_filled"], empty["fields_expected"], empty["fill_rate"]) == (0, 0, None)
