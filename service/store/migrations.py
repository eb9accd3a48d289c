"""Prepare a database by running alembic (see alembic/env.py for what it creates)."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config

from alembic import command
from service.store.database import Database

ROOT = Path(__file__).resolve().parents[2]


def alembic_config(database: Database) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "alembic"))
    config.attributes["sqlalchemy_url"] = database.sync_url()
    return config


def upgrade(database: Database) -> None:
    """`alembic upgrade head`: the event store's tables, then the read models' migrations."""
    command.upgrade(alembic_config(database), "head")
