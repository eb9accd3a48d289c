"""Prepare a database by running alembic (see alembic/env.py for what it creates)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from service.store.database import Database

if TYPE_CHECKING:  # alembic is imported where a migration runs, not by every command's start
    from alembic.config import Config

ROOT = Path(__file__).resolve().parents[2]


def alembic_config(database: Database) -> Config:
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "alembic"))
    config.attributes["sqlalchemy_url"] = database.sync_url()
    return config


def upgrade(database: Database) -> None:
    """`alembic upgrade head`: the event store's tables, then the read models' migrations."""
    from alembic import command

    command.upgrade(alembic_config(database), "head")
