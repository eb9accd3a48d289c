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
