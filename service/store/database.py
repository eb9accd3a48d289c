"""One database URL, three views of it: eventsourcing's environment and SQLAlchemy's sync and
async URLs. SQLite is the embedded default; PostgreSQL is the real database."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import psycopg
from eventsourcing import persistence as store_errors
from psycopg.conninfo import make_conninfo
from sqlalchemy import URL, Connection, Engine, exc, make_url

# The library's recorders, extended to seal every event in its insert transaction.
SEALING_RECORDERS = {
    "sqlite": "service.integrity.sealing:SealingSQLiteRecorder",
    "postgresql": "service.integrity.sealing:SealingPostgresRecorder",
}
# The event store's PostgreSQL factory, and the key of its environment under which it finds
# the URL's libpq options (target_session_attrs...), which the library has no setting for.
POSTGRES_FACTORY = "service.store.ledger:CreditPostgresFactory"
LIBPQ_OPTIONS = "CREDIT_LIBPQ_OPTIONS"
# The longest a request waits for a connection from the event store's pool.
STORE_POOL_WAIT_SECONDS = 5
# The longest a new connection to PostgreSQL may take (psycopg's connect_timeout, asyncpg's
# timeout; also how long an operator's command waits to learn that the database cannot be
# reached), and the longest a request waits for a connection from a read-model pool.
CONNECT_TIMEOUT_SECONDS = 5
POOL_WAIT_SECONDS = 5
# The longest a request waits for its turn behind other requests of this process: another
# writer of the same stream, the group commit in progress, a signing-key reload. Each of those
# holds its turn for at most one database wait, so that, with the database down, a queued
# request is answered after this wait plus its own, not after the whole queue's.
QUEUE_WAIT_SECONDS = 2


class WaitedTooLong(TimeoutError):
    """A request waited longer than QUEUE_WAIT_SECONDS for its turn (the requests ahead of it
    wait on the database): answered 503 like the database being unavailable."""


@contextmanager
def turn(lock: threading.Lock, what: str) -> Iterator[None]:
    """Hold `lock`, waiting at most QUEUE_WAIT_SECONDS for it."""
    if not lock.acquire(timeout=QUEUE_WAIT_SECONDS):
        raise WaitedTooLong(f"waited {QUEUE_WAIT_SECONDS} s for {what}")
    try:
        yield
    finally:
        lock.release()


class DatabaseUrlError(ValueError):
    """CREDIT_DATABASE_URL is not a URL the service can use (the message does not repeat it)."""


@dataclass(frozen=True)
class Database:
    backend: str  # "sqlite" | "postgresql"
    url: URL

    @classmethod
    def from_url(cls, raw: str) -> Database:
        """`sqlite:///path`, `postgresql://user:password@host:port/db`, or several PostgreSQL
        hosts tried in turn, in libpq's form (`postgresql://user@a:5432,b:5432/db?
        target_session_attrs=read-write`: the one that accepts writes, after a failover too)
        or SQLAlchemy's (`postgresql://user@/db?host=a:5432&host=b:5432&...`)."""
        try:
            url = make_url(_hosts_as_query(raw))
        except (exc.ArgumentError, ValueError):  # a message may repeat the URL and password
            raise DatabaseUrlError(
                "not a database URL: use sqlite:///path or postgresql://user@host/name"
            ) from None
        backend = url.get_backend_name()
        if backend not in ("sqlite", "postgresql"):
            raise DatabaseUrlError(
                f"unsupported database {backend!r}: use sqlite:/// or postgresql://"
            )
        if backend == "sqlite" and (not url.database or url.database == ":memory:"):
            raise DatabaseUrlError("SQLite needs a file path (sqlite:///path/to/credit.sqlite3)")
        database = cls(backend, url)
        if backend == "postgresql":
            try:
                database.hosts  # noqa: B018 (a port that is not a number fails here, not later)
            except ValueError:
                raise DatabaseUrlError("a host's port is not a number") from None
        return database

    def check_reachable(self, timeout_seconds: int = CONNECT_TIMEOUT_SECONDS) -> None:
        """Connect once and close. A PostgreSQL that is down, unknown or refusing answers here
        at once (or after `timeout_seconds`), where the event store's pool would keep retrying
        for its whole wait. SQLite needs no server: its file opens on first use."""
        if self.is_sqlite:
            return
        psycopg.connect(self.conninfo(), connect_timeout=timeout_seconds).close()

    @property
    def hosts(self) -> list[tuple[str, int]]:
        """The PostgreSQL servers to try, in order (one unless the URL names several)."""
        listed = self.url.query.get("host")
        if not listed:
            return [(self.url.host or "127.0.0.1", self.url.port or 5432)]
        hosts = []
        for entry in (listed,) if isinstance(listed, str) else listed:
            host, _, port = entry.rpartition(":") if ":" in entry else (entry, "", "")
            hosts.append((host, int(port) if port else self.url.port or 5432))
        return hosts

    @property
    def connection_options(self) -> dict[str, str]:
        """The URL's libpq options (target_session_attrs, sslmode...) but the hosts."""
        return {
            name: value if isinstance(value, str) else value[-1]
            for name, value in self.url.query.items()
            if name != "host"
        }

    def conninfo(self, database: str | None = None) -> str:
        """The libpq connection string (psycopg), with every host: `host=a,b port=p,q ...`."""
        return make_conninfo(
            host=",".join(host for host, _ in self.hosts),
            port=",".join(str(port) for _, port in self.hosts),
            dbname=database or self.url.database or "postgres",
            user=self.url.username or "postgres",
            **({"password": self.url.password} if self.url.password else {}),
            **self.connection_options,
        )

    @property
    def is_sqlite(self) -> bool:
        return self.backend == "sqlite"

    def sqlite_path(self) -> Path:
        return Path(self.url.database or "")

    def sync_url(self) -> URL:
        driver = "sqlite+pysqlite" if self.is_sqlite else "postgresql+psycopg"
        return self.url.set(drivername=driver)

    def async_url(self) -> URL:
        driver = "sqlite+aiosqlite" if self.is_sqlite else "postgresql+asyncpg"
        return self.url.set(drivername=driver)

    def eventsourcing_env(self) -> dict[str, str]:
        if self.is_sqlite:
            self.sqlite_path().parent.mkdir(parents=True, exist_ok=True)
            return {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(self.sqlite_path()),
                "SQLITE_LOCK_TIMEOUT": "30",
                "APPLICATION_RECORDER_TOPIC": SEALING_RECORDERS["sqlite"],
            }
        return {
            "PERSISTENCE_MODULE": POSTGRES_FACTORY,
            LIBPQ_OPTIONS: json.dumps(self.connection_options),
            "POSTGRES_DBNAME": self.url.database or "postgres",
            # libpq takes lists: the hosts are tried in turn (options: CreditPostgresFactory).
            "POSTGRES_HOST": ",".join(host for host, _ in self.hosts),
            "POSTGRES_PORT": ",".join(str(port) for _, port in self.hosts),
            "POSTGRES_USER": self.url.username or "postgres",
            "POSTGRES_PASSWORD": self.url.password or "",
            "POSTGRES_POOL_SIZE": "8",
            "POSTGRES_MAX_OVERFLOW": "8",
            "POSTGRES_LOCK_TIMEOUT": "10",
            # How long a request waits for a connection from the store's pool before it is
            # answered 503 (the library's default, 30 s, times its ten retries, would hold a
            # request for minutes while the database is down).
            "POSTGRES_CONNECT_TIMEOUT": str(STORE_POOL_WAIT_SECONDS),
            "ORIGINATOR_ID_TYPE": "uuid",
            "APPLICATION_RECORDER_TOPIC": SEALING_RECORDERS["postgresql"],
        }


def _hosts_as_query(raw: str) -> str:
    """libpq's several hosts (`//user@a:1,b:2/db?x=y`), which SQLAlchemy cannot parse, as its
    own form (`//user@/db?host=a:1&host=b:2&x=y`); anything else as it is."""
    scheme, sep, rest = raw.partition("://")
    if not sep or not scheme.startswith("postgres"):
        return raw
    location, _, tail = rest.partition("/")
    userinfo, at, hostlist = location.rpartition("@")
    if "," not in hostlist:
        return raw
    path, question, query = tail.partition("?")
    hosts = "&".join(f"host={entry}" for entry in hostlist.split(",") if entry)
    return f"{scheme}://{userinfo}{at}/{path}?{hosts}{'&' + query if question and query else ''}"


# Every kind of error a database driver or pool raises; `database_unavailable` tells which of
# them mean "not now" rather than a fault in the request or the code.
DATABASE_ERRORS: tuple[type[Exception], ...] = (
    exc.DBAPIError,
    store_errors.PersistenceError,
    psycopg.Error,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    ConnectionError,  # asyncpg's connect raises the socket's own error
    exc.TimeoutError,  # no connection free in a read-model pool in time
    TimeoutError,  # asyncpg's connect timeout, a turn waited too long (WaitedTooLong)
)
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    exc.OperationalError,
    store_errors.OperationalError,
    store_errors.InterfaceError,  # the library retries these itself, as transient
    psycopg.OperationalError,  # the pool's timeout too
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,  # shutting down, starting up
    asyncpg.exceptions.InsufficientResourcesError,  # too many connections
    ConnectionError,
    exc.TimeoutError,
    TimeoutError,  # a connect that took too long, a turn waited too long
)


def database_unavailable(error: BaseException) -> bool:
    """Whether the database could not serve this now: down, restarting, the connection lost,
    no connection free in time, a lock not granted in time. The same request may succeed once
    it is back. A write that failed so may still have been committed (the connection can be
    lost after the commit and before its answer): it is retried with its Idempotency-Key.

    Looks through the errors' causes too: SQLAlchemy reports asyncpg's "the database system is
    starting up" as a plain DBAPIError raised from it."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, exc.DBAPIError) and seen.connection_invalidated:
            return True  # SQLAlchemy saw a disconnect (and discarded the pool's older ones)
        if isinstance(seen, asyncpg.InterfaceError) and "connection is closed" in str(seen):
            return True
        if isinstance(seen, _UNAVAILABLE):
            return True
        seen = seen.__cause__
    return False


@contextmanager
def transaction(engine: Engine, conn: Connection | None = None) -> Iterator[Connection]:
    """The caller's transaction if it passes one (so that an act and its log row commit
    together), else a transaction of our own on `engine`."""
    if conn is not None:
        yield conn
    else:
        with engine.begin() as own:
            yield own
