"""The import's write path stores what the library's own path stores, byte for byte."""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from domain.subject import Subject
from service.access.personal_data import PersonalDataVault
from service.bootstrap import build_services
from service.clock import FixedClock
from service.commanding.importing.batch import import_stream
from service.settings import Settings
from service.store.ledger import CreditLedger
from tests.conftest import _empty_postgres
from tests.unit.test_importing import (
    LICENCE_HEADER,
    PENALTY_HEADER,
    csv_bytes,
    licence,
    penalty,
    person_penalty,
)

pytestmark = pytest.mark.integration


def library_trigger(
    self: Subject, record_type: Any, record_id: UUID, recorded_at: Any, fields: dict[str, Any]
) -> None:
    """A record's event made, applied and left pending by the library's `trigger_event`."""
    self.trigger_event(record_type, record_id=record_id, timestamp=recorded_at, **fields)


def library_save(self: CreditLedger, subjects: Any) -> int | None:
    """The subjects' pending events stored by the library's `Application.save`."""
    recordings = self.save(*subjects)
    return recordings[-1].notification.id if recordings else None


def deterministic_seal(self: PersonalDataVault, subject_id: UUID, plaintext: str) -> str:
    """An individual's personal fields sealed alike in both runs (a real seal draws a fresh
    nonce each time): the two stores are compared, not the vault."""
    return f"sealed:{subject_id.hex}:{plaintext}"


FILES = [
    # Penalties of enterprises and individuals; a repeat (already present), a conflicting
    # repeat (rejected), a row the domain refuses (a decision in the future), and one subject
    # with enough records to cross a snapshot (every 100th version).
    (
        "penalties.csv",
        csv_bytes(
            PENALTY_HEADER,
            [
                penalty(1),
                person_penalty(2),
                penalty(3, CF_WSH="郑交执罚〔2026〕3号", CF_JDRQ="2026-10-01"),
                penalty(1),
                penalty(1, CF_NR_FK="0.7"),
                person_penalty(2, CF_WSH="郑交执罚〔2026〕22号", CF_CFLB="警告"),
                penalty(4, CF_JDRQ="2026-12-30"),
                *[penalty(5, CF_WSH=f"郑交执罚〔2026〕5-{n}号") for n in range(104)],
                penalty(3, CF_WSH="郑交执罚〔2026〕33号"),
            ],
        ),
    ),
    # Licences, with and without their optional cells, one for a subject with penalties.
    (
        "licences.csv",
        csv_bytes(
            LICENCE_HEADER,
            [
                licence(1),
                licence(2, XK_YXQZI="", XK_XKZS="", XK_XKBH=""),
                licence(1),
                licence(3, XK_YXQZI="2026-01-01"),
                licence(6, XK_XDR_SHXYM=penalty(1)["CF_XDR_SHXYM"]),
            ],
        ),
    ),
]


def stored(services: Any) -> dict[str, Any]:
    """Everything the imports wrote to the event store: events, seals, snapshots."""
    ledger = services.ledger
    events = ledger.recorder.select_notifications(start=1, limit=100_000)
    with services.write_engine.connect() as conn:
        seals = [
            tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
            for row in conn.execute(
                text(
                    "SELECT position, leaf_index, stream_id, version, event_hash, prev_hash "
                    "FROM event_seals ORDER BY position"
                )
            )
        ]
    streams = sorted({UUID(str(e.originator_id)) for e in events})
    # A snapshot's own timestamp is the wall clock's when it was taken: left out.
    snapshots = [
        (s.originator_id, s.originator_version, s.topic, _without_timestamp(s.state))
        for stream in streams
        for s in ledger.snapshots.recorder.select_events(stream)
    ]
    return {
        "events": [
            (e.id, UUID(str(e.originator_id)), e.originator_version, e.topic, e.state)
            for e in events
        ],
        "seals": [(p, i, UUID(str(s)), v, h, prev) for p, i, s, v, h, prev in seals],
        "snapshots": snapshots,
        "subjects": {stream: vars(ledger.repository.get(stream)) for stream in streams},
    }


def _without_timestamp(state: bytes) -> bytes:
    start = state.index(b'"timestamp":')
    end = state.index(b"},", start) + 2
    return state[:start] + state[end:]


@pytest.fixture
def emptied(database_url: str, migrated_sqlite: Path) -> Callable[[], None]:
    """Empties this test's store again, for a second run from the same start."""

    def empty() -> None:
        if database_url.startswith("sqlite"):
            database = make_url(database_url).database
            assert database is not None
            shutil.copyfile(migrated_sqlite, database)
        else:
            _empty_postgres(database_url)

    return empty


def import_all(settings: Settings, clock: FixedClock) -> tuple[list[Any], dict[str, Any]]:
    services = build_services(settings, clock=clock, migrate=False)
    try:
        reports = [
            import_stream(
                io.BytesIO(data),
                name,
                services.files,
                recorded_by="importer@test",
                batch_size=7,  # several batches: the subjects cached between them too
            )
            for name, data in FILES * 2  # the second time, every row is already present
        ]
        return reports, stored(services)
    finally:
        services.close_sync()


def test_an_import_stores_the_events_seals_and_snapshots_the_library_would(
    settings: Settings, clock: FixedClock, emptied, monkeypatch
):
    """The same files imported twice into the same empty store, once with the library making,
    encoding and saving each event, once with the import's own path: the same reports, and
    the same events (positions, streams, versions, topics, state bytes), seals and snapshots;
    loaded back through the library, the same subjects."""
    monkeypatch.setattr(PersonalDataVault, "seal", deterministic_seal)
    with monkeypatch.context() as library:
        library.setattr(Subject, "_trigger_record", library_trigger)
        library.setattr(CreditLedger, "save_subjects", library_save)
        expected_reports, expected = import_all(settings, clock)
    emptied()
    reports, written = import_all(settings, clock)

    assert reports == expected_reports
    accepted = sum(report.accepted for report in reports)
    assert accepted > 100 and all(report.rejected_count for report in reports[:2])
    assert reports[2].accepted == reports[3].accepted == 0  # the files again: all present
    assert {e[3] for e in written["events"]} == {
        "credit:SubjectRegistered",
        "credit:PenaltyDecided",
        "credit:LicenceGranted",
    }
    assert len(written["snapshots"]) == 1  # the subject of 104 penalties, at version 100
    for part in ("events", "seals", "snapshots"):
        assert written[part] == expected[part], part
    assert written["subjects"] == expected["subjects"]
