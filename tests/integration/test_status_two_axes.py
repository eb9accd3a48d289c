"""Status on two time axes: `as_of` (what was recorded by the end of that day) and `valid_at`
(the day the rules are applied for). Over HTTP, then the history the answers come from against
a fold of the events, for random histories and cut-offs."""

from __future__ import annotations

import contextlib
import random
from datetime import date, datetime, time, timedelta
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.queries.subjects import _status_at
from domain.cases import CaseAccepted, RepairApproved, RepairEligibility, RepairRevoked
from domain.errors import DomainError
from projections.credit_file.as_of import (
    NotInHistory,
    end_of_day,
    status_as_of,
    status_from_history,
)
from service.commanding.commands import RegisterSubject, record_command_adapter
from tests.builders import AUTHORITY_CODE, enterprise, follow_up, list_entry, penalty, rating

pytestmark = pytest.mark.integration
BEIJING = ZoneInfo("Asia/Shanghai")
COMPANY = enterprise(701)


def beijing(day: str, hour: int = 10, minute: int = 0) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(hour, minute), tzinfo=BEIJING)


async def record(client, sid: str, body: dict) -> dict:
    response = await client.post(f"/v1/subjects/{sid}/events", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def status(client, sid: str, **params) -> dict:
    response = await client.get(f"/v1/subjects/{sid}/status", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def deducted(body: dict) -> list[str]:
    return [a["record_id"] for g in body["grades"] for a in g["adjustments"]]


def rules(body: dict) -> dict:
    skip = ("known_as_of", "position")
    return {k: v for k, v in body.items() if k not in skip}


async def test_what_was_known_on_one_day_about_another(client, clock):
    """A penalty decided on 1 February and recorded on 1 March (at 00:30 in Beijing, still
    28 February in UTC)."""
    now = clock.moment
    clock.moment = beijing("2025-12-01")
    sid = (await client.post("/v1/subjects", json=COMPANY)).json()["subject_id"]
    await record(
        client,
        sid,
        rating(
            "TA-R", decision_date="2025-12-01", valid_from="2025-12-01", valid_until="2026-12-01"
        ),
    )
    clock.moment = beijing("2026-03-01", 0, 30)
    late = await record(client, sid, penalty("TA-P", decision_date="2026-02-01"))
    clock.moment = now
    await status(client, sid, min_position=late["position"])

    unknown = await status(client, sid, as_of="2026-02-28")
    assert (unknown["known_as_of"], unknown["evaluated_on"]) == ("2026-02-28", "2026-02-28")
    assert deducted(unknown) == []
    assert "penalty" not in unknown["published_records"]["by_family"]

    known = await status(client, sid, as_of="2026-03-01", valid_at="2026-02-15")
    assert (known["known_as_of"], known["evaluated_on"]) == ("2026-03-01", "2026-02-15")
    assert deducted(known) == [late["record_id"]]
    assert known["published_records"]["by_family"]["penalty"] == 1
    assert known["version"] == 3 and known["policy_version"] == "2023-58"

    before_decision = await status(client, sid, as_of="2026-03-02", valid_at="2026-01-20")
    assert deducted(before_decision) == []
    assert "penalty" not in before_decision["published_records"]["by_family"]

    # without as_of: everything recorded so far, about that day
    now_about_then = await status(client, sid, valid_at="2026-02-15")
    assert now_about_then["known_as_of"] == now.astimezone(BEIJING).date().isoformat()
    assert rules(now_about_then) == rules(known)


async def test_a_rating_expiring_after_the_as_of_day_is_seen_through_valid_at(client, clock):
    now = clock.moment
    clock.moment = beijing("2025-06-05")
    sid = (await client.post("/v1/subjects", json=COMPANY)).json()["subject_id"]
    last = await record(
        client,
        sid,
        rating(
            "TA-R2", decision_date="2025-06-01", valid_from="2025-06-01", valid_until="2026-06-01"
        ),
    )
    clock.moment = now
    await status(client, sid, min_position=last["position"])

    in_force = await status(client, sid, as_of="2026-05-01", valid_at="2026-05-31")
    assert [g["grade"] for g in in_force["grades"]] == ["A"]
    assert in_force["published_records"]["by_family"] == {"rating": 1}
    expired = await status(client, sid, as_of="2026-05-01", valid_at="2026-06-01")
    assert (expired["known_as_of"], expired["evaluated_on"]) == ("2026-05-01", "2026-06-01")
    assert expired["grades"] == [] and expired["published_records"]["total"] == 0


async def test_a_repair_takes_a_record_out_from_the_day_it_was_approved(client, clock):
    now = clock.moment
    clock.moment = beijing("2026-01-12")
    sid = (await client.post("/v1/subjects", json=COMPANY)).json()["subject_id"]
    conduct = await record(client, sid, penalty("TA-REP", decision_date="2026-01-10"))
    clock.moment = beijing("2026-05-04")
    await status(client, sid, min_position=conduct["position"])
    filed = await client.post(
        "/v1/cases/repair",
        json={
            "subject_code": COMPANY["code"],
            "record_id": conduct["record_id"],
            "corrections": ["罚款已缴纳"],
            "commitment_signed": True,
            "applicant": COMPANY["name"],
        },
    )
    assert filed.status_code == 201, filed.text
    number, after = filed.json()["case_number"], {"min_position": filed.json()["position"]}
    assert (await client.post(f"/v1/cases/{number}:accept", json={}, params=after)).is_success
    clock.moment = beijing("2026-05-06")
    approved = await client.post(
        f"/v1/cases/{number}:approve", json={"reasons": "符合条件"}, params=after
    )
    assert approved.is_success, approved.text
    clock.moment = now
    await status(client, sid, min_position=approved.json()["position"])

    def penalties(body: dict) -> int:
        return body["published_records"]["by_family"].get("penalty", 0)

    assert penalties(await status(client, sid, valid_at="2026-05-05")) == 1
    assert penalties(await status(client, sid, valid_at="2026-05-06")) == 0
    # on 5 May nobody knew of the repair yet, whatever day it is asked about
    assert penalties(await status(client, sid, as_of="2026-05-05", valid_at="2026-05-06")) == 1


async def test_a_day_in_the_future_on_either_axis_is_refused(client, clock):
    sid = (await client.post("/v1/subjects", json=COMPANY)).json()["subject_id"]
    tomorrow = (clock.moment.astimezone(BEIJING).date() + timedelta(days=1)).isoformat()
    for params in (
        {"as_of": tomorrow},
        {"valid_at": tomorrow},
        {"as_of": "2026-01-01", "valid_at": tomorrow},
    ):
        response = await client.get(f"/v1/subjects/{sid}/status", params=params)
        assert response.status_code == 422, params
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["type"].endswith("/validation-error")
        assert f"{tomorrow} is in the future" in problem["detail"]
    before = await client.get(f"/v1/subjects/{sid}/status", params={"as_of": "2026-01-01"})
    assert before.status_code == 404


async def test_the_access_log_names_the_axes_of_each_answer(client, services):
    sid = (await client.post("/v1/subjects", json=COMPANY)).json()["subject_id"]
    last = await record(client, sid, penalty("TA-LOG", decision_date="2026-10-01"))
    await status(client, sid, min_position=last["position"])
    await status(client, sid, as_of="2026-11-20")
    await status(client, sid, valid_at="2026-10-02")
    await status(client, sid, as_of="2026-11-20", valid_at="2026-09-30")
    entries = services.access_log.for_subject(UUID(sid), after_seq=None, limit=50)
    assert [e["action"] for e in entries] == [
        "status",
        "status_as_of",
        "status_valid_at",
        "status_as_of_valid_at",
    ]
    assert "known_as_of" not in entries[0]["returned"]
    assert [(e["returned"]["known_as_of"], e["returned"]["evaluated_on"]) for e in entries[1:]] == [
        ("2026-11-20", "2026-11-20"),
        ("2026-11-20", "2026-10-02"),
        ("2026-11-20", "2026-09-30"),
    ]
    assert entries[2]["returned"]["published_records"] == 1
    assert entries[3]["returned"]["published_records"] == 0


# The history against the fold ------------------------------------------------------------


async def from_history(services, subject_id, known_as_of: date, on: date):
    async def next_recorded(sid: UUID, version: int) -> datetime | None:
        page = services.ledger.stream_page(sid, after_version=version, limit=1)
        return page[0][1].timestamp if page else None

    async with services.read_engine.connect() as conn:
        return await status_from_history(
            conn,
            subject_id,
            end_of_day(known_as_of, services.clock.zone),
            on,
            services.policy,
            zone=services.clock.zone,
            next_recorded=next_recorded,
        )


def folded(services, subject_id, known_as_of: date, on: date):
    events = services.ledger.stream_page(subject_id, after_version=0, limit=100_000)
    known_before = end_of_day(known_as_of, services.clock.zone)
    return status_as_of(events, known_before, on, services.policy, zone=services.clock.zone)


async def test_the_history_answers_without_the_stream_and_says_what_it_does_not_hold(
    services, clock, monkeypatch
):
    """Before the projection has a subject's events, the history says so (the API then folds
    them); once it has them it answers alone, and again after a rebuild."""
    clock.moment = beijing("2026-03-01")
    subject_id = services.files.register(RegisterSubject(**COMPANY), recorded_by="t").subject_id
    for n, day in enumerate(["2026-03-02", "2026-04-10", "2026-04-10", "2026-06-01"]):
        clock.moment = beijing(day)
        body = penalty(f"TA-H-{n}", decision_date=day, severity=["minor", "general"][n % 2])
        services.files.append(
            subject_id, record_command_adapter.validate_python(body), recorded_by="t"
        )
    march, april = date(2026, 3, 31), date(2026, 4, 10)
    asked = [(march, march), (april, april), (date(2026, 11, 20), date(2026, 3, 5))]
    expected = [folded(services, subject_id, a, v) for a, v in asked]
    stream_page = services.ledger.stream_page

    def next_event_only(subject_id, *, after_version, limit):
        assert limit == 1, "the history should answer without reading the stream"
        return stream_page(subject_id, after_version=after_version, limit=limit)

    monkeypatch.setattr(services.ledger, "stream_page", next_event_only)

    async def answers():
        return [await from_history(services, subject_id, a, v) for a, v in asked]

    with pytest.raises(NotInHistory):
        await from_history(services, subject_id, march, march)
    services.runner.process_next_page(stop=services.ledger.position_of(subject_id, 3))
    assert await from_history(services, subject_id, march, march) == expected[0]
    with pytest.raises(NotInHistory):  # the events of 10 April are not all projected yet
        await from_history(services, subject_id, april, april)
    services.runner.process_next_page(stop=services.ledger.position_of(subject_id, 4))
    # the one event not projected yet was recorded after 10 April: it is not needed
    assert await from_history(services, subject_id, april, april) == expected[1]
    services.runner.catch_up()
    assert await answers() == expected
    assert await from_history(services, subject_id, date(2026, 2, 28), date(2026, 2, 28)) is None
    assert await from_history(services, uuid4(), date(2026, 4, 1), date(2026, 4, 1)) is None
    services.runner.rebuild()
    assert await answers() == expected


async def test_the_endpoint_folds_the_events_the_history_does_not_hold_yet(services, clock):
    clock.moment = beijing("2026-03-01")
    subject_id = services.files.register(RegisterSubject(**COMPANY), recorded_by="t").subject_id
    for n, day in enumerate(["2026-03-02", "2026-05-10", "2026-07-01"]):
        clock.moment = beijing(day)
        body = penalty(f"TA-F-{n}", decision_date=day, severity="general")
        services.files.append(
            subject_id, record_command_adapter.validate_python(body), recorded_by="t"
        )
    assert services.runner.position() == 0  # nothing projected: every answer is a fold
    for known_as_of, on in [
        (date(2026, 3, 2), date(2026, 3, 2)),
        (date(2026, 6, 1), date(2026, 7, 2)),
    ]:
        answer = await _status_at(services, subject_id, known_as_of, on)
        assert answer == {
            **folded(services, subject_id, known_as_of, on),
            "known_as_of": known_as_of,
        }
    assert answer is not None
    assert answer["published_records"]["by_family"] == {"penalty": 2}
    assert await _status_at(services, subject_id, date(2026, 2, 28), date(2026, 2, 28)) is None


async def test_an_event_recorded_by_a_clock_behind_is_not_known_before_the_one_it_followed(
    services, clock
):
    clock.moment = beijing("2026-03-01")
    subject_id = services.files.register(RegisterSubject(**COMPANY), recorded_by="t").subject_id
    for n, moment in enumerate([beijing("2026-03-05"), beijing("2026-03-04", 20)]):
        clock.moment = moment  # the second writer's clock is a day behind
        body = penalty(f"TA-B-{n}", decision_date="2026-03-01")
        services.files.append(
            subject_id, record_command_adapter.validate_python(body), recorded_by="t"
        )
    services.runner.catch_up()
    for day, version in ((date(2026, 3, 4), 1), (date(2026, 3, 5), 3)):
        answer = await from_history(services, subject_id, day, day)
        assert answer == folded(services, subject_id, day, day)
        assert answer["version"] == version


step = st.one_of(
    st.tuples(
        st.just("rating"),
        st.sampled_from(
            [
                ("highway_construction", "AA", "96"),
                ("highway_construction", "C", "70"),
                ("sector_default", "B", "80"),
                ("driver_integrity", "AA", "4"),
            ]
        ),
        st.integers(0, 400),
    ),
    st.tuples(
        st.just("penalty"), st.sampled_from(["minor", "general", "serious"]), st.integers(0, 400)
    ),
    st.tuples(st.just("black"), st.integers(0, 200), st.booleans()),
    st.tuples(st.just("exit"), st.integers(0, 60), st.just(0)),
    st.tuples(st.just("revoke"), st.integers(0, 50), st.just(0)),
    st.tuples(st.just("correct"), st.integers(0, 50), st.sampled_from(["minor", "serious"])),
    st.tuples(st.just("repair"), st.integers(0, 50), st.booleans()),
)
# Days between steps (0: the same instant), and now and then a writer whose clock is behind.
pause = st.tuples(st.integers(0, 45), st.integers(0, 20))


def take(services, subject_id, history, n, kind, a, b) -> None:
    today = services.files.clock.moment.astimezone(BEIJING).date()
    ref = f"TA-{n}"
    penalties = [r for t, r in history if t == "PenaltyDecided"]
    if kind == "repair":
        if not penalties:
            return
        target = UUID(penalties[a % len(penalties)])

        def repair(subject) -> None:
            case_id = uuid4()
            moment = services.files.clock.moment
            subject.apply_for_repair(
                case_id=case_id,
                case_number=f"XF{case_id.hex[:12]}",
                query_code_hash="0" * 64,
                target_record_id=target,
                corrections=["罚款已缴纳"],
                commitment_signed=True,
                evidence=[],
                applicant="申请人",
                eligibility=RepairEligibility("PenaltyDecided", True, None),
                today=today,
                recorded_at=moment,
            )
            subject.take_case_step(case_id, CaseAccepted, by=AUTHORITY_CODE, recorded_at=moment)
            subject.take_case_step(
                case_id, RepairApproved, by=AUTHORITY_CODE, recorded_at=moment, reasons="r"
            )
            if b:
                later = moment + timedelta(days=3)
                subject.take_case_step(
                    case_id, RepairRevoked, by=AUTHORITY_CODE, recorded_at=later, reasons="r"
                )

        with contextlib.suppress(DomainError):  # already repaired, revoked or in an open case
            services.files.act(subject_id, repair)
        return
    if kind == "rating":
        (scheme, grade, score), decided = a, today - timedelta(days=b)
        body = rating(
            ref,
            scheme=scheme,
            grade=grade,
            score=score,
            decision_date=decided.isoformat(),
            valid_from=decided.isoformat(),
            valid_until=(decided + timedelta(days=365)).isoformat(),
        )
    elif kind == "penalty":
        body = penalty(ref, severity=a, decision_date=(today - timedelta(days=b)).isoformat())
    elif kind == "black":
        decided = today - timedelta(days=a)
        body = list_entry(
            ref,
            decision_date=decided.isoformat(),
            planned_end=(decided + timedelta(days=300)).isoformat() if b else None,
        )
        if penalties and a % 2:  # resting on a penalty: it lapses if that one is repaired
            body["basis_record_id"] = penalties[a % len(penalties)]
    elif kind == "exit":
        entries = [r for t, r in history if t == "ListEntered"]
        if not entries:
            return
        body = follow_up(
            "ListExited",
            ref,
            decision_date=(today - timedelta(days=a % 5)).isoformat(),
            entry_record_id=entries[-1],
            reason="期满",
        )
    else:
        if not penalties:
            return
        target = penalties[a % len(penalties)]
        fields = (
            {"reason": "复议撤销"}
            if kind == "revoke"
            else {"changes": {"severity": b}, "reason": "更正"}
        )
        body = follow_up(
            "RecordRevoked" if kind == "revoke" else "RecordCorrected",
            ref,
            decision_date=today.isoformat(),
            target_record_id=target,
            **fields,
        )
    try:
        ack = services.files.append(
            subject_id, record_command_adapter.validate_python(body), recorded_by="t"
        )
    except DomainError:  # refused by the rules (already closed, revoked ...): fine here
        return
    history.append((body["type"], str(ack.record_id)))


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=st.lists(st.tuples(pause, step), min_size=1, max_size=14),
    serial=st.integers(1, 10**6),
    seed=st.integers(0, 10**6),
)
async def test_the_history_equals_a_fold_of_the_events_on_both_axes(services, steps, serial, seed):
    clock = services.files.clock
    start = beijing("2025-01-06", 9)
    clock.moment = start
    subject_id = services.files.register(
        RegisterSubject(**enterprise(serial, sectors=["road_transport"])), recorded_by="t"
    ).subject_id
    history: list[tuple[str, str]] = []
    moment = start
    recorded_days = {start.date()}
    for n, ((days, behind), (kind, a, b)) in enumerate(steps):
        moment += timedelta(days=days, hours=days % 7)
        # a writer whose clock runs some hours behind the one before it
        clock.moment = moment - timedelta(hours=behind) if behind > 15 else moment
        recorded_days.add(clock.moment.astimezone(BEIJING).date())
        take(services, subject_id, history, n, kind, a, b)
    services.runner.catch_up()
    rng = random.Random(seed)
    last = max(recorded_days) + timedelta(days=5)
    days = [*sorted(recorded_days), start.date() - timedelta(days=1), last]
    for _ in range(12):
        known_as_of = rng.choice(days) + timedelta(days=rng.choice([-1, 0, 0, 1]))
        on = rng.choice(days) + timedelta(days=rng.randint(-40, 40))
        assert await from_history(services, subject_id, known_as_of, on) == folded(
            services, subject_id, known_as_of, on
        ), (known_as_of, on)


async def test_a_list_entry_lapses_from_the_moment_its_basis_is_repaired_on_both_paths(
    services, clock
):
    """The history and the fold agree on the entry resting on a repaired penalty: listed and
    published on any day before the approval (and for anyone asking as of such a day), not
    after; again once the repair is revoked."""
    clock.moment = beijing("2026-06-02")
    subject_id = services.files.register(RegisterSubject(**COMPANY), recorded_by="t").subject_id
    history: list[tuple[str, str]] = []
    take(services, subject_id, history, 0, "penalty", "general", 1)
    take(services, subject_id, history, 1, "black", 1, True)  # odd: it rests on the penalty
    clock.moment = beijing("2026-10-12")
    take(services, subject_id, history, 2, "repair", 0, True)  # revoked three days later
    services.runner.catch_up()

    async def listed(known_as_of: date, on: date) -> bool:
        answer = await from_history(services, subject_id, known_as_of, on)
        assert answer == folded(services, subject_id, known_as_of, on), (known_as_of, on)
        on_list = [m["list_type"] for m in answer["lists"]] == ["black"]
        # published exactly while it is a membership: the counts follow the lapse too
        assert answer["published_records"]["by_family"].get("list", 0) == int(on_list)
        return on_list

    repaired, withdrawn = date(2026, 10, 12), date(2026, 10, 15)
    assert await listed(repaired, repaired - timedelta(days=1))
    assert not await listed(repaired, repaired)
    assert not await listed(date(2026, 10, 14), date(2026, 10, 14))
    assert await listed(date(2026, 10, 11), date(2026, 10, 14))  # the repair not known yet
    assert await listed(withdrawn, withdrawn)
    # known now: the repair was revoked, so no day lacks the entry
    assert await listed(withdrawn, date(2026, 10, 13))
