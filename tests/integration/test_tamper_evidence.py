"""Tamper evidence end to end: seals written with the events, signed checkpoints, proofs,
signed exports, and the offline verifier naming the event that a database superuser changed,
deleted or moved."""

from __future__ import annotations

import base64
import json
from uuid import UUID

import orjson
import pytest
from eventsourcing.persistence import IntegrityError
from sqlalchemy import select, text
from typer.testing import CliRunner

from domain.integrity import event_leaf, signature_valid, stored_event_hash
from domain.merkle import root as merkle_root
from domain.merkle import verify_consistency, verify_inclusion
from service.cli import app as cli
from service.commanding.commands import RegisterSubject, record_command_adapter
from service.integrity.export import export_lines
from service.integrity.log import SealedLog
from service.integrity.tables import event_seals
from service.integrity.verifier import verify_export
from tests.builders import enterprise, penalty, rating
from tests.tampering import as_superuser

pytestmark = pytest.mark.integration


def fill(services, subjects: int = 3, first: int = 0) -> list[UUID]:
    ids = []
    for n in range(first, first + subjects):
        subject = services.files.register(RegisterSubject(**enterprise(700 + n)), recorded_by="t")
        for body in (rating(f"TE-R-{n}"), penalty(f"TE-P-{n}")):
            services.files.append(
                subject.subject_id, record_command_adapter.validate_python(body), recorded_by="t"
            )
        ids.append(subject.subject_id)
    return ids


def stored_events(services) -> list[tuple[int, UUID, int, str, bytes]]:
    """(position, stream, version, topic, state) of every stored event, in position order."""
    log = SealedLog(services.write_engine)
    with services.write_engine.connect() as conn:
        return [
            (e.position, e.event.stream_id, e.event.version, e.event.topic, e.event.state)
            for e in log.entries(conn)
            if e.event is not None
        ]


def seals(services) -> list:
    with services.write_engine.connect() as conn:
        return conn.execute(select(event_seals).order_by(event_seals.c.leaf_index)).all()


def export(services, **options) -> list[bytes]:
    return b"".join(export_lines(services.checkpoints, **options)).splitlines(keepends=True)


def keys_of(services) -> dict[str, bytes]:
    return {
        key["key_id"]: base64.b64decode(key["public_key"])
        for key in services.checkpoints.public_keys()
    }


def events_table(services) -> tuple[str, str]:
    """(table, position column) for raw SQL on either backend."""
    if services.database.is_sqlite:
        return "stored_events", "rowid"
    return "credit_events", "notification_id"


# Seals ------------------------------------------------------------------------------------
def test_every_event_is_sealed_onto_its_streams_chain_in_position_order(services):
    fill(services)
    events, sealed = stored_events(services), seals(services)
    assert len(events) == len(sealed) == 9
    assert [s.leaf_index for s in sealed] == list(range(9))
    assert [s.position for s in sealed] == [e[0] for e in events]
    last: dict[UUID, bytes] = {}
    for (_, stream, version, topic, state), seal in zip(events, sealed, strict=True):
        assert (seal.stream_id, seal.version) == (stream, version)
        assert seal.prev_hash == last.get(stream)
        assert seal.event_hash == stored_event_hash(last.get(stream), stream, version, topic, state)
        last[stream] = seal.event_hash


def test_a_write_that_loses_a_race_leaves_no_seal(services):
    [subject] = fill(services, subjects=1)
    stale = services.ledger.repository.get(subject)
    services.files.append(
        subject, record_command_adapter.validate_python(penalty("TE-WIN")), recorded_by="t"
    )
    before = seals(services)
    command = record_command_adapter.validate_python(penalty("TE-LOSE"))
    services.files._record(stale, command, "t", None)
    with pytest.raises(IntegrityError):
        services.ledger.save(stale)
    assert seals(services) == before
    assert len(stored_events(services)) == len(before) == 4


# Checkpoints and proofs -------------------------------------------------------------------
def test_checkpoints_are_signed_and_proofs_lead_to_their_roots(services):
    fill(services, subjects=2)
    first = services.checkpoints.make()
    assert first.tree_size == 6
    leaves = [event_leaf(bytes(s.event_hash)) for s in seals(services)]
    assert first.root == merkle_root(leaves)
    assert signature_valid(keys_of(services)[first.key_id], first.signature, first.message())
    assert services.checkpoints.make() == first  # nothing new: the same checkpoint

    fill(services, subjects=1, first=50)
    second = services.checkpoints.make()
    leaves = [event_leaf(bytes(s.event_hash)) for s in seals(services)]
    assert second.tree_size == 9 and second.root == merkle_root(leaves)
    log = services.checkpoints.log
    with services.write_engine.connect() as conn:
        for index, leaf in enumerate(leaves):
            proof = log.inclusion_proof(conn, index, second.tree_size)
            assert verify_inclusion(leaf, index, second.tree_size, proof, second.root)
        proof = log.consistency_proof(conn, first.tree_size, second.tree_size)
        assert log.root(conn, first.tree_size) == first.root
    assert verify_consistency(first.tree_size, second.tree_size, first.root, second.root, proof)
    assert [c.tree_size for c in services.checkpoints.recent()] == [9, 6]


def test_a_rotated_checkpoint_key_stays_published_and_old_checkpoints_still_verify(services):
    fill(services, subjects=1)
    old = services.checkpoints.make()
    new_key = services.checkpoints.rotate_key()
    services.files.register(RegisterSubject(**enterprise(780)), recorded_by="t")
    new = services.checkpoints.make()
    assert new.key_id == new_key != old.key_id
    keys = keys_of(services)
    assert signature_valid(keys[old.key_id], old.signature, old.message())
    assert signature_valid(keys[new.key_id], new.signature, new.message())


# Exports and the offline verifier -------------------------------------------------------
def test_untouched_exports_verify_against_a_saved_checkpoint(services):
    subjects = fill(services)
    saved = services.checkpoints.make().as_json()
    fill(services, subjects=1, first=50)
    store = verify_export(export(services), saved_checkpoint=saved, trusted_keys=keys_of(services))
    assert store.ok, store.findings
    assert (store.scope, store.events, store.tree_size) == ("store", 12, 12)
    one = verify_export(
        export(services, subject_id=subjects[1], since_tree_size=saved["tree_size"]),
        saved_checkpoint=saved,
        trusted_keys=keys_of(services),
    )
    assert one.ok, one.findings
    assert (one.scope, one.events) == ("subject", 3)


def test_an_edited_payload_is_named(services):
    fill(services)
    saved = services.checkpoints.make().as_json()
    position, stream, version, _, state = stored_events(services)[4]
    table, column = events_table(services)
    edited = state.replace(b"TE-", b"XX-")
    assert edited != state
    with as_superuser(services) as conn:
        conn.execute(
            text(f"UPDATE {table} SET state = :state WHERE {column} = :p"),
            {"state": edited, "p": position},
        )
    report = verify_export(export(services), saved_checkpoint=saved, trusted_keys=keys_of(services))
    named = f"event at position {position} (stream {stream} version {version})"
    assert any(f.startswith(named) and "differs from what was sealed" in f for f in report.findings)
    assert any("not those the checkpoint you saved" in f for f in report.findings)


def test_a_deleted_event_is_named(services):
    fill(services)
    saved = services.checkpoints.make().as_json()
    position, stream, version, _, _ = stored_events(services)[5]
    table, column = events_table(services)
    with as_superuser(services) as conn:
        conn.execute(text(f"DELETE FROM {table} WHERE {column} = :p"), {"p": position})
    report = verify_export(export(services), saved_checkpoint=saved, trusted_keys=keys_of(services))
    assert f"stream {stream}: version {version} is missing (sealed at position {position})" in (
        report.findings
    )
    assert any(f"position {position} (leaf 5)" in f and "missing" in f for f in report.findings)


def test_two_reordered_events_are_named(services):
    fill(services)
    saved = services.checkpoints.make().as_json()
    events = stored_events(services)
    (p1, s1, v1, *_), (p2, s2, v2, *_) = events[2], events[6]
    assert s1 != s2
    table, column = events_table(services)
    with as_superuser(services) as conn:
        for a, b in ((p1, -1), (p2, p1), (-1, p2)):
            conn.execute(
                text(f"UPDATE {table} SET {column} = :b WHERE {column} = :a"), {"a": a, "b": b}
            )
    report = verify_export(export(services), saved_checkpoint=saved, trusted_keys=keys_of(services))
    assert any(
        f.startswith(f"event at position {p1} (stream {s2} version {v2})")
        and f"sealed stream {s1} version {v1} at this position" in f
        for f in report.findings
    )
    assert any(
        f.startswith(f"event at position {p2} (stream {s1} version {v1})") for f in report.findings
    )


def test_a_rewrite_of_event_and_seals_together_still_fails_the_saved_checkpoint(services):
    fill(services, subjects=1)
    saved = services.checkpoints.make().as_json()
    events = stored_events(services)
    position, stream, version, topic, state = events[-1]  # the stream's last event: no later link
    edited = state.replace(b"TE-", b"ZZ-")
    table, column = events_table(services)
    prev = seals(services)[-2].event_hash
    with as_superuser(services) as conn:
        conn.execute(
            text(f"UPDATE {table} SET state = :state WHERE {column} = :p"),
            {"state": edited, "p": position},
        )
        conn.execute(
            text("UPDATE event_seals SET event_hash = :h WHERE position = :p"),
            {"h": stored_event_hash(bytes(prev), stream, version, topic, edited), "p": position},
        )
    report = verify_export(export(services), saved_checkpoint=saved, trusted_keys=keys_of(services))
    assert report.findings == [
        "the events do not produce the export checkpoint's root",
        f"the first 3 events are not those the checkpoint you saved ({saved['issued_at']}) "
        "signed: they were rewritten together with their seals",
    ]


def test_a_changed_export_file_fails_its_signature(services):
    fill(services, subjects=1)
    lines = export(services)
    lines[2] = lines[2].replace(b"TE-R-0", b"TE-R-9")
    report = verify_export(lines, trusted_keys=keys_of(services))
    assert "the export's signature does not verify: the file was changed after it was made" in (
        report.findings
    )


def test_a_subject_export_names_an_edited_event_by_its_inclusion_proof(services):
    subjects = fill(services)
    saved = services.checkpoints.make().as_json()
    target = [e for e in stored_events(services) if e[1] == subjects[0]][1]
    position, stream, version, _, state = target
    table, column = events_table(services)
    with as_superuser(services) as conn:
        conn.execute(
            text(f"UPDATE {table} SET state = :state WHERE {column} = :p"),
            {"state": state.replace(b"TE-", b"YY-"), "p": position},
        )
    report = verify_export(
        export(services, subject_id=stream, since_tree_size=saved["tree_size"]),
        saved_checkpoint=saved,
        trusted_keys=keys_of(services),
    )
    named = f"event at position {position} (stream {stream} version {version})"
    assert any(f.startswith(named) and "differs from what was sealed" in f for f in report.findings)
    assert any(f.startswith(named) and "inclusion proof" in f for f in report.findings)


def test_the_offline_command_names_the_broken_event_and_exits_1(services, tmp_path):
    fill(services)
    saved = services.checkpoints.make().as_json()
    (tmp_path / "checkpoint.json").write_text(json.dumps(saved))
    (tmp_path / "keys.json").write_text(json.dumps({"keys": services.checkpoints.public_keys()}))
    (tmp_path / "clean.ndjson").write_bytes(b"".join(export(services)))
    position, stream, version, _, state = stored_events(services)[3]
    table, column = events_table(services)
    with as_superuser(services) as conn:
        conn.execute(
            text(f"UPDATE {table} SET state = :state WHERE {column} = :p"),
            {"state": state.replace(b'"t"', b'"x"'), "p": position},
        )
    (tmp_path / "now.ndjson").write_bytes(b"".join(export(services)))
    runner = CliRunner()
    options = [
        "--checkpoint",
        str(tmp_path / "checkpoint.json"),
        "--keys",
        str(tmp_path / "keys.json"),
    ]
    clean = runner.invoke(cli, ["audit", "verify-export", str(tmp_path / "clean.ndjson"), *options])
    assert clean.exit_code == 0, clean.output
    broken = runner.invoke(cli, ["audit", "verify-export", str(tmp_path / "now.ndjson"), *options])
    assert broken.exit_code == 1
    assert f"BROKEN: event at position {position} (stream {stream} version {version})" in (
        broken.output
    )


def test_export_lines_are_plain_json_an_auditor_can_read(services):
    fill(services, subjects=1)
    documents = [orjson.loads(line) for line in export(services)]
    assert [d["type"] for d in documents] == [
        "export",
        *["event"] * 3,
        "checkpoint",
        "keys",
        "signature",
    ]
    assert documents[2]["state"]["source_ref"] == "TE-R-0"


def test_events_stored_before_seals_existed_are_sealed_by_the_migration(tmp_path):
    from alembic import command
    from service.bootstrap import build_services
    from service.clock import FixedClock
    from service.commanding.credit_files import CreditFiles
    from service.commanding.identity import SubjectIds
    from service.policy import load_policy
    from service.settings import Settings
    from service.store.database import Database
    from service.store.ledger import CreditLedger
    from service.store.migrations import alembic_config, upgrade
    from tests.conftest import NOW

    url = f"sqlite:///{tmp_path}/older.sqlite3"
    settings = Settings(environment="test", database_url=url, subject_id_key="test-subject-key")
    database = Database.from_url(url)
    command.upgrade(alembic_config(database), "0005")
    env = database.eventsourcing_env()
    del env["APPLICATION_RECORDER_TOPIC"]  # the library's own recorder: no seals
    older = CreditLedger(env=env)
    files = CreditFiles(
        older,
        SubjectIds(settings.subject_id_key.get_secret_value()),
        FixedClock(NOW, settings.zone),
        load_policy(),
    )
    for n in range(3):
        subject = files.register(RegisterSubject(**enterprise(600 + n)), recorded_by="t")
        files.append(
            subject.subject_id,
            record_command_adapter.validate_python(penalty(f"OLD-{n}")),
            recorded_by="t",
        )
    older.close()

    upgrade(database)
    services = build_services(settings, migrate=False)
    try:
        assert len(seals(services)) == 6
        services.files.append(
            subject.subject_id,
            record_command_adapter.validate_python(penalty("NEW-1")),
            recorded_by="t",
        )
        report = verify_export(export(services), trusted_keys=keys_of(services))
        assert report.ok, report.findings
        assert report.events == 7
    finally:
        services.close_sync()


def test_a_checkpoint_schedule_started_twice_runs_in_one_thread(services):
    """Two apps sharing one process's services each start the schedule: one thread makes the
    checkpoints, and stopping the schedule stops it."""
    import threading

    from service.integrity.checkpoints import CheckpointSchedule

    def scheduled() -> list[threading.Thread]:
        return [thread for thread in threading.enumerate() if thread.name == "checkpoints"]

    schedule = CheckpointSchedule(services.checkpoints, 3600)
    schedule.start()
    schedule.start()
    try:
        assert len(scheduled()) == 1
    finally:
        schedule.stop()
    assert not scheduled()
