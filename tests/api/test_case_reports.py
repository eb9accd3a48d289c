"""The credit office's case figures on a small hand-built set of cases: filed, decided, decided
within their deadlines, overdue now, and the median working days to a decision, per deciding
authority; who sees which authorities'; and a period that is no period.

The set (2026; no holiday between 2 November and 2 December, so working days are weekdays;
1-7 October are holidays and Saturday 10 October a working day), today Wednesday 2 December:

case, deciding authority, filed, steps, deadline (policy: 3 wd decision, 10 wd case, 20 days
objection), outcome:

- O2 objection, A, Mon 10-12, open: 10-12 + 20 days = 11-01; overdue 31 days today.
- R3 repair, A, Tue 10-20, accepted 10-21: min(10-20 + 3 wd = 10-23, 10-20 + 10 wd = 11-03) =
  10-23; approved 11-04, late, 11 wd.
- R1 repair, A, Mon 11-02, accepted 11-03: min(11-05, 11-16) = 11-05; approved 11-05, 3 wd.
- R2 repair, A, Mon 11-02, accepted 11-09: 11-05; denied 11-10, late, 6 wd.
- O1 objection, B, Tue 11-03: 11-03 + 20 days = 11-23; upheld 11-20, in time, 13 wd.
- R4 repair, B, Mon 11-16, not accepted: 11-16 + 10 wd = 11-30; overdue 2 wd (12-01, 12-02).
- R5 repair, A, Tue 12-01, accepted 12-01: 12-04; open, not yet due: no row.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from domain.report_periods import ReportPeriod
from service.access.permissions import RecordingPermit
from service.commanding.cases import ObjectionApplication, RepairApplication
from service.commanding.commands import RegisterSubject, record_command_adapter
from service.reporting.cases import CaseReports
from tests.builders import AUTHORITY_CODE, OTHER_AUTHORITY_CODE, enterprise, penalty

pytestmark = pytest.mark.api
A, B = AUTHORITY_CODE, OTHER_AUTHORITY_CODE
COMPANY = enterprise(811)
PERMIT = RecordingPermit(frozenset({A, B}), frozenset({"road_transport"}))
NOVEMBER = {"month": "2026-11"}


def on(clock, day: str) -> None:
    clock.moment = datetime.combine(date.fromisoformat(day), time(4), tzinfo=UTC)  # 12:00 北京


def build_cases(services, clock) -> dict[str, str]:
    """The set above; the case numbers by name."""
    on(clock, "2026-10-09")
    subject_id = services.files.register(RegisterSubject(**COMPANY), recorded_by="t").subject_id
    record = {}
    for name, authority in (
        ("R1", A), ("R2", A), ("R3", A), ("R4", B), ("R5", A), ("O1", B), ("O2", A),
    ):  # fmt: skip
        body = penalty(f"报告-{name}", decision_date="2026-06-01", authority_code=authority)
        ack = services.files.append(
            subject_id, record_command_adapter.validate_python(body), recorded_by="t"
        )
        record[name] = ack.record_id
    number: dict[str, str] = {}

    def repair(name: str) -> None:
        number[name] = services.cases.apply_for_repair(
            RepairApplication(
                subject_code=COMPANY["code"],
                record_id=record[name],
                corrections=["罚款已缴纳"],
                commitment_signed=True,
                applicant=COMPANY["name"],
            )
        ).case_number

    def objection(name: str) -> None:
        number[name] = services.cases.file_objection(
            ObjectionApplication(
                subject_code=COMPANY["code"],
                record_id=record[name],
                grounds="wrong_content",
                statement="罚款金额有误",
                applicant=COMPANY["name"],
            )
        ).case_number

    def step(name: str, action: str, **fields) -> None:
        services.cases.take_step(number[name], action, permit=PERMIT, fields=fields)

    for day, act in (
        ("2026-10-12", lambda: objection("O2")),
        ("2026-10-20", lambda: repair("R3")),
        ("2026-10-21", lambda: step("R3", "accept")),
        ("2026-11-02", lambda: repair("R1")),
        ("2026-11-02", lambda: repair("R2")),
        ("2026-11-03", lambda: step("R1", "accept")),
        ("2026-11-03", lambda: objection("O1")),
        ("2026-11-04", lambda: step("R3", "approve", reasons="已整改")),
        ("2026-11-05", lambda: step("R1", "approve", reasons="已整改")),
        ("2026-11-09", lambda: step("R2", "accept")),
        ("2026-11-10", lambda: step("R2", "deny", reasons="整改未完成")),
        ("2026-11-16", lambda: repair("R4")),
        ("2026-11-20", lambda: step("O1", "resolve", outcome="upheld", reasons="记录无误")),
        ("2026-12-01", lambda: repair("R5")),
        ("2026-12-01", lambda: step("R5", "accept")),
    ):
        on(clock, day)
        act()
    on(clock, "2026-12-02")
    services.runner.catch_up()
    return number


def counts(kind, filed, decided, within, overdue, median) -> dict:
    return {
        "kind": kind,
        "filed": filed,
        "decided": decided,
        "decided_within_deadline": within,
        "overdue_now": overdue,
        "median_working_days_to_decision": median,
    }


A_COUNTS = [
    counts("repair", 2, 3, 1, 0, 6.0),  # R1, R2 filed; R1, R2, R3 decided: 3, 6, 11 wd
    counts("objection", 0, 0, 0, 1, None),  # O2 overdue
    counts("all", 2, 3, 1, 1, 6.0),
]
B_COUNTS = [
    counts("repair", 1, 0, 0, 1, None),  # R4 filed and overdue
    counts("objection", 1, 1, 1, 0, 13.0),  # O1
    counts("all", 2, 1, 1, 1, 13.0),
]
TOTAL = [
    counts("repair", 3, 3, 1, 1, 6.0),
    counts("objection", 1, 1, 1, 1, 13.0),
    counts("all", 4, 4, 2, 2, 8.5),  # median of 3, 6, 11, 13
]


async def test_the_credit_office_sees_every_authoritys_case_figures(
    anonymous, services, clock, role_headers
):
    number = build_cases(services, clock)
    answer = await anonymous.get(
        "/v1/reports/cases", params=NOVEMBER, headers=role_headers["credit_office"]
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["period"] == {"first": "2026-11-01", "last": "2026-11-30"}
    assert report["counted_on"] == "2026-12-02"
    assert report["total"] == TOTAL
    assert [(a["authority_code"], a["counts"]) for a in report["authorities"]] == [
        (A, A_COUNTS),
        (B, B_COUNTS),
    ]
    rows = {row["case_number"]: row for row in report["rows"]}
    assert [row["case_number"] for row in report["rows"]] == [
        number[name] for name in ("O2", "R3", "R1", "R2", "O1", "R4")
    ]  # by filing day; R5 is neither in the period nor overdue
    view = {
        name: (
            rows[number[name]]["due"],
            rows[number[name]]["decided_on"],
            rows[number[name]]["within_deadline"],
            rows[number[name]]["working_days_to_decision"],
            rows[number[name]]["overdue_days"],
        )
        for name in ("O2", "R3", "R1", "R2", "O1", "R4")
    }
    assert view == {
        "O2": ("2026-11-01", None, None, None, 31),
        "R3": ("2026-10-23", "2026-11-04", False, 11, 0),
        "R1": ("2026-11-05", "2026-11-05", True, 3, 0),
        "R2": ("2026-11-05", "2026-11-10", False, 6, 0),
        "O1": ("2026-11-23", "2026-11-20", True, 13, 0),
        "R4": ("2026-11-30", None, None, None, 2),
    }
    assert (rows[number["R2"]]["outcome"], rows[number["O1"]]["outcome"]) == ("denied", "upheld")
    assert (rows[number["R3"]]["filed_in_period"], rows[number["R3"]]["decided_in_period"]) == (
        False,
        True,
    )


async def test_a_period_from_one_day_to_another_counts_what_fell_in_it(
    anonymous, services, clock, role_headers
):
    build_cases(services, clock)
    answer = await anonymous.get(
        "/v1/reports/cases",
        params={"from": "2026-10-01", "to": "2026-10-31"},
        headers=role_headers["auditor"],
    )
    assert answer.status_code == 200, answer.text
    # Filed in October: R3 and O2; nothing decided; R4 and O2 overdue today, whenever filed.
    assert answer.json()["total"] == [
        counts("repair", 1, 0, 0, 1, None),
        counts("objection", 1, 0, 0, 1, None),
        counts("all", 2, 0, 0, 2, None),
    ]


async def test_a_recording_agency_sees_only_its_own_authorities_figures(anonymous, services, clock):
    build_cases(services, clock)
    client, _ = services.clients.create(
        "test-recorder-b", "recorder", "郑州市交通运输局", B, authority_codes=[B],
        sectors=["road_transport"],
    )  # fmt: skip
    headers = {"Authorization": f"Bearer {services.tokens.issue(client).access_token}"}
    report = (await anonymous.get("/v1/reports/cases", params=NOVEMBER, headers=headers)).json()
    assert [a["authority_code"] for a in report["authorities"]] == [B]
    assert report["total"] == B_COUNTS
    assert {row["authority_code"] for row in report["rows"]} == {B}


async def test_a_querying_agency_gets_no_case_figures(anonymous, services, clock, role_headers):
    answer = await anonymous.get(
        "/v1/reports/cases", params=NOVEMBER, headers=role_headers["agency"]
    )
    assert answer.status_code == 403
    assert answer.json()["type"].endswith("/insufficient-scope")


@pytest.mark.parametrize(
    "params",
    [
        {"month": "2026-13"},
        {"month": "2026-00"},
        {"month": "2026-11", "from": "2026-11-01", "to": "2026-11-30"},
        {"from": "2026-11-01"},
        {"from": "2026-11-30", "to": "2026-11-01"},
        {"from": "2025-01-01", "to": "2026-01-02"},
    ],
)
async def test_a_period_that_is_no_period_is_refused_in_the_callers_language(
    anonymous, role_headers, params
):
    answer = await anonymous.get(
        "/v1/reports/cases",
        params=params,
        headers={**role_headers["credit_office"], "Accept-Language": "zh-CN"},
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["rule"] == "report-period-valid"
    assert problem["detail"].startswith("报告期须为一个月")


async def test_a_repair_approved_then_revoked_counts_as_decided_on_its_approval(services, clock):
    """A repair approved and then revoked (false materials) was decided on its approval day,
    within the deadline it stood under then, though its case closed on the revocation."""
    number = build_cases(services, clock)
    on(clock, "2026-12-02")
    services.cases.take_step(
        number["R1"], "revoke-repair", permit=PERMIT, fields={"reasons": "虚假材料"}
    )
    services.runner.catch_up()
    reports = CaseReports(services.write_engine, services.case_queries)
    figures = reports.figures(ReportPeriod.month("2026-11"), None)
    row = next(r for r in figures.rows if r.case_number == number["R1"])
    assert (row.status, row.outcome, row.decided_on, row.within_deadline) == (
        "revoked",
        "approved",
        date(2026, 11, 5),
        True,
    )
    assert figures.total[0].decided_within_deadline == 1
