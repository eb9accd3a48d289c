"""Writing a page of read-model rows in bulk: COPY for new rows and one UPDATE per table on
PostgreSQL, executemany elsewhere; and the condition a page reads its stored rows by. The
projectors decide the rows; this only moves them, inside the page's transaction like any other
statement."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Generic, TypeVar

import orjson
from psycopg.types import TypesRegistry
from sqlalchemy import (
    JSON,
    Column,
    ColumnElement,
    Connection,
    Dialect,
    Table,
    any_,
    bindparam,
    delete,
    insert,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.dml import Delete, Insert, Update

Row = dict[str, Any]
S = TypeVar("S")


# The parameter a statement of `AmongKeys` takes its keys by.
KEYS = "keys"
# `among(column)`: the condition `column IN :keys`, as one kind of database takes it.
Among = Callable[[ColumnElement[Any]], ColumnElement[bool]]


class AmongKeys(Generic[S]):
    """A statement that reads (or deletes) the rows among a page's keys, built once for each
    kind of database by `build`, which is given `among(column)`, the condition `column IN
    :keys`: on PostgreSQL one array parameter (`= ANY`), where an IN list costs SQLAlchemy and
    the driver a placeholder each to render and parse (an eighth of a rebuild's time in
    Python). Executed with `{KEYS: [...]}`.

    Built once, not for each page: making a statement and its cache key cost SQLAlchemy about
    as much again as executing it (some 380,000 instructions of 800,000 for a read of a few
    rows), and a live runner's page of one event made seven of them."""

    def __init__(self, build: Callable[[Among], S]):
        self._build = build
        self._built: dict[bool, S] = {}

    def on(self, conn: Connection) -> S:
        """The statement for `conn`'s database."""
        postgresql = conn.dialect.name == "postgresql"
        statement = self._built.get(postgresql)
        if statement is None:
            statement = self._built[postgresql] = self._build(
                _among_array if postgresql else _among_list
            )
        return statement


def _among_array(column: ColumnElement[Any]) -> ColumnElement[bool]:
    return column == any_(bindparam(KEYS, type_=ARRAY(column.type)))


def _among_list(column: ColumnElement[Any]) -> ColumnElement[bool]:
    return column.in_(bindparam(KEYS, expanding=True))


def chunks(keys: Iterable[Any], size: int = 5000) -> Iterator[list[Any]]:
    """`keys` a few thousand at a time: the most one statement of `AmongKeys` is given."""
    listed = list(keys)
    for start in range(0, len(listed), size):
        yield listed[start : start + size]


def insert_rows(conn: Connection, table: Table, rows: Sequence[Row]) -> None:
    """Insert new rows (each with every column). On PostgreSQL one binary COPY, whose cost per
    row is a fraction of a pipelined INSERT's, on either side; but a single row (a live
    runner's page of one event writes one to most tables) by one INSERT: a COPY costs some 250
    µs of CPU and two round trips whatever its rows, an INSERT of one row 140 µs and one round
    trip (of several rows, more than the COPY: each value is bound on its own)."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        inserting = _INSERTS.get(table)
        if inserting is None:
            inserting = _INSERTS[table] = insert(table)
        conn.execute(inserting, list(rows))
        return
    driver, plan = _on_driver(conn, table)
    statement = plan.insert if len(rows) == 1 else plan.copy
    with _errors_as_sqlalchemys(driver, statement), driver.cursor() as cursor:
        if len(rows) == 1:
            cursor.execute(statement, plan.values(rows[0]))
            return
        with cursor.copy(statement) as copy:
            copy.set_types(plan.oids)
            for row in rows:
                copy.write_row(plan.values(row))


def replace_rows(conn: Connection, table: Table, key: str, rows: Sequence[Row]) -> None:
    """Write rows (each with every column) over any stored with the same `key`. On PostgreSQL
    a single row (a live runner's page of one event writes one) by one INSERT ... ON CONFLICT
    DO UPDATE, a statement and a round trip fewer than deleting it first; several by a delete
    of their keys and one COPY (`insert_rows`); elsewhere a delete and an insert."""
    if not rows:
        return
    if conn.dialect.name == "postgresql" and len(rows) == 1:
        driver, plan = _on_driver(conn, table)
        statement = _UPSERTS.get((table, key))
        if statement is None:
            quote = conn.dialect.identifier_preparer.quote
            others = [quote(column.name) for column in table.columns if column.name != key]
            statement = _UPSERTS[table, key] = (
                f"{plan.insert} ON CONFLICT ({quote(key)}) DO UPDATE SET "
                + ", ".join(f"{name} = EXCLUDED.{name}" for name in others)
            )
        with _errors_as_sqlalchemys(driver, statement), driver.cursor() as cursor:
            cursor.execute(statement, plan.values(rows[0]))
        return
    deleting = _DELETES.get((table, key))
    if deleting is None:
        deleting = _DELETES[table, key] = AmongKeys(
            lambda among: delete(table).where(among(table.c[key]))
        )
    for chunk in chunks(row[key] for row in rows):
        conn.execute(deleting.on(conn), {KEYS: chunk})
    insert_rows(conn, table, rows)


def _on_driver(conn: Connection, table: Table) -> tuple[Any, _WritePlan]:
    """The driver's own connection under `conn` (psycopg), and `table`'s write plan, worked out
    on first use."""
    driver = conn.connection.driver_connection
    assert driver is not None
    plan = _WRITE_PLANS.get(table)
    if plan is None:
        plan = _WRITE_PLANS[table] = _WritePlan.of(table, conn.dialect, driver.adapters.types)
    return driver, plan


@contextmanager
def _errors_as_sqlalchemys(driver: Any, statement: str) -> Iterator[None]:
    """The driver's errors raised as SQLAlchemy raises any other statement's."""
    try:
        yield
    except driver.Error as error:
        raise DBAPIError.instance(statement, None, error, type(driver).Error) from error


@dataclass(frozen=True)
class _WritePlan:
    """A table's COPY statement and its columns' types (as oids: looking each name up cost a
    COPY more than the row it carried), its INSERT of one row (each value cast to its
    column's type), and where its JSON columns are: the same for every page, and a live
    runner's pages are small, so each worked out once."""

    copy: str
    oids: list[int]
    insert: str
    values_of: Callable[[Row], tuple[Any, ...]]
    json_at: list[int]

    @classmethod
    def of(cls, table: Table, dialect: Dialect, types: TypesRegistry) -> _WritePlan:
        """`types`: the driver's registry of types by name (only built-in types are named)."""
        names = [column.name for column in table.columns]
        quote = dialect.identifier_preparer.quote
        columns = f"{quote(table.name)} ({', '.join(map(quote, names))})"
        casts = [column.type.compile(dialect=dialect) for column in table.columns]
        return cls(
            copy=f"COPY {columns} FROM STDIN (FORMAT BINARY)",
            oids=[types.get_oid(_copy_type(column, dialect)) for column in table.columns],
            insert=f"INSERT INTO {columns} VALUES ({', '.join(f'%s::{c}' for c in casts)})",
            values_of=itemgetter(*names),
            json_at=[i for i, column in enumerate(table.columns) if isinstance(column.type, JSON)],
        )

    def values(self, row: Row) -> list[Any]:
        """The row's values in the columns' order, a JSON column's as its text."""
        values = list(self.values_of(row))
        for i in self.json_at:
            values[i] = _json(values[i])
        return values


_WRITE_PLANS: dict[Table, _WritePlan] = {}
# Elsewhere, each table's INSERT and its UPDATE by a key, built once (`AmongKeys` says why); an
# UPDATE sets the columns its rows name.
_INSERTS: dict[Table, Insert] = {}
_UPDATES: dict[tuple[Table, str], Update] = {}
# `replace_rows`'s statements, by table and key.
_UPSERTS: dict[tuple[Table, str], str] = {}
_DELETES: dict[tuple[Table, str], AmongKeys[Delete]] = {}


def _copy_type(column: Column[Any], dialect: Dialect) -> str:
    """The column's type as the driver names it for a binary COPY: JSON goes as its text,
    which is also its binary form."""
    if isinstance(column.type, JSON):
        return "text"
    return column.type.compile(dialect=dialect).split("(")[0].strip().lower()


def update_rows(conn: Connection, table: Table, key: str, rows: Sequence[Row]) -> None:
    """Set the given columns of existing rows, found by `key` (every row names the same
    columns): one UPDATE ... FROM unnest(arrays) on PostgreSQL, the arrays sent in binary
    (%b), which spares quoting each element as text."""
    if not rows:
        return
    names = [name for name in rows[0] if name != key]
    if conn.dialect.name != "postgresql":
        updating = _UPDATES.get((table, key))
        if updating is None:
            updating = _UPDATES[table, key] = update(table).where(
                table.c[key] == bindparam("b_key")
            )
        conn.execute(
            updating,
            [{"b_key": row[key], **{name: row[name] for name in names}} for row in rows],
        )
        return
    columns = [table.c[key], *(table.c[name] for name in names)]
    quote = conn.dialect.identifier_preparer.quote
    arrays, selected = [], []
    for column in columns:
        name = quote(column.name)
        if isinstance(column.type, JSON):
            arrays.append("%b::text[]")
            selected.append(f"{name}::json AS {name}")
            continue
        arrays.append(f"%b::{column.type.compile(dialect=conn.dialect)}[]")
        selected.append(name)
    k = quote(key)
    statement = (
        f"UPDATE {quote(table.name)} AS t "
        f"SET {', '.join(f'{quote(n)} = v.{quote(n)}' for n in names)} "
        f"FROM (SELECT {', '.join(selected)} FROM unnest({', '.join(arrays)}) "
        f"AS u({', '.join(quote(c.name) for c in columns)})) AS v WHERE t.{k} = v.{k}"
    )
    parameters = tuple(
        [_json(row[c.name]) for row in rows]
        if isinstance(c.type, JSON)
        else [row[c.name] for row in rows]
        for c in columns
    )
    conn.exec_driver_sql(statement, parameters)


def _json(value: Any) -> str:
    """A JSON column's text (None too, as JSON null, as SQLAlchemy's JSON type stores it):
    orjson's, a fifth of the json module's time on a record's details; the json module's
    for what orjson refuses (integers past 64 bits)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)
