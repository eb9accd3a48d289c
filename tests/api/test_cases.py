"""Repair and objection cases over HTTP: every branch of each lifecycle, who may take which
step, the applicant's view by case number and query code, and the effect on the record."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.builders import (
    AUTHORITY_CODE,
    OTHER_AUTHORITY_CODE,
    enterprise,
    follow_up,
    list_entry,
    penalty,
    rating,
)

pytestmark = pytest.mark.api
COMPANY = enterprise(601)
BEIJING = ZoneInfo("Asia/Shanghai")


async def setup_records(client) -> dict:
    sid = (await client.post("/v1/subjects", json=COMPANY)).json()["subject_id"]
    url = f"/v1/subjects/{sid}/events"
    ids = {}
    for name, body in {
        "rating": rating("CASE-R"),
        "old": penalty("CASE-OLD", decision_date="2026-06-01"),  # eligible from 2026-09-01
        "recent": penalty("CASE-NEW", decision_date="2026-10-15"),  # eligible from 2027-01-15
        "minor": penalty("CASE-MINOR", severity="minor", decision_date="2026-06-01"),
    }.items():
        ack = (await client.post(url, json=body)).json()
        ids[name] = ack["record_id"]
        ids["position"] = ack["position"]
    ids["subject_id"] = sid
    # The status comparisons read the credit file's read model: wait until it has the records.
    ready = await client.get(f"/v1/subjects/{sid}/status", params={"min_position": ack["position"]})
    assert ready.status_code == 200, ready.text
    return ids


def repair(record_id, **overrides):
    return {
        "subject_code": COMPANY["code"],
        "record_id": record_id,
        "corrections": ["罚款已缴纳", "已完成整改"],
        "commitment_signed": True,
        "evidence": ["缴款凭证.pdf"],
        "applicant": "郑州宏达道路运输有限公司",
        **overrides,
    }


async def progress(client, filed, position=None) -> dict:
    """The applicant's view, once the read models have the step at `position`."""
    response = await client.post(
        "/v1/cases:progress",
        json={"case_number": filed["case_number"], "query_code": filed["query_code"]},
        params={"min_position": position or filed["position"]},
    )
    assert response.status_code == 200, response.text
    return response.json()


async def status_of(client, records) -> dict:
    return (
        await client.get(
            f"/v1/subjects/{records['subject_id']}/status",
            params={"min_position": records["position"]},
        )
    ).json()


async def test_a_repair_is_refused_with_the_exact_reason_and_nothing_is_written(client, services):
    records = await setup_records(client)
    head = services.ledger.recorder.max_notification_id()
    early = await client.post("/v1/cases/repair", json=repair(records["recent"]))
    assert early.status_code == 409
    assert "2027-01-15" in early.json()["detail"]
    unpublished = await client.post("/v1/cases/repair", json=repair(records["minor"]))
    assert unpublished.status_code == 409
    assert "not published" in unpublished.json()["detail"]
    not_conduct = await client.post("/v1/cases/repair", json=repair(records["rating"]))
    assert not_conduct.status_code == 409
    unsigned = await client.post(
        "/v1/cases/repair", json=repair(records["old"], commitment_signed=False)
    )
    assert unsigned.status_code == 422
    assert services.ledger.recorder.max_notification_id() == head


async def test_the_repair_lifecycle_returned_accepted_approved_then_revoked(client, services):
    records = await setup_records(client)
    before = await status_of(client, records)
    filed = (await client.post("/v1/cases/repair", json=repair(records["old"]))).json()
    assert filed["case_number"].startswith("XF20261120")
    again = await client.post("/v1/cases/repair", json=repair(records["old"]))
    assert again.status_code == 409 and "already open" in again.json()["detail"]

    number = filed["case_number"]
    view = await progress(client, filed)
    assert (view["status"], view["due"]) == ("filed", "2026-12-04")  # 10 working days

    returned = await client.post(
        f"/v1/cases/{number}:return",
        json={"missing": ["整改报告原件"]},
        params={"min_position": filed["position"]},
    )
    assert returned.status_code == 200
    view = await progress(client, filed, returned.json()["position"])
    assert (view["status"], view["missing"], view["due"]) == ("returned", ["整改报告原件"], None)
    supplied = await client.post(
        "/v1/cases:supply",
        json={
            "case_number": number,
            "query_code": filed["query_code"],
            "evidence": ["整改报告.pdf"],
        },
    )
    assert supplied.status_code == 200
    accepted = await client.post(
        f"/v1/cases/{number}:accept", json={}, params={"min_position": filed["position"]}
    )
    assert accepted.status_code == 200
    view = await progress(client, filed, accepted.json()["position"])
    assert (view["status"], view["due"]) == ("accepted", "2026-11-25")  # 3 working days

    approved = await client.post(
        f"/v1/cases/{number}:approve",
        json={"reasons": "符合条件"},
        params={"min_position": filed["position"]},
    )
    assert approved.status_code == 200
    twice = await client.post(
        f"/v1/cases/{number}:approve",
        json={"reasons": "again"},
        params={"min_position": filed["position"]},
    )
    assert twice.status_code == 409
    view = await progress(client, filed, approved.json()["position"])
    assert [s["step"] for s in view["steps"]] == [
        "RepairApplied",
        "CaseMaterialsReturned",
        "CaseMaterialsSupplied",
        "CaseAccepted",
        "RepairApproved",
    ]
    assert (view["status"], view["outcome"]) == ("approved", "approved")

    repaired = await status_of(client, {**records, "position": approved.json()["position"]})
    grade_before = before["grades"][0]
    grade_after = repaired["grades"][0]
    assert records["old"] in [a["record_id"] for a in grade_before["adjustments"]]
    assert records["old"] not in [a["record_id"] for a in grade_after["adjustments"]]
    assert repaired["published_records"]["by_family"]["penalty"] == (
        before["published_records"]["by_family"]["penalty"] - 1
    )
    published = (await client.get(f"/v1/subjects/{records['subject_id']}/records")).json()
    assert records["old"] not in [r["record_id"] for r in published["records"]]

    revoked = await client.post(
        f"/v1/cases/{number}:revoke-repair",
        json={"reasons": "提交虚假材料"},
        params={"min_position": filed["position"]},
    )
    back = await status_of(client, {**records, "position": revoked.json()["position"]})
    assert back["grades"][0]["adjustments"] == grade_before["adjustments"]


async def test_a_repair_can_be_denied(client):
    records = await setup_records(client)
    filed = (await client.post("/v1/cases/repair", json=repair(records["old"]))).json()
    await client.post(
        f"/v1/cases/{filed['case_number']}:accept",
        json={},
        params={"min_position": filed["position"]},
    )
    denied = await client.post(
        f"/v1/cases/{filed['case_number']}:deny",
        json={"reasons": "整改未完成"},
        params={"min_position": filed["position"]},
    )
    assert denied.status_code == 200
    view = await progress(client, filed, denied.json()["position"])
    assert (view["status"], view["outcome"]) == ("denied", "denied")
    again = await client.post("/v1/cases/repair", json=repair(records["old"]))
    assert again.status_code == 201  # a closed case does not block a new application


async def test_only_the_deciding_agency_takes_steps(client, services):
    records = await setup_records(client)
    filed = (await client.post("/v1/cases/repair", json=repair(records["old"]))).json()
    other, _ = services.clients.create(
        "other-recorder",
        "recorder",
        "某局",
        OTHER_AUTHORITY_CODE,
        authority_codes=[OTHER_AUTHORITY_CODE],
        sectors=["road_transport"],
    )
    token = services.tokens.issue(other).access_token
    refused = await client.post(
        f"/v1/cases/{filed['case_number']}:accept",
        json={},
        headers={"Authorization": f"Bearer {token}"},
        params={"min_position": filed["position"]},
    )
    assert refused.status_code == 403
    unknown = await client.post("/v1/cases/XF20990101000000:accept", json={})
    assert unknown.status_code == 404


async def test_a_wrong_query_code_reads_exactly_like_an_unknown_case(client):
    records = await setup_records(client)
    filed = (await client.post("/v1/cases/repair", json=repair(records["old"]))).json()
    wrong = await client.post(
        "/v1/cases:progress", json={"case_number": filed["case_number"], "query_code": "WRONG234"}
    )
    unknown = await client.post(
        "/v1/cases:progress",
        json={"case_number": "XF20261120999999", "query_code": filed["query_code"]},
    )
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.json()["detail"] == unknown.json()["detail"]


async def test_repeated_guessing_of_query_codes_is_slowed_down(client):
    responses = [
        (
            await client.post(
                "/v1/cases:progress",
                json={"case_number": "XF20261120000001", "query_code": f"GUESS{n:03d}"},
            )
        ).status_code
        for n in range(25)
    ]
    assert responses[:20] == [404] * 20
    assert 429 in responses[20:]


async def test_an_objection_flags_the_record_then_each_outcome(client, role_headers):
    records = await setup_records(client)
    agency = role_headers["agency"]
    outcomes = {}
    for target, outcome, changes in (
        ("old", "upheld", None),
        ("recent", "corrected", {"fine_amount": "0.5"}),
        ("minor", "revoked", None),
    ):
        filed = await client.post(
            "/v1/cases/objection",
            json={
                "subject_code": COMPANY["code"],
                "record_id": records[target],
                "grounds": "wrong_content",
                "statement": "罚款金额有误",
                "applicant": "公司",
            },
            params={"min_position": records["position"]},  # the record must be projected
        )
        assert filed.status_code == 201, filed.text
        number = filed.json()["case_number"]
        listing = (
            await client.get(
                f"/v1/subjects/{records['subject_id']}/records",
                params={"min_position": filed.json()["position"], "include": "all"},
                headers=role_headers["auditor"],
            )
        ).json()["records"]
        flagged = {r["record_id"]: r["objection"] for r in listing}
        assert flagged[records[target]] == {"case_number": number, "label": "异议处理中"}
        resolved = await client.post(
            f"/v1/cases/{number}:resolve",
            json={"outcome": outcome, "reasons": "复核", "changes": changes},
            params={"min_position": filed.json()["position"]},
        )
        assert resolved.status_code == 200, resolved.text
        outcomes[target] = resolved.json()["position"]
    final = (
        await client.get(
            f"/v1/subjects/{records['subject_id']}/records",
            params={"min_position": max(outcomes.values()), "include": "all"},
            headers=role_headers["auditor"],
        )
    ).json()["records"]
    by_id = {r["record_id"]: r for r in final}
    assert all(r["objection"] is None for r in final)
    assert by_id[records["recent"]]["details"]["fine_amount"] == "0.5"
    assert by_id[records["recent"]]["corrected"] is True
    assert by_id[records["minor"]]["publication"]["state"] == "revoked"
    assert by_id[records["old"]]["publication"]["state"] == "published"
    seen_by_agency = (
        await client.get(f"/v1/subjects/{records['subject_id']}/records", headers=agency)
    ).json()["records"]
    assert records["minor"] not in [r["record_id"] for r in seen_by_agency]


async def test_overdue_cases_are_listed_for_the_credit_office(client, clock, role_headers):
    records = await setup_records(client)
    filed = (await client.post("/v1/cases/repair", json=repair(records["old"]))).json()
    none_yet = (
        await client.get(
            "/v1/cases",
            params={"overdue": "true", "min_position": filed["position"]},
            headers=role_headers["auditor"],
        )
    ).json()
    assert none_yet["cases"] == []
    clock.moment += timedelta(days=16)  # Sunday 2026-12-06: due Friday 12-04, no working day lost
    weekend = (
        await client.get("/v1/cases", params={"overdue": "true"}, headers=role_headers["auditor"])
    ).json()
    assert weekend["cases"] == []
    clock.moment += timedelta(days=2)  # Tuesday 2026-12-08: two working days over
    late = (
        await client.get(
            "/v1/cases", params={"overdue": "true"}, headers=role_headers["credit_office"]
        )
    ).json()["cases"]
    assert [(c["case_number"], c["due"]) for c in late] == [(filed["case_number"], "2026-12-04")]
    audited = await client.get(
        "/v1/cases", params={"overdue": "true"}, headers=role_headers["auditor"]
    )
    assert audited.json()["cases"] == late
    assert (late[0]["overdue"], late[0]["overdue_days"]) == (True, 2)
    agency = await client.get("/v1/cases", headers=role_headers["agency"])
    assert agency.status_code == 403
    assert date.fromisoformat(late[0]["filed_on"]) == date(2026, 11, 20)


async def test_an_approved_repair_removes_the_list_entry_resting_on_the_record(client):
    records = await setup_records(client)
    entry = await client.post(
        f"/v1/subjects/{records['subject_id']}/events",
        json={
            **list_entry("CASE-BLACK", decision_date="2026-07-01"),
            "basis_record_id": records["old"],
        },
    )
    assert entry.status_code == 201, entry.text
    listed = await status_of(client, {**records, "position": entry.json()["position"]})
    assert [m["list_type"] for m in listed["lists"]] == ["black"]
    filed = (await client.post("/v1/cases/repair", json=repair(records["old"]))).json()
    after = {"min_position": filed["position"]}
    await client.post(f"/v1/cases/{filed['case_number']}:accept", json={}, params=after)
    approved = await client.post(
        f"/v1/cases/{filed['case_number']}:approve", json={"reasons": "符合条件"}, params=after
    )
    status = await status_of(client, {**records, "position": approved.json()["position"]})
    assert status["lists"] == []
    assert status["grades"][0]["forced_by"] is None
    wrong = await client.post(
        f"/v1/subjects/{records['subject_id']}/events",
        json={**list_entry("CASE-RED", list_type="red"), "basis_record_id": records["rating"]},
    )
    assert wrong.status_code == 409


@pytest.mark.parametrize(
    ("status", "filed_on", "supplied_on", "today", "due", "overdue_days"),
    [
        # 10 working days from 2026-09-28 across National Day (10/1-10/7 off, 10/10 worked)
        ("filed", "2026-09-28", None, "2026-10-16", "2026-10-16", 0),
        ("filed", "2026-09-28", None, "2026-10-20", "2026-10-16", 2),
        # accepted: 3 working days from the day the file was complete, before Spring Festival
        # (2/14 worked, 2/15-2/23 off): 2/12 -> 2/13, 2/14, 2/24
        ("accepted", "2026-02-10", "2026-02-12", "2026-02-24", "2026-02-24", 0),
        ("accepted", "2026-02-10", "2026-02-12", "2026-02-26", "2026-02-24", 2),
    ],
)
def test_case_deadlines_count_working_days_across_holidays(
    services, status, filed_on, supplied_on, today, due, overdue_days
):
    steps = [{"step": "RepairApplied", "on": filed_on}]
    if supplied_on:
        steps.append({"step": "CaseMaterialsSupplied", "on": supplied_on})
    case = {
        "case_number": "XF-TEST",
        "kind": "repair",
        "status": status,
        "target_record_id": None,
        "authority_code": AUTHORITY_CODE,
        "filed_on": date.fromisoformat(filed_on),
        "accepted_on": None,
        "closed_on": None,
        "outcome": None,
        "missing": [],
        "steps": steps,
    }
    view = services.case_queries.view(case, today=date.fromisoformat(today))
    assert (view["due"].isoformat(), view["overdue_days"]) == (due, overdue_days)
    assert view["due_provisional"] is False


def test_a_loaded_2027_schedule_makes_a_deadline_across_new_year_definite(settings, tmp_path):
    from service.bootstrap import build_services

    case = {
        "case_number": "XF-NY",
        "kind": "repair",
        "status": "filed",
        "target_record_id": None,
        "authority_code": AUTHORITY_CODE,
        "filed_on": date(2026, 12, 28),
        "accepted_on": None,
        "closed_on": None,
        "outcome": None,
        "missing": [],
        "steps": [{"step": "RepairApplied", "on": "2026-12-28"}],
    }
    plain = build_services(settings, migrate=False)
    try:
        view = plain.case_queries.view(case, today=date(2026, 12, 28))
        # 2027 has no schedule: the statutory 元旦 (Fri 1/1) is off, the rest provisional, and
        # said so: 12/29, 12/30, 12/31, [1/1-1/3], 1/4 ... 1/8, 1/11, 1/12
        assert (view["due"].isoformat(), view["due_provisional"]) == ("2027-01-12", True)
        assert "国务院令第795号" in view["due_basis"]
        assert "no official schedule for 2027" in view["due_basis"]
    finally:
        plain.close_sync()
    schedule = tmp_path / "schedules.toml"
    schedule.write_text(
        '[[year]]\nyear = 2027\nsource = "test schedule (not an official notice)"\n'
        'holidays = ["2027-01-01", "2027-01-04"]\nadjusted_working_days = []\n',
        encoding="utf-8",
    )
    loaded = build_services(
        settings.model_copy(update={"working_day_schedules": schedule}), migrate=False
    )
    try:
        view = loaded.case_queries.view(case, today=date(2026, 12, 28))
        # 12/29, 12/30, 12/31, (1/1 and 1/4 off) 1/5 ... 10 working days -> 2027-01-13
        assert (view["due"].isoformat(), view["due_provisional"]) == ("2027-01-13", False)
    finally:
        loaded.close_sync()


def test_a_faulty_schedule_file_is_refused_naming_the_entry(tmp_path):
    from service.policy.calendars import ScheduleFileError, load_calendar

    schedule = tmp_path / "schedules.toml"
    schedule.write_text(
        '[[year]]\nyear = 2027\nsource = "s"\nholidays = ["2028-01-01"]\n'
        "adjusted_working_days = []\n",
        encoding="utf-8",
    )
    with pytest.raises(ScheduleFileError, match=r"schedules.toml: year\[0\]: .*2028-01-01"):
        load_calendar(schedule)


async def test_case_steps_right_after_their_writes_wait_for_no_read_model(client, services):
    """With the projection runner stopped, no write reaches a read model. A repair is filed on
    a penalty just recorded, returned, supplied, accepted and approved all the same, each step
    decided on the subject's stream, refusals included; a `min_position` is still accepted and
    no longer waited on. The read models, once they catch up, tell the same story."""
    from uuid import UUID

    services.runner.stop()
    sid = (await client.post("/v1/subjects", json=enterprise(602))).json()["subject_id"]
    url = f"/v1/subjects/{sid}/events"
    old = (await client.post(url, json=penalty("FRESH-OLD", decision_date="2026-06-01"))).json()
    recent = (await client.post(url, json=penalty("FRESH-NEW"))).json()
    typo = (await client.post(url, json=penalty("FRESH-TYPO", decision_date="2026-10-20"))).json()
    corrected = await client.post(
        url,
        json=follow_up(
            "RecordCorrected",
            "FRESH-FIX",
            target_record_id=typo["record_id"],
            changes={"decision_date": "2026-06-02"},
            reason="日期录入错误",
        ),
    )
    assert corrected.status_code == 201, corrected.text
    mine = {"subject_code": enterprise(602)["code"]}

    early = await client.post("/v1/cases/repair", json=repair(recent["record_id"], **mine))
    assert early.status_code == 409 and "2027-01-15" in early.json()["detail"]
    # As corrected, the typo's decision is old enough: the stream has the correction.
    eligible = await client.post("/v1/cases/repair", json=repair(typo["record_id"], **mine))
    assert eligible.status_code == 201, eligible.text
    response = await client.post("/v1/cases/repair", json=repair(old["record_id"], **mine))
    assert response.status_code == 201, response.text
    filed = response.json()
    number, code = filed["case_number"], filed["query_code"]
    again = await client.post("/v1/cases/repair", json=repair(old["record_id"], **mine))
    assert again.status_code == 409 and "already open" in again.json()["detail"]

    too_soon = await client.post(f"/v1/cases/{number}:approve", json={"reasons": "符合条件"})
    assert too_soon.status_code == 409 and "is filed" in too_soon.json()["detail"]
    returned = await client.post(f"/v1/cases/{number}:return", json={"missing": ["整改报告原件"]})
    assert returned.status_code == 200, returned.text
    supply = {"case_number": number, "evidence": ["整改报告.pdf"]}
    wrong = await client.post("/v1/cases:supply", json={**supply, "query_code": "ZZZZ2345"})
    assert wrong.status_code == 404
    supplied = await client.post("/v1/cases:supply", json={**supply, "query_code": code})
    assert supplied.status_code == 200, supplied.text
    started = time.monotonic()
    accepted = await client.post(
        f"/v1/cases/{number}:accept",
        json={},
        params={"min_position": supplied.json()["position"]},  # as clients used to pass it
    )
    assert accepted.status_code == 200, accepted.text
    assert time.monotonic() - started < services.settings.read_your_writes_timeout_seconds
    approved = await client.post(f"/v1/cases/{number}:approve", json={"reasons": "符合条件"})
    assert approved.status_code == 200, approved.text
    repaired = await client.post("/v1/cases/repair", json=repair(old["record_id"], **mine))
    assert repaired.status_code == 409 and "already repaired" in repaired.json()["detail"]

    assert services.runner.position("cases") == services.runner.position("credit_file") == 0
    subject = services.ledger.subject(UUID(sid))
    assert subject.cases[str(subject.case_numbered(number))]["status"] == "approved"
    assert subject.records[old["record_id"]]["repaired"] is True

    services.runner.catch_up()
    view = await progress(client, filed, approved.json()["position"])
    assert (view["status"], view["outcome"]) == ("approved", "approved")
    assert [s["step"] for s in view["steps"]] == [
        "RepairApplied",
        "CaseMaterialsReturned",
        "CaseMaterialsSupplied",
        "CaseAccepted",
        "RepairApproved",
    ]


async def test_a_black_list_entry_lapses_with_its_repaired_penalty_everywhere(
    client, clock, auditor
):
    """信用修复管理办法 art. 3: the repair ends publication, sharing and use of the penalty and
    lifts the listing that rests on it: the status, the record list and the published counts
    all lose the entry, which shows `lapsed`; a status of the day before still has it."""
    now = clock.moment
    clock.moment = datetime(2026, 7, 1, 10, tzinfo=BEIJING)
    sid = (await client.post("/v1/subjects", json=COMPANY)).json()["subject_id"]
    url = f"/v1/subjects/{sid}/events"
    basis = (await client.post(url, json=penalty("LAPSE-P", decision_date="2026-06-01"))).json()
    entry = await client.post(
        url,
        json={
            **list_entry("LAPSE-BLACK", decision_date="2026-07-01"),
            "basis_record_id": basis["record_id"],
        },
    )
    assert entry.status_code == 201, entry.text
    clock.moment = now  # 2026-11-20: the minimum period of a general penalty is over
    filed = (await client.post("/v1/cases/repair", json=repair(basis["record_id"]))).json()
    after = {"min_position": filed["position"]}
    await client.post(f"/v1/cases/{filed['case_number']}:accept", json={}, params=after)
    approved = await client.post(
        f"/v1/cases/{filed['case_number']}:approve", json={"reasons": "符合条件"}, params=after
    )
    assert approved.is_success, approved.text
    read = {"min_position": approved.json()["position"]}

    status = (await client.get(f"/v1/subjects/{sid}/status", params=read)).json()
    assert status["lists"] == []
    assert status["published_records"] == {"total": 0, "by_family": {}}
    page = (
        await client.get(
            url.replace("events", "records"), params={"include": "all", **read}, headers=auditor
        )
    ).json()
    states = {r["source_ref"]: r["publication"]["state"] for r in page["records"]}
    assert states == {"LAPSE-P": "repaired", "LAPSE-BLACK": "lapsed"}
    shown = (await client.get(url.replace("events", "records"), params=read)).json()
    assert shown["records"] == []

    for before in ({"as_of": "2026-11-19"}, {"valid_at": "2026-11-19"}):
        then = (await client.get(f"/v1/subjects/{sid}/status", params=before)).json()
        assert [m["list_type"] for m in then["lists"]] == ["black"], before
        assert then["published_records"]["by_family"] == {"penalty": 1, "list": 1}, before
