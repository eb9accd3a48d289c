"""The event store refuses UPDATE and DELETE of stored events, even from the service's own role."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from service.commanding.commands import RegisterSubject
from tests.builders import enterprise

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("statement", ["UPDATE {table} SET topic = 'x'", "DELETE FROM {table}"])
def test_stored_events_cannot_be_changed_or_removed(services, statement):
    services.files.register(RegisterSubject(**enterprise()), recorded_by="t")
    table = services.ledger.recorder.events_table_name
    with pytest.raises(DatabaseError, match="append-only"), services.write_engine.begin() as conn:
        conn.execute(text(statement.format(table=table)))
    with services.write_engine.connect() as conn:
        rows = conn.execute(text(f"SELECT topic FROM {table}")).scalars().all()
    assert rows == ["credit:SubjectRegistered"]


def test_history_cannot_be_truncated_even_by_its_owner(services):
    if services.database.is_sqlite:
        pytest.skip("SQLite has no TRUNCATE")
    services.files.register(RegisterSubject(**enterprise()), recorded_by="t")
    for table in ("credit_events", "event_seals"):
        with pytest.raises(DatabaseError, match="append-only"), services.write_engine.begin() as c:
            c.execute(text(f"TRUNCATE {table}"))
