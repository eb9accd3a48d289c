"""The privileges of the role the service runs as on PostgreSQL (migrations run as the owner).

Stored history gets no DELETE or TRUNCATE. It does get UPDATE on the event table, because the
event store takes an EXCLUSIVE lock on it to keep positions in commit order, and PostgreSQL
grants that lock only with UPDATE, DELETE or TRUNCATE; the append-only trigger refuses every
UPDATE. Tables the service changes in place (read models, clients, keys) get what they need."""

from __future__ import annotations

from sqlalchemy import MetaData

from projections.tables import metadata as read_models
from service.access.tables import metadata as access
from service.credit_reports.tables import metadata as credit_reports
from service.integrity.tables import metadata as integrity
from service.notifications.tables import metadata as notifications

# Table -> privileges, for the tables whose rows are history.
HISTORY = {
    "credit_events": "SELECT, INSERT, UPDATE",  # UPDATE for the lock only; the trigger refuses it
    "credit_snapshots": "SELECT, INSERT",
    "event_seals": "SELECT, INSERT",
    "merkle_nodes": "SELECT, INSERT",
    "event_seals_sm3": "SELECT, INSERT",  # the 国密 suite's SM3 chain
    "merkle_nodes_sm3": "SELECT, INSERT",
    "checkpoints": "SELECT, INSERT",
    "access_log": "SELECT, INSERT",
    "admin_log": "SELECT, INSERT",
    "admin_approvals": "SELECT, INSERT, UPDATE",  # UPDATE records the approval; DELETE never
    "checkpoint_keys": "SELECT, INSERT, UPDATE",  # UPDATE retires a key; DELETE never
    "projection_skips": "SELECT, INSERT",  # an operator's skip stays recorded
    "case_number_series": "SELECT, INSERT, UPDATE",  # a serial handed out is never handed back
    "case_streams": "SELECT, INSERT",  # a number keeps its stream
    "credit_reports": "SELECT, INSERT",  # a report is kept as issued, never changed
}
CHANGED_IN_PLACE = "SELECT, INSERT, UPDATE, DELETE"


def service_role_grants(
    role: str,
    tables: tuple[MetaData, ...] = (read_models, access, integrity, credit_reports, notifications),
):
    """GRANT statements for `role` on every table the service uses."""
    quoted = '"' + role.replace('"', '""') + '"'
    names = sorted({name for metadata in tables for name in metadata.tables} | HISTORY.keys())
    statements = [f"GRANT USAGE ON SCHEMA public TO {quoted}"]
    statements += [
        f"GRANT {HISTORY.get(name, CHANGED_IN_PLACE)} ON {name} TO {quoted}" for name in names
    ]
    statements.append(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}")
    # An append's insert is a function (migration 0029): granted, so that a database that
    # revoked PUBLIC's default EXECUTE on functions still lets the service write.
    statements.append(f"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO {quoted}")
    return statements
