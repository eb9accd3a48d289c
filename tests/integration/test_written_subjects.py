"""A process writes to a subject as it last saved it, brought up to date with what the stream
gained since, instead of reading the stream afresh: the write stands only where the store proves
that copy current, and is decided again on the stream read fresh wherever it is not (a race, or
a copy ahead of the store)."""

from __future__ import annotations

import pytest

from service.commanding.commands import RegisterSubject, record_command_adapter
from service.commanding.credit_files import CreditFiles
from tests.builders import enterprise, follow_up, licence, list_entry, penalty, rating

pytestmark = pytest.mark.integration


def command(body):
    return record_command_adapter.validate_python(body)


def other_process(services) -> CreditFiles:
    """A second writer on the same store, with copies of its own (another API process)."""
    files = services.files
    return CreditFiles(files.ledger, files.ids, files.clock, files.policy, vault=files.vault)


def reads_of_the_stream(services, monkeypatch) -> list:
    reads: list = []
    read = services.ledger.subject

    def counted(subject_id):
        reads.append(subject_id)
        return read(subject_id)

    monkeypatch.setattr(services.ledger, "subject", counted)
    return reads


def versions(services, subject_id) -> list[int]:
    return [e.originator_version for e in services.ledger.events.get(subject_id)]


def test_the_next_write_to_a_subject_does_not_read_its_stream_afresh(services, monkeypatch):
    files = services.files
    subject_id = files.register(RegisterSubject(**enterprise(41)), recorded_by="t").subject_id
    files.append(subject_id, command(penalty("W-1")), recorded_by="t")
    reads = reads_of_the_stream(services, monkeypatch)
    ack = files.append(subject_id, command(penalty("W-2")), recorded_by="t")
    assert reads == []
    assert ack.created and ack.version == 3
    assert versions(services, subject_id) == [1, 2, 3]


def test_the_kept_subject_is_the_stream_replayed(services):
    """Every kind of record, a correction among them: the copy a write leaves is the subject a
    fresh read of its stream gives, so that deciding on it is deciding on the stream."""
    files = services.files
    subject_id = files.register(RegisterSubject(**enterprise(42)), recorded_by="t").subject_id
    first = files.append(subject_id, command(penalty("K-1")), recorded_by="t", request_key="k1")
    for body in (
        licence("K-L"),
        rating("K-R"),
        list_entry("K-E"),
        follow_up(
            "RecordCorrected",
            "K-C",
            target_record_id=str(first.record_id),
            changes={"severity": "serious", "fine_amount": "1.5"},
            reason="复核",
        ),
    ):
        files.append(subject_id, command(body), recorded_by="t", request_key=body["source_ref"])
    kept = files._written.take_one(subject_id)
    assert kept is not None
    replayed = services.ledger.subject(subject_id)
    assert kept.version == replayed.version == 6
    assert vars(kept) == vars(replayed)


def test_a_write_after_another_process_wrote_is_decided_on_what_it_wrote(services, monkeypatch):
    ours, theirs = services.files, other_process(services)
    subject_id = ours.register(RegisterSubject(**enterprise(43)), recorded_by="t").subject_id
    ours.append(subject_id, command(penalty("O-1")), recorded_by="t")
    # The other process records a penalty our copy does not know, then our write revokes it:
    # our copy catches up with the stream first, and the revocation finds its target there.
    theirs_ack = theirs.append(subject_id, command(penalty("O-2")), recorded_by="t")
    reads = reads_of_the_stream(services, monkeypatch)
    revoked = ours.append(
        subject_id,
        command(
            follow_up(
                "RecordRevoked",
                "O-3",
                target_record_id=str(theirs_ack.record_id),
                reason="撤销",
            )
        ),
        recorded_by="t",
    )
    assert revoked.created and revoked.version == 4
    assert reads == []  # caught up, not read afresh
    after = ours.append(subject_id, command(penalty("O-4")), recorded_by="t")
    assert after.version == 5
    assert versions(services, subject_id) == [1, 2, 3, 4, 5]


def test_a_retried_write_is_answered_from_the_stream(services):
    files = services.files
    subject_id = files.register(RegisterSubject(**enterprise(44)), recorded_by="t").subject_id
    first = files.append(subject_id, command(penalty("R-1")), recorded_by="t", request_key="r")
    again = files.append(subject_id, command(penalty("R-1")), recorded_by="t", request_key="r")
    assert first.created and not again.created and again.replayed
    assert (again.record_id, again.version, again.position) == (
        first.record_id,
        first.version,
        first.position,
    )
    assert versions(services, subject_id) == [1, 2]


def test_a_copy_ahead_of_the_store_is_read_again(services):
    """As if the database had been restored to an earlier point under a running process: the
    copy holds a version the store lacks. Its next write must not leave a gap in the stream."""
    files = services.files
    subject_id = files.register(RegisterSubject(**enterprise(45)), recorded_by="t").subject_id
    files.append(subject_id, command(penalty("A-1")), recorded_by="t")
    kept = files._written.take_one(subject_id)
    assert kept is not None
    files._record(kept, command(penalty("A-lost")), "t", None)
    kept.collect_events()  # recorded here, never stored
    files._written.keep([kept])
    ack = files.append(subject_id, command(penalty("A-2")), recorded_by="t")
    assert ack.version == 3
    assert versions(services, subject_id) == [1, 2, 3]
    stream = services.ledger.subject(subject_id)
    assert not any(key.endswith("|A-lost") for key in stream.natural_keys)
