"""Writing a page of read-model rows in bulk: COPY for new rows and one UPDATE per table on
PostgreSQL, executemany elsewhere; and the condition a page reads its stored rows by. The
projectors decide the rows; this only moves them, inside the page's transaction like any other
statement."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    Column,
    ColumnElement,
    Connection,
    Dialect,
    Table,
    any_,
    bindparam,
    insert,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError

Row = dict[str, Any]


def among(
    conn: Connection, column: ColumnElement[Any], values: Iterable[Any]
) -> ColumnElement[bool]:
    """`column IN values`, for the thousands of keys a page reads its stored rows by: on
    PostgreSQL one array parameter (`= ANY`), where an IN list costs SQLAlchemy and the driver
    a placeholder each to render and parse (an eighth of a rebuild's time in Python)."""
    if conn.dialect.name != "postgresql":
        return column.in_(list(values))
    return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))


def insert_rows(conn: Connection, table: Table, rows: Sequence[Row]) -> None:
    """Insert new rows (each with every column): one binary COPY on PostgreSQL, whose cost per
    row is a fraction of a pipelined INSERT's, on either side."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(insert(table), list(rows))
        return
    plan = _COPY_PLANS.get(table)
    if plan is None:
        plan = _COPY_PLANS[table] = _CopyPlan.of(table, conn.dialect)
    driver = conn.connection.driver_connection
    assert driver is not None
    try:
        with driver.cursor() as cursor, cursor.copy(plan.statement) as copy:
            copy.set_types(plan.types)
            values_of, json_at = plan.values_of, plan.json_at
            for row in rows:
                values = list(values_of(row))
                for i in json_at:
                    values[i] = _json(values[i])
                copy.write_row(values)
    except driver.Error as error:  # the same exception classes as any other statement's
        raise DBAPIError.instance(plan.statement, None, error, type(driver).Error) from error


@dataclass(frozen=True)
class _CopyPlan:
    """A table's COPY statement, its columns' types and where its JSON columns are: the same
    for every page, and a live runner's pages are small, so each worked out once."""

    statement: str
    types: list[str]
    values_of: Callable[[Row], tuple[Any, ...]]
    json_at: list[int]

    @classmethod
    def of(cls, table: Table, dialect: Dialect) -> _CopyPlan:
        names = [column.name for column in table.columns]
        quote = dialect.identifier_preparer.quote
        return cls(
            statement=f"COPY {quote(table.name)} ({', '.join(map(quote, names))}) "
            "FROM STDIN (FORMAT BINARY)",
            types=[_copy_type(column, dialect) for column in table.columns],
            values_of=itemgetter(*names),
            json_at=[i for i, column in enumerate(table.columns) if isinstance(column.type, JSON)],
        )


_COPY_PLANS: dict[Table, _CopyPlan] = {}


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
        conn.execute(
            update(table).where(table.c[key] == bindparam("b_key")),
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
