"""A record row keeps the detail fields the status rules read (procedure, a list entry's
basis, planned end and basis record, a commitment's due date) as columns: the projector writes
them from the record's details, and migration 0028 fills them for the rows written before it,
on SQLite and PostgreSQL, to what the projector writes."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import inspect, select

from bench.fixtures import long_credit_file
from projections.credit_file.queries import statuses
from projections.tables import records
from service.commanding.commands import record_command_adapter
from tests.builders import list_entry, penalty

pytestmark = pytest.mark.integration

RULE_COLUMNS = ("procedure", "basis", "planned_end", "basis_record_id", "due_date")


def rows(services) -> dict[Any, tuple[Any, ...]]:
    with services.write_engine.connect() as conn:
        found = conn.execute(
            select(records.c.record_id, *(records.c[name] for name in RULE_COLUMNS))
        ).all()
    return {row[0]: tuple(row[1:]) for row in found}


def details(services) -> dict[Any, dict[str, Any]]:
    with services.write_engine.connect() as conn:
        return dict(conn.execute(select(records.c.record_id, records.c.details)).all())


async def test_the_rule_columns_are_the_details_the_rules_read_and_the_migration_fills_them(
    services, settings, clock
):
    from alembic import command
    from service.store.database import Database
    from service.store.migrations import alembic_config

    subject_id = long_credit_file(services.files, clock, events=300, seed=4)
    # a list entry resting on a penalty (the history above has none)
    basis = services.files.append(
        subject_id,
        record_command_adapter.validate_python(
            penalty("郑交执罚〔2026〕0901号", severity="serious")
        ),
        recorded_by="t",
    )
    services.files.append(
        subject_id,
        record_command_adapter.validate_python(
            {**list_entry("豫交黑〔2026〕0902号"), "basis_record_id": str(basis.record_id)}
        ),
        recorded_by="t",
    )
    services.runner.catch_up()
    services.runner.stop()
    projected = rows(services)
    # every column is filled for some record, so each is compared below
    for n, name in enumerate(RULE_COLUMNS):
        assert any(values[n] is not None for values in projected.values()), name
    for record_id, detail in details(services).items():
        procedure, basis, planned_end, basis_record_id, due_date = projected[record_id]
        assert procedure == detail.get("procedure")
        assert basis == detail.get("basis")
        assert basis_record_id == detail.get("basis_record_id")
        assert (planned_end.isoformat() if planned_end else None) == detail.get("planned_end")
        assert (due_date.isoformat() if due_date else None) == detail.get("due_date")
    today = clock.moment.astimezone(clock.zone).date()
    async with services.read_engine.connect() as conn:
        status_before = await statuses(conn, [subject_id], today, services.policy)

    config = alembic_config(Database.from_url(settings.database_url))
    command.downgrade(config, "0027")
    with services.write_engine.connect() as conn:
        kept = {c["name"] for c in inspect(conn).get_columns("records")}
    assert not kept & set(RULE_COLUMNS)
    command.upgrade(config, "head")
    assert rows(services) == projected
    await services.read_engine.dispose()  # its connections knew the table without them
    async with services.read_engine.connect() as conn:
        assert await statuses(conn, [subject_id], today, services.policy) == status_before
