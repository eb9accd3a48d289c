"""Subjects rebuilt from their streams for a batch of rows: with the content digests the rows
need, or whole."""

from __future__ import annotations

import io

import pytest

from service.bootstrap import build_services
from service.clock import FixedClock
from service.commanding.importing.batch import import_stream
from service.settings import Settings
from tests.unit.test_importing import PENALTY_HEADER, csv_bytes, penalty

pytestmark = pytest.mark.integration


def test_a_batchs_subjects_carry_the_digests_of_its_decision_numbers_or_every_one(
    settings: Settings, clock: FixedClock
):
    """Rebuilt for rows of new decision numbers, a subject computes no digest of its records and
    is otherwise the subject rebuilt whole; one that holds a record the rows repeat (a file
    imported again) has every digest."""
    services = build_services(settings, clock=clock, migrate=False)
    try:
        rows = [penalty(n, CF_WSH=f"郑交执罚〔2026〕{n}-{k}号") for n in (1, 2) for k in range(3)]
        report = import_stream(
            io.BytesIO(csv_bytes(PENALTY_HEADER, rows)), "p.csv", services.files, recorded_by="t"
        )
        assert report.accepted == 6
        ids = {services.files.subject_id_for_code(penalty(n)["CF_XDR_SHXYM"]) for n in (1, 2)}
        ledger = services.ledger
        whole = ledger.load_many(ids)
        assert all(
            record["digest"] for subject in whole.values() for record in subject.records.values()
        )
        repeated_subject = min(ids)
        repeated_key = sorted(whole[repeated_subject].natural_keys)[1]

        new_rows = ledger.load_many(ids, digests_for={"PenaltyDecided|new|1"})
        repeats = ledger.load_many(ids, digests_for={"PenaltyDecided|new|1", repeated_key})
        streams = {subject_id: list(ledger.events.get(subject_id)) for subject_id in ids}
    finally:
        services.close_sync()

    for subject_id in ids:
        subject = new_rows[subject_id]
        assert all(record["digest"] is None for record in subject.records.values())
        assert all(subject.lacks_digest(key) for key in subject.natural_keys)
        subject.complete_digests(streams[subject_id])
        assert vars(subject) == vars(whole[subject_id])
    assert vars(repeats[repeated_subject]) == vars(whole[repeated_subject])
    other = repeats[max(ids)]
    assert all(record["digest"] is None for record in other.records.values())


def test_a_kept_subject_is_rebuilt_for_a_later_row_that_repeats_one_of_its_older_records(
    settings: Settings, clock: FixedClock
):
    """A subject brought a new record by one batch is kept without the digests of the records
    it already held; a later batch that repeats one of those rebuilds it, and the row is told
    apart as a repeat or a conflict as on the subject read whole."""
    services = build_services(settings, clock=clock, migrate=False)
    try:
        old = [penalty(1, CF_WSH=f"郑交执罚〔2026〕1-{k}号") for k in range(2)]
        import_stream(
            io.BytesIO(csv_bytes(PENALTY_HEADER, old)), "old.csv", services.files, recorded_by="t"
        )
        rows = [
            penalty(1, CF_WSH="郑交执罚〔2026〕1-9号"),  # new: the subject kept, digests left out
            old[0],  # a repeat, in the next batch
            {**old[1], "CF_NR_FK": "0.9"},  # a conflict, in the one after
        ]
        report = import_stream(
            io.BytesIO(csv_bytes(PENALTY_HEADER, rows)),
            "again.csv",
            services.files,
            recorded_by="t",
            batch_size=1,
        )
    finally:
        services.close_sync()
    assert (report.accepted, report.already_present, report.rejected_count) == (1, 1, 1)
    assert [rejection.line for rejection in report.rejected] == [4]
