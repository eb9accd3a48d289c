"""A subject read for a write: its latest snapshot and the events after it in one query, rebuilt
as the library's repository rebuilds it."""

from __future__ import annotations

import uuid

import pytest
from eventsourcing.application import AggregateNotFoundError

from service.commanding.commands import RegisterSubject, record_command_adapter
from service.store.ledger import replay
from tests.builders import enterprise, penalty

pytestmark = pytest.mark.integration


def subject_with(services, n: int, records: int) -> uuid.UUID:
    ack = services.files.register(RegisterSubject(**enterprise(n)), recorded_by="t")
    for m in range(records):
        services.files.append(
            ack.subject_id,
            record_command_adapter.validate_python(penalty(f"P-{n}-{m}")),
            recorded_by="t",
        )
    return ack.subject_id


def test_a_subject_is_read_in_one_query_as_the_repository_rebuilds_it(services, monkeypatch):
    ledger = services.ledger
    # No snapshot yet; a snapshot the last event (version 100); a snapshot and events after it.
    ids = [
        subject_with(services, 1, 3),
        subject_with(services, 2, 99),
        subject_with(services, 3, 130),
    ]
    assert [len(list(ledger.snapshots.get(i))) for i in ids] == [0, 1, 1]
    expected = {i: vars(ledger.repository.get(i, projector_func=replay)) for i in ids}

    queries: list[str] = []
    select = ledger._select

    def counted(postgres_sql, sqlite_sql, *params):
        queries.append(postgres_sql)
        return select(postgres_sql, sqlite_sql, *params)

    def refused(*args, **kwargs):
        raise AssertionError("read by the library's repository")

    monkeypatch.setattr(ledger, "_select", counted)
    monkeypatch.setattr(ledger.repository, "get", refused)
    for subject_id in ids:
        queries.clear()
        assert vars(ledger.subject(subject_id)) == expected[subject_id]
        assert len(queries) == 1
    with pytest.raises(AggregateNotFoundError):
        ledger.subject(uuid.uuid4())


def test_the_events_after_a_version_are_the_librarys(services):
    """What a write to a kept subject reads to catch up: the events the library's store gives
    after a version, each the same event, for every version from before the first to the
    last (nothing after it), and none for an unknown subject."""
    ledger = services.ledger
    subject_id = subject_with(services, 4, 6)
    last = ledger.subject(subject_id).version
    for version in range(last + 1):
        ours = ledger.events_after(subject_id, version)
        theirs = list(ledger.events.get(subject_id, gt=version))
        assert [type(e) for e in ours] == [type(e) for e in theirs]
        assert [vars(e) for e in ours] == [vars(e) for e in theirs]
        assert [e.originator_version for e in ours] == list(range(version + 1, last + 1))
    assert ledger.events_after(uuid.uuid4(), 0) == []
