"""The subject aggregate: given events, when a command, then events (or a refusal)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Snapshot

from domain.errors import (
    DuplicateRecordConflict,
    IdempotencyKeyReused,
    InvalidInput,
    NotInPolicy,
    RecordNotFound,
    RuleViolated,
)
from domain.events import (
    CommitmentFulfilled,
    CommitmentMade,
    LicenceGranted,
    ListEntered,
    ListExited,
    PenaltyDecided,
    RatingIssued,
    RecordCorrected,
    RecordRevoked,
    SubjectRegistered,
)
from domain.policy import parse_policy
from domain.subject import Subject
from service.policy import load_policy, read_policy_data
from tests.builders import AUTHORITY, policy_data_without_scheme, registered_enterprise

pytestmark = pytest.mark.domain
TODAY = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, 4, tzinfo=UTC)
BOOK = load_policy()


def given_subject() -> Subject:
    subject = Subject.register(
        subject_id=uuid4(),
        kind="enterprise",
        code="91410105MA00000016",
        code_masked="91410105MA00000016",
        name=" 宏达运输 ",
        region_code="410105",
        sectors=["road_transport", "road_transport"],
        recorded_by="t",
        recorded_at=NOW,
    )
    subject.collect_events()
    return subject


def penalty_fields(source_ref="P-1", **overrides):
    return {
        **AUTHORITY,
        "source_ref": source_ref,
        "decision_date": date(2026, 10, 1),
        "severity": "general",
        "procedure": "general",
        "violation_type": "超限运输",
        "facts": "超限",
        "legal_basis": "条例",
        "penalty_categories": ["罚款"],
        "content": "罚款",
        "fine_amount": Decimal("2.0"),
        **overrides,
    }


def when(subject, record_type, fields, *, record_id=None, request_key=None, by="t", policy=BOOK):
    return subject.record(
        record_type,
        fields,
        record_id=record_id or uuid4(),
        recorded_by=by,
        request_key=request_key,
        today=TODAY,
        recorded_at=NOW,
        policy=policy,
    )


def test_registration_records_one_event_with_a_clean_name_and_sectors():
    subject = Subject.register(
        subject_id=uuid4(),
        kind="vehicle",
        code="豫A12345",
        code_masked="豫A12345",
        name=" 豫A12345 ",
        region_code="410100",
        sectors=["overload_control", "overload_control"],
        recorded_by="t",
        recorded_at=NOW,
    )
    [event] = subject.collect_events()
    assert isinstance(event, SubjectRegistered)
    assert (event.name, event.sectors, event.timestamp) == ("豫A12345", ["overload_control"], NOW)


@pytest.mark.parametrize(("kind", "name"), [("company", "x"), ("enterprise", "   ")])
def test_registration_refuses_unknown_kinds_and_blank_names(kind, name):
    with pytest.raises(InvalidInput):
        Subject.register(
            subject_id=uuid4(),
            kind=kind,
            code="c",
            code_masked="c",
            name=name,
            region_code="410100",
            sectors=[],
            recorded_by="t",
            recorded_at=NOW,
        )


def test_a_penalty_becomes_one_event_with_the_recorded_time_and_provenance():
    subject = given_subject()
    outcome = when(subject, PenaltyDecided, penalty_fields(), request_key="k1", by="client-a")
    [event] = subject.collect_events()
    assert outcome.created and outcome.version == 2
    assert isinstance(event, PenaltyDecided)
    assert (event.record_id, event.timestamp, event.recorded_by, event.request_key) == (
        outcome.record_id,
        NOW,
        "client-a",
        "k1",
    )


def test_the_same_record_sent_again_is_recognised_not_repeated():
    subject = given_subject()
    first = when(subject, PenaltyDecided, penalty_fields())
    again = when(subject, PenaltyDecided, penalty_fields(), by="another-client")
    assert len(subject.collect_events()) == 1
    assert (again.created, again.record_id, again.version) == (False, first.record_id, 2)


def test_the_same_decision_number_with_different_content_is_refused():
    subject = given_subject()
    when(subject, PenaltyDecided, penalty_fields())
    with pytest.raises(DuplicateRecordConflict):
        when(subject, PenaltyDecided, penalty_fields(fine_amount=Decimal("3.0")))


def test_a_request_key_replays_its_request_and_refuses_another():
    subject = given_subject()
    when(subject, PenaltyDecided, penalty_fields("P-1"), request_key="k")
    replay = when(subject, PenaltyDecided, penalty_fields("P-1"), request_key="k")
    assert replay.replayed_request and not replay.created
    with pytest.raises(IdempotencyKeyReused):
        when(subject, PenaltyDecided, penalty_fields("P-2"), request_key="k")
    # the key is scoped to its client: another client may use the same key
    other = when(subject, PenaltyDecided, penalty_fields("P-2"), request_key="k", by="other")
    assert other.created


def test_a_decision_in_the_future_is_refused_and_nothing_is_recorded():
    subject = given_subject()
    with pytest.raises(InvalidInput, match="in the future") as refused:
        when(subject, PenaltyDecided, penalty_fields(decision_date=date(2026, 11, 21)))
    assert refused.value.rule == "decision-date-not-in-future"
    assert subject.collect_events() == [] and subject.version == 1


def test_missing_and_unknown_fields_are_refused():
    subject = given_subject()
    fields = penalty_fields()
    del fields["facts"]
    with pytest.raises(InvalidInput, match="facts") as missing:
        when(subject, PenaltyDecided, fields)
    with pytest.raises(InvalidInput, match="colour") as unknown:
        when(subject, PenaltyDecided, penalty_fields(colour="red"))
    assert (missing.value.rule, unknown.value.rule) == (
        "record-fields-complete",
        "record-fields-known",
    )


def test_a_list_can_be_entered_once_until_exited():
    subject = given_subject()
    entry = when(
        subject,
        ListEntered,
        {
            **AUTHORITY,
            "source_ref": "L-1",
            "decision_date": date(2026, 6, 1),
            "list_type": "black",
            "basis": "严重失信",
        },
    )
    with pytest.raises(RuleViolated, match="already on the black list") as listed:
        when(
            subject,
            ListEntered,
            {
                **AUTHORITY,
                "source_ref": "L-2",
                "decision_date": date(2026, 6, 2),
                "list_type": "black",
                "basis": "again",
            },
        )
    when(
        subject,
        ListExited,
        {
            **AUTHORITY,
            "source_ref": "X-1",
            "decision_date": TODAY,
            "entry_record_id": entry.record_id,
            "reason": "期满",
        },
    )
    assert listed.value.rule == "one-open-entry-per-list"
    with pytest.raises(RuleViolated, match="already closed") as closed:
        when(
            subject,
            ListExited,
            {
                **AUTHORITY,
                "source_ref": "X-2",
                "decision_date": TODAY,
                "entry_record_id": entry.record_id,
                "reason": "again",
            },
        )
    assert closed.value.rule == "record-closed-once"
    again = when(
        subject,
        ListEntered,
        {
            **AUTHORITY,
            "source_ref": "L-3",
            "decision_date": TODAY,
            "list_type": "black",
            "basis": "再次",
        },
    )
    assert again.created


def test_follow_ups_must_point_at_a_record_of_the_right_type():
    subject = given_subject()
    licence = when(
        subject,
        LicenceGranted,
        {
            **AUTHORITY,
            "source_ref": "XK-1",
            "decision_date": date(2025, 1, 1),
            "licence_type": "普通",
            "document_name": "许可证",
            "content": "货运",
            "valid_from": date(2025, 1, 1),
        },
    )
    with pytest.raises(RuleViolated, match="not a CommitmentMade"):
        when(
            subject,
            CommitmentFulfilled,
            {
                **AUTHORITY,
                "source_ref": "F-1",
                "decision_date": TODAY,
                "commitment_record_id": licence.record_id,
            },
        )
    with pytest.raises(RecordNotFound):
        when(
            subject,
            CommitmentFulfilled,
            {
                **AUTHORITY,
                "source_ref": "F-2",
                "decision_date": TODAY,
                "commitment_record_id": UUID(int=7),
            },
        )
    commitment = when(
        subject,
        CommitmentMade,
        {
            **AUTHORITY,
            "source_ref": "C-1",
            "decision_date": date(2026, 1, 1),
            "commitment_type": "approval_substitute",
            "content": "承诺",
        },
    )
    done = when(
        subject,
        CommitmentFulfilled,
        {
            **AUTHORITY,
            "source_ref": "F-3",
            "decision_date": TODAY,
            "commitment_record_id": commitment.record_id,
        },
    )
    assert done.created


def test_a_revoked_record_cannot_be_revoked_or_corrected_again():
    subject = given_subject()
    penalty = when(subject, PenaltyDecided, penalty_fields())
    when(
        subject,
        RecordRevoked,
        {
            **AUTHORITY,
            "source_ref": "R-1",
            "decision_date": TODAY,
            "target_record_id": penalty.record_id,
            "reason": "复议撤销",
        },
    )
    with pytest.raises(RuleViolated, match="already revoked") as revoked:
        when(
            subject,
            RecordCorrected,
            {
                **AUTHORITY,
                "source_ref": "C-1",
                "decision_date": TODAY,
                "target_record_id": penalty.record_id,
                "changes": {"severity": "minor"},
                "reason": "x",
            },
        )
    assert revoked.value.rule == "revocation-is-final"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({}, "at least one"),
        ({"record_id": "x"}, "no changeable"),
        ({"source_ref": "other"}, "no changeable"),
        ({"severity": "grave"}, "severity"),
    ],
)
def test_a_correction_may_change_only_content_fields(changes, message):
    subject = given_subject()
    penalty = when(subject, PenaltyDecided, penalty_fields())
    with pytest.raises(InvalidInput, match=message):
        when(
            subject,
            RecordCorrected,
            {
                **AUTHORITY,
                "source_ref": "C-1",
                "decision_date": TODAY,
                "target_record_id": penalty.record_id,
                "changes": changes,
                "reason": "x",
            },
        )


def rating_fields(source_ref="E-1", **overrides):
    return {
        **AUTHORITY,
        "source_ref": source_ref,
        "decision_date": date(2026, 6, 1),
        "scheme": "sector_default",
        "grade": "A",
        "valid_from": date(2026, 6, 1),
        "valid_until": date(2027, 6, 1),
        **overrides,
    }


# The shipped policy, but sector_default is in force only until its third version (2026-04-01).
NO_SECTOR_DEFAULT_FROM_2026 = parse_policy(
    policy_data_without_scheme(read_policy_data(), 2, "sector_default")
)


def test_a_rating_under_a_scheme_not_in_force_on_its_decision_date_is_refused():
    subject = given_subject()
    with pytest.raises(NotInPolicy) as refused:
        when(subject, RatingIssued, rating_fields(), policy=NO_SECTOR_DEFAULT_FROM_2026)
    assert refused.value.code == "validation-error"
    assert refused.value.detail == (
        "scheme 'sector_default' is not in force on 2026-06-01 (policy 2026-36; schemes in "
        "force: highway_construction, road_transport_quality, driver_integrity)"
    )
    assert not subject.collect_events()
    before = rating_fields(
        "E-2", decision_date=date(2026, 3, 1), valid_from=date(2026, 3, 1)
    )  # still under the 2023 version, which has the scheme
    assert when(subject, RatingIssued, before, policy=NO_SECTOR_DEFAULT_FROM_2026).created
    with pytest.raises(NotInPolicy, match="'bridge_building' is not in force on 2026-06-01"):
        when(subject, RatingIssued, rating_fields("E-3", scheme="bridge_building"))


@pytest.mark.parametrize(
    ("scheme", "grade"),
    [("highway_construction", "AAA"), ("driver_integrity", "D"), ("sector_default", "a")],
)
def test_a_grade_outside_its_scheme_is_refused(scheme, grade):
    subject = given_subject()
    with pytest.raises(NotInPolicy, match=f"grade '{grade}' is not a grade of {scheme}"):
        when(subject, RatingIssued, rating_fields(scheme=scheme, grade=grade))
    assert not subject.collect_events()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"grade": "AAA"}, "grade 'AAA' is not a grade of sector_default"),
        ({"scheme": "driver_integrity"}, "grade 'C' is not a grade of driver_integrity"),
        ({"decision_date": "2026-05-01"}, "scheme 'sector_default' is not in force on 2026-05-01"),
    ],
)
def test_a_correction_cannot_take_a_rating_outside_the_policy(changes, message):
    subject = given_subject()
    old = rating_fields(grade="C", decision_date=date(2026, 3, 1), valid_from=date(2026, 3, 1))
    rating = when(subject, RatingIssued, old, policy=NO_SECTOR_DEFAULT_FROM_2026)
    correction = {
        **AUTHORITY,
        "source_ref": "C-1",
        "decision_date": TODAY,
        "target_record_id": rating.record_id,
        "changes": changes,
        "reason": "x",
    }
    with pytest.raises(NotInPolicy, match=f"the corrected RatingIssued: {message}"):
        when(subject, RecordCorrected, correction, policy=NO_SECTOR_DEFAULT_FROM_2026)
    fine = {**correction, "changes": {"grade": "B"}}
    assert when(subject, RecordCorrected, fine, policy=NO_SECTOR_DEFAULT_FROM_2026).created


def test_state_rebuilt_from_events_equals_state_built_by_commands():
    subject = given_subject()
    registered = registered_enterprise(subject.id, recorded_at=NOW).collect_events()
    entry = when(
        subject,
        ListEntered,
        {
            **AUTHORITY,
            "source_ref": "L-1",
            "decision_date": date(2026, 6, 1),
            "list_type": "watch",
            "basis": "多次轻微",
        },
    )
    when(subject, PenaltyDecided, penalty_fields(), request_key="k")
    when(
        subject,
        ListExited,
        {
            **AUTHORITY,
            "source_ref": "X-1",
            "decision_date": TODAY,
            "entry_record_id": entry.record_id,
            "reason": "整改",
        },
    )
    replayed = None
    for event in [*registered, *subject.collect_events()]:
        replayed = event.mutate(replayed)
    assert replayed.records == subject.records
    assert replayed.open_lists == subject.open_lists == {}
    assert replayed.request_keys == subject.request_keys


def test_a_snapshot_from_before_ratings_kept_their_scheme_and_grade_is_rebuilt_first():
    """Such a snapshot cannot check a correction of a rating's grade: the subject it gives
    refuses to decide until it is rebuilt from its events (as CreditLedger.subject does)."""
    subject = given_subject()
    when(subject, RatingIssued, rating_fields())
    assert {"scheme": "sector_default", "grade": "A"}.items() <= next(
        iter(subject.records.values())
    )["ruled"].items()
    snapshot = Snapshot.take(subject)
    snapshot.state["class_version"] = 2
    for record in snapshot.state["records"].values():
        del record["ruled"]["scheme"], record["ruled"]["grade"]
    restored = snapshot.mutate(None)
    with pytest.raises(RuntimeError, match="older snapshot"):
        when(restored, RatingIssued, rating_fields("E-2"))
