"""A record's digest (how a retry is told from a different record) is the same whether the
subject was just given the record or rebuilt from stored events: the live aggregate reuses the
digest it checked, the replayed one computes it from the event."""

from __future__ import annotations

import pytest

from service.commanding.commands import RegisterSubject, record_command_adapter
from tests.builders import enterprise, follow_up, licence, list_entry, penalty, rating

pytestmark = pytest.mark.integration


def test_live_and_replayed_digests_agree_for_every_kind_of_record(services):
    files = services.files
    subject_id = files.register(RegisterSubject(**enterprise(31)), recorded_by="t").subject_id
    first = files.append(
        subject_id, record_command_adapter.validate_python(penalty("D-1")), recorded_by="t"
    )
    bodies = [
        licence("D-L"),
        rating("D-R"),
        list_entry("D-E"),
        follow_up(
            "RecordCorrected",
            "D-C",
            target_record_id=str(first.record_id),
            changes={"severity": "serious", "fine_amount": "1.5"},
            reason="复核",
        ),
    ]
    for body in bodies:
        live = services.ledger.repository.get(subject_id)
        command = record_command_adapter.validate_python(body)
        outcome = files._record(live, command, "t", "key-" + body["source_ref"])
        assert outcome.created
        services.ledger.save(live)
        replayed = services.ledger.repository.get(subject_id)
        assert replayed.records == live.records, body["type"]
        again = files._record(replayed, command, "t", "key-" + body["source_ref"])
        assert (again.created, again.replayed_request) == (False, True)
