"""One append-only, hash-chained table, such as the access log (查询留痕) and the admin log: each
row's hash covers its content and the previous row's hash, so a changed, removed or reordered
row breaks the chain at that row, and the head (last seq and hash) anchored in a signed
checkpoint shows when the tail was cut. New rows are hashed with the crypto suite's log hash
(SHA-256, or SM3 under gm); each row names its hash in `hash_algorithm`, so a chain begun under
one suite and continued under the other verifies row by row."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from asyncpg import UniqueViolationError
from sqlalchemy import Connection, Dialect, Engine, Table, insert, select

from domain.crypto_suite import HASHES, SHA256, HashAlgorithm

if TYPE_CHECKING:
    import asyncpg

GENESIS = "0" * 64  # the prev_hash of a log's first row
# Not content: it names the hash. Rows written before it existed were hashed without it, and a
# row relabelled to another hash no longer matches its hash under that one.
ALGORITHM = "hash_algorithm"
# The statements of appends of up to this many rows are kept once made (asyncpg prepares and
# keeps its own, by their text, on each connection); a larger one is made for its append.
MOST_ROWS_PREPARED = 64


@dataclass(frozen=True)
class Head:
    """Where a chained log ends: its last seq and that row's hash (0 and GENESIS if empty)."""

    seq: int
    hash: str

    def as_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash}


EMPTY = Head(0, GENESIS)


@dataclass(frozen=True)
class ChainCheck:
    """The outcome of walking a chained log against the heads anchored in checkpoints."""

    rows: int
    head: Head
    anchored: Head | None  # the furthest anchored head, if any checkpoint anchors this log
    first_bad_seq: int | None = None  # a changed, removed or reordered row
    cut_after_seq: int | None = None  # the log ends before a head a checkpoint anchored
    # Rows walked (and found whole) per hash, in the order the log first used each.
    algorithms: Mapping[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.first_bad_seq is None and self.cut_after_seq is None

    def describe(self, name: str) -> str:
        if self.first_bad_seq is not None:
            return f"{name}: BROKEN at seq {self.first_bad_seq} (changed, removed or reordered)"
        if self.cut_after_seq is not None:
            assert self.anchored is not None
            return (
                f"{name}: CUT after seq {self.cut_after_seq} (a signed checkpoint anchored seq "
                f"{self.anchored.seq})"
            )
        anchored = (
            f"anchored up to seq {self.anchored.seq} by signed checkpoints"
            if self.anchored and self.anchored.seq
            else "no checkpoint anchors it yet"
        )
        return f"{name}: {self.rows} rows{self._hashed()}, the chain holds, {anchored}"

    def _hashed(self) -> str:
        if len(self.algorithms) == 1:
            return f" hashed with {next(iter(self.algorithms))}"
        if self.algorithms:  # a log that changed suites: how many rows each hash made
            counts = " and ".join(f"{name} ({n})" for name, n in self.algorithms.items())
            return f" hashed with {counts}"
        return ""

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "rows": self.rows,
            "head": self.head.as_json(),
            "anchored": self.anchored.as_json() if self.anchored else None,
            "first_bad_seq": self.first_bad_seq,
            "cut_after_seq": self.cut_after_seq,
            "algorithms": dict(self.algorithms),
        }


def _utc(moment: datetime) -> datetime:
    """SQLite hands timestamps back naive; they were written in UTC (not the host's zone)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return _utc(value).isoformat()
    if isinstance(value, UUID):
        return str(value)
    return value


def row_content(row: Mapping[str, Any], columns: Iterable[str]) -> bytes:
    """What a row's hash covers: the canonical JSON (sorted keys, no spaces, UTF-8) of the
    row's columns, its prev_hash included, its own hash and `hash_algorithm` excluded."""
    content = {name: _plain(row[name]) for name in columns if name not in ("hash", ALGORITHM)}
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def row_hash(row: Mapping[str, Any], columns: Iterable[str]) -> str | None:
    """The hex hash of the row's content with the hash the row names (SHA-256 if it names
    none); None if it names one the service does not know, which no stored hash can match."""
    algorithm = HASHES.get(row.get(ALGORITHM, SHA256.name))
    return algorithm.digest(row_content(row, columns)).hex() if algorithm else None


class ChainedLog:
    """A table with `seq`, `at`, `prev_hash`, `hash_algorithm`, `hash` and content columns,
    appended to under a lock (an advisory lock on PostgreSQL, the write lock of BEGIN IMMEDIATE
    on SQLite). New rows are hashed with `hash_`; rows are checked with the hash each names."""

    def __init__(self, engine: Engine, table: Table, hash_: HashAlgorithm = SHA256):
        self.engine = engine
        self.table = table
        self.name = str(table.name)  # a plain str: SQLAlchemy quoted_name does not serialise
        self.columns = tuple(c.name for c in table.columns)
        self.hash_ = hash_
        quote = engine.dialect.identifier_preparer.quote
        self._quoted = {name: quote(name) for name in self.columns}
        # PostgreSQL's statements as the driver takes them: an access-log commit is a few
        # statements per batch of reads, and SQLAlchemy's compiled path (cache keys, bind
        # processing, an insert per row) cost more than the round trips themselves.
        self._head_sql = (
            f"SELECT {quote('seq')}, {quote('hash')} FROM {quote(self.name)} "
            f"ORDER BY {quote('seq')} DESC LIMIT 1"
        )
        # How SQLAlchemy's insert binds each column's value for this driver (a JSON column's
        # in psycopg's `Json`): the values are bound the same, so what is stored is the same.
        self._bind_processors: dict[str, Callable[[Any], Any]] = dict(
            insert(table).compile(dialect=engine.dialect)._bind_processors  # type: ignore[arg-type]
        )
        self._quoted_table = quote(self.name)
        if not re.fullmatch(r"[a-z_]+", self.name):  # written into a statement as a literal
            raise ValueError(f"a chained log's table is named in lower case letters: {self.name}")
        # The same for asyncpg (the access log's group commit on the event loop), made on first
        # use from the async engine's dialect.
        self._asyncpg_processors: dict[str, Callable[[Any], Any]] | None = None
        self._asyncpg_inserts: dict[tuple[str, ...], str] = {}
        self._asyncpg_appends_after: dict[tuple[tuple[str, ...], int], str] = {}
        # The head this process's last append on asyncpg left, and whether the chain ended where
        # the one before it had left it (no other writer in between): while it did, the next
        # append is tried after that head in one statement (`_append_after`). A hint only: the
        # statement itself checks that the chain ends there.
        self._appended: Head | None = None
        self._alone = False

    def hash(self, row: Mapping[Any, Any]) -> str | None:  # a dict, or a RowMapping as read
        return row_hash(row, self.columns)

    def append(self, contents: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Write the rows in a transaction of their own; returns them as written."""
        if not contents:
            return []
        with self.engine.begin() as conn:
            return self.append_in(conn, contents)

    def append_in(self, conn: Connection, contents: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Write the rows in the caller's transaction, so that they commit (or not) with what
        they record."""
        if conn.dialect.name == "postgresql":
            return self._append_on_postgresql(conn, contents)
        rows = self._chained(contents, self.head(conn))
        conn.execute(insert(self.table), rows)
        return rows

    def _chained(self, contents: list[dict[str, Any]], head: Head) -> list[dict[str, Any]]:
        """The rows to write after `head`: numbered, timed and hashed. Every row names the same
        columns: PostgreSQL's inserts bind them by the first row's."""
        seq, prev_hash = head.seq, head.hash
        now = datetime.now(UTC)
        rows = []
        for content in contents:
            if content.keys() != contents[0].keys():
                raise ValueError("every row of one append names the same columns")
            seq += 1
            row = {"seq": seq, "at": now, "prev_hash": prev_hash, **content}
            row[ALGORITHM] = self.hash_.name
            row["hash"] = prev_hash = self.hash_.digest(row_content(row, self.columns)).hex()
            rows.append(row)
        return rows

    def _append_on_postgresql(
        self, conn: Connection, contents: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The rows written as `insert(self.table)` would write them, in three statements given
        to the driver as they are: the lock, the head read after it, one insert of every row.
        Each value is bound by the insert's own bind processors, so that what is stored is the
        same; errors are SQLAlchemy's, as before."""
        conn.exec_driver_sql(
            "SELECT pg_advisory_xact_lock(hashtext(%(name)s))", {"name": self.name}
        )
        last = conn.exec_driver_sql(self._head_sql).first()
        rows = self._chained(contents, Head(int(last[0]), last[1]) if last else EMPTY)
        names = list(rows[0])
        processors = self._bind_processors
        parameters: dict[str, Any] = {}
        values = []
        for n, row in enumerate(rows):
            placeholders = []
            for m, name in enumerate(names):
                key = f"p{n}_{m}"
                process = processors.get(name)
                parameters[key] = row[name] if process is None else process(row[name])
                placeholders.append(f"%({key})s")
            values.append(f"({', '.join(placeholders)})")
        columns = ", ".join(self._quoted[name] for name in names)
        conn.exec_driver_sql(
            f"INSERT INTO {self._quoted_table} ({columns}) VALUES {', '.join(values)}",
            parameters,
        )
        return rows

    async def append_on_asyncpg(
        self, driver: asyncpg.Connection, dialect: Dialect, contents: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Write the rows in a transaction of their own on an asyncpg connection (`dialect`, its
        engine's), each value bound by the insert's own bind processors for asyncpg, so that what
        is stored is the same as `_append_on_postgresql` stores. The statements are prepared once
        per connection; errors are asyncpg's.

        While this process was the chain's only writer (its last append found the chain where
        the one before had left it), the rows are chained after the head it left and written in
        one statement, one round trip (`_append_after`); where another writer appended since, that
        statement writes nothing and the rows are written as below: the lock, the head read after
        it, the insert, COMMIT, four round trips."""
        if self._asyncpg_processors is None:
            self._asyncpg_processors = dict(
                insert(self.table).compile(dialect=dialect)._bind_processors  # type: ignore[arg-type]
            )
        if self._alone and self._appended is not None:
            rows = self._chained(contents, self._appended)
            if await self._append_after(driver, dialect, rows):
                self._appended = Head(rows[-1]["seq"], rows[-1]["hash"])
                return rows
        # BEGIN and the lock in one round trip (a query of two statements); the head is read by
        # a statement of its own, whose snapshot is taken once the lock is granted.
        await driver.execute(f"BEGIN; SELECT pg_advisory_xact_lock(hashtext('{self.name}'))")
        try:
            last = await driver.fetchrow(self._head_sql)
            head = Head(int(last[0]), last[1]) if last else EMPTY
            rows = self._chained(contents, head)
            names = tuple(rows[0])
            await driver.executemany(
                self._asyncpg_insert(names),
                [tuple(self._bound(names, row)) for row in rows],
            )
            await driver.execute("COMMIT")
        except BaseException:
            # Never left in the transaction, holding the chain's lock: rolled back, or the
            # connection ended (the server then rolls back) when even that fails.
            if not driver.is_closed() and driver.is_in_transaction():
                try:
                    await driver.execute("ROLLBACK")
                except BaseException:
                    driver.terminate()
                    raise
            raise
        self._alone = head == self._appended
        self._appended = Head(rows[-1]["seq"], rows[-1]["hash"])
        return rows

    def _bound(self, names: tuple[str, ...], row: dict[str, Any]) -> Iterator[Any]:
        """The row's values in the order of `names`, as asyncpg's bind processors give them."""
        assert self._asyncpg_processors is not None
        processors = self._asyncpg_processors
        for name in names:
            process = processors.get(name)
            yield row[name] if process is None else process(row[name])

    async def _append_after(
        self, driver: asyncpg.Connection, dialect: Dialect, rows: list[dict[str, Any]]
    ) -> bool:
        """Write rows chained after a head this process left, in one statement (its own
        transaction) that takes the chain's lock, and only if the chain still ends there: the
        first row's predecessor (its seq less one, with its prev_hash) is in the table, and no
        row holds a seq of theirs (the primary key: another writer's append after that head took
        the next seq). False, with nothing written, where the chain does not end there. The
        check on the predecessor reads the statement's snapshot, which may be older than the
        lock; a row appended after it would hold the next seq, which the key refuses whatever
        the snapshot."""
        names = tuple(rows[0])
        first = rows[0]
        try:
            status = await driver.execute(
                self._asyncpg_append_after(names, len(rows), dialect),
                first["seq"] - 1,
                first["prev_hash"],
                *(value for row in rows for value in self._bound(names, row)),
            )
        except UniqueViolationError as error:
            if error.constraint_name != f"{self.name}_pkey":
                raise
            return False
        return status != "INSERT 0 0"  # every row, or none where the head's row is not there

    def _asyncpg_append_after(self, names: tuple[str, ...], rows: int, dialect: Dialect) -> str:
        """The statement of `_append_after` for `rows` rows: their values as parameters, each
        cast to its column's type (a list of values, not arrays, whose encoding asks of each
        element whether it is a nested array)."""
        statement = self._asyncpg_appends_after.get((names, rows))
        if statement is None:
            columns = ", ".join(self._quoted[name] for name in names)
            types = [self.table.c[name].type.compile(dialect=dialect) for name in names]
            values = ", ".join(
                "("
                + ", ".join(
                    f"${3 + row * len(names) + n}::{type_}" for n, type_ in enumerate(types)
                )
                + ")"
                for row in range(rows)
            )
            statement = (
                f"INSERT INTO {self._quoted_table} ({columns}) SELECT appended.* "
                f"FROM (SELECT pg_advisory_xact_lock(hashtext('{self.name}'))) AS chain_lock, "
                f"(VALUES {values}) AS appended({columns}) "
                f"WHERE EXISTS (SELECT FROM {self._quoted_table} "
                f"WHERE {self._quoted['seq']} = $1 AND {self._quoted['hash']} = $2)"
            )
            if rows <= MOST_ROWS_PREPARED:
                self._asyncpg_appends_after[(names, rows)] = statement
        return statement

    def _asyncpg_insert(self, names: tuple[str, ...]) -> str:
        statement = self._asyncpg_inserts.get(names)
        if statement is None:
            columns = ", ".join(self._quoted[name] for name in names)
            placeholders = ", ".join(f"${n}" for n in range(1, len(names) + 1))
            statement = self._asyncpg_inserts[names] = (
                f"INSERT INTO {self._quoted_table} ({columns}) VALUES ({placeholders})"
            )
        return statement

    def head(self, conn: Connection) -> Head:
        last = conn.execute(
            select(self.table.c.seq, self.table.c.hash).order_by(self.table.c.seq.desc()).limit(1)
        ).first()
        return Head(int(last.seq), last.hash) if last else EMPTY

    def hash_at(self, conn: Connection, seq: int) -> str | None:
        return conn.execute(select(self.table.c.hash).where(self.table.c.seq == seq)).scalar()

    def page(
        self,
        *where,
        after_seq: int | None,
        limit: int,
        before_seq: int | None = None,
        newest_first: bool = False,
    ) -> list[dict[str, Any]]:
        """Rows oldest first after `after_seq`, or newest first (the latest reads at the top of
        a page) before `before_seq`."""
        query = select(self.table).where(*where)
        if after_seq is not None:
            query = query.where(self.table.c.seq > after_seq)
        if before_seq is not None:
            query = query.where(self.table.c.seq < before_seq)
        order = self.table.c.seq.desc() if newest_first else self.table.c.seq
        with self.engine.connect() as conn:
            return [
                {**row, "at": _utc(row["at"])}
                for row in conn.execute(query.order_by(order).limit(limit)).mappings()
            ]

    def verify(self) -> int | None:
        """The seq of the first row that breaks the chain, or None if the whole log holds."""
        return self.check({}).first_bad_seq

    def check(self, anchors: Mapping[int, str], conn: Connection | None = None) -> ChainCheck:
        """Walk the whole log: every row's seq, prev_hash and hash, every anchored seq's hash
        (seq -> hash, from signed checkpoints), and that no anchored seq lies beyond the end.
        Pass `conn` to read in the snapshot the anchors were read in."""
        if conn is None:
            with self.engine.connect() as own:
                return self.check(anchors, own)
        expected_prev, expected_seq, rows, head = GENESIS, 1, 0, EMPTY
        algorithms: dict[str, int] = {}
        furthest = Head(max(anchors), anchors[max(anchors)]) if anchors else None
        for row in conn.execute(select(self.table).order_by(self.table.c.seq)).mappings():
            seq = int(row["seq"])
            if (
                seq != expected_seq
                or row["prev_hash"] != expected_prev
                or self.hash(row) != row["hash"]
                or anchors.get(seq, row["hash"]) != row["hash"]
            ):
                return ChainCheck(rows, head, furthest, first_bad_seq=seq, algorithms=algorithms)
            rows += 1
            algorithms[row[ALGORITHM]] = algorithms.get(row[ALGORITHM], 0) + 1
            head = Head(seq, row["hash"])
            expected_prev, expected_seq = row["hash"], seq + 1
        if furthest is not None and furthest.seq > head.seq:
            return ChainCheck(rows, head, furthest, cut_after_seq=head.seq, algorithms=algorithms)
        return ChainCheck(rows, head, furthest, algorithms=algorithms)
