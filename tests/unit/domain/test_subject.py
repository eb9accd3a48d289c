"""The subject aggregate: given events, when a command, then events (or a refusal)."""

from __future__ import annotations

import copy
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from eventsourcing.domain import Snapshot

from domain.cases import CaseAccepted, RepairApproved, code_hash
from domain.errors import (
    DuplicateRecordConflict,
    IdempotencyKeyReused,
    InvalidInput,
    NotInPolicy,
    RecordNotFound,
    RuleViolated,
)
from domain.events import (
    RECORD_EVENT_TYPES,
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
from domain.policy import PolicyBook, parse_policy
from domain.subject import Subject, digests_only_for, natural_key
from service.policy import load_policy, read_policy_data
from tests.builders import (
    ADMINISTRATIVE_CONTENT,
    AUTHORITY,
    AUTHORITY_CODE,
    policy_data_without_scheme,
    policy_version_data,
    registered_enterprise,
)

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


@pytest.mark.parametrize("record_type", list(ADMINISTRATIVE_CONTENT))
def test_each_further_kind_of_administrative_information_is_its_own_fact(record_type):
    """行政强制, 行政确认, 行政裁决, 行政奖励 and 行政监督检查 are recorded as sent, and are no
    finding on the subject's credit: none is conduct, a rule input or a credit decision."""
    subject = given_subject()
    content = ADMINISTRATIVE_CONTENT[record_type]
    fields = {**AUTHORITY, "source_ref": "X-1", "decision_date": date(2026, 10, 9), **content}
    outcome = when(subject, RECORD_EVENT_TYPES[record_type], fields)
    [event] = subject.collect_events()
    assert outcome.created and type(event).__name__ == record_type
    assert {name: getattr(event, name) for name in content} == content
    traits = RECORD_EVENT_TYPES[record_type].TRAITS
    assert not (traits.conduct or traits.rule_input or traits.credit_decision)
    again = when(subject, RECORD_EVENT_TYPES[record_type], fields)
    assert (again.created, again.record_id) == (False, outcome.record_id)
    with pytest.raises(InvalidInput, match="in the future"):
        when(
            subject,
            RECORD_EVENT_TYPES[record_type],
            {**fields, "source_ref": "X-2", "decision_date": date(2026, 11, 21)},
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
    policy_data_without_scheme(read_policy_data(), "2026-36", "sector_default")
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


def policy_with_highway_aa_from(minimum: int) -> PolicyBook:
    """The shipped policy, but from 2026-04-01 highway construction's AA starts at `minimum`."""
    data = copy.deepcopy(read_policy_data())
    bands = policy_version_data(data, "2026-36")["schemes"]["highway_construction"]["bands"]
    bands[0]["min_score"] = bands[1]["max_score"] = minimum
    return parse_policy(data)


@pytest.mark.parametrize(
    ("scheme", "grade", "score", "message"),
    [
        ("highway_construction", "AA", "94.9", "grade 'AA' contradicts score 94.9"),
        ("highway_construction", "A", "95", "under highway_construction (policy 2026-36) a score"),
        ("sector_default", "B", "74.99", "a score of 74.99 is 'C'"),
        ("road_transport_quality", "AAA", "849.99", "a score of 849.99 is 'AA'"),
        ("driver_integrity", "AA", "11", "a score of 11 is 'A'"),
        ("highway_construction", "AA", "100.5", "score 100.5 has no grade under"),
        ("driver_integrity", "AA", "10.5", "no band holds 10.5"),
    ],
)
def test_a_rating_whose_grade_contradicts_its_score_is_refused(scheme, grade, score, message):
    subject = given_subject()
    fields = rating_fields(scheme=scheme, grade=grade, score=Decimal(score))
    with pytest.raises(InvalidInput, match=re.escape(message)) as refused:
        when(subject, RatingIssued, fields)
    assert refused.value.rule == "rating-score-in-grade-band"
    assert not subject.collect_events()


@pytest.mark.parametrize(
    ("scheme", "grade", "score"),
    [
        ("highway_construction", "AA", "95"),
        ("highway_construction", "A", "94.99"),
        ("highway_construction", "D", "0"),
        ("road_transport_quality", "AAA", "1000"),
        ("driver_integrity", "AAA", "0"),
        ("driver_integrity", "B", "36"),
        ("highway_construction", "AA", None),  # no score: taken at its grade
        ("driver_integrity", "A", None),
    ],
)
def test_a_rating_whose_score_is_in_its_grades_band_is_recorded(scheme, grade, score):
    subject = given_subject()
    fields = rating_fields(
        scheme=scheme, grade=grade, score=None if score is None else Decimal(score)
    )
    assert when(subject, RatingIssued, fields).created


def test_a_ratings_grade_and_score_agree_under_the_bands_in_force_on_its_decision_date():
    """With AA from 90 from 2026-04-01 on, an AA of 92 is one in June and none in March."""
    book = policy_with_highway_aa_from(90)
    subject = given_subject()
    june = rating_fields(scheme="highway_construction", grade="AA", score=Decimal("92"))
    assert when(subject, RatingIssued, june, policy=book).created
    march = {**june, "source_ref": "E-2", "decision_date": date(2026, 3, 1)}
    with pytest.raises(InvalidInput, match=r"\(policy 2023-58\) a score of 92 is 'A'"):
        when(subject, RatingIssued, {**march, "valid_from": date(2026, 3, 1)}, policy=book)


def test_a_correction_cannot_make_a_ratings_grade_and_score_disagree():
    subject = given_subject()
    fields = rating_fields(scheme="highway_construction", grade="A", score=Decimal("88"))
    rating = when(subject, RatingIssued, fields)

    def correction(source_ref: str, changes: dict[str, str]) -> dict[str, object]:
        return {
            **AUTHORITY,
            "source_ref": source_ref,
            "decision_date": TODAY,
            "target_record_id": rating.record_id,
            "changes": changes,
            "reason": "录入错误",
        }

    for changes in ({"grade": "AA"}, {"score": "96"}, {"score": "150"}):
        with pytest.raises(InvalidInput, match="the corrected RatingIssued: ") as refused:
            when(subject, RecordCorrected, correction("C-1", changes))
        assert refused.value.rule == "rating-score-in-grade-band"
    assert when(subject, RecordCorrected, correction("C-1", {"grade": "AA", "score": "96"}))
    assert subject.records[str(rating.record_id)]["ruled"]["score"] == "96"
    with pytest.raises(InvalidInput, match="grade 'AA' contradicts score 94"):
        when(subject, RecordCorrected, correction("C-2", {"score": "94"}))


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
    replayed: Subject | None = None
    for event in [*registered, *subject.collect_events()]:
        replayed = event.mutate(replayed)
    assert replayed is not None  # the registration made it
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


def test_a_snapshot_from_before_ratings_kept_their_score_is_rebuilt_first():
    """Such a snapshot cannot check a correction of a rating's grade against its score."""
    subject = given_subject()
    when(subject, RatingIssued, rating_fields(score=Decimal("88")))
    assert next(iter(subject.records.values()))["ruled"]["score"] == "88"
    snapshot = Snapshot.take(subject)
    snapshot.state["class_version"] = 3
    for record in snapshot.state["records"].values():
        del record["ruled"]["score"]
    restored = snapshot.mutate(None)
    with pytest.raises(RuntimeError, match="older snapshot"):
        when(restored, RatingIssued, rating_fields("E-2"))


def list_fields(source_ref, list_type, decided, **overrides):
    return {
        **AUTHORITY,
        "source_ref": source_ref,
        "decision_date": decided,
        "list_type": list_type,
        "basis": "认定决定",
        **overrides,
    }


def red_refused(subject, fields, policy=BOOK) -> str:
    """The detail of a refused red-list entry, after checking it names its rule and wrote
    nothing."""
    subject.collect_events()
    with pytest.raises(RuleViolated) as refused:
        when(subject, ListEntered, fields, policy=policy)
    assert refused.value.rule == "red-list-criteria-met"
    assert not subject.collect_events()
    return refused.value.detail


def test_a_black_listed_subject_is_not_put_on_the_red_list_on_a_day_the_entry_lasts():
    subject = given_subject()
    black = when(subject, ListEntered, list_fields("L-B", "black", date(2026, 6, 1)))
    detail = red_refused(subject, list_fields("L-R", "red", date(2026, 8, 1)))
    assert detail == (
        "the subject does not meet the red-list criteria on 2026-08-01 (policy 2026-36): "
        f"on the black list (entry {black.record_id}, since 2026-06-01)"
    )
    # judged on the entry's decision date: before the black-list entry, nothing stood in the way
    assert when(subject, ListEntered, list_fields("L-R", "red", date(2026, 5, 1))).created


def test_an_exit_from_the_black_list_counts_from_its_own_date():
    subject = given_subject()
    black = when(subject, ListEntered, list_fields("L-B", "black", date(2026, 6, 1)))
    exit_fields = {
        **AUTHORITY,
        "source_ref": "X-1",
        "decision_date": date(2026, 9, 1),
        "entry_record_id": black.record_id,
        "reason": "修复",
    }
    when(subject, ListExited, exit_fields)
    assert "on the black list" in red_refused(subject, list_fields("L-R", "red", date(2026, 8, 31)))
    assert when(subject, ListEntered, list_fields("L-R", "red", date(2026, 9, 1))).created


def test_a_published_serious_penalty_keeps_the_subject_off_the_red_list_until_repaired():
    subject = given_subject()
    penalty = when(
        subject, PenaltyDecided, penalty_fields(severity="serious", decision_date=date(2025, 3, 1))
    )
    assert red_refused(subject, list_fields("L-R", "red", TODAY)).endswith(
        f"serious conduct {penalty.record_id} of 2025-03-01 is published"
    )
    case_id = uuid4()
    subject.apply_for_repair(
        case_id=case_id,
        case_number="XF20261120000001",
        query_code_hash=code_hash("XF20261120000001", "ABCD2345"),
        target_record_id=penalty.record_id,
        corrections=["罚款已缴纳"],
        commitment_signed=True,
        evidence=[],
        applicant="申请人",
        eligibility=subject.repair_eligibility(penalty.record_id, TODAY, BOOK),
        today=TODAY,
        recorded_at=NOW,
    )
    subject.take_case_step(case_id, CaseAccepted, by=AUTHORITY_CODE, recorded_at=NOW)
    subject.take_case_step(
        case_id, RepairApproved, by=AUTHORITY_CODE, recorded_at=NOW, reasons="整改到位"
    )
    # repair ends the record's use for lists (令第36号), whatever the entry's day
    assert when(subject, ListEntered, list_fields("L-R", "red", TODAY)).created


def test_a_revoked_penalty_does_not_keep_the_subject_off_the_red_list():
    subject = given_subject()
    penalty = when(subject, PenaltyDecided, penalty_fields(decision_date=date(2026, 5, 1)))
    assert "within 12 months" in red_refused(subject, list_fields("L-R", "red", TODAY))
    revocation = {
        **AUTHORITY,
        "source_ref": "RV-1",
        "decision_date": TODAY,
        "target_record_id": penalty.record_id,
        "reason": "复议撤销",
    }
    when(subject, RecordRevoked, revocation)
    assert when(subject, ListEntered, list_fields("L-R", "red", TODAY)).created


def policy_with_red_list(version_id: str, **criteria: object) -> PolicyBook:
    """The shipped policy, with other red-list criteria in one version."""
    data = copy.deepcopy(read_policy_data())
    policy_version_data(data, version_id)["lists"]["red"].update(criteria)
    return parse_policy(data)


def test_the_red_list_criteria_are_those_of_the_policy_in_force_on_the_entrys_date():
    """With six clean months from 2026-04-01 on, a minor penalty of 2026-03-01 stands in the
    way of an entry of 2026-03-20 (twelve months then) and of one of 2026-08-31, not of one of
    2026-09-01 (six months on)."""
    book = policy_with_red_list("2026-36", clean_months=6)
    subject = given_subject()
    when(subject, PenaltyDecided, penalty_fields(severity="minor", decision_date=date(2026, 3, 1)))
    detail = red_refused(subject, list_fields("L-R", "red", date(2026, 3, 20)), policy=book)
    assert "(policy 2023-58)" in detail and "within 12 months" in detail
    assert "within 6 months" in red_refused(
        subject, list_fields("L-R", "red", date(2026, 8, 31)), policy=book
    )
    assert when(subject, ListEntered, list_fields("L-R", "red", date(2026, 9, 1)), policy=book)


def test_the_red_list_wants_the_top_grade_where_the_policy_says_so():
    subject = given_subject()
    when(subject, RatingIssued, rating_fields(grade="A", score=Decimal("90")))
    entry = list_fields("L-R", "red", TODAY)
    assert red_refused(subject, entry).endswith("sector_default grade A is not the top grade AA")
    book = policy_with_red_list("2026-36", requires_top_grade=False)
    assert when(subject, ListEntered, entry, policy=book).created


def test_a_correction_is_no_way_onto_the_red_list():
    subject = given_subject()
    when(subject, ListEntered, list_fields("L-B", "black", date(2026, 6, 1)))
    watch = when(subject, ListEntered, list_fields("L-W", "watch", date(2026, 7, 1)))
    red = when(subject, ListEntered, list_fields("L-R", "red", date(2026, 5, 1)))

    def correction(source_ref, target, changes):
        return {
            **AUTHORITY,
            "source_ref": source_ref,
            "decision_date": TODAY,
            "target_record_id": target,
            "changes": changes,
            "reason": "更正",
        }

    for target, changes in (
        (watch.record_id, {"list_type": "red"}),
        (red.record_id, {"decision_date": "2026-07-01"}),
    ):
        with pytest.raises(RuleViolated, match="the corrected ListEntered: the subject does not"):
            when(subject, RecordCorrected, correction("C-1", target, changes))
    moved = correction("C-1", red.record_id, {"decision_date": "2026-05-15"})
    assert when(subject, RecordCorrected, moved).created
    # a penalty recorded late, decided before the entry: its other content is still corrected
    when(subject, PenaltyDecided, penalty_fields(decision_date=date(2026, 4, 1)))
    reworded = correction("C-2", red.record_id, {"basis": "诚信典型"})
    assert when(subject, RecordCorrected, reworded).created


def test_a_subject_rebuilt_for_some_decision_numbers_digests_only_those_and_never_guesses():
    """An import rebuilds a batch's subjects with the content digests of the decision numbers
    its rows carry (and of any record made under an Idempotency-Key): a repeat of one of those
    is told from a conflict as on a subject rebuilt whole; any other is refused to the caller
    as a mistake, never decided as a conflict or a repeat."""
    subject = registered_enterprise(uuid4(), recorded_at=NOW)
    for source_ref in ("P-1", "P-2"):
        when(subject, PenaltyDecided, penalty_fields(source_ref))
    when(subject, PenaltyDecided, penalty_fields("P-3"), request_key="k")
    events = subject.collect_events()
    key = {ref: natural_key("PenaltyDecided", AUTHORITY_CODE, ref) for ref in ("P-1", "P-2", "P-3")}

    def rebuilt() -> Subject:
        replayed = None
        for event in events:
            replayed = event.mutate(replayed)
        assert replayed is not None
        return replayed

    whole = rebuilt()
    with digests_only_for({key["P-2"]}):
        partial = rebuilt()
    assert [r["digest"] for r in whole.records.values()] == [
        r["digest"] for r in subject.records.values()
    ]
    digests = {ref: partial.records[partial.natural_keys[key[ref]]]["digest"] for ref in key}
    assert digests["P-1"] is None
    for ref in ("P-2", "P-3"):
        assert digests[ref] == whole.records[whole.natural_keys[key[ref]]]["digest"]
    assert partial.lacks_digest(key["P-1"])
    assert not partial.lacks_digest(key["P-2"]) and not partial.lacks_digest(key["P-3"])
    assert not partial.lacks_digest(natural_key("PenaltyDecided", AUTHORITY_CODE, "P-9"))

    assert not when(partial, PenaltyDecided, penalty_fields("P-2")).created
    with pytest.raises(DuplicateRecordConflict):
        when(partial, PenaltyDecided, penalty_fields("P-2", fine_amount=Decimal("3.0")))
    with pytest.raises(RuntimeError, match="rebuilt without its digest"):
        when(partial, PenaltyDecided, penalty_fields("P-1"))
    assert when(partial, PenaltyDecided, penalty_fields("P-4")).created
    # Outside the block, a rebuild computes every digest again; a partial one can be completed
    # from the events it was rebuilt from.
    assert [r["digest"] for r in rebuilt().records.values()] == [
        r["digest"] for r in whole.records.values()
    ]
    with digests_only_for(set()):
        completed = rebuilt()
    assert completed.lacks_digest(key["P-1"]) and completed.lacks_digest(key["P-2"])
    completed.complete_digests(events)
    assert vars(completed) == vars(whole)


def test_a_record_made_for_some_decision_numbers_keeps_only_those_digests():
    """An import's batch records with the digests of the decision numbers its rows carry twice
    (and of a record made under an Idempotency-Key): another new record keeps none, and is told
    as missing, never guessed, until the subject is rebuilt with it; a record it repeats is
    compared on its digest as ever. Outside the block every record keeps its digest."""
    subject = registered_enterprise(uuid4(), recorded_at=NOW)
    when(subject, PenaltyDecided, penalty_fields("P-0"))
    key = {ref: natural_key("PenaltyDecided", AUTHORITY_CODE, ref) for ref in ("P-1", "P-2")}
    with digests_only_for({key["P-2"]}):
        for ref in ("P-1", "P-2"):
            when(subject, PenaltyDecided, penalty_fields(ref))
        when(subject, PenaltyDecided, penalty_fields("P-3"), request_key="k")
        assert not when(subject, PenaltyDecided, penalty_fields("P-2")).created
        with pytest.raises(DuplicateRecordConflict):
            when(subject, PenaltyDecided, penalty_fields("P-2", fine_amount=Decimal("3.0")))
        assert not when(subject, PenaltyDecided, penalty_fields("P-0")).created  # kept its own
    assert subject.lacks_digest(key["P-1"]) and not subject.lacks_digest(key["P-2"])
    with pytest.raises(RuntimeError, match="rebuilt without its digest"):
        when(subject, PenaltyDecided, penalty_fields("P-1"))
    assert not when(subject, PenaltyDecided, penalty_fields("P-3"), request_key="k").created

    whole = None
    for event in subject.collect_events():
        whole = event.mutate(whole)
    assert whole is not None and not whole.lacks_digest(key["P-1"])
    digests = {r["id"]: r["digest"] for r in whole.records.values()}
    assert all(
        record["digest"] in (None, digests[record["id"]]) for record in subject.records.values()
    )
