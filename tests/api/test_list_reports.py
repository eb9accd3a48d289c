"""The credit office's list figures, 联合奖惩成效清单 and 严重违法超限超载运输失信当事人名单, on a
small hand-built file, for November 2026 (today 2 December):

Subjects: S1 enterprise 410105 (road_transport); S2 enterprise 410102 (road_transport,
highway_construction); S3 enterprise 410502 (road_transport, overload_control); S4 individual
410105 (road_transport). Authority A decides everything but E6 and J2 (authority B).

- E1 S1 black 10-15 to 2029: on the list at the end; its basis names no overload list.
- E2 S2 black 11-10, its basis naming 严重违法失信超限超载运输当事人名单: entered; at the end.
- E3 S3 black 11-12 on C3 (a penalty for 超限运输 of 06-01): entered; C3 repaired 11-25, so it
  lapsed that day: exited.
- E4 S1 red 09-01 to 2027: in force at the end, but S1 is on the black list: not counted.
- E5 S4 red 06-01 to 11-16: expired 11-16: exited.
- E6 S4 watch 11-05 (B), no end: entered; at the end.
- E7 S2 watch 08-01, exited 11-20: exited.
- E8 S1 watch 11-18, revoked 11-19: void, counted nowhere.
- Joint measures: J3 S1 punishment 10-30 (October); J2 S4 reward 11-03 (B); J1 S2 punishment
  11-12; J4 S2 punishment 11-20, revoked 11-21.

So black: 2 at the end (S1, S2), entries 2 (E2, E3), exits 1 (E3); red: 0, 0, 1 (E5); watch:
1 (S4), 1 (E6), 1 (E7).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from service.access.permissions import RecordingPermit
from service.commanding.cases import RepairApplication
from service.commanding.commands import RegisterSubject, record_command_adapter
from tests.builders import (
    AUTHORITY_CODE,
    OTHER_AUTHORITY_CODE,
    enterprise,
    follow_up,
    individual,
    list_entry,
    penalty,
)

pytestmark = pytest.mark.api
A, B = AUTHORITY_CODE, OTHER_AUTHORITY_CODE
PERMIT = RecordingPermit(
    frozenset({A, B}), frozenset({"road_transport", "highway_construction", "overload_control"})
)
NOVEMBER = {"month": "2026-11"}
S3 = enterprise(903, region_code="410502", sectors=["road_transport", "overload_control"])


def on(clock, day: str) -> None:
    clock.moment = datetime.combine(date.fromisoformat(day), time(4), tzinfo=UTC)  # 12:00 北京


def measure(ref: str, day: str, kind: str, authority: str = A) -> dict:
    return {
        "type": "JointMeasureApplied",
        "decision_date": day,
        "authority_name": "郑州市交通运输综合执法支队",
        "authority_code": authority,
        "source_ref": ref,
        "measure_type": kind,
        "measure": "限制参与公路工程招标投标" if kind == "punishment" else "行政审批绿色通道",
        "applying_agency": "河南省公共资源交易中心",
        "matter": "依据严重失信主体名单限制其投标资格",
    }


def build_file(services, clock) -> dict:
    """The file above; subject and record ids by name."""
    ids: dict = {}

    def record(subject: str, name: str, body: dict) -> None:
        ack = services.files.append(
            ids[subject], record_command_adapter.validate_python(body), recorded_by="t"
        )
        ids[name] = ack.record_id

    on(clock, "2026-06-01")
    for name, body in (
        ("S1", enterprise(901)),
        ("S2", enterprise(902, region_code="410102",
                          sectors=["road_transport", "highway_construction"])),
        ("S3", S3),
        ("S4", individual(904)),
    ):  # fmt: skip
        ids[name] = services.files.register(RegisterSubject(**body), recorded_by="t").subject_id
    steps = [
        ("2026-06-01", "S4", "E5", list_entry("红-5", list_type="red", decision_date="2026-06-01",
                                             planned_end="2026-11-16")),
        ("2026-06-01", "S3", "C3", penalty("罚-3", decision_date="2026-06-01")),
        ("2026-08-01", "S2", "E7", list_entry("关-7", list_type="watch",
                                             decision_date="2026-08-01", planned_end=None)),
        ("2026-09-01", "S1", "E4", list_entry("红-4", list_type="red", decision_date="2026-09-01",
                                             planned_end="2027-09-01")),
        ("2026-10-15", "S1", "E1", {**list_entry("黑-1", decision_date="2026-10-15",
                                                 planned_end="2029-10-15"),
                                    "basis": "拖欠农民工工资，列入严重失信主体名单"}),
        ("2026-10-30", "S1", "J3", measure("联-3", "2026-10-30", "punishment")),
        ("2026-11-03", "S4", "J2", measure("联-2", "2026-11-03", "reward", B)),
        ("2026-11-05", "S4", "E6", {**list_entry("关-6", list_type="watch",
                                                 decision_date="2026-11-05", planned_end=None),
                                    "authority_code": B}),
        ("2026-11-10", "S2", "E2", {**list_entry("黑-2", decision_date="2026-11-10",
                                                 planned_end="2029-11-10"),
                                    "basis": "因车辆严重违法超限超载运输，经认定列入"
                                             "严重违法失信超限超载运输当事人名单"}),
        ("2026-11-12", "S3", "E3", {**list_entry("黑-3", decision_date="2026-11-12",
                                                 planned_end="2029-11-12"),
                                    "basis": "列入严重失信主体名单"}),
        ("2026-11-12", "S2", "J1", measure("联-1", "2026-11-12", "punishment")),
        ("2026-11-18", "S1", "E8", list_entry("关-8", list_type="watch",
                                             decision_date="2026-11-18", planned_end=None)),
    ]  # fmt: skip
    for day, subject, name, body in steps:
        on(clock, day)
        if name == "E3":
            body = {**body, "basis_record_id": str(ids["C3"])}
        record(subject, name, body)
    on(clock, "2026-11-19")
    revoke_e8 = follow_up(
        "RecordRevoked", "撤-8", decision_date="2026-11-19", target_record_id=str(ids["E8"]),
        reason="认定有误",
    )  # fmt: skip
    record("S1", "E8-revoked", revoke_e8)
    on(clock, "2026-11-20")
    exit_e7 = follow_up(
        "ListExited", "移-7", decision_date="2026-11-20", entry_record_id=str(ids["E7"]),
        reason="整改到位",
    )  # fmt: skip
    record("S2", "E7-exit", exit_e7)
    record("S2", "J4", measure("联-4", "2026-11-20", "punishment"))
    case = services.cases.apply_for_repair(
        RepairApplication(
            subject_code=S3["code"],
            record_id=ids["C3"],
            corrections=["罚款已缴纳"],
            commitment_signed=True,
            applicant=S3["name"],
        )
    ).case_number
    services.cases.take_step(case, "accept", permit=PERMIT, fields={})
    on(clock, "2026-11-21")
    revoke_j4 = follow_up(
        "RecordRevoked", "撤-4", decision_date="2026-11-21", target_record_id=str(ids["J4"]),
        reason="录入错误",
    )  # fmt: skip
    record("S2", "J4-revoked", revoke_j4)
    on(clock, "2026-11-25")
    services.cases.take_step(case, "approve", permit=PERMIT, fields={"reasons": "已整改"})
    on(clock, "2026-12-02")
    services.runner.catch_up()
    return ids


def figure(report: dict, list_type: str) -> dict:
    return next(f for f in report["lists"] if f["list_type"] == list_type)


def breakdown(key: str, at_end: int, entries: int, exits: int) -> dict:
    return {"key": key, "on_list_at_end": at_end, "entries": entries, "exits": exits}


async def test_list_counts_are_subjects_at_the_end_and_entries_and_exits_in_the_period(
    anonymous, services, clock, role_headers
):
    build_file(services, clock)
    answer = await anonymous.get(
        "/v1/reports/lists", params=NOVEMBER, headers=role_headers["credit_office"]
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["region_level"] == "city"
    assert [
        (f["list_type"], f["on_list_at_end"], f["entries"], f["exits"]) for f in report["lists"]
    ] == [("red", 0, 0, 1), ("black", 2, 2, 1), ("watch", 1, 1, 1)]
    black = figure(report, "black")
    assert black["by_sector"] == [
        breakdown("highway_construction", 1, 1, 0),  # S2
        breakdown("overload_control", 0, 1, 1),  # S3
        breakdown("road_transport", 2, 2, 1),  # S1, S2 at the end; S2, S3 in and S3 out
    ]
    assert black["by_region"] == [breakdown("410100", 2, 1, 0), breakdown("410500", 0, 1, 1)]
    assert black["members"] is None  # rows only when asked for


async def test_the_rows_behind_the_list_figures_say_how_each_entry_left(
    anonymous, services, clock, role_headers
):
    ids = build_file(services, clock)
    answer = await anonymous.get(
        "/v1/reports/lists",
        params={**NOVEMBER, "rows": "true", "region_level": "province"},
        headers=role_headers["credit_office"],
    )
    report = answer.json()
    black, red, watch = figure(report, "black"), figure(report, "red"), figure(report, "watch")
    assert black["by_region"] == [breakdown("410000", 2, 2, 1)]
    assert [r["record_id"] for r in black["members"]] == [str(ids["E1"]), str(ids["E2"])]
    assert [r["record_id"] for r in black["entered"]] == [str(ids["E2"]), str(ids["E3"])]
    assert [(r["record_id"], r["left_on"], r["how_left"]) for r in black["exited"]] == [
        (str(ids["E3"]), "2026-11-25", "lapsed")
    ]
    assert [(r["record_id"], r["left_on"], r["how_left"]) for r in red["exited"]] == [
        (str(ids["E5"]), "2026-11-16", "expired")
    ]
    assert red["members"] == []  # S1's red entry is suspended by its black one
    assert [(r["record_id"], r["left_on"], r["how_left"]) for r in watch["exited"]] == [
        (str(ids["E7"]), "2026-11-20", "exited")
    ]
    assert [r["record_id"] for r in watch["entered"]] == [str(ids["E6"])]  # E8 was revoked
    individual_row = watch["members"][0]["subject"]
    assert individual_row["code_masked"] != individual(904)["code"]
    assert individual_row["code_masked"].endswith(individual(904)["code"][-4:])
    logged = services.access_log.for_subject(ids["S3"], after_seq=None, limit=10)
    assert [(e["action"], e["returned"]["records"]) for e in logged] == [
        ("report_lists", [str(ids["E3"])])
    ]


async def test_a_recording_agency_counts_the_entries_its_authorities_decided(
    anonymous, services, clock
):
    build_file(services, clock)
    client, _ = services.clients.create(
        "test-recorder-b", "recorder", "郑州市交通运输局", B, authority_codes=[B],
        sectors=["road_transport"],
    )  # fmt: skip
    headers = {"Authorization": f"Bearer {services.tokens.issue(client).access_token}"}
    report = (await anonymous.get("/v1/reports/lists", params=NOVEMBER, headers=headers)).json()
    assert [
        (f["list_type"], f["on_list_at_end"], f["entries"], f["exits"]) for f in report["lists"]
    ] == [("red", 0, 0, 0), ("black", 0, 0, 0), ("watch", 1, 1, 0)]
    measures = (
        await anonymous.get("/v1/reports/joint-measures", params=NOVEMBER, headers=headers)
    ).json()
    assert (measures["rewards"], measures["punishments"], len(measures["rows"])) == (1, 0, 1)


async def test_the_monthly_joint_measure_list_holds_every_measure_applied_in_the_month(
    anonymous, services, clock, role_headers
):
    ids = build_file(services, clock)
    answer = await anonymous.get(
        "/v1/reports/joint-measures",
        params=NOVEMBER,
        headers={**role_headers["credit_office"], "X-Purpose": "%E6%9C%88%E6%8A%A5"},  # 月报
    )
    assert answer.status_code == 200, answer.text
    listed = answer.json()
    assert (listed["rewards"], listed["punishments"]) == (1, 1)  # J4 revoked, J3 in October
    assert [
        (r["record_id"], r["subject"]["subject_id"], r["measure_type"], r["applied_on"])
        for r in listed["rows"]
    ] == [
        (str(ids["J2"]), str(ids["S4"]), "reward", "2026-11-03"),
        (str(ids["J1"]), str(ids["S2"]), "punishment", "2026-11-12"),
    ]
    first = listed["rows"][1]
    assert (first["measure"], first["applying_agency"], first["matter"]) == (
        "限制参与公路工程招标投标",
        "河南省公共资源交易中心",
        "依据严重失信主体名单限制其投标资格",
    )
    logged = services.access_log.for_subject(ids["S2"], after_seq=None, limit=10)
    assert [(e["action"], e["purpose"]) for e in logged] == [("report_joint_measures", "月报")]


async def test_the_overload_list_is_the_black_entries_on_overload_conduct_or_naming_the_list(
    anonymous, services, clock, role_headers
):
    ids = build_file(services, clock)
    answer = await anonymous.get(
        "/v1/reports/overload-dishonest", params=NOVEMBER, headers=role_headers["auditor"]
    )
    assert answer.status_code == 200, answer.text
    listed = answer.json()

    def named(rows):
        return [(r["entry"]["record_id"], r["identified_by"], r["basis_conduct"]) for r in rows]

    # E1's basis names no overload list and rests on no record: not on it.
    assert named(listed["entered"]) == [
        (str(ids["E2"]), "list_name", None),
        (str(ids["E3"]), "basis_conduct", "超限运输"),
    ]
    assert named(listed["exited"]) == [(str(ids["E3"]), "basis_conduct", "超限运输")]
    assert named(listed["on_list_at_end"]) == [(str(ids["E2"]), "list_name", None)]
    october = await anonymous.get(
        "/v1/reports/overload-dishonest",
        params={"month": "2026-10"},
        headers=role_headers["auditor"],
    )
    assert october.json()["entered"] == [] and october.json()["on_list_at_end"] == []


async def test_monthly_lists_take_a_month_only(anonymous, role_headers):
    answer = await anonymous.get(
        "/v1/reports/joint-measures",
        params={"month": "26-11"},
        headers=role_headers["credit_office"],
    )
    assert answer.status_code == 422
