"""Attack replays against the logs (issue 12, item 4, and the re-registration hole of item 6):
a whole-store export that left no trace, an access log without append-only triggers, and a cut
tail that verified clean. Each on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select, text
from sqlalchemy.exc import DatabaseError

from alembic import command
from domain.integrity import checkpoint_message, signature_valid
from service.access.access_log import NO_SUBJECT
from service.access.secrets import KeyWrapper, new_ed25519_key
from service.access.tables import access_log, admin_log
from service.bootstrap import build_services
from service.integrity.checkpoints import Checkpoint
from service.integrity.tables import checkpoint_keys, checkpoints
from service.integrity.verifier import checkpoint_signed
from service.store.database import Database
from service.store.migrations import alembic_config, upgrade
from tests.builders import enterprise, penalty
from tests.postgres import ADMIN_URL
from tests.tampering import as_superuser

pytestmark = pytest.mark.api
ROOT = Path(__file__).resolve().parents[2]


async def events_and_reads(client, role_headers, reads: int = 4) -> str:
    subject = (await client.post("/v1/subjects", json=enterprise(41))).json()
    sid = subject["subject_id"]
    recorded = await client.post(f"/v1/subjects/{sid}/events", json=penalty("LOG-1"))
    # Each read waits for the penalty's projection: a read before it could find no subject yet,
    # and a loaded machine would then leave fewer logged reads than the tests count on.
    projected = {"min_position": recorded.json()["position"]}
    for _ in range(reads):
        read = await client.get(
            f"/v1/subjects/{sid}/status", params=projected, headers=role_headers["agency"]
        )
        assert read.status_code == 200, read.text
    return sid


def rows(services, table=access_log) -> list[dict]:
    with services.write_engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(table).order_by(table.c.seq)).mappings()]


def count(services, table) -> int:
    with services.write_engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def credit(settings, *args: str, user: str | None = None) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "CREDIT_DATABASE_URL": settings.database_url,
        "CREDIT_SUBJECT_ID_KEY": settings.subject_id_key.get_secret_value(),
        "CREDIT_CLIENT_SECRET_SCRYPT_N": "2",
        "COLUMNS": "200",
    }
    if user is not None:  # what getpass.getuser() reports: the OS user the CLI names
        env |= {"LOGNAME": user, "USER": user}
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


# Exports ----------------------------------------------------------------------------------
async def test_a_whole_store_export_is_one_chained_access_log_entry_with_range_and_count(
    client, anonymous, role_headers, services
):
    await events_and_reads(client, role_headers, reads=1)
    before = rows(services)
    response = await anonymous.get(
        "/v1/audit/export",
        headers={**role_headers["auditor"], "X-Purpose": quote("年度审计")},
    )
    assert response.status_code == 200
    after = rows(services)
    assert len(after) == len(before) + 1
    entry = after[-1]
    checkpoint = json.loads(response.content.splitlines()[-3])  # checkpoint, keys, signature
    assert checkpoint["type"] == "checkpoint"
    assert (entry["client_id"], entry["action"], entry["purpose"], entry["subject_id"]) == (
        "test-auditor",
        "export",
        "年度审计",
        NO_SUBJECT,
    )
    assert entry["returned"] == {
        "export": "store",
        "tree_size": 2,
        "leaves": [0, 1],
        "events": 2,
        "root": checkpoint["root"],
        "since_tree_size": None,
    }
    assert entry["prev_hash"] == before[-1]["hash"]
    assert services.access_log.verify() is None
    # and an auditor finds it where whole-store reads are kept: under the nil subject id
    page = await anonymous.get(
        f"/v1/subjects/{NO_SUBJECT}/access-log", headers=role_headers["auditor"]
    )
    assert [e["action"] for e in page.json()["entries"]] == ["export"]


async def test_a_refused_export_writes_nothing_to_the_access_log(
    client, anonymous, role_headers, services
):
    await events_and_reads(client, role_headers, reads=1)
    before = rows(services)
    too_far = await anonymous.get(
        "/v1/audit/export", params={"since_tree_size": 99}, headers=role_headers["auditor"]
    )
    assert too_far.status_code == 422
    assert too_far.json()["type"].endswith("/validation-error")
    agency = await anonymous.get("/v1/audit/export", headers=role_headers["agency"])
    assert agency.status_code == 403
    assert rows(services) == before


async def test_the_cli_export_is_logged_under_the_operator(
    client, role_headers, services, settings, tmp_path
):
    await events_and_reads(client, role_headers, reads=0)
    out = tmp_path / "store.ndjson"
    done = credit(settings, "audit", "export", "-o", str(out), "--purpose", "backup check")
    assert done.returncode == 0, done.stderr
    [entry] = rows(services)
    assert (entry["client_id"], entry["role"], entry["action"], entry["purpose"]) == (
        f"cli:{_os_user()}",
        "operator",
        "export",
        "backup check",
    )
    assert entry["returned"]["events"] == 2 and entry["subject_id"] == NO_SUBJECT


def _os_user() -> str:
    import getpass

    return getpass.getuser()


# Append-only ------------------------------------------------------------------------------
STATEMENTS = {
    "update": "UPDATE {table} SET prev_hash = hash",
    "delete": "DELETE FROM {table} WHERE seq = (SELECT MAX(seq) FROM {table})",
    "delete-all": "DELETE FROM {table}",
    "truncate": "TRUNCATE {table}",
}


@pytest.mark.parametrize("table", ["access_log", "admin_log"])
@pytest.mark.parametrize("statement", sorted(STATEMENTS))
async def test_the_chained_logs_refuse_update_delete_and_truncate(
    client, anonymous, role_headers, services, second_admin, table, statement
):
    if statement == "truncate" and services.database.is_sqlite:
        pytest.skip("SQLite has no TRUNCATE (DELETE FROM without WHERE is the same thing)")
    await events_and_reads(client, role_headers, reads=2)
    await anonymous.post("/v1/admin/keys:rotate", headers=role_headers["admin"])
    await anonymous.post("/v1/admin/keys:rotate", headers=second_admin)
    chosen = access_log if table == "access_log" else admin_log
    before = rows(services, chosen)
    assert len(before) == 2
    with pytest.raises(DatabaseError, match="append-only"), services.write_engine.begin() as conn:
        conn.execute(text(STATEMENTS[statement].format(table=table)))
    assert rows(services, chosen) == before


# Cut tails --------------------------------------------------------------------------------
async def verify(anonymous, role_headers) -> dict:
    response = await anonymous.get("/v1/audit/access-log:verify", headers=role_headers["auditor"])
    assert response.status_code == 200
    return response.json()


@pytest.mark.parametrize("cut", ["last-rows", "truncate"])
async def test_a_cut_access_log_tail_is_detected_against_the_signed_checkpoint(
    client, anonymous, role_headers, services, settings, cut
):
    await events_and_reads(client, role_headers, reads=5)
    made = await anonymous.post("/v1/audit/checkpoints", headers=role_headers["auditor"])
    assert made.status_code == 201
    assert made.json()["logs"]["access_log"] == {"seq": 5, "hash": rows(services)[-1]["hash"]}
    clean = await verify(anonymous, role_headers)
    assert clean["ok"] and clean["access_log"]["anchored"]["seq"] == 5
    ok = credit(settings, "audit", "verify-access-log")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines()[0] == (
        "access log: 5 rows hashed with sha256, the chain holds, anchored up to seq 5 by signed "
        "checkpoints"
    )

    with as_superuser(services) as conn:  # what the triggers refuse to everyone else
        if cut == "truncate":
            conn.execute(access_log.delete())
        else:
            conn.execute(access_log.delete().where(access_log.c.seq > 3))
    kept = 0 if cut == "truncate" else 3
    assert services.access_log.verify() is None  # the chain alone still holds: the hole

    found = await verify(anonymous, role_headers)
    assert found["ok"] is False
    assert found["access_log"]["cut_after_seq"] == kept
    assert found["access_log"]["first_bad_seq"] is None
    assert found["access_log"]["detail"] == (
        f"access log: CUT after seq {kept} (a signed checkpoint anchored seq 5)"
    )
    assert found["admin_log"]["ok"] is True
    failed = credit(settings, "audit", "verify-access-log")
    assert failed.returncode == 1
    assert failed.stdout.splitlines()[0] == (
        f"access log: CUT after seq {kept} (a signed checkpoint anchored seq 5)"
    )
    # and the service will not sign the shorter log over the checkpoint that anchored it
    signed_before = count(services, checkpoints)
    refused = await anonymous.post("/v1/audit/checkpoints", headers=role_headers["auditor"])
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("/chained-log-cut")
    assert count(services, checkpoints) == signed_before


async def test_a_cut_tail_refilled_by_new_reads_is_named_at_the_anchored_seq(
    client, anonymous, role_headers, services
):
    sid = await events_and_reads(client, role_headers, reads=4)
    await anonymous.post("/v1/audit/checkpoints", headers=role_headers["auditor"])
    with as_superuser(services) as conn:
        conn.execute(access_log.delete().where(access_log.c.seq > 2))
    for _ in range(3):  # new reads take seqs 3, 4, 5 again, chained correctly
        await client.get(f"/v1/subjects/{sid}/status", headers=role_headers["agency"])
    assert services.access_log.verify() is None
    found = await verify(anonymous, role_headers)
    assert found["access_log"]["first_bad_seq"] == 4  # the anchored head was seq 4
    assert found["access_log"]["detail"].startswith("access log: BROKEN at seq 4")


async def test_a_changed_row_is_named_by_the_cli_with_exit_code_1(
    client, anonymous, role_headers, services, settings
):
    await events_and_reads(client, role_headers, reads=3)
    with as_superuser(services) as conn:
        conn.execute(access_log.update().where(access_log.c.seq == 2).values(purpose="quiet"))
    failed = credit(settings, "audit", "verify-access-log")
    assert failed.returncode == 1
    assert failed.stdout.splitlines()[0] == (
        "access log: BROKEN at seq 2 (changed, removed or reordered)"
    )


async def test_a_saved_checkpoint_catches_a_cut_made_with_the_checkpoints_behind_it(
    client, anonymous, role_headers, services, settings, tmp_path
):
    """A superuser who cuts the tail and the checkpoints that anchored it is caught by the
    checkpoint an auditor kept outside the database."""
    await events_and_reads(client, role_headers, reads=4)
    saved = (await anonymous.post("/v1/audit/checkpoints", headers=role_headers["auditor"])).json()
    keys = (await anonymous.get("/v1/audit/checkpoint-keys")).json()
    (tmp_path / "checkpoint.json").write_text(json.dumps(saved))
    (tmp_path / "keys.json").write_text(json.dumps(keys))
    with as_superuser(services) as conn:
        conn.execute(access_log.delete().where(access_log.c.seq > 1))
        conn.execute(checkpoints.delete())
    assert (await verify(anonymous, role_headers))["ok"]  # nothing left inside to compare with
    saved_args = ["--checkpoint", str(tmp_path / "checkpoint.json")]
    checked = credit(
        settings, "audit", "verify-access-log", *saved_args, "--keys", str(tmp_path / "keys.json")
    )
    assert checked.returncode == 1
    assert checked.stdout.splitlines()[0] == (
        "access log: CUT after seq 1 (a signed checkpoint anchored seq 4)"
    )
    forged = {**saved, "logs": {**saved["logs"], "access_log": {"seq": 1, "hash": "0" * 64}}}
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    refused = credit(
        settings,
        "audit",
        "verify-access-log",
        "--checkpoint",
        str(tmp_path / "forged.json"),
        "--keys",
        str(tmp_path / "keys.json"),
    )
    assert refused.returncode == 2
    assert "not signed" in refused.stderr


# Re-registration --------------------------------------------------------------------------
async def test_registering_a_known_code_is_a_logged_read(client, role_headers, services):
    first = await client.post("/v1/subjects", json=enterprise(42))
    assert first.status_code == 201
    assert rows(services) == []
    again = await client.post(
        "/v1/subjects", json=enterprise(42), headers={"X-Purpose": quote("重复登记核对")}
    )
    assert again.status_code == 200
    assert again.json()["subject_id"] == first.json()["subject_id"]
    [entry] = rows(services)
    assert (entry["client_id"], entry["action"], entry["purpose"], str(entry["subject_id"])) == (
        "test-recorder",
        "register_known",
        "重复登记核对",
        first.json()["subject_id"],
    )
    assert entry["returned"] == {"version": 1}
    refused = await client.post("/v1/subjects", json=enterprise(43), headers=role_headers["agency"])
    assert refused.status_code == 403
    assert len(rows(services)) == 1


# Checkpoint formats -----------------------------------------------------------------------
@pytest.fixture(params=["sqlite", "postgres"])
def database_at_0008(request, tmp_path):
    """An empty database migrated only to 0008, before the chained logs were anchored."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/old.sqlite3"
    else:
        request.getfixturevalue("postgres_database")  # skips (or fails in CI) without PostgreSQL
        import psycopg
        from sqlalchemy import make_url

        name = f"credit_old_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        request.addfinalizer(lambda: _drop(name))
    command.upgrade(alembic_config(Database.from_url(url)), "0008")
    return url


def _drop(name: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_checkpoints_signed_before_the_anchors_keep_verifying_as_format_1(
    database_at_0008, settings
):
    settings = settings.model_copy(update={"database_url": database_at_0008})
    database = Database.from_url(database_at_0008)
    wrapper = KeyWrapper(settings.key_encryption_key.get_secret_value())
    private, raw = new_ed25519_key()
    public = private.public_key().public_bytes_raw()
    issued = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    root = bytes.fromhex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    old_signature = private.sign(checkpoint_message(settings.log_origin, 0, root, issued))
    old_checkpoints = sa.table(  # the table as the code before 0010 wrote it
        "checkpoints",
        *(sa.column(name) for name in ("tree_size", "root", "origin", "key_id", "signature")),
        sa.column("issued_at", sa.DateTime(timezone=True)),
    )
    engine = sa.create_engine(database.sync_url())
    with engine.begin() as conn:
        conn.execute(
            checkpoint_keys.insert().values(
                key_id="old",
                public_key=public,
                private_key=wrapper.wrap(raw, "checkpoint-key:old"),
                created_at=issued,
            )
        )
        conn.execute(
            old_checkpoints.insert().values(
                tree_size=0,
                root=root,
                issued_at=issued,
                origin=settings.log_origin,
                key_id="old",
                signature=old_signature,
            )
        )
    engine.dispose()

    upgrade(database)
    services = build_services(settings, migrate=False)
    try:
        [old] = services.checkpoints.recent()
        assert old.logs is None and old.signature == old_signature
        assert signature_valid(public, old.signature, old.message())
        assert "format" not in old.as_json() and "logs" not in old.as_json()
        assert checkpoint_signed(old.as_json(), {"old": public})
        assert Checkpoint.from_json(old.as_json()) == old

        new = services.checkpoints.make()  # same tree, but now the logs are anchored
        assert new.tree_size == 0 and new.root == root
        assert new.as_json()["format"] == "credit-checkpoint/2"
        assert new.logs == {
            "access_log": {"seq": 0, "hash": "0" * 64},
            "admin_log": {"seq": 0, "hash": "0" * 64},
        }
        keys = {
            k["key_id"]: base64.b64decode(k["public_key"])
            for k in services.checkpoints.public_keys()
        }
        assert checkpoint_signed(new.as_json(), keys)
        stripped = {k: v for k, v in new.as_json().items() if k not in ("format", "logs")}
        assert not checkpoint_signed(stripped, keys)  # the anchors cannot be dropped
        assert services.checkpoints.latest() == new
        assert [c.logs is None for c in services.checkpoints.recent()] == [False, True]
        assert services.checkpoints.make() == new  # nothing new: the same checkpoint
        with pytest.raises(DatabaseError, match="append-only"), services.write_engine.begin() as c:
            c.execute(text("DELETE FROM checkpoints"))
    finally:
        services.close_sync()


async def test_checkpoints_sharing_a_tree_size_are_listed_without_splitting_them(
    client, anonymous, role_headers
):
    auditor = role_headers["auditor"]
    sid = await events_and_reads(client, role_headers, reads=0)
    made = []
    for _ in range(3):  # the tree stays at 2 events; each read moves the access log on
        made.append((await anonymous.post("/v1/audit/checkpoints", headers=auditor)).json())
        await client.get(f"/v1/subjects/{sid}/status", headers=role_headers["agency"])
    await client.post(f"/v1/subjects/{sid}/events", json=penalty("LOG-2"))
    made.append((await anonymous.post("/v1/audit/checkpoints", headers=auditor)).json())
    assert [c["tree_size"] for c in made] == [2, 2, 2, 3]
    assert [c["logs"]["access_log"]["seq"] for c in made] == [0, 1, 2, 3]

    first = (await anonymous.get("/v1/audit/checkpoints", params={"limit": 3})).json()
    assert first["checkpoints"] == [made[3]] and first["next_before_size"] == 3
    second = (
        await anonymous.get("/v1/audit/checkpoints", params={"limit": 3, "before_size": 3})
    ).json()
    assert second["checkpoints"] == [made[2], made[1], made[0]]
    latest_at_2 = (await anonymous.get("/v1/audit/checkpoints/2")).json()
    assert latest_at_2 == made[2]
