"""The backup drill of docs/operations.md, with PostgreSQL's own tools: a base backup
(`pg_basebackup`) plus the WAL archive (`archive_command`) restore, by point-in-time recovery
to the end of the archive, a store that the offline verifier (`credit audit verify-export`)
finds equal to the last signed checkpoint kept outside the database; a restore that stops
earlier (a named restore point) is named by the same verifier as missing events. On private
clusters: the shared server is never touched."""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from service.bootstrap import build_services
from service.commanding.commands import RegisterSubject, record_command_adapter
from service.settings import Settings
from service.store.database import Database
from service.store.migrations import upgrade
from tests.builders import enterprise, penalty
from tests.private_postgres import (
    PRIVATE_SUBJECT_KEY,
    PrivatePostgres,
    PrivatePostgresUnavailable,
    base_backup,
    cluster_folder,
    credit,
    delete_in_background,
    start_private_postgres,
    start_restored,
)

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SUBJECT_KEY = PRIVATE_SUBJECT_KEY
RESTORE_POINT = "drill-midway"
# The archive is a folder beside the data directory; archive_command runs in the data directory.
ARCHIVING = {
    "archive_mode": "on",
    "archive_command": "'mkdir -p ../archive && test ! -f ../archive/%f && cp %p ../archive/%f'",
    "archive_timeout": "0",
}


@pytest.fixture
def archived_postgres():
    try:
        cluster = start_private_postgres(ARCHIVING)
    except PrivatePostgresUnavailable as error:
        if os.environ.get("CI"):
            pytest.fail(f"a private PostgreSQL cluster cannot run in CI: {error}")
        pytest.skip(f"a private PostgreSQL cluster cannot run here: {error}")
    try:
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
def restores():
    """Starts restored clusters and removes each of them afterwards, whatever happened."""
    started: list[PrivatePostgres] = []

    def restore(backup: Path, settings: dict[str, str]) -> PrivatePostgres:
        cluster = start_restored(backup, settings)
        started.append(cluster)
        return cluster

    try:
        yield restore
    finally:
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(PrivatePostgres.remove, started))


def settings_for(url: str) -> Settings:
    return Settings(
        environment="test",
        database_url=url,
        subject_id_key=SUBJECT_KEY,
        client_secret_scrypt_n=2,
        migrate_on_start=False,
        checkpoint_seconds=0,
    )


def write(url: str, first: int, count: int) -> None:
    """`count` subjects, each with a penalty."""
    services = build_services(settings_for(url), migrate=False)
    try:
        for n in range(first, first + count):
            subject = services.files.register(RegisterSubject(**enterprise(n)), recorded_by="t")
            services.files.append(
                subject.subject_id,
                record_command_adapter.validate_python(penalty(f"BACKUP-{n:04d}")),
                recorded_by="t",
            )
    finally:
        services.close_sync()


def wait_archived(cluster: PrivatePostgres) -> None:
    """Closes the current WAL segment and waits until the archive holds it."""
    segment = cluster.psql("SELECT pg_walfile_name(pg_switch_wal())")
    deadline = time.monotonic() + 60
    while not (cluster.folder / "archive" / segment).exists():
        assert time.monotonic() < deadline, f"{segment} was not archived"
        time.sleep(0.1)


def wait_promoted(cluster: PrivatePostgres) -> None:
    deadline = time.monotonic() + 120
    while cluster.psql("SELECT pg_is_in_recovery()") != "f":
        assert time.monotonic() < deadline, f"recovery did not end:\n{cluster.log_tail()}"
        time.sleep(0.1)


def verify_restored(cluster: PrivatePostgres, saved: Path, keys: Path, export: Path):
    exported = credit(cluster.url("credit"), "audit", "export", "-o", str(export))
    assert exported.returncode == 0, exported.stderr
    return credit(
        cluster.url("credit"),
        "audit",
        "verify-export",
        str(export),
        "--checkpoint",
        str(saved),
        "--keys",
        str(keys),
    )


def test_a_restore_to_the_end_verifies_and_one_that_lost_events_is_named(
    archived_postgres: PrivatePostgres, restores, tmp_path
):
    primary = archived_postgres
    with psycopg.connect(primary.url(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE credit")
    url = primary.url("credit")
    upgrade(Database.from_url(url))
    write(url, 100, 10)
    first = credit(url, "audit", "checkpoint")  # the service signs them as the log grows
    assert first.returncode == 0, first.stderr

    backup = cluster_folder("credit-pg-backup-")
    try:
        base_backup(primary, backup / "base")
        write(url, 200, 10)  # after the base backup: only in the archived WAL
        primary.psql(f"SELECT pg_create_restore_point('{RESTORE_POINT}')")
        write(url, 300, 10)  # after the restore point
        # The last signed checkpoint and the keys, kept outside the database.
        saved, keys = tmp_path / "checkpoint.json", tmp_path / "keys.json"
        made = credit(url, "audit", "checkpoint")
        assert made.returncode == 0, made.stderr
        saved.write_text(made.stdout)
        assert json.loads(made.stdout)["tree_size"] == 60  # 30 subjects, each with a penalty
        listed = credit(url, "audit", "keys")
        assert listed.returncode == 0, listed.stderr
        keys.write_text(listed.stdout)
        wait_archived(primary)

        restore_command = f"'cp {primary.folder}/archive/%f %p'"
        to_the_end = {"restore_command": restore_command}
        to_the_restore_point = {
            "restore_command": restore_command,
            "recovery_target_name": f"'{RESTORE_POINT}'",
            "recovery_target_action": "'promote'",
        }
        # Both restores from the one base backup, at once: each is a copy of its own.
        with ThreadPoolExecutor(max_workers=2) as pool:
            whole, early = pool.map(
                lambda target: restores(backup / "base", target), [to_the_end, to_the_restore_point]
            )
        # Point-in-time recovery to the end of the archive: every event, verified.
        wait_promoted(whole)
        verified = verify_restored(whole, saved, keys, tmp_path / "whole.ndjson")
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert "BROKEN" not in verified.stdout
        assert "the log's first 60 events are those of the checkpoint you saved" in " ".join(
            verified.stderr.split()
        )

        # Recovery stopped at the restore point: the last ten subjects' events are lost, and
        # the verifier says so against the checkpoint kept outside the database.
        wait_promoted(early)
        lost = verify_restored(early, saved, keys, tmp_path / "early.ndjson")
        assert lost.returncode == 1, lost.stdout + lost.stderr
        assert (
            "BROKEN: the saved checkpoint covers 60 events, the export only 40: the last 20 "
            "events it signed are missing (leaves 40 to 59: removed, or lost by a restore)"
        ) in lost.stdout
    finally:
        delete_in_background(backup)
