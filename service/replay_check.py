"""Replay verification: rebuild every read model from the event log into a scratch database and
compare it with the live one, field by field. It reads the live tables and writes elsewhere, so
queries are never blocked."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from sqlalchemy import make_url, select

from projections.cases.projector import CaseProjector
from projections.credit_file.projector import CreditFileProjector
from projections.runner import ProjectionRunner
from projections.tables import READ_MODEL_TABLES
from service.bootstrap import Services
from service.database import Database
from service.migrations import upgrade
from service.read_store import sync_engine

SUBJECT_KEYS = {
    "subjects": "subject_id",
    "records": "subject_id",
    "cases": "subject_id",
    "record_revisions": "subject_id",
    "subject_versions": "subject_id",
}


@dataclass(frozen=True)
class Difference:
    table: str
    key: str  # the row's primary key
    subject_id: str | None
    field: str
    live: Any
    replayed: Any


@dataclass(frozen=True)
class ReplayReport:
    events: int
    rows_compared: int
    differences: list[Difference]

    @property
    def ok(self) -> bool:
        return not self.differences


@contextmanager
def scratch_database(database: Database) -> Iterator[Database]:
    """An empty, migrated database of the same kind, removed afterwards."""
    if database.is_sqlite:
        with TemporaryDirectory(prefix="credit-replay-") as folder:
            scratch = Database.from_url(f"sqlite:///{Path(folder) / 'replay.sqlite3'}")
            upgrade(scratch)
            yield scratch
        return
    import psycopg

    admin = database.url.set(drivername="postgresql", database="postgres")
    name = f"credit_replay_{uuid.uuid4().hex[:10]}"
    conninfo = admin.render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        scratch = Database.from_url(
            make_url(database.url).set(database=name).render_as_string(hide_password=False)
        )
        upgrade(scratch)
        yield scratch
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def verify_read_models(
    services: Services, on_progress: Callable[[int], None] | None = None
) -> ReplayReport:
    """Replay up to the live read models' tracked position, then compare."""
    live_position = services.runner.position()
    with scratch_database(services.database) as scratch:
        engine = sync_engine(scratch)
        try:
            runner = ProjectionRunner(
                services.ledger.recorder,
                services.ledger.mapper,
                engine,
                [CreditFileProjector(services.policy), CaseProjector()],
                page_size=services.settings.projection_page_size,
            )
            replayed_events = 0
            while runner.position() < live_position:
                applied = runner.process_next_page(stop=live_position)
                if not applied:
                    break
                replayed_events += applied
                if on_progress:
                    on_progress(replayed_events)
            return _compare(services.write_engine, engine, replayed_events)
        finally:
            engine.dispose()


def _rows(engine, table) -> dict[str, dict[str, Any]]:
    """Rows by primary key (columns joined by "/" where the key has several)."""
    keys = [column.name for column in table.primary_key.columns]
    with engine.connect() as conn:
        return {
            "/".join(str(row[key]) for key in keys): dict(row)
            for row in conn.execute(select(table)).mappings()
        }


def _compare(live_engine, replay_engine, events: int) -> ReplayReport:
    differences, compared = [], 0
    for table in READ_MODEL_TABLES:
        live, replayed = _rows(live_engine, table), _rows(replay_engine, table)
        compared += len(live)
        for key in sorted(live.keys() | replayed.keys()):
            a, b = live.get(key), replayed.get(key)
            subject = str((a or b).get(SUBJECT_KEYS[table.name]))
            if a is None or b is None:
                differences.append(
                    Difference(
                        table.name,
                        key,
                        subject,
                        "(row)",
                        "present" if a else "missing",
                        "present" if b else "missing",
                    )
                )
                continue
            for field in a:
                if _normal(a[field]) != _normal(b[field]):
                    differences.append(
                        Difference(table.name, key, subject, field, a[field], b[field])
                    )
    return ReplayReport(events, compared, differences)


def _normal(value: Any) -> Any:
    """SQLite hands timestamps back without their zone; compare them as the UTC they are."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
