"""The service runs on PostgreSQL as a role granted only what `credit grant-service-role`
grants: it records, projects and signs checkpoints, and it cannot delete or truncate history."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from sqlalchemy import make_url

from service.access.access_log import AccessEntry
from service.bootstrap import build_services
from service.commanding.commands import RegisterSubject, record_command_adapter
from service.store.database_roles import service_role_grants
from tests.builders import enterprise, penalty

pytestmark = pytest.mark.integration


@pytest.fixture
def service_role(settings):
    if settings.database_url.startswith("sqlite"):
        pytest.skip("database roles are PostgreSQL's")
    role = f"credit_service_{uuid.uuid4().hex[:8]}"
    owner = make_url(settings.database_url).set(drivername="postgresql")
    conninfo = owner.render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
        for statement in service_role_grants(role):
            conn.execute(statement)
    yield owner.set(username=role).render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'DROP OWNED BY "{role}"')
        conn.execute(f'DROP ROLE "{role}"')


def test_the_service_works_as_its_role_and_cannot_remove_history(settings, service_role):
    as_role = settings.model_copy(update={"database_url": service_role, "migrate_on_start": False})
    services = build_services(as_role)
    try:
        subject = services.files.register(RegisterSubject(**enterprise(3)), recorded_by="t")
        services.files.append(
            subject.subject_id,
            record_command_adapter.validate_python(penalty("ROLE-1")),
            recorded_by="t",
        )
        assert services.runner.catch_up() == 2
        services.access_log.append(
            [AccessEntry("t", "agency", "", subject.subject_id, "status", "p", {})]
        )
        services.administration.rotate_signing_key("cli:t")
        made = services.checkpoints.make()
        assert made.tree_size == 2
        assert made.logs is not None  # a checkpoint made now anchors the chained logs
        assert (made.logs["access_log"]["seq"], made.logs["admin_log"]["seq"]) == (1, 1)
        assert all(check.ok for check in services.checkpoints.verify_chains().values())
    finally:
        services.close_sync()
    with psycopg.connect(make_url(service_role).render_as_string(hide_password=False)) as conn:
        for statement, refused in (
            ("DELETE FROM credit_events", "permission denied"),
            ("TRUNCATE credit_events", "permission denied"),
            ("DELETE FROM event_seals", "permission denied"),
            ("UPDATE credit_events SET topic = 'x'", "append-only"),
            ("UPDATE event_seals SET version = 9", "permission denied"),
            ("DELETE FROM access_log", "permission denied"),
            ("TRUNCATE access_log", "permission denied"),
            ("UPDATE access_log SET purpose = 'x'", "permission denied"),
            ("DELETE FROM admin_log", "permission denied"),
            ("TRUNCATE admin_log", "permission denied"),
            ("UPDATE admin_log SET actor = 'x'", "permission denied"),
            ("DELETE FROM admin_approvals", "permission denied"),
        ):
            with pytest.raises(psycopg.Error, match=refused):
                conn.execute(statement)
            conn.rollback()


def test_the_service_role_appends_where_functions_are_not_everyones(settings, service_role):
    """A hardened database revokes PUBLIC's default EXECUTE on functions: the role's own grant
    still lets it append, whose insert is a function (migration 0029)."""
    owner = make_url(settings.database_url).set(drivername="postgresql")
    signature = "credit_insert_sealed(uuid[], bigint[], text[], bytea[], bytea[], bytea[], "
    signature += "uuid[], bigint[], bytea[], text, text)"
    with psycopg.connect(owner.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f"REVOKE EXECUTE ON FUNCTION {signature} FROM PUBLIC")
        try:
            as_role = settings.model_copy(
                update={"database_url": service_role, "migrate_on_start": False}
            )
            services = build_services(as_role)
            try:
                subject = services.files.register(RegisterSubject(**enterprise(4)), recorded_by="t")
                appended = services.files.append(
                    subject.subject_id,
                    record_command_adapter.validate_python(penalty("ROLE-2")),
                    recorded_by="t",
                )
                assert appended.created and appended.version == 2
            finally:
                services.close_sync()
        finally:
            conn.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO PUBLIC")


def test_the_service_role_signs_gm_checkpoints_and_cannot_remove_sm3_seals(settings, service_role):
    as_role = settings.model_copy(
        update={"database_url": service_role, "migrate_on_start": False, "crypto_suite": "gm"}
    )
    services = build_services(as_role)
    try:
        services.files.register(RegisterSubject(**enterprise(4)), recorded_by="t")
        made = services.checkpoints.make()
        assert made.tree_size == 1 and made.sm3_root is not None
        assert services.checkpoints.verify(made).ok
    finally:
        services.close_sync()
    with psycopg.connect(make_url(service_role).render_as_string(hide_password=False)) as conn:
        for statement in (
            "DELETE FROM event_seals_sm3",
            "TRUNCATE merkle_nodes_sm3",
            "UPDATE event_seals_sm3 SET leaf_index = 9",
        ):
            with pytest.raises(psycopg.Error, match="permission denied"):
                conn.execute(statement)
            conn.rollback()
