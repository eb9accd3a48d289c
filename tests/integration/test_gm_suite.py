"""The 国密 suite (CREDIT_CRYPTO_SUITE=gm) end to end: the SM3 chain and tree beside the
SHA-256 ones, SM2 signatures beside Ed25519 on checkpoints and exports, SM4-GCM for personal
data; a store that ran the standard suite keeps verifying after the switch, and takes its whole
history into the SM3 chain at the first 国密 checkpoint."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from uuid import UUID, uuid4

import gmalg
import orjson
import pytest
from sqlalchemy import select, text, update
from typer.testing import CliRunner

from alembic import command
from domain.crypto_suite import SM2, SM3, signature_valid
from domain.errors import SealNoLongerHolds
from domain.integrity import canonical_json, event_document, event_leaf
from domain.merkle import root as merkle_root
from service.access.access_log import AccessEntry
from service.access.chained_log import Head
from service.access.secrets import SM4_WRAPPED
from service.access.tables import access_log, admin_log
from service.bootstrap import Services, build_services
from service.cli import app as cli
from service.integrity.tables import checkpoint_keys, event_seals, event_seals_sm3
from service.integrity.verifier import checkpoint_signed, verify_export
from service.store.database import Database
from service.store.migrations import alembic_config
from tests.api.test_attack_logs import credit
from tests.builders import AUTHORITY_CODE
from tests.integration.test_tamper_evidence import (
    events_table,
    export,
    fill,
    keys_of,
    stored_events,
)
from tests.tampering import as_superuser

pytestmark = pytest.mark.integration


@pytest.fixture
def gm(settings, clock) -> Iterator[Services]:
    """The same store, opened with the 国密 suite."""
    built = build_services(settings.model_copy(update={"crypto_suite": "gm"}), clock=clock)
    yield built
    built.close_sync()


def sm3_seals(services) -> list[bytes]:
    with services.write_engine.connect() as conn:
        rows = conn.execute(select(event_seals_sm3).order_by(event_seals_sm3.c.leaf_index))
        return [bytes(row.event_hash) for row in rows]


def test_a_gm_checkpoint_signs_an_sm3_tree_of_sm3_chains_with_sm2_beside_ed25519(gm):
    fill(gm, subjects=2)
    checkpoint = gm.checkpoints.make()
    assert checkpoint.tree_size == 6 and checkpoint.sm3_root is not None

    # Each SM3 seal is SM3 over the same canonical document as the SHA-256 seal, chained to the
    # SM3 hash of the stream's previous event: recomputed here with hashlib's SM3 alone.
    heads: dict = {}
    expected = []
    for _, stream, version, topic, state in stored_events(gm):
        document = event_document(heads.get(stream), stream, version, topic, orjson.loads(state))
        digest = SM3.digest(canonical_json(document))
        heads[stream] = digest
        expected.append(digest)
    assert sm3_seals(gm) == expected
    assert checkpoint.sm3_root == merkle_root([event_leaf(h, SM3) for h in expected], SM3.tree)
    assert checkpoint.sm3_root != checkpoint.root

    keys = {key["key_id"]: key for key in gm.checkpoints.public_keys()}
    assert keys[checkpoint.key_id]["algorithm"] == "Ed25519"
    assert keys[checkpoint.sm2_key_id]["algorithm"] == "SM2"
    sm2_public = base64.b64decode(keys[checkpoint.sm2_key_id]["public_key"])
    assert signature_valid("SM2", sm2_public, checkpoint.sm2_signature, checkpoint.message())
    document = checkpoint.as_json()
    assert document["format"] == "credit-checkpoint/3"
    assert checkpoint_signed(document, keys_of(gm))
    # The SM3 root is signed by both: changing it, or dropping the SM2 signature, fails.
    assert not checkpoint_signed({**document, "sm3_root": "00" * 32}, keys_of(gm))
    assert not checkpoint_signed({k: v for k, v in document.items() if k != "sm2"}, keys_of(gm))
    assert gm.checkpoints.verify(checkpoint).ok
    assert gm.checkpoints.make() == checkpoint  # nothing new: the same checkpoint
    with gm.write_engine.connect() as conn:  # keys made under the 国密 suite: wrapped with SM4
        wrapped = conn.execute(select(checkpoint_keys.c.private_key)).scalars().all()
    assert wrapped and all(bytes(w).startswith(SM4_WRAPPED) for w in wrapped)

    fill(gm, subjects=1, first=50)
    later = gm.checkpoints.make()
    assert len(sm3_seals(gm)) == later.tree_size == 9
    with gm.write_engine.connect() as conn:
        proof = gm.checkpoints.sm3_log.consistency_proof(conn, 6, 9)
    from domain.merkle import verify_consistency

    assert verify_consistency(6, 9, checkpoint.sm3_root, later.sm3_root, proof, SM3.tree)


def test_a_store_made_with_gm_exports_and_verifies_offline_in_both_suites(gm, tmp_path):
    subjects = fill(gm)
    saved = gm.checkpoints.make().as_json()
    fill(gm, subjects=1, first=50)
    store = export(gm)
    trailer = orjson.loads(store[-1])
    assert trailer["sm2"]["algorithm"] == "SM2" and len(trailer["sm3"]) == 64
    assert all("sm3_event_hash" in orjson.loads(line)["seal"] for line in store[1:13])
    report = verify_export(store, saved_checkpoint=saved, trusted_keys=keys_of(gm))
    assert report.ok, report.findings
    assert "the log's first 9 events are those of the checkpoint you saved (SM3)" in report.notes
    assert "checked with SHA-256 and Ed25519, and with SM3 and SM2 (the 国密 suite)" in (
        report.notes
    )
    one = export(gm, subject_id=subjects[1], since_tree_size=saved["tree_size"])
    assert "sm3_inclusion_proof" in orjson.loads(one[1])
    report = verify_export(one, saved_checkpoint=saved, trusted_keys=keys_of(gm))
    assert report.ok, report.findings
    assert "the log extends the checkpoint you saved (tree size 9) (SM3)" in report.notes

    (tmp_path / "gm.ndjson").write_bytes(b"".join(store))
    (tmp_path / "checkpoint.json").write_text(json.dumps(saved))
    (tmp_path / "keys.json").write_text(json.dumps({"keys": gm.checkpoints.public_keys()}))
    verified = CliRunner().invoke(
        cli,
        [
            "audit",
            "verify-export",
            str(tmp_path / "gm.ndjson"),
            "--checkpoint",
            str(tmp_path / "checkpoint.json"),
            "--keys",
            str(tmp_path / "keys.json"),
        ],
    )
    assert verified.exit_code == 0, verified.output


def test_an_edited_payload_breaks_both_chains_and_both_trees(gm):
    fill(gm)
    saved = gm.checkpoints.make().as_json()
    position, stream, version, _, state = stored_events(gm)[4]
    table, column = events_table(gm)
    with as_superuser(gm) as conn:
        conn.execute(
            text(f"UPDATE {table} SET state = :state WHERE {column} = :p"),
            {"state": state.replace(b"TE-", b"XX-"), "p": position},
        )
    lines = export(gm)
    report = verify_export(lines, saved_checkpoint=saved, trusted_keys=keys_of(gm))
    named = f"event at position {position} (stream {stream} version {version})"
    changed = [f for f in report.findings if f.startswith(named) and "differs" in f]
    assert [f.endswith("(SM3)") for f in changed] == [False, True]
    assert any("not those the checkpoint you saved" in f and "(SM3)" in f for f in report.findings)


def test_history_that_no_longer_matches_its_sha256_seal_is_not_sealed_with_sm3(services, gm):
    fill(services)
    services.checkpoints.make()
    position, *_, state = stored_events(services)[4]
    table, column = events_table(services)
    with as_superuser(services) as conn:
        conn.execute(
            text(f"UPDATE {table} SET state = :state WHERE {column} = :p"),
            {"state": state.replace(b"TE-", b"XX-"), "p": position},
        )
    with pytest.raises(SealNoLongerHolds, match=f"position {position}"):
        gm.checkpoints.make()
    assert sm3_seals(gm) == []  # nothing of the refused checkpoint was written
    assert gm.checkpoints.latest().sm3_root is None


def test_a_changed_sm2_signature_on_an_export_is_named(gm):
    fill(gm, subjects=1)
    lines = export(gm)
    trailer = orjson.loads(lines[-1])
    other_private, _ = SM2.generate()
    forged = SM2.sign(other_private, bytes.fromhex(trailer["sm3"]))
    trailer["sm2"]["signature"] = base64.b64encode(forged).decode()
    lines[-1] = orjson.dumps(trailer) + b"\n"
    report = verify_export(lines, trusted_keys=keys_of(gm))
    assert report.findings == [
        "the export's SM2 signature does not verify: the file was changed after it was made"
    ]


def test_a_standard_store_keeps_verifying_after_the_switch_and_joins_the_sm3_tree(
    services, settings, clock
):
    subjects = fill(services)
    standard_checkpoint = services.checkpoints.make()
    saved = standard_checkpoint.as_json()
    assert "sm3_root" not in saved and saved["format"] == "credit-checkpoint/2"
    standard_export = export(services)
    standard_keys = keys_of(services)
    services.close_sync()

    gm = build_services(settings.model_copy(update={"crypto_suite": "gm"}), clock=clock)
    try:
        # What the standard suite signed verifies unchanged, with the keys published now.
        assert verify_export(standard_export, trusted_keys=keys_of(gm)).ok
        assert gm.checkpoints.verify(standard_checkpoint).ok
        assert checkpoint_signed(saved, keys_of(gm))
        # The first 国密 checkpoint takes the whole history into the SM3 chain, though
        # nothing was appended since the last one.
        first_gm = gm.checkpoints.make()
        assert first_gm.tree_size == 9 and first_gm.root == standard_checkpoint.root
        assert first_gm.sm3_root is not None and len(sm3_seals(gm)) == 9
        fill(gm, subjects=1, first=70)
        report = verify_export(export(gm), saved_checkpoint=saved, trusted_keys=keys_of(gm))
        assert report.ok, report.findings
        # A checkpoint saved before the switch has no SM3 root: the SHA-256 tree answers for it.
        assert "the log's first 9 events are those of the checkpoint you saved" in report.notes
        one = export(gm, subject_id=subjects[0], since_tree_size=saved["tree_size"])
        assert verify_export(one, saved_checkpoint=saved, trusted_keys=keys_of(gm)).ok
        assert set(standard_keys) < set(keys_of(gm))
        # Rotation under the 国密 suite starts a key of each algorithm.
        gm.checkpoints.rotate_key()
        fill(gm, subjects=1, first=75)
        after = gm.checkpoints.make()
        assert after.key_id != first_gm.key_id and after.sm2_key_id != first_gm.sm2_key_id
    finally:
        gm.close_sync()

    # And back: the standard suite verifies what the 国密 suite signed, and signs format 2.
    back = build_services(settings, clock=clock)
    try:
        assert back.checkpoints.verify(first_gm).ok
        fill(back, subjects=1, first=80)
        assert "sm3_root" not in back.checkpoints.make().as_json()
        report = verify_export(
            export(back, checkpoint=first_gm), saved_checkpoint=saved, trusted_keys=keys_of(back)
        )
        assert report.ok, report.findings
    finally:
        back.close_sync()


def test_personal_data_sealed_by_either_suite_opens_with_both_and_erasure_erases_both(services, gm):
    subject = uuid4()
    with_aes = services.vault.seal(subject, "110101199003078515")
    with_sm4 = gm.vault.seal(subject, "13800138000")
    assert with_aes.startswith("sealed:v1:") and with_sm4.startswith("sealed:sm4:")
    for vault in (services.vault, gm.vault):
        assert vault.open(subject, with_aes) == "110101199003078515"
        assert vault.open(subject, with_sm4) == "13800138000"
    assert gm.vault.erase(subject)
    from service.access.personal_data import PersonalDataErased

    for value in (with_aes, with_sm4):
        with pytest.raises(PersonalDataErased):
            services.vault.open(subject, value)


def test_sm3_seals_are_append_only(gm):
    fill(gm, subjects=1)
    gm.checkpoints.make()
    with gm.write_engine.begin() as conn:
        leaf = conn.execute(select(event_seals.c.leaf_index).limit(1)).scalar()
    for statement in (
        "UPDATE event_seals_sm3 SET event_hash = event_hash WHERE leaf_index = :leaf",
        "DELETE FROM event_seals_sm3 WHERE leaf_index = :leaf",
    ):
        with pytest.raises(Exception, match="append-only"), gm.write_engine.begin() as conn:
            conn.execute(text(statement), {"leaf": leaf})


# The access log and the admin log ------------------------------------------------------------
def read_by(services, purpose: str) -> None:
    services.access_log.append(
        [AccessEntry("zz-agency-01", "agency", AUTHORITY_CODE, uuid4(), "status", purpose, {})]
    )


def log_rows(services, table) -> list[dict]:
    with services.write_engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(table).order_by(table.c.seq)).mappings()]


def recomputed(row: dict) -> bytes:
    """The bytes a row's hash covers, encoded here as docs/audit.md describes them: every
    column but `hash` and `hash_algorithm`, canonical JSON, timestamps in UTC ISO 8601."""

    def plain(value):
        if isinstance(value, datetime):  # SQLite hands it back naive, in UTC as written
            return (
                (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
            )
        return str(value) if isinstance(value, UUID) else value

    content = {k: plain(v) for k, v in row.items() if k not in ("hash", "hash_algorithm")}
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def gmalg_sm3(data: bytes) -> str:
    sm3 = gmalg.SM3()
    sm3.update(data)
    return sm3.value().hex()


def test_a_log_begun_with_sha256_goes_on_in_sm3_under_gm_and_verifies_in_either_suite(
    services, settings, clock
):
    read_by(services, "行政许可")
    services.administration.create_client(
        "cli:test", "zz-agency-01", "agency", "郑州市交通运输局", AUTHORITY_CODE
    )
    standard_checkpoint = services.checkpoints.make()
    services.close_sync()

    gm = build_services(settings.model_copy(update={"crypto_suite": "gm"}), clock=clock)
    try:
        read_by(gm, "招标投标资格审查")
        read_by(gm, "政府采购")
        gm.administration.disable_client("cli:test", "zz-agency-01")
        for table, sha256_rows in ((access_log, 1), (admin_log, 1)):
            rows = log_rows(gm, table)
            assert [r["hash_algorithm"] for r in rows] == (
                ["sha256"] * sha256_rows + ["sm3"] * (len(rows) - sha256_rows)
            )
            for row in rows:
                content = recomputed(row)
                if row["hash_algorithm"] == "sm3":  # GB/T 32905 SM3, as another library has it
                    assert row["hash"] == gmalg_sm3(content)
                else:
                    assert row["hash"] == hashlib.sha256(content).hexdigest()
            # one chain across the switch: the first SM3 row links to the last SHA-256 one
            assert rows[sha256_rows]["prev_hash"] == rows[sha256_rows - 1]["hash"]
        checks = gm.checkpoints.verify_chains((standard_checkpoint,))
        assert all(check.ok for check in checks.values())
        assert dict(checks["access_log"].algorithms) == {"sha256": 1, "sm3": 2}
        assert checks["access_log"].describe("access log") == (
            "access log: 3 rows hashed with sha256 (1) and sm3 (2), the chain holds, anchored "
            "up to seq 1 by signed checkpoints"
        )
        gm_checkpoint = gm.checkpoints.make()
        assert gm_checkpoint.head("access_log") == Head(3, log_rows(gm, access_log)[-1]["hash"])
    finally:
        gm.close_sync()

    back = build_services(settings, clock=clock)  # and the standard suite verifies them too
    try:
        read_by(back, "行政处罚")
        assert log_rows(back, access_log)[-1]["hash_algorithm"] == "sha256"
        checks = back.checkpoints.verify_chains((gm_checkpoint,))
        assert all(check.ok for check in checks.values()), checks
        assert dict(checks["access_log"].algorithms) == {"sha256": 2, "sm3": 2}
    finally:
        back.close_sync()


@pytest.mark.parametrize("tamper", ["content", "relabelled"])
def test_a_changed_sm3_row_is_named_by_the_verifiers(gm, settings, tamper):
    for purpose in ("行政许可", "招标投标资格审查", "政府采购"):
        read_by(gm, purpose)
    gm.administration.create_client(
        "cli:test", "zz-agency-01", "agency", "郑州市交通运输局", AUTHORITY_CODE
    )
    assert gm.access_log.verify() is None
    with as_superuser(gm) as conn:  # what the triggers refuse to everyone else
        relabelled = {"hash_algorithm": "sha256"}  # the hash is no SHA-256 of the row
        access_change = {"purpose": "无"} if tamper == "content" else relabelled
        admin_change = {"target": "zz-agency-02"} if tamper == "content" else relabelled
        conn.execute(update(access_log).where(access_log.c.seq == 2).values(**access_change))
        conn.execute(update(admin_log).where(admin_log.c.seq == 1).values(**admin_change))
    assert gm.access_log.verify() == 2
    checks = gm.checkpoints.verify_chains()
    assert checks["access_log"].first_bad_seq == 2 and checks["admin_log"].first_bad_seq == 1
    assert dict(checks["access_log"].algorithms) == {"sm3": 1}  # the rows before it hold
    failed = credit(settings, "audit", "verify-access-log")
    assert failed.returncode == 1
    assert failed.stdout.splitlines() == [
        "access log: BROKEN at seq 2 (changed, removed or reordered)",
        "admin log: BROKEN at seq 1 (changed, removed or reordered)",
    ]


def test_an_sm3_row_whose_hash_names_an_unknown_algorithm_breaks_the_chain(gm):
    read_by(gm, "行政许可")
    with as_superuser(gm) as conn:
        conn.execute(update(access_log).values(hash_algorithm="md5"))
    assert gm.access_log.verify() == 1


def test_rows_from_before_their_hash_was_named_are_sha256_and_no_downgrade_strands_sm3_rows(
    services, settings, clock
):
    read_by(services, "行政许可")
    config = alembic_config(Database.from_url(settings.database_url))
    command.downgrade(config, "0023")  # the log as it was before rows named their hash
    command.upgrade(config, "head")
    assert [row["hash_algorithm"] for row in log_rows(services, access_log)] == ["sha256"]
    assert services.access_log.verify() is None
    gm = build_services(settings.model_copy(update={"crypto_suite": "gm"}), clock=clock)
    try:
        read_by(gm, "招标投标资格审查")
    finally:
        gm.close_sync()
    with pytest.raises(RuntimeError, match="1 rows hashed with another hash than SHA-256"):
        command.downgrade(config, "0023")
    assert [row["hash_algorithm"] for row in log_rows(services, access_log)] == ["sha256", "sm3"]
