"""The credit-file projector: events in, rows out, on an empty read model."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID, uuid4

import pytest
from sqlalchemy import select

from domain.events import (
    RECORD_EVENT_TYPES,
    ListEntered,
    ListExited,
    PenaltyDecided,
    RecordCorrected,
    SubjectRegistered,
)
from projections.credit_file.projector import CreditFileProjector
from projections.tables import record_revisions, records, subject_versions, subjects
from service.policy.loader import load_policy
from service.store.database import Database
from service.store.read_store import sync_engine
from tests.builders import ADMINISTRATIVE_CONTENT, stored_event

pytestmark = pytest.mark.projections
BOOK = load_policy()
NOW = datetime(2026, 11, 20, 4, tzinfo=UTC)
SUBJECT = UUID(int=1)
COMMON = {
    "originator_id": SUBJECT,
    "timestamp": NOW,
    "authority_name": "支队",
    "authority_code": "11410100MB00000018",
    "recorded_by": "t",
    "request_key": None,
}


@pytest.fixture
def engine(empty_sqlite: Database):
    database = empty_sqlite
    engine = sync_engine(database)
    yield engine
    engine.dispose()


def registered(kind="individual", code="410105198503140030"):
    return stored_event(
        SubjectRegistered,
        originator_id=SUBJECT,
        originator_version=1,
        timestamp=NOW,
        originator_topic="domain.subject:Subject",
        kind=kind,
        code=code,
        code_masked=code[:6] + "********" + code[-4:],
        name="王建国",
        region_code="410105",
        sectors=["taxi"],
        recorded_by="t",
    )


def penalty(version, record_id, severity="general", decided=date(2026, 5, 1)):
    return stored_event(
        PenaltyDecided,
        **COMMON,
        originator_version=version,
        record_id=record_id,
        decision_date=decided,
        source_ref=f"P-{version}",
        severity=severity,
        procedure="general",
        violation_type="拒载",
        facts="f",
        legal_basis="l",
        penalty_categories=["罚款"],
        content="c",
        fine_amount=Decimal("0.2"),
    )


def project(engine, events):
    with engine.begin() as conn:
        CreditFileProjector(BOOK).apply(conn, list(enumerate(events, start=1)))
    with engine.connect() as conn:
        return (
            [dict(r) for r in conn.execute(select(subjects)).mappings()],
            {r["record_id"]: dict(r) for r in conn.execute(select(records)).mappings()},
        )


def test_a_subject_row_masks_an_individuals_id_and_tracks_its_head(engine):
    first = uuid4()
    [subject], rows = project(engine, [registered(), penalty(2, first)])
    assert subject["code_masked"] == "410105********0030"
    assert (subject["version"], subject["position"]) == (2, 2)
    row = rows[first]
    assert (row["family"], row["severity"], row["state"]) == ("penalty", "general", "active")
    assert (row["publish_from"], row["publish_until"]) == (date(2026, 5, 1), date(2027, 5, 1))
    assert row["details"]["fine_amount"] == "0.2"
    assert row["summary"] == "拒载"


def test_the_further_administrative_kinds_are_rows_of_their_family_with_the_policys_window(
    engine,
):
    decided = date(2026, 5, 6)
    ids = {record_type: uuid4() for record_type in ADMINISTRATIVE_CONTENT}
    events = [registered(kind="enterprise", code="91410105MA00000016")]
    for version, (record_type, record_id) in enumerate(ids.items(), start=2):
        events.append(
            stored_event(
                RECORD_EVENT_TYPES[record_type],
                **COMMON,
                originator_version=version,
                record_id=record_id,
                decision_date=decided,
                source_ref=f"A-{version}",
                **ADMINISTRATIVE_CONTENT[record_type],
            )
        )
    _, rows = project(engine, events)
    shown = {
        record_type: (
            rows[record_id]["family"],
            rows[record_id]["summary"],
            rows[record_id]["publish_from"],
            rows[record_id]["publish_until"],
        )
        for record_type, record_id in ids.items()
    }
    three_years = date(2029, 5, 6)
    assert shown == {
        "AdministrativeCoercionApplied": ("coercion", "扣押财物", None, None),
        "AdministrativeConfirmationMade": (
            "confirmation",
            "道路运输车辆技术等级评定",
            decided,
            three_years,
        ),
        "AdministrativeAdjudicationMade": ("adjudication", "路产损坏赔偿纠纷裁决", None, None),
        "AdministrativeRewardGranted": ("reward", "道路运输安全生产先进单位", decided, three_years),
        "AdministrativeInspectionConducted": (
            "inspection",
            "双随机抽查 · 未发现问题",
            decided,
            three_years,
        ),
    }
    reward = rows[ids["AdministrativeRewardGranted"]]
    assert reward["details"]["data_source_name"] == "郑州市交通运输局"
    assert reward["severity"] is None


def test_a_correction_in_the_same_page_recomputes_the_window(engine):
    target = uuid4()
    correction = stored_event(
        RecordCorrected,
        **COMMON,
        originator_version=3,
        record_id=uuid4(),
        decision_date=date(2026, 6, 1),
        source_ref="C-1",
        target_record_id=target,
        changes={"severity": "serious", "decision_date": "2026-05-02"},
        reason="更正",
    )
    _, rows = project(engine, [registered(), penalty(2, target), correction])
    row = rows[target]
    assert (row["severity"], row["decision_date"]) == ("serious", date(2026, 5, 2))
    assert row["publish_until"] == date(2029, 5, 2)
    assert (row["correction_count"], row["corrected_at"].replace(tzinfo=UTC)) == (1, NOW)
    assert rows[correction.record_id]["family"] == "correction"


def test_an_exit_in_a_later_page_ends_the_stored_list_entry(engine):
    entry = uuid4()
    project(
        engine,
        [
            registered(),
            stored_event(
                ListEntered,
                **COMMON,
                originator_version=2,
                record_id=entry,
                decision_date=date(2026, 1, 5),
                source_ref="L-1",
                list_type="red",
                basis="AA 级",
                planned_end=None,
            ),
        ],
    )
    exit_event = stored_event(
        ListExited,
        **COMMON,
        originator_version=3,
        record_id=uuid4(),
        decision_date=date(2026, 9, 1),
        source_ref="X-1",
        entry_record_id=entry,
        reason="降级",
    )
    with engine.begin() as conn:
        CreditFileProjector(BOOK).apply(conn, [(3, exit_event)])
    with engine.connect() as conn:
        row = conn.execute(select(records).where(records.c.record_id == entry)).mappings().one()
        head = conn.execute(select(subjects.c.version, subjects.c.position)).one()
    assert (row["ended_on"], row["ended_by"]) == (date(2026, 9, 1), exit_event.record_id)
    assert row["publish_until"] == date(2026, 9, 1)
    assert tuple(head) == (3, 3)


def correction(version, target, severity, at=NOW):
    return stored_event(
        RecordCorrected,
        **{**COMMON, "timestamp": at},
        originator_version=version,
        record_id=uuid4(),
        decision_date=date(2026, 6, 1),
        source_ref=f"C-{version}",
        target_record_id=target,
        changes={"severity": severity},
        reason="更正",
    )


def test_each_change_of_a_record_is_a_revision_by_stream_version(engine):
    """In the page, and across pages: the revision before is closed at the changing event's
    version; an event that changes nothing of the standing (the correction record itself
    aside) leaves the revision as it was."""
    target = uuid4()
    later = datetime(2026, 11, 21, 4, tzinfo=UTC)
    with engine.begin() as conn:
        CreditFileProjector(BOOK).apply(
            conn,
            [(1, registered()), (2, penalty(2, target)), (3, correction(3, target, "serious"))],
        )
    with engine.begin() as conn:
        CreditFileProjector(BOOK).apply(conn, [(4, correction(4, target, "minor", at=later))])
    with engine.connect() as conn:
        revisions = [
            (r.from_version, r.until_version, r.severity, r.publish_until)
            for r in conn.execute(
                select(record_revisions)
                .where(record_revisions.c.record_id == str(target))
                .order_by(record_revisions.c.from_version)
            )
        ]
        versions = [
            (r.version, r.position, r.recorded_at.replace(tzinfo=UTC))
            for r in conn.execute(select(subject_versions).order_by(subject_versions.c.version))
        ]
    assert revisions == [
        (2, 3, "general", date(2027, 5, 1)),
        (3, 4, "serious", date(2029, 5, 1)),
        (4, None, "minor", None),  # minor: not published under the 2026 policy
    ]
    # the registration, the last event of the first instant, the later one
    assert versions == [(1, 1, NOW), (3, 3, NOW), (4, 4, later)]


def test_an_event_recorded_by_a_clock_behind_keeps_its_own_time(engine):
    """Read back, the versions after it are known no earlier than the ones before (as_of)."""
    behind = datetime(2026, 11, 19, tzinfo=UTC)
    project(engine, [registered(), penalty(2, uuid4()), correction(3, uuid4(), "minor", behind)])
    with engine.connect() as conn:
        versions = [
            (r.version, r.recorded_at.replace(tzinfo=UTC))
            for r in conn.execute(select(subject_versions).order_by(subject_versions.c.version))
        ]
    assert versions == [(1, NOW), (2, NOW), (3, behind)]
