"""CREDIT_DATABASE_URL may name several PostgreSQL hosts, in libpq's form or SQLAlchemy's: each
driver gets them in its own (a libpq connection string for psycopg and the event store, the
URL's `host` list for SQLAlchemy's psycopg and asyncpg dialects)."""

from __future__ import annotations

import pytest

from service.store.database import Database, DatabaseUrlError

LIBPQ = "postgresql://credit:s3cret@db-a:5432,db-b:5433/credit?target_session_attrs=read-write"
SQLALCHEMY = (
    "postgresql://credit:s3cret@/credit?host=db-a:5432&host=db-b:5433"
    "&target_session_attrs=read-write"
)


@pytest.mark.parametrize("raw", [LIBPQ, SQLALCHEMY])
def test_several_hosts_reach_every_driver_in_its_form(raw):
    database = Database.from_url(raw)
    assert database.hosts == [("db-a", 5432), ("db-b", 5433)]
    assert database.connection_options == {"target_session_attrs": "read-write"}
    assert database.conninfo() == (
        "host=db-a,db-b port=5432,5433 dbname=credit user=credit password=s3cret "
        "target_session_attrs=read-write"
    )
    env = database.eventsourcing_env()
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"]) == ("db-a,db-b", "5432,5433")
    async_url = database.async_url()
    assert async_url.drivername == "postgresql+asyncpg"
    assert async_url.query["host"] == ("db-a:5432", "db-b:5433")
    assert database.sync_url().query["target_session_attrs"] == "read-write"


def test_one_host_is_as_before():
    database = Database.from_url("postgresql://credit@db:6432/credit")
    assert database.hosts == [("db", 6432)]
    assert database.connection_options == {}
    assert database.conninfo() == "host=db port=6432 dbname=credit user=credit"
    assert Database.from_url("postgresql://credit@db/credit").hosts == [("db", 5432)]


def test_a_broken_host_list_is_refused_without_repeating_the_url():
    with pytest.raises(DatabaseUrlError) as refused:
        Database.from_url("postgresql://credit:s3cret@db-a:x,db-b/credit")
    assert "s3cret" not in str(refused.value)
