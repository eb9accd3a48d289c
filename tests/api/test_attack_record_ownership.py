"""Attacks on records that belong to another authority (谁认定、谁修复), replayed on SQLite and
PostgreSQL: revoking, correcting, closing or deciding on authority A's records as authority B,
over HTTP, in a batch (the import's write path) and through case steps; corrections that would
slip a future date in; the access-log right; tokens narrowed to credit:read."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import httpx
import pytest
from eventsourcing.domain import Snapshot
from sqlalchemy import func, select

from service.access.permissions import RecordingPermit
from service.access.tables import access_log
from service.commanding.commands import RegisterSubject, record_command_adapter
from service.commanding.credit_files import BatchItem
from tests.builders import (
    AUTHORITY_CODE,
    OTHER_AUTHORITY_CODE,
    enterprise,
    follow_up,
    licence,
    list_entry,
    penalty,
    penalty_file,
    penalty_file_row,
    rating,
)

pytestmark = pytest.mark.api
PROBLEMS = "https://credit-transport.example/problems/"
COMPANY = enterprise(1201)
SECTORS = ["road_transport"]


def bearer(services, client_id: str, codes: list[str], scope: str | None = None) -> dict:
    """A recorder client of its own holding exactly `codes` (the shared `recorder` fixture
    holds both test authorities), and a bearer header for a token of `scope`."""
    client, _ = services.clients.create(
        client_id, "recorder", "某交通运输局", codes[0], authority_codes=codes, sectors=SECTORS
    )
    return {"Authorization": f"Bearer {services.tokens.issue(client, scope).access_token}"}


@pytest.fixture
def authority_a(services) -> dict:
    return bearer(services, "recorder-a", [AUTHORITY_CODE])


@pytest.fixture
def authority_b(services) -> dict:
    return bearer(services, "recorder-b", [OTHER_AUTHORITY_CODE])


def as_b(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "authority_code": OTHER_AUTHORITY_CODE}


async def a_file_of_authority_a(http: httpx.AsyncClient, headers: dict) -> dict[str, Any]:
    """A subject with A's serious penalty, A's black-list entry resting on it, A's commitment
    and A's licence; the status shows the list and the published records."""
    subject = await http.post("/v1/subjects", json=COMPANY, headers=headers)
    assert subject.status_code == 201, subject.text
    sid = subject.json()["subject_id"]
    ids: dict[str, Any] = {"subject_id": sid}

    async def record(name: str, body: dict) -> None:
        answer = await http.post(f"/v1/subjects/{sid}/events", json=body, headers=headers)
        assert answer.status_code == 201, answer.text
        ids[name] = answer.json()["record_id"]
        ids["position"] = answer.json()["position"]

    await record("penalty", penalty("A-P", severity="serious", decision_date="2026-09-01"))
    await record("entry", {**list_entry("A-BLACK"), "basis_record_id": ids["penalty"]})
    await record(
        "commitment",
        follow_up(
            "CommitmentMade",
            "A-C",
            commitment_type="deficiency_tolerant",
            content="承诺补齐材料",
            due_date="2026-12-31",
        ),
    )
    await record("licence", licence("A-L"))
    return ids


def attacks(ids: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each write B tries on A's records, as B (authority code B) would send it."""
    return {
        "revoke-penalty": follow_up(
            "RecordRevoked", "B-1", target_record_id=ids["penalty"], reason="撤销"
        ),
        "correct-penalty": follow_up(
            "RecordCorrected",
            "B-2",
            target_record_id=ids["penalty"],
            changes={"severity": "minor"},
            reason="更正",
        ),
        "exit-black-list": follow_up(
            "ListExited", "B-3", entry_record_id=ids["entry"], reason="移出"
        ),
        "fulfil-commitment": follow_up(
            "CommitmentFulfilled", "B-4", commitment_record_id=ids["commitment"]
        ),
        "breach-commitment": follow_up(
            "CommitmentBreached",
            "B-5",
            commitment_record_id=ids["commitment"],
            severity="general",
            description="未履行承诺",
        ),
        "revoke-licence": follow_up(
            "LicenceRevoked", "B-6", licence_record_id=ids["licence"], reason="撤销许可"
        ),
    }


TARGETS = {
    "revoke-penalty": ("penalty", "revoke"),
    "correct-penalty": ("penalty", "correct"),
    "exit-black-list": ("entry", "close"),
    "fulfil-commitment": ("commitment", "close"),
    "breach-commitment": ("commitment", "close"),
    "revoke-licence": ("licence", "revoke"),
}


def written(services, sid: str) -> tuple[int, int, int]:
    """The log's head, the number of events in it and the subject's stream version."""
    head = services.ledger.recorder.max_notification_id() or 0
    return (
        head,
        services.ledger.count_events(up_to=head),
        services.ledger.subject(UUID(sid)).version,
    )


async def status(http: httpx.AsyncClient, ids: dict, headers: dict, position: int) -> dict:
    answer = await http.get(
        f"/v1/subjects/{ids['subject_id']}/status",
        params={"min_position": position},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def assert_not_owner(answer: httpx.Response, record_id: str, action: str) -> None:
    assert answer.status_code == 403, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["type"] == PROBLEMS + "not-record-owner"
    assert problem["owner_authority_code"] == AUTHORITY_CODE
    assert problem["detail"].startswith(f"record {record_id} (")
    owned = f"belongs to authority {AUTHORITY_CODE}; only {AUTHORITY_CODE} may {action} it"
    assert problem["detail"].endswith(owned)


# Records ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("attack", list(TARGETS))
async def test_authority_b_cannot_act_on_authority_as_records_and_a_still_can(
    anonymous, services, authority_a, authority_b, attack
):
    ids = await a_file_of_authority_a(anonymous, authority_a)
    before = await status(anonymous, ids, authority_a, ids["position"])
    assert "black" in [m["list_type"] for m in before["lists"]]
    assert before["published_records"]["total"] > 0
    counts = written(services, ids["subject_id"])
    url = f"/v1/subjects/{ids['subject_id']}/events"
    body = attacks(ids)[attack]
    target, action = TARGETS[attack]

    refused = await anonymous.post(url, json=as_b(body), headers=authority_b)
    assert_not_owner(refused, ids[target], action)
    # B cannot send it under A's code either: B does not record for A.
    in_as_name = await anonymous.post(url, json=body, headers=authority_b)
    assert in_as_name.status_code == 403
    assert in_as_name.json()["type"] == PROBLEMS + "forbidden"
    assert written(services, ids["subject_id"]) == counts
    assert await status(anonymous, ids, authority_a, ids["position"]) == before

    allowed = await anonymous.post(url, json=body, headers=authority_a)
    assert allowed.status_code == 201, allowed.text
    assert written(services, ids["subject_id"])[2] == counts[2] + 1


async def test_a_client_holding_both_codes_acts_on_a_record_only_under_its_owners_code(
    client, services, authority_a
):
    """The shared recorder holds A and B: a revocation of A's penalty must still say A."""
    ids = await a_file_of_authority_a(client, authority_a)
    counts = written(services, ids["subject_id"])
    revoke = attacks(ids)["revoke-penalty"]
    url = f"/v1/subjects/{ids['subject_id']}/events"
    refused = await client.post(url, json=as_b(revoke))
    assert_not_owner(refused, ids["penalty"], "revoke")
    assert written(services, ids["subject_id"]) == counts
    assert (await client.post(url, json=revoke)).status_code == 201


async def test_a_list_entry_may_rest_on_another_authoritys_record(
    anonymous, services, authority_a, authority_b
):
    """Citing A's penalty as the basis changes nothing in it: B may list on it, and the
    entry is then B's to close, not A's."""
    ids = await a_file_of_authority_a(anonymous, authority_a)
    url = f"/v1/subjects/{ids['subject_id']}/events"
    watch = {**as_b(list_entry("B-WATCH", list_type="watch")), "basis_record_id": ids["penalty"]}
    entered = await anonymous.post(url, json=watch, headers=authority_b)
    assert entered.status_code == 201, entered.text
    exit_ = follow_up(
        "ListExited", "A-EXIT", entry_record_id=entered.json()["record_id"], reason="x"
    )
    counts = written(services, ids["subject_id"])
    by_a = await anonymous.post(url, json=exit_, headers=authority_a)
    assert by_a.status_code == 403
    assert by_a.json()["type"] == PROBLEMS + "not-record-owner"
    assert by_a.json()["owner_authority_code"] == OTHER_AUTHORITY_CODE
    assert written(services, ids["subject_id"]) == counts
    assert (await anonymous.post(url, json=as_b(exit_), headers=authority_b)).status_code == 201


async def test_a_batch_row_acting_on_another_authoritys_record_is_rejected_with_its_line(
    anonymous, services, authority_a
):
    """CreditFiles.append_batch is the import's (and the demo's) write path. The import
    files' national columns (CF_*, XK_*) carry no follow-ups, so a batch is where such a row
    can be sent."""
    ids = await a_file_of_authority_a(anonymous, authority_a)
    counts = written(services, ids["subject_id"])
    company = RegisterSubject.model_validate(COMPANY)
    items = [
        BatchItem(line, company, record_command_adapter.validate_python(as_b(body)))
        for line, body in enumerate(attacks(ids).values(), start=2)
    ]
    permit_b = RecordingPermit(frozenset({OTHER_AUTHORITY_CODE}), frozenset(SECTORS))
    outcomes = services.files.append_batch(items, recorded_by="recorder-b", permit=permit_b)
    assert [(o.line, o.status) for o in outcomes] == [(n, "rejected") for n in range(2, 8)]
    for outcome, (target, action) in zip(outcomes, TARGETS.values(), strict=True):
        assert outcome.reason == (
            f"record {ids[target]} ({_type_of(target)}) belongs to authority {AUTHORITY_CODE}; "
            f"only {AUTHORITY_CODE} may {action} it"
        )
    assert written(services, ids["subject_id"]) == counts
    # The same rows under A's code and A's permit go in.
    permit_a = RecordingPermit(frozenset({AUTHORITY_CODE}), frozenset(SECTORS))
    mine = [
        BatchItem(line, company, record_command_adapter.validate_python(body))
        for line, body in enumerate(attacks(ids).values(), start=2)
        if line in (2, 4, 5, 7)  # revoke penalty, exit list, fulfil commitment, revoke licence
    ]
    outcomes = services.files.append_batch(mine, recorded_by="recorder-a", permit=permit_a)
    assert [o.status for o in outcomes] == ["accepted"] * 4


def _type_of(name: str) -> str:
    return {
        "penalty": "PenaltyDecided",
        "entry": "ListEntered",
        "commitment": "CommitmentMade",
        "licence": "LicenceGranted",
    }[name]


async def test_an_import_file_by_b_leaves_as_records_alone(
    anonymous, services, authority_a, authority_b
):
    """A penalty file sent by B repeating A's decision number under A's code: the row is
    refused with its line, and A's penalty is untouched."""
    ids = await a_file_of_authority_a(anonymous, authority_a)
    before = await status(anonymous, ids, authority_a, ids["position"])
    counts = written(services, ids["subject_id"])
    row = penalty_file_row(1201, CF_WSH="A-P", CF_JDRQ="2026-09-01")
    answer = await anonymous.post(
        "/v1/imports",
        files={"file": ("penalties.csv", penalty_file([row]), "text/csv")},
        headers=authority_b,
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["accepted"], [r["line"] for r in report["rejected"]]) == (0, [2])
    assert report["rejected"][0]["reason"] == (
        "CF_CFJGDM 处罚机关统一社会信用代码：导入者无权为该机关记录信用信息"
    )
    assert written(services, ids["subject_id"]) == counts
    assert await status(anonymous, ids, authority_a, ids["position"]) == before


# Case steps ------------------------------------------------------------------------------------


async def file_objection(http: httpx.AsyncClient, ids: dict, record: str) -> dict:
    filed = await http.post(
        "/v1/cases/objection",
        json={
            "subject_code": COMPANY["code"],
            "record_id": ids[record],
            "grounds": "wrong_content",
            "statement": "记录有误",
            "applicant": "公司",
        },
        params={"min_position": ids["position"]},
    )
    assert filed.status_code == 201, filed.text
    return filed.json()


@pytest.mark.parametrize(
    ("outcome", "changes"), [("revoked", None), ("corrected", {"severity": "minor"})]
)
async def test_only_the_records_authority_resolves_an_objection_to_it(
    anonymous, services, authority_a, authority_b, outcome, changes
):
    ids = await a_file_of_authority_a(anonymous, authority_a)
    filed = await file_objection(anonymous, ids, "penalty")
    counts = written(services, ids["subject_id"])
    step = {"outcome": outcome, "reasons": "复核", "changes": changes}
    url = f"/v1/cases/{filed['case_number']}:resolve"
    after = {"min_position": filed["position"]}
    refused = await anonymous.post(url, json=step, params=after, headers=authority_b)
    assert_not_owner(refused, ids["penalty"], "decide on")
    assert written(services, ids["subject_id"]) == counts
    resolved = await anonymous.post(url, json=step, params=after, headers=authority_a)
    assert resolved.status_code == 200, resolved.text


async def test_only_the_records_authority_decides_a_repair(
    anonymous, services, authority_a, authority_b
):
    ids = await a_file_of_authority_a(anonymous, authority_a)
    # A general penalty of 2026-06-01 may be repaired from 2026-09-01.
    old = await anonymous.post(
        f"/v1/subjects/{ids['subject_id']}/events",
        json=penalty("A-OLD", decision_date="2026-06-01"),
        headers=authority_a,
    )
    ids |= {"old": old.json()["record_id"], "position": old.json()["position"]}
    ready = {"min_position": ids["position"]}
    await anonymous.get(
        f"/v1/subjects/{ids['subject_id']}/status", params=ready, headers=authority_a
    )
    filed = await anonymous.post(
        "/v1/cases/repair",
        json={
            "subject_code": COMPANY["code"],
            "record_id": ids["old"],
            "corrections": ["罚款已缴纳"],
            "commitment_signed": True,
            "applicant": "公司",
        },
    )
    assert filed.status_code == 201, filed.text
    after = {"min_position": filed.json()["position"]}
    number = filed.json()["case_number"]
    for action, body in (("accept", {}), ("approve", {"reasons": "准予"})):
        counts = written(services, ids["subject_id"])
        url = f"/v1/cases/{number}:{action}"
        refused = await anonymous.post(url, json=body, params=after, headers=authority_b)
        assert refused.status_code == 403, refused.text
        assert refused.json()["type"] == PROBLEMS + "not-record-owner"
        assert refused.json()["owner_authority_code"] == AUTHORITY_CODE
        assert written(services, ids["subject_id"]) == counts
        taken = await anonymous.post(url, json=body, params=after, headers=authority_a)
        assert taken.status_code == 200, taken.text
        after = {"min_position": taken.json()["position"]}


# Future dates through corrections ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "changes", "reason"),
    [
        (
            "penalty",
            {"decision_date": "2030-01-01"},
            "the corrected PenaltyDecided: decision_date 2030-01-01 is in the future "
            "(today is 2026-11-20)",
        ),
        (
            "licence",
            {"valid_until": "2024-01-01"},
            "the corrected LicenceGranted: a licence's valid_until must be after its valid_from",
        ),
    ],
    ids=["future-decision-date", "licence-ending-before-it-starts"],
)
async def test_a_correction_cannot_give_a_record_dates_a_new_one_could_not_have(
    anonymous, services, authority_a, target, changes, reason
):
    ids = await a_file_of_authority_a(anonymous, authority_a)
    counts = written(services, ids["subject_id"])
    correction = follow_up(
        "RecordCorrected", "A-FIX", target_record_id=ids[target], changes=changes, reason="更正"
    )
    url = f"/v1/subjects/{ids['subject_id']}/events"
    refused = await anonymous.post(url, json=correction, headers=authority_a)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == PROBLEMS + "invalid-input"
    assert refused.json()["detail"] == reason
    assert written(services, ids["subject_id"]) == counts


async def test_a_correction_is_checked_against_the_record_as_corrected_before(
    anonymous, services, authority_a
):
    """A rating corrected to end on 2026-06-01 cannot then be corrected to start after it."""
    ids = await a_file_of_authority_a(anonymous, authority_a)
    url = f"/v1/subjects/{ids['subject_id']}/events"
    issued = await anonymous.post(url, json=rating("A-R"), headers=authority_a)
    rating_id = issued.json()["record_id"]

    def correct(ref: str, changes: dict) -> dict:
        return follow_up(
            "RecordCorrected", ref, target_record_id=rating_id, changes=changes, reason="更正"
        )

    shortened = await anonymous.post(
        url, json=correct("A-R1", {"valid_until": "2026-06-01"}), headers=authority_a
    )
    assert shortened.status_code == 201, shortened.text
    counts = written(services, ids["subject_id"])
    late_start = await anonymous.post(
        url, json=correct("A-R2", {"valid_from": "2026-07-01"}), headers=authority_a
    )
    assert late_start.status_code == 422
    assert late_start.json()["detail"] == (
        "the corrected RatingIssued: a rating's valid_until must be after its valid_from"
    )
    assert written(services, ids["subject_id"]) == counts
    earlier = await anonymous.post(
        url, json=correct("A-R3", {"decision_date": "2026-02-27"}), headers=authority_a
    )
    assert earlier.status_code == 201, earlier.text


async def test_an_objection_resolved_corrected_cannot_set_a_future_date(
    anonymous, services, authority_a
):
    ids = await a_file_of_authority_a(anonymous, authority_a)
    filed = await file_objection(anonymous, ids, "penalty")
    counts = written(services, ids["subject_id"])
    url = f"/v1/cases/{filed['case_number']}:resolve"
    after = {"min_position": filed["position"]}
    refused = await anonymous.post(
        url,
        json={
            "outcome": "corrected",
            "reasons": "复核",
            "changes": {"decision_date": "2099-01-01"},
        },
        params=after,
        headers=authority_a,
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["type"] == PROBLEMS + "invalid-input"
    assert refused.json()["detail"] == (
        "the corrected PenaltyDecided: decision_date 2099-01-01 is in the future "
        "(today is 2026-11-20)"
    )
    not_a_date = await anonymous.post(
        url,
        json={"outcome": "corrected", "reasons": "复核", "changes": {"decision_date": "明天"}},
        params=after,
        headers=authority_a,
    )
    assert not_a_date.status_code == 422
    assert not_a_date.json()["type"] == PROBLEMS + "invalid-input"
    assert written(services, ids["subject_id"]) == counts
    resolved = await anonymous.post(
        url,
        json={
            "outcome": "corrected",
            "reasons": "复核",
            "changes": {"decision_date": "2026-08-31"},
        },
        params=after,
        headers=authority_a,
    )
    assert resolved.status_code == 200, resolved.text


# The access-log right ---------------------------------------------------------------------------


async def test_writing_about_a_subject_does_not_open_its_access_log(
    anonymous, services, authority_a, authority_b, role_headers
):
    ids = await a_file_of_authority_a(anonymous, authority_a)
    sid = ids["subject_id"]
    log = f"/v1/subjects/{sid}/access-log"
    await status(anonymous, ids, role_headers["agency"], ids["position"])  # one logged read

    async def read_log(headers: dict, position: int) -> httpx.Response:
        return await anonymous.get(log, params={"min_position": position}, headers=headers)

    nothing_yet = await read_log(authority_b, ids["position"])
    assert nothing_yet.status_code == 403
    assert nothing_yet.json()["type"] == PROBLEMS + "not-deciding-agency"
    url = f"/v1/subjects/{sid}/events"
    for body in (
        as_b(follow_up("CommendationGranted", "B-CM", title="诚信典型")),
        as_b(licence("B-LIC")),
    ):
        appended = await anonymous.post(url, json=body, headers=authority_b)
        assert appended.status_code == 201, appended.text
        refused = await read_log(authority_b, appended.json()["position"])
        assert refused.status_code == 403
        assert refused.json()["type"] == PROBLEMS + "not-deciding-agency"
    agency = await read_log(role_headers["agency"], ids["position"])
    assert agency.status_code == 403
    assert agency.json()["type"] == PROBLEMS + "insufficient-scope"
    owner = await read_log(authority_a, ids["position"])
    assert owner.status_code == 200, owner.text
    assert [e["action"] for e in owner.json()["entries"]] == ["status"]
    assert (await read_log(role_headers["auditor"], ids["position"])).status_code == 200

    # An open objection to B's licence makes B a deciding agency until it is resolved.
    ids["b-licence"] = appended.json()["record_id"]
    ids["position"] = appended.json()["position"]
    filed = await file_objection(anonymous, ids, "b-licence")
    assert (await read_log(authority_b, filed["position"])).status_code == 200
    resolved = await anonymous.post(
        f"/v1/cases/{filed['case_number']}:resolve",
        json={"outcome": "upheld", "reasons": "无误"},
        params={"min_position": filed["position"]},
        headers=authority_b,
    )
    assert resolved.status_code == 200, resolved.text
    closed = await read_log(authority_b, resolved.json()["position"])
    assert closed.status_code == 403
    assert closed.json()["type"] == PROBLEMS + "not-deciding-agency"


# Tokens narrowed to credit:read -----------------------------------------------------------------


async def test_a_recorder_token_narrowed_to_read_can_neither_write_nor_read_recorder_data(
    anonymous, services, authority_a
):
    ids = await a_file_of_authority_a(anonymous, authority_a)
    sid = ids["subject_id"]
    filed = await file_objection(anonymous, ids, "penalty")
    narrowed = bearer(services, "recorder-a-read", [AUTHORITY_CODE], "credit:read")
    after = {"min_position": filed["position"]}
    counts = written(services, sid)
    with services.write_engine.connect() as conn:
        logged = conn.scalar(select(func.count()).select_from(access_log))
    attempts = {
        "register": ("POST", "/v1/subjects", {"json": enterprise(1202)}, "credit:record"),
        "append": (
            "POST",
            f"/v1/subjects/{sid}/events",
            {"json": attacks(ids)["revoke-penalty"]},
            "credit:record",
        ),
        "import": (
            "POST",
            "/v1/imports",
            {"files": {"file": ("p.csv", penalty_file([penalty_file_row(1203)]), "text/csv")}},
            "credit:record",
        ),
        "case-step": (
            "POST",
            f"/v1/cases/{filed['case_number']}:resolve",
            {"json": {"outcome": "revoked", "reasons": "复核"}, "params": after},
            "credit:record",
        ),
        "access-log": ("GET", f"/v1/subjects/{sid}/access-log", {"params": after}, "credit:audit"),
        "case-list": ("GET", "/v1/cases", {"params": after}, "credit:audit"),
    }
    for name, (method, url, kwargs, scope) in attempts.items():
        answer = await anonymous.request(method, url, headers=narrowed, **kwargs)
        assert answer.status_code == 403, (name, answer.text)
        assert answer.json()["type"] == PROBLEMS + "insufficient-scope", name
        assert answer.headers["www-authenticate"] == (
            f'Bearer error="insufficient_scope", scope="{scope}"'
        ), name
    assert written(services, sid) == counts
    with services.write_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(access_log)) == logged
    # The same client's full token may do what the narrowed one may not.
    full = bearer(services, "recorder-a-full", [AUTHORITY_CODE])
    assert (await anonymous.get("/v1/cases", params=after, headers=full)).status_code == 200
    reads = await anonymous.get(f"/v1/subjects/{sid}/status", params=after, headers=narrowed)
    assert reads.status_code == 200  # still a valid reader's token


# Snapshots taken before records knew their authority -------------------------------------------


async def test_a_subject_whose_snapshot_predates_record_ownership_is_still_guarded(
    anonymous, services, authority_a, authority_b
):
    """Snapshots written before this version hold records without their authority code or
    ruled values (and no class_version): such a subject is rebuilt from its events, and the
    attack is refused all the same."""
    ids = await a_file_of_authority_a(anonymous, authority_a)
    sid = UUID(ids["subject_id"])
    old = Snapshot.take(services.ledger.subject(sid))
    old.state.pop("class_version")
    for record in old.state["records"].values():
        del record["authority_code"], record["ruled"]
    services.ledger.snapshots.put([old])
    from_snapshot = services.ledger.repository.get(sid)
    assert from_snapshot.__dict__.get("incomplete_snapshot_state") is True
    rebuilt = services.ledger.subject(sid)
    assert rebuilt.records[ids["penalty"]]["authority_code"] == AUTHORITY_CODE
    counts = written(services, ids["subject_id"])
    url = f"/v1/subjects/{sid}/events"
    refused = await anonymous.post(
        url, json=as_b(attacks(ids)["revoke-penalty"]), headers=authority_b
    )
    assert_not_owner(refused, ids["penalty"], "revoke")
    assert written(services, ids["subject_id"]) == counts
    allowed = await anonymous.post(url, json=attacks(ids)["revoke-penalty"], headers=authority_a)
    assert allowed.status_code == 201, allowed.text
