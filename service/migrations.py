"""Prepare a database: the event store's tables, then alembic's read-model migrations."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config

from alembic import command
from service.database import Database
from service.ledger import open_ledger

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(database: Database) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "alembic"))
    config.attributes["sqlalchemy_url"] = database.sync_url()
    return config


def upgrade(database: Database) -> None:
    # The event store's tables belong to the eventsourcing library, which creates them itself.
    open_ledger(database, create_tables=True).close()
    command.upgrade(alembic_config(database), "head")
