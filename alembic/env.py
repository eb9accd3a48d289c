"""Alembic environment: the read-model tables (projections/tables.py) on the service's database."""

from __future__ import annotations

from sqlalchemy import create_engine

from alembic import context
from projections.tables import metadata as read_models
from service.access.tables import metadata as access
from service.credit_reports.tables import metadata as credit_reports
from service.integrity.tables import metadata as integrity
from service.notifications.tables import metadata as notifications

config = context.config


def database_url():
    url = config.attributes.get("sqlalchemy_url")
    if url is None:  # run as `alembic upgrade head` from the shell
        from service.settings import get_settings
        from service.store.database import Database

        url = Database.from_url(get_settings().database_url).sync_url()
    return url


def create_event_store_tables(url) -> None:
    """The event store's tables belong to the eventsourcing library, which creates them."""
    from service.store.database import Database
    from service.store.ledger import open_ledger

    open_ledger(Database.from_url(str(url.render_as_string(hide_password=False)))).close()


def run_migrations_online() -> None:
    url = database_url()
    create_event_store_tables(url)
    engine = create_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=[read_models, access, integrity, credit_reports, notifications],
            # The event store's tables are the eventsourcing library's, not ours to diff.
            include_name=lambda name, type_, _parents: (
                type_ != "table"
                or any(name in m.tables for m in (read_models, access, integrity, credit_reports))
            ),
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
