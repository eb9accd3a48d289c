"""Cases on the subject aggregate, decided from its own stream: given events, when a repair is
weighed or a case looked up, then the answer (or a refusal)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from uuid import uuid4

import pytest

from domain.cases import (
    CaseAccepted,
    CaseEvent,
    RepairApproved,
    RepairEligibility,
    code_hash,
)
from domain.errors import CaseNotFound, RecordNotFound, RuleViolated
from domain.events import (
    DishonestConductRecorded,
    LicenceGranted,
    ListEntered,
    PenaltyDecided,
    RecordCorrected,
    RecordRevoked,
)
from domain.subject import APPLICANT_NAMES_DECISION, APPLICANT_NOT_VERIFIED, Subject
from service.policy.loader import load_policy
from tests.builders import registered_enterprise
from tests.unit.domain.test_subject import (
    AUTHORITY,
    NOW,
    TODAY,
    given_subject,
    penalty_fields,
    when,
)

pytestmark = pytest.mark.domain
BOOK = load_policy()


def correct(subject: Subject, record_id, changes: dict, ref: str = "C-1") -> None:
    when(
        subject,
        RecordCorrected,
        {
            **AUTHORITY,
            "source_ref": ref,
            "decision_date": TODAY,
            "target_record_id": record_id,
            "changes": changes,
            "reason": "更正",
        },
    )


def file_repair(subject: Subject, record_id, number: str = "XF20261120000001", code="ABCD2345"):
    case_id = uuid4()
    subject.apply_for_repair(
        case_id=case_id,
        case_number=number,
        query_code_hash=code_hash(number, code),
        target_record_id=record_id,
        corrections=["罚款已缴纳"],
        commitment_signed=True,
        evidence=[],
        applicant="申请人",
        eligibility=subject.repair_eligibility(record_id, TODAY, BOOK),
        today=TODAY,
        recorded_at=NOW,
    )
    return case_id


def test_a_published_penalty_may_be_repaired_once_its_minimum_period_is_over():
    subject = given_subject()
    old = when(subject, PenaltyDecided, penalty_fields(decision_date=date(2026, 6, 1)))
    recent = when(subject, PenaltyDecided, penalty_fields("P-2", decision_date=date(2026, 10, 15)))
    assert subject.repair_eligibility(old.record_id, TODAY, BOOK) == RepairEligibility(
        "PenaltyDecided", True, date(2026, 9, 1)
    )
    assert subject.repair_eligibility(recent.record_id, TODAY, BOOK) == RepairEligibility(
        "PenaltyDecided", True, date(2027, 1, 15)
    )
    # A general penalty is published for a year at most (no declared end): then it is not.
    assert not subject.repair_eligibility(old.record_id, date(2027, 6, 1), BOOK).published


def test_eligibility_follows_the_record_as_corrected_since():
    subject = given_subject()
    recent = when(subject, PenaltyDecided, penalty_fields(decision_date=date(2026, 10, 15)))
    correct(subject, recent.record_id, {"decision_date": date(2026, 6, 1)})
    assert subject.repair_eligibility(recent.record_id, TODAY, BOOK).earliest_repair == date(
        2026, 9, 1
    )
    correct(subject, recent.record_id, {"declared_publication_end": date(2026, 10, 1)}, "C-2")
    # A declared end is honoured within the minimum and maximum: it has passed.
    assert not subject.repair_eligibility(recent.record_id, TODAY, BOOK).published
    correct(subject, recent.record_id, {"severity": "minor"}, "C-3")
    assert subject.repair_eligibility(recent.record_id, TODAY, BOOK) == RepairEligibility(
        "PenaltyDecided", False, None
    )


def test_a_revoked_or_repaired_record_is_not_published_and_is_refused():
    subject = given_subject()
    revoked = when(subject, PenaltyDecided, penalty_fields(decision_date=date(2026, 6, 1)))
    repaired = when(subject, PenaltyDecided, penalty_fields("P-2", decision_date=date(2026, 6, 1)))
    when(
        subject,
        RecordRevoked,
        {
            **AUTHORITY,
            "source_ref": "R-1",
            "decision_date": TODAY,
            "target_record_id": revoked.record_id,
            "reason": "复议撤销",
        },
    )
    assert not subject.repair_eligibility(revoked.record_id, TODAY, BOOK).published
    with pytest.raises(RuleViolated, match="not published"):
        file_repair(subject, revoked.record_id)
    case_id = file_repair(subject, repaired.record_id)
    steps: list[tuple[type[CaseEvent], dict[str, Any]]] = [
        (CaseAccepted, {}),
        (RepairApproved, {"reasons": "整改到位"}),
    ]
    for step, fields in steps:
        subject.take_case_step(
            case_id, step, by=AUTHORITY["authority_code"], recorded_at=NOW, **fields
        )
    assert not subject.repair_eligibility(repaired.record_id, TODAY, BOOK).published
    with pytest.raises(RuleViolated, match="already repaired"):
        file_repair(subject, repaired.record_id, "XF20261120000002")


def test_only_conduct_records_are_weighed_for_repair():
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
    with pytest.raises(RuleViolated, match="not a PenaltyDecided"):
        subject.repair_eligibility(entry.record_id, TODAY, BOOK)


def test_an_applicant_names_a_decision_on_the_subjects_file_however_typed():
    subject = given_subject()
    licence = when(
        subject,
        LicenceGranted,
        {
            **AUTHORITY,
            "source_ref": "豫交许〔2025〕0001号",
            "decision_date": date(2025, 1, 1),
            "licence_type": "普通",
            "document_name": "道路运输经营许可证",
            "content": "货运",
            "valid_from": date(2025, 1, 1),
        },
    )
    penalty = when(subject, PenaltyDecided, penalty_fields("郑交执罚〔2026〕0012号"))
    assert subject.record_by_decision_number("豫交许〔2025〕0001号") == licence.record_id
    for typed in ("郑交执罚[2026]0012号", " 郑交执罚 (2026) 0012号 ", "郑交执罚（２０２６）0012号"):
        assert subject.record_by_decision_number(typed) == penalty.record_id
    for typed in ("郑交执罚〔2026〕0013号", "郑交执罚〔2026〕", "", "  "):
        with pytest.raises(RecordNotFound) as refused:
            subject.record_by_decision_number(typed)
        assert refused.value.rule == APPLICANT_NAMES_DECISION
        assert refused.value.detail == APPLICANT_NOT_VERIFIED


def test_what_an_applicant_may_file_on_is_its_published_conduct_with_eligibility():
    subject = given_subject()
    old = when(subject, PenaltyDecided, penalty_fields("P-1", decision_date=date(2026, 6, 1)))
    recent = when(subject, PenaltyDecided, penalty_fields("P-2", decision_date=date(2026, 10, 15)))
    finding = when(
        subject,
        DishonestConductRecorded,
        {
            **AUTHORITY,
            "source_ref": "S-1",
            "decision_date": date(2026, 8, 3),
            "severity": "serious",
            "conduct_type": "拒不履行",
            "description": "拒不履行处罚决定",
        },
    )
    # Under 527号 a general penalty is published for a year at most: long over.
    expired = when(subject, PenaltyDecided, penalty_fields("P-0", decision_date=date(2020, 6, 1)))
    revoked = when(subject, PenaltyDecided, penalty_fields("P-3", decision_date=date(2026, 7, 1)))
    when(
        subject,
        RecordRevoked,
        {
            **AUTHORITY,
            "source_ref": "R-1",
            "decision_date": TODAY,
            "target_record_id": revoked.record_id,
            "reason": "复议撤销",
        },
    )
    # Serious conduct under 令第36号: published for a year at least, so repair from 2027-08-03.
    assert subject.published_conduct(TODAY, BOOK) == {
        old.record_id: RepairEligibility("PenaltyDecided", True, date(2026, 9, 1)),
        recent.record_id: RepairEligibility("PenaltyDecided", True, date(2027, 1, 15)),
        finding.record_id: RepairEligibility("DishonestConductRecorded", True, date(2027, 8, 3)),
    }
    assert expired.record_id not in subject.published_conduct(TODAY, BOOK)


def test_a_case_is_found_by_its_number_and_opened_by_its_query_code_alone():
    subject = given_subject()
    record = when(subject, PenaltyDecided, penalty_fields(decision_date=date(2026, 6, 1)))
    case_id = file_repair(subject, record.record_id, "XF20261120000007", "ABCD2345")
    assert subject.case_numbered("XF20261120000007") == case_id
    with pytest.raises(CaseNotFound, match="no case XF20261120000008"):
        subject.case_numbered("XF20261120000008")
    right = code_hash("XF20261120000007", " abcd2345 ")  # as typed: trimmed, either case
    assert subject.applicant_case("XF20261120000007", right) == case_id
    for number, code in (("XF20261120000007", "ABCD2346"), ("XF20261120000008", "ABCD2345")):
        with pytest.raises(CaseNotFound) as refused:
            subject.applicant_case(number, code_hash(number, code))
        assert refused.value.detail == "no case with this number and query code"


def test_what_cases_need_is_rebuilt_from_the_events_alone():
    subject = given_subject()
    registered = registered_enterprise(
        subject.id, recorded_at=datetime(2026, 11, 20, 4, tzinfo=UTC)
    ).collect_events()
    record = when(subject, PenaltyDecided, penalty_fields(decision_date=date(2026, 10, 15)))
    correct(subject, record.record_id, {"decision_date": date(2026, 6, 1)})
    file_repair(subject, record.record_id)
    correct(subject, record.record_id, {"severity": "serious"}, "C-2")
    replayed: Subject | None = None
    for event in [*registered, *subject.collect_events()]:
        replayed = event.mutate(replayed)
    assert replayed is not None  # the registration made it
    assert replayed.records == subject.records
    assert replayed.cases == subject.cases
    assert replayed.repair_eligibility(record.record_id, TODAY, BOOK) == RepairEligibility(
        "PenaltyDecided", True, date(2027, 6, 1)
    )


def black_entry(source_ref: str, basis_record_id=None) -> dict:
    return {
        **AUTHORITY,
        "source_ref": source_ref,
        "decision_date": date(2026, 7, 1),
        "list_type": "black",
        "basis": "严重失信",
        "basis_record_id": basis_record_id,
    }


def approve_repair(subject: Subject, record_id, number: str = "XF20261120000001") -> None:
    case_id = file_repair(subject, record_id, number)
    steps: tuple[tuple[type[CaseEvent], dict[str, Any]], ...] = (
        (CaseAccepted, {}),
        (RepairApproved, {"reasons": "整改到位"}),
    )
    for step, fields in steps:
        subject.take_case_step(
            case_id, step, by=AUTHORITY["authority_code"], recorded_at=NOW, **fields
        )


def test_a_list_entry_that_lapsed_with_its_basis_no_longer_holds_the_list():
    """信用修复管理办法 art. 3: the repair lifts the measures resting on the record at once; the
    entry need not be exited before the subject is listed again on another record."""
    subject = given_subject()
    basis = when(subject, PenaltyDecided, penalty_fields(decision_date=date(2026, 6, 1)))
    other = when(subject, PenaltyDecided, penalty_fields("P-2", decision_date=date(2026, 6, 2)))
    when(subject, ListEntered, black_entry("L-1", basis.record_id))
    with pytest.raises(RuleViolated, match="already on the black list") as held:
        when(subject, ListEntered, black_entry("L-2", other.record_id))
    assert held.value.rule == "one-open-entry-per-list"
    approve_repair(subject, basis.record_id)
    again = when(subject, ListEntered, black_entry("L-2", other.record_id))
    assert again.created and subject.open_lists == {"black": str(again.record_id)}


@pytest.mark.parametrize("how", ["repaired", "revoked"])
def test_no_list_entry_rests_on_a_record_repaired_or_revoked(how):
    """A repaired record is no longer used (信用修复管理办法 art. 3), a revoked one is void:
    neither a new entry nor a correction of one may name it as its basis."""
    subject = given_subject()
    gone = when(subject, PenaltyDecided, penalty_fields(decision_date=date(2026, 6, 1)))
    standing = when(subject, PenaltyDecided, penalty_fields("P-2", decision_date=date(2026, 6, 2)))
    if how == "repaired":
        approve_repair(subject, gone.record_id)
    else:
        when(
            subject,
            RecordRevoked,
            {
                **AUTHORITY,
                "source_ref": "R-1",
                "decision_date": TODAY,
                "target_record_id": gone.record_id,
                "reason": "复议撤销",
            },
        )
    with pytest.raises(RuleViolated, match="repaired or revoked") as refused:
        when(subject, ListEntered, black_entry("L-1", gone.record_id))
    assert refused.value.rule == "basis-record-stands"
    entry = when(subject, ListEntered, black_entry("L-1", standing.record_id))
    with pytest.raises(RuleViolated, match="repaired or revoked") as moved:
        correct(subject, entry.record_id, {"basis_record_id": str(gone.record_id)})
    assert moved.value.rule == "basis-record-stands"
    with pytest.raises(RuleViolated, match="not a PenaltyDecided"):
        correct(subject, entry.record_id, {"basis_record_id": str(entry.record_id)}, "C-2")


def test_a_correction_moving_an_entrys_basis_decides_whether_it_has_lapsed():
    """An entry whose basis was repaired, corrected to rest on another record that stands,
    holds the list again: the aggregate follows the basis as corrected, on replay too."""
    subject = given_subject()
    registered = registered_enterprise(subject.id, recorded_at=NOW).collect_events()
    repaired = when(subject, PenaltyDecided, penalty_fields(decision_date=date(2026, 6, 1)))
    standing = when(subject, PenaltyDecided, penalty_fields("P-2", decision_date=date(2026, 6, 2)))
    entry = when(subject, ListEntered, black_entry("L-1", repaired.record_id))
    approve_repair(subject, repaired.record_id)
    correct(subject, entry.record_id, {"basis_record_id": str(standing.record_id)})
    with pytest.raises(RuleViolated, match="already on the black list"):
        when(subject, ListEntered, black_entry("L-2", standing.record_id))
    replayed = None
    for event in [*registered, *subject.collect_events()]:
        replayed = event.mutate(replayed)
    assert replayed is not None
    assert replayed.records == subject.records and replayed.open_lists == subject.open_lists
