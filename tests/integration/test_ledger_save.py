"""The ledger saves a subject and reads it back as the library does, without the library's
runtime protocol checks: the events it collects and stores, and the subject it replays, are the
library's own."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from eventsourcing.application import ProcessingEvent
from eventsourcing.domain import CanMutateProtocol, CollectEventsProtocol, DomainEventProtocol

from service.commanding.commands import RegisterSubject, record_command_adapter
from tests.builders import enterprise, penalty, rating

pytestmark = pytest.mark.integration


def test_a_subject_is_saved_with_the_events_the_library_collects(services, monkeypatch):
    ledger, files = services.ledger, services.files
    subject_id = files.register(RegisterSubject(**enterprise(61)), recorded_by="t").subject_id
    subject = ledger.subject(subject_id)
    for body in (penalty("LS-1"), rating("LS-2")):
        files._record(subject, record_command_adapter.validate_python(body), "t", None)
    # What the library's collection asks of a subject, and what it then collects.
    assert not isinstance(subject, DomainEventProtocol)
    assert isinstance(subject, CollectEventsProtocol)
    by_the_library: ProcessingEvent = ProcessingEvent()
    twin: Any = copy.deepcopy(subject)
    by_the_library.collect_events(twin, kept="yes")
    recorded: list[ProcessingEvent] = []
    record = ledger._record

    def recording(processing_event):
        recorded.append(processing_event)
        return record(processing_event)

    monkeypatch.setattr(ledger, "_record", recording)
    recordings = ledger.save(subject, kept="yes")
    [saved] = recorded
    assert saved.events == by_the_library.events
    assert [e.originator_version for e in saved.events] == [2, 3]
    assert list(saved.aggregates) == list(by_the_library.aggregates) == [subject_id]
    assert saved.saved_kwargs == by_the_library.saved_kwargs == {"kept": "yes"}
    assert [r.domain_event for r in recordings] == saved.events
    assert [e.originator_version for e in ledger.events.get(subject_id)] == [1, 2, 3]


def test_a_subject_is_replayed_as_the_library_replays_it(services):
    ledger, files = services.ledger, services.files
    subject_id = files.register(RegisterSubject(**enterprise(62)), recorded_by="t").subject_id
    for n in range(3):
        files.append(
            subject_id, record_command_adapter.validate_python(penalty(f"LR-{n}")), recorded_by="t"
        )
    assert all(isinstance(e, CanMutateProtocol) for e in ledger.events.get(subject_id))
    assert ledger.subject(subject_id).__dict__ == ledger.repository.get(subject_id).__dict__
