"""Stored events outlive their classes: stable topics, versions and upcasters."""

from __future__ import annotations

import copy
import dataclasses
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import uuid4

import pytest
from eventsourcing.persistence import StoredEvent

from domain.events import (
    RECORD_EVENT_TYPES,
    LicenceGranted,
    ListEntered,
    PenaltyDecided,
    RecordEvent,
    SubjectRegistered,
)
from service.store.database import Database
from service.store.ledger import open_ledger
from tests.builders import registered_enterprise, stored_event

pytestmark = pytest.mark.domain
# The 双公示 standard's fields that penalties gained in version 3 and licences in version 2.
STANDARD_FIELDS = ("legal_representative", "data_source_name", "data_source_code", "remarks")


@pytest.fixture
def ledger(empty_sqlite: Database):
    database = empty_sqlite
    ledger = open_ledger(database)
    yield ledger
    ledger.close()


def penalty() -> PenaltyDecided:
    return stored_event(
        PenaltyDecided,
        originator_id=uuid4(),
        originator_version=2,
        timestamp=datetime.now(UTC),
        record_id=uuid4(),
        decision_date=date(2024, 5, 6),
        authority_name="支队",
        authority_code="11410100MB00000018",
        source_ref="P-1",
        recorded_by="t",
        request_key=None,
        severity="general",
        procedure="simplified",
        violation_type="v",
        facts="f",
        legal_basis="l",
        penalty_categories=["警告"],
        content="c",
        fine_amount=Decimal("0.05"),
        legal_representative="张建国",
        effective_until=date(2025, 5, 5),
        data_source_name="支队",
        data_source_code="11410100MB00000018",
        remarks="备注",
    )


def test_every_event_type_has_a_stable_topic_of_its_own():
    event_types: list[type[SubjectRegistered | RecordEvent]] = [
        SubjectRegistered,
        *RECORD_EVENT_TYPES.values(),
    ]
    topics = [cls.TOPIC for cls in event_types]
    assert all(
        topic == f"credit:{cls.__name__}" for topic, cls in zip(topics, event_types, strict=True)
    )
    assert len(set(topics)) == len(topics)


def test_an_event_round_trips_with_its_stable_topic_and_version(ledger):
    event = penalty()
    stored = ledger.mapper.to_stored_event(event)
    assert stored.topic == "credit:PenaltyDecided"
    assert ledger.mapper.transcoder.decode(stored.state)["class_version"] == 3
    assert ledger.mapper.to_domain_event(stored) == event


def test_a_version_1_penalty_still_loads_with_the_general_procedure(ledger):
    state = ledger.mapper.transcoder.decode(ledger.mapper.to_stored_event(penalty()).state)
    # exactly what version 1 stored
    for field in ("procedure", *STANDARD_FIELDS, "effective_until", "class_version"):
        del state[field]
    old = StoredEvent(
        originator_id=uuid4(),
        originator_version=2,
        topic="credit:PenaltyDecided",
        state=ledger.mapper.transcoder.encode(state),
    )
    loaded = ledger.mapper.to_domain_event(old)
    assert isinstance(loaded, PenaltyDecided)
    assert loaded.procedure == "general"
    assert loaded.fine_amount == Decimal("0.05")
    assert {f.name for f in dataclasses.fields(loaded)} >= {"procedure", "severity"}
    assert (loaded.legal_representative, loaded.effective_until, loaded.remarks) == (None,) * 3


def test_a_version_2_penalty_still_loads_without_the_standards_later_fields(ledger):
    recorded = penalty()
    state = ledger.mapper.transcoder.decode(ledger.mapper.to_stored_event(recorded).state)
    for field in (*STANDARD_FIELDS, "effective_until"):
        del state[field]  # exactly what version 2 stored
    state["class_version"] = 2
    old = StoredEvent(
        originator_id=recorded.originator_id,
        originator_version=2,
        topic="credit:PenaltyDecided",
        state=ledger.mapper.transcoder.encode(state),
    )
    loaded = ledger.mapper.to_domain_event(old)
    assert loaded.__dict__["legal_representative"] is None  # held, not a class default
    assert [getattr(loaded, f) for f in (*STANDARD_FIELDS, "effective_until")] == [None] * 5
    assert (loaded.procedure, loaded.fine_amount) == ("simplified", Decimal("0.05"))
    # Its fields are those of a penalty recorded now without them: the read models see no
    # difference between the two.
    assert dataclasses.asdict(loaded) == dataclasses.asdict(recorded) | {
        name: None for name in (*STANDARD_FIELDS, "effective_until")
    }


def test_a_version_1_licence_still_loads_without_the_standards_later_fields(ledger):
    licence = stored_event(
        LicenceGranted,
        originator_id=uuid4(),
        originator_version=2,
        timestamp=datetime.now(UTC),
        record_id=uuid4(),
        decision_date=date(2025, 3, 1),
        authority_name="局",
        authority_code="11410100MB00000018",
        source_ref="XK-1",
        recorded_by="t",
        request_key=None,
        licence_type="普通",
        document_name="道路运输经营许可证",
        content="道路普通货物运输",
        valid_from=date(2025, 3, 1),
        valid_until=date(2029, 3, 1),
        legal_representative="张建国",
        data_source_name="局",
        data_source_code="11410100MB00000018",
        remarks="换证",
    )
    state = ledger.mapper.transcoder.decode(ledger.mapper.to_stored_event(licence).state)
    assert state["class_version"] == 2
    for field in (*STANDARD_FIELDS, "class_version"):
        del state[field]  # exactly what version 1 stored
    old = StoredEvent(
        originator_id=licence.originator_id,
        originator_version=2,
        topic="credit:LicenceGranted",
        state=ledger.mapper.transcoder.encode(state),
    )
    loaded = ledger.mapper.to_domain_event(old)
    assert [loaded.__dict__[f] for f in STANDARD_FIELDS] == [None] * 4
    assert (loaded.valid_until, loaded.licence_type) == (date(2029, 3, 1), "普通")


def test_a_version_1_registration_still_loads_with_its_masked_code(ledger):
    registered = stored_event(
        SubjectRegistered,
        originator_id=uuid4(),
        originator_version=1,
        timestamp=datetime.now(UTC),
        originator_topic="domain.subject:Subject",
        kind="individual",
        code="410105198503140030",
        code_masked="x",
        name="王建国",
        region_code="410105",
        sectors=["taxi"],
        recorded_by="t",
    )
    state = ledger.mapper.transcoder.decode(ledger.mapper.to_stored_event(registered).state)
    for field in ("code_masked", "phone", "address", "class_version"):
        del state[field]  # exactly what version 1 stored
    old = StoredEvent(
        originator_id=registered.originator_id,
        originator_version=1,
        topic="credit:SubjectRegistered",
        state=ledger.mapper.transcoder.encode(state),
    )
    loaded = ledger.mapper.to_domain_event(old)
    assert (loaded.code_masked, loaded.phone, loaded.address) == ("410105********0030", None, None)


def test_a_version_1_list_entry_still_loads_without_a_basis_record(ledger):
    entry = stored_event(
        ListEntered,
        originator_id=uuid4(),
        originator_version=2,
        timestamp=datetime.now(UTC),
        record_id=uuid4(),
        decision_date=date(2025, 1, 1),
        authority_name="局",
        authority_code="11410100MB00000018",
        source_ref="L-1",
        recorded_by="t",
        request_key=None,
        list_type="black",
        basis="严重失信",
        planned_end=None,
        basis_record_id=uuid4(),
    )
    state = ledger.mapper.transcoder.decode(ledger.mapper.to_stored_event(entry).state)
    del state["basis_record_id"], state["class_version"]
    old = StoredEvent(
        originator_id=entry.originator_id,
        originator_version=2,
        topic="credit:ListEntered",
        state=ledger.mapper.transcoder.encode(state),
    )
    assert ledger.mapper.to_domain_event(old).basis_record_id is None


def test_a_subject_from_a_version_2_snapshot_is_rebuilt_with_what_its_cases_need(ledger):
    """Version 2 snapshots hold neither the records' window fields nor the cases' query code
    hashes, which case decisions read: such a subject is rebuilt from its events."""
    from eventsourcing.domain import Snapshot

    from domain.cases import code_hash
    from service.policy.loader import load_policy
    from tests.unit.domain.test_subject import penalty_fields, when
    from tests.unit.domain.test_subject_cases import file_repair

    subject = registered_enterprise(uuid4(), recorded_at=datetime(2026, 11, 20, 4, tzinfo=UTC))
    record = when(subject, PenaltyDecided, penalty_fields(decision_date=date(2026, 6, 1)))
    file_repair(subject, record.record_id, "XF20261120000003", "ABCD2345")
    ledger.save(subject)
    old = Snapshot.take(copy.deepcopy(subject))  # its state is the subject's own dicts
    assert old.state["class_version"] == 4
    old.state["class_version"] = 2
    for held in old.state["records"].values():
        for name in ("severity", "procedure", "declared_publication_end"):
            held["ruled"].pop(name, None)
    for case in old.state["cases"].values():
        del case["query_code_hash"]
    ledger.snapshots.put([old])

    assert ledger.repository.get(subject.id).__dict__.get("incomplete_snapshot_state") is True
    rebuilt = ledger.subject(subject.id)
    assert rebuilt.cases == subject.cases and rebuilt.records == subject.records
    assert rebuilt.applicant_case("XF20261120000003", code_hash("XF20261120000003", "ABCD2345"))
    assert rebuilt.repair_eligibility(record.record_id, date(2026, 11, 20), load_policy()) == (
        subject.repair_eligibility(record.record_id, date(2026, 11, 20), load_policy())
    )


def test_a_subject_from_a_version_3_snapshot_is_rebuilt_with_its_list_entries_bases(ledger):
    """Version 3 snapshots do not hold what a list entry rests on, which tells whether it has
    lapsed with a repaired basis: such a subject is rebuilt from its events."""
    from eventsourcing.domain import Snapshot

    from tests.unit.domain.test_subject import penalty_fields, when
    from tests.unit.domain.test_subject_cases import approve_repair, black_entry

    subject = registered_enterprise(uuid4(), recorded_at=datetime(2026, 11, 20, 4, tzinfo=UTC))
    record = when(subject, PenaltyDecided, penalty_fields(decision_date=date(2026, 6, 1)))
    entry = when(subject, ListEntered, black_entry("L-1", record.record_id))
    approve_repair(subject, record.record_id)
    ledger.save(subject)
    old = Snapshot.take(copy.deepcopy(subject))
    old.state["class_version"] = 3
    del old.state["records"][str(entry.record_id)]["ruled"]["basis_record_id"]
    ledger.snapshots.put([old])

    assert ledger.repository.get(subject.id).__dict__.get("incomplete_snapshot_state") is True
    rebuilt = ledger.subject(subject.id)
    assert rebuilt.records == subject.records
    again = when(rebuilt, ListEntered, black_entry("L-2"))  # the lapsed entry holds no list
    assert again.created


def test_a_subject_from_a_version_3_snapshot_is_rebuilt_with_its_penalties_categories(ledger):
    """Version 3 snapshots hold no penalty categories or licence actions, which a window now
    follows (a licence revoked under 527号 is published for the whole maximum, and repair waits
    for it): such a subject is rebuilt from its events."""
    from eventsourcing.domain import Snapshot

    from service.policy.loader import load_policy
    from tests.unit.domain.test_subject import penalty_fields, when

    subject = registered_enterprise(uuid4(), recorded_at=datetime(2026, 11, 20, 4, tzinfo=UTC))
    revoked = penalty_fields(
        decision_date=date(2023, 3, 1),
        severity="serious",
        penalty_categories=["罚款"],
        licence_action="吊销道路运输经营许可证",
    )
    record = when(subject, PenaltyDecided, revoked)
    ledger.save(subject)
    old = Snapshot.take(copy.deepcopy(subject))
    old.state["class_version"] = 3
    for held in old.state["records"].values():
        for name in ("penalty_categories", "licence_action"):
            held["ruled"].pop(name, None)
    ledger.snapshots.put([old])

    assert ledger.repository.get(subject.id).__dict__.get("incomplete_snapshot_state") is True
    rebuilt = ledger.subject(subject.id)
    assert rebuilt.records == subject.records
    eligibility = rebuilt.repair_eligibility(record.record_id, date(2025, 6, 1), load_policy())
    # 527号: published for the whole maximum (until 2026-03-01), not repairable after 6 months
    assert (eligibility.published, eligibility.earliest_repair) == (True, date(2026, 3, 1))


def test_a_record_stored_before_records_had_sectors_loads_filed_in_none(ledger):
    recorded = penalty()
    state = ledger.mapper.transcoder.decode(ledger.mapper.to_stored_event(recorded).state)
    assert state.pop("sector") is None  # exactly what was stored before the field existed
    old = StoredEvent(
        originator_id=recorded.originator_id,
        originator_version=2,
        topic="credit:PenaltyDecided",
        state=ledger.mapper.transcoder.encode(state),
    )
    loaded = ledger.mapper.to_domain_event(old)
    assert loaded.sector is None
    assert dataclasses.asdict(loaded) == dataclasses.asdict(recorded)
