"""What a database superuser can do that the service's roles cannot: write past the append-only
triggers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, text


@contextmanager
def as_superuser(services) -> Iterator[Connection]:
    """A connection that bypasses the append-only triggers, as a database superuser can:
    PostgreSQL's replica role skips them; on SQLite the owner of the file drops them (and puts
    them back afterwards)."""
    with services.write_engine.begin() as conn:
        if services.database.is_sqlite:
            triggers = conn.execute(
                text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
            ).all()
            for name, _ in triggers:
                conn.execute(text(f"DROP TRIGGER {name}"))
            yield conn
            for _, sql in triggers:
                conn.execute(text(sql))
        else:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            yield conn
