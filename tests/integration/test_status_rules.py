"""The status the API answers, today and as of any past day, is the rules applied to the events:
the projected answer equals a from-scratch fold, and an as-of answer equals what was answered
on that day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.credit_file.as_of import status_as_of
from projections.credit_file.queries import statuses
from service.commanding.commands import RegisterSubject, record_command_adapter
from tests.builders import enterprise, follow_up, list_entry, penalty, rating

pytestmark = pytest.mark.integration
RULE_FIELDS = (
    "grades",
    "lists",
    "supervision",
    "warnings",
    "published_records",
    "version",
    "policy_version",
)


def rule_view(status: dict) -> dict:
    return {field: status[field] for field in RULE_FIELDS}


async def projected(services, subject_id: UUID, on: date) -> dict:
    services.runner.catch_up()
    async with services.read_engine.connect() as conn:
        found, _ = await statuses(conn, [subject_id], on, services.policy)
    return found[subject_id]


def folded(services, subject_id: UUID, on: date) -> dict:
    events = services.ledger.stream_page(subject_id, after_version=0, limit=10_000)
    status = status_as_of(
        events, datetime.max.replace(tzinfo=UTC), on, services.policy, zone=services.clock.zone
    )
    assert status is not None  # the events hold the subject's registration
    return status


operation = st.one_of(
    st.tuples(
        st.just("rating"),
        st.sampled_from(
            [
                ("highway_construction", "AA", "96"),
                ("highway_construction", "C", "70"),
                ("sector_default", "B", "80"),
                ("driver_integrity", "AA", "4"),
                ("road_transport_quality", "AAA", "900"),
            ]
        ),
        st.integers(0, 900),
    ),
    st.tuples(
        st.just("penalty"), st.sampled_from(["minor", "general", "serious"]), st.integers(0, 900)
    ),
    st.tuples(st.just("black"), st.integers(0, 900), st.booleans()),
    st.tuples(st.just("revoke"), st.integers(0, 50), st.integers(0, 900)),
    st.tuples(st.just("correct"), st.integers(0, 50), st.sampled_from(["minor", "serious"])),
)


def apply(services, subject_id, history, n, step, today):
    kind = step[0]
    ref = f"OP-{n}"
    if kind == "rating":
        (scheme, grade, score), days = step[1], step[2]
        decided = (today - timedelta(days=days)).isoformat()
        until = (today - timedelta(days=days) + timedelta(days=365)).isoformat()
        body = rating(
            ref,
            scheme=scheme,
            grade=grade,
            score=score,
            decision_date=decided,
            valid_from=decided,
            valid_until=until,
        )
    elif kind == "penalty":
        body = penalty(
            ref, severity=step[1], decision_date=(today - timedelta(days=step[2])).isoformat()
        )
    elif kind == "black":
        decided = today - timedelta(days=step[1])
        body = list_entry(
            ref,
            decision_date=decided.isoformat(),
            planned_end=(decided + timedelta(days=400)).isoformat() if step[2] else None,
        )
    else:
        targets = [r for r in history if r[0] == "PenaltyDecided"]
        if not targets:
            return
        target = targets[step[1] % len(targets)][1]
        body = (
            follow_up(
                "RecordRevoked",
                ref,
                decision_date=today.isoformat(),
                target_record_id=target,
                reason="复议撤销",
            )
            if kind == "revoke"
            else follow_up(
                "RecordCorrected",
                ref,
                decision_date=today.isoformat(),
                target_record_id=target,
                changes={"severity": step[2]},
                reason="更正",
            )
        )
    try:
        ack = services.files.append(
            subject_id, record_command_adapter.validate_python(body), recorded_by="t"
        )
    except Exception as error:  # a refusal by the rules (e.g. already revoked) is fine here
        if type(error).__module__ != "domain.errors":
            raise
        return
    history.append((body["type"], str(ack.record_id)))


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(operation, min_size=1, max_size=12), serial=st.integers(1, 10**6))
async def test_the_projected_status_equals_a_fold_of_the_events(services, steps, serial):
    today = date(2026, 11, 20)
    subject_id = services.files.register(
        RegisterSubject(**enterprise(serial, sectors=["road_transport"])), recorded_by="t"
    ).subject_id
    history: list[tuple[str, str]] = []  # (record type, record id) of each accepted record
    for n, step in enumerate(steps):
        apply(services, subject_id, history, n, step, today)
    for on in (today, date(2026, 3, 31), date(2025, 1, 1)):
        live, fold = (
            rule_view(await projected(services, subject_id, on)),
            rule_view(folded(services, subject_id, on)),
        )
        for field in RULE_FIELDS:
            assert live[field] == fold[field], f"{on} {field}:\n{live[field]}\n{fold[field]}"
        for grade in live["grades"]:
            scheme = services.policy.in_force(on).schemes[grade["scheme"]]
            assert grade["grade"] in scheme.grades


async def test_an_as_of_answer_equals_what_was_answered_that_day(client, services, clock):
    first_day = clock.moment
    sid = (await client.post("/v1/subjects", json=enterprise(501))).json()["subject_id"]
    await client.post(f"/v1/subjects/{sid}/events", json=rating("AS-OF-R"))
    last = (
        await client.post(
            f"/v1/subjects/{sid}/events", json=penalty("AS-OF-1", decision_date="2026-11-01")
        )
    ).json()
    answered = (
        await client.get(f"/v1/subjects/{sid}/status", params={"min_position": last["position"]})
    ).json()

    clock.moment = first_day + timedelta(days=40)  # later: more records, a revocation
    await client.post(
        f"/v1/subjects/{sid}/events",
        json=penalty("AS-OF-2", severity="serious", decision_date="2026-12-20"),
    )
    last = (
        await client.post(
            f"/v1/subjects/{sid}/events",
            json=follow_up(
                "RecordRevoked",
                "AS-OF-REV",
                decision_date="2026-12-21",
                target_record_id=answered["grades"][0]["adjustments"][0]["record_id"],
                reason="复议撤销",
            ),
        )
    ).json()
    now = (
        await client.get(f"/v1/subjects/{sid}/status", params={"min_position": last["position"]})
    ).json()
    assert rule_view(now) != rule_view(answered)

    as_of = await client.get(
        f"/v1/subjects/{sid}/status", params={"as_of": first_day.date().isoformat()}
    )
    assert as_of.status_code == 200
    assert rule_view(as_of.json()) == rule_view(answered)
    before = await client.get(f"/v1/subjects/{sid}/status", params={"as_of": "2026-01-01"})
    assert before.status_code == 404
    future = await client.get(f"/v1/subjects/{sid}/status", params={"as_of": "2027-12-31"})
    assert future.status_code == 422


async def test_one_subject_read_alone_is_answered_as_in_a_list(services):
    """A single id is compared, several are listed: the two statements answer alike."""
    today = date(2026, 11, 20)
    ids = []
    for serial in (701, 702):
        subject_id = services.files.register(
            RegisterSubject(**enterprise(serial, sectors=["road_transport"])), recorded_by="t"
        ).subject_id
        history: list[tuple[str, str]] = []
        for n, step in enumerate(
            [("penalty", "serious", 10), ("rating", ("sector_default", "B", "80"), 20)]
        ):
            apply(services, subject_id, history, n + serial * 10, step, today)
        ids.append(subject_id)
    services.runner.catch_up()
    async with services.read_engine.connect() as conn:
        listed, listed_position = await statuses(conn, [*ids, ids[0]], today, services.policy)
        for subject_id in ids:
            alone, position = await statuses(conn, [subject_id], today, services.policy)
            assert alone == {subject_id: listed[subject_id]}
            assert position == listed_position
        assert listed[ids[0]]["published_records"]["total"] >= 1  # the rows were read
        unknown, _ = await statuses(conn, [UUID(int=7)], today, services.policy)
        assert unknown == {}


def test_a_status_read_of_one_subject_is_rendered_once():
    """No expanding parameter in the one-subject statement: SQLAlchemy would render such a list
    into the SQL again at every execution."""
    from sqlalchemy.dialects import postgresql, sqlite

    from projections.credit_file.queries import ONE_STATUS_STATEMENT

    for dialect in (postgresql.dialect(), sqlite.dialect()):
        compiled = ONE_STATUS_STATEMENT.compile(dialect=dialect)
        assert "POSTCOMPILE" not in str(compiled)
        assert "'PenaltyDecided'" in str(compiled)  # the rule inputs, written in
