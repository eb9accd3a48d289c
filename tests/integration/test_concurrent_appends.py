"""Several writers on one subject at once: each acknowledged event is in the stream exactly once."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from service.commanding.commands import RegisterSubject, record_command_adapter
from tests.builders import enterprise, penalty

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def stream(services, subject_id):
    return list(services.ledger.events.get(subject_id))


def assert_exactly_once(services, subject_id, acknowledged: list[tuple[str, int, int]]):
    events = stream(services, subject_id)
    record_ids = [str(e.record_id) for e in events[1:]]
    assert [e.originator_version for e in events] == list(range(1, len(events) + 1))
    assert len(record_ids) == len(set(record_ids))
    assert sorted(record_ids) == sorted(r for r, _, _ in acknowledged)
    by_record = {str(e.record_id): e.originator_version for e in events[1:]}
    assert all(by_record[r] == v for r, v, _ in acknowledged)
    assert len({p for _, _, p in acknowledged}) == len(acknowledged)


# Six writers queue on one stream's turn: on a machine whose other core is busy, the sixth can
# wait longer than a request would (QUEUE_WAIT_SECONDS, answered 503 and covered by
# tests/api/test_request_deadline.py). Here every writer must get its turn: exactly-once is what
# is tested, not the queue's deadline.
PATIENT_QUEUE_SECONDS = 60


def test_threads_appending_to_one_subject_all_succeed_once(services, monkeypatch):
    monkeypatch.setattr("service.store.database.QUEUE_WAIT_SECONDS", PATIENT_QUEUE_SECONDS)
    monkeypatch.setattr("service.integrity.sealing.QUEUE_WAIT_SECONDS", PATIENT_QUEUE_SECONDS)
    subject = services.files.register(RegisterSubject(**enterprise()), recorded_by="t").subject_id

    def write(worker: int) -> list[tuple[str, int, int]]:
        acks = []
        for n in range(15):
            command = record_command_adapter.validate_python(penalty(f"T{worker}-{n}"))
            ack = services.files.append(subject, command, recorded_by=f"thread-{worker}")
            acks.append((str(ack.record_id), ack.version, ack.position))
        return acks

    with ThreadPoolExecutor(max_workers=6) as pool:
        acknowledged = [a for acks in pool.map(write, range(6)) for a in acks]
    assert len(acknowledged) == 90
    assert_exactly_once(services, subject, acknowledged)


def test_processes_appending_to_one_subject_all_succeed_once(services, settings):
    subject = services.files.register(RegisterSubject(**enterprise()), recorded_by="t").subject_id
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration.append_worker",
                settings.database_url,
                str(subject),
                str(worker),
                "20",
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for worker in range(3)
    ]
    acknowledged = []
    for process in workers:
        out, _ = process.communicate(timeout=120)
        assert process.returncode == 0
        acknowledged += [
            (r, int(v), int(p)) for r, v, p in (line.split() for line in out.splitlines())
        ]
    assert len(acknowledged) == 60
    assert_exactly_once(services, subject, acknowledged)


def test_retrying_every_append_never_doubles_an_event(services):
    subject = services.files.register(RegisterSubject(**enterprise()), recorded_by="t").subject_id
    command = record_command_adapter.validate_python(penalty("RETRY-1"))

    def send(_):
        ack = services.files.append(subject, command, recorded_by="t", request_key="same-key")
        return str(ack.record_id), ack.version, ack.position

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = set(pool.map(send, range(24)))
    assert len(answers) == 1
    assert len(stream(services, subject)) == 2
