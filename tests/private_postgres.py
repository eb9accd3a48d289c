"""A PostgreSQL 15 cluster of a test's own, for tests that must stop the database under load.

The shared server is used by other test runs at the same time, so a test that crashes the
database needs its own: a fresh cluster in a temporary directory, on a free port, with trust
authentication on 127.0.0.1 only and fsync on (what is acknowledged must survive the crash).
initdb refuses to run as root, so as root the cluster runs as the `postgres` OS user."""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PG_BIN = Path(os.environ.get("CREDIT_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
CLUSTER_USER = "postgres"  # the OS user the cluster runs as when the tests run as root

# Small and quick to start; fsync, full page writes and synchronous commit stay on.
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "max_connections": "120",
    "shared_buffers": "32MB",
    "fsync": "on",
    "synchronous_commit": "on",
    "full_page_writes": "on",
    "max_wal_size": "256MB",
    "checkpoint_timeout": "30min",
    "autovacuum": "off",
    "log_min_messages": "warning",
}


class PrivatePostgresUnavailable(RuntimeError):
    """This machine cannot run a cluster of the test's own; the reason says why."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class PrivatePostgres:
    """One running cluster: `stop_immediately()` is `pg_ctl stop -m immediate` (no shutdown
    checkpoint, like a crash); `start()` brings it back through crash recovery."""

    folder: Path
    port: int
    run_as: str | None  # None: the current user

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def log_file(self) -> Path:
        return self.folder / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        command = [str(PG_BIN / args[0]), *args[1:]]
        if self.run_as is not None:
            command = ["runuser", "-u", self.run_as, "--", *command]
        return subprocess.run(
            command, cwd=self.folder, capture_output=True, text=True, timeout=timeout, check=False
        )

    def _checked(self, *args: str) -> None:
        done = self._run(*args)
        if done.returncode != 0:
            raise PrivatePostgresUnavailable(
                f"{args[0]} {args[1] if len(args) > 1 else ''} failed ({done.returncode}): "
                f"{(done.stderr or done.stdout).strip()}\n{self.log_tail()}"
            )

    def psql(self, sql: str, database: str = "postgres") -> str:
        """One statement's result, unaligned, without headers."""
        done = self._run("psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                         "-d", database, "-XAtc", sql)  # fmt: skip
        if done.returncode != 0:
            raise PrivatePostgresUnavailable(f"psql failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def configure(self, settings: dict[str, str]) -> None:
        """Appends settings to postgresql.conf (the last line for a name wins)."""
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())

    def init(self) -> None:
        copy_template(self.data, self.run_as)
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write(f"\nport = {self.port}\nunix_socket_directories = '{self.folder}'\n")
            conf.writelines(f"{name} = {value}\n" for name, value in SETTINGS.items())

    def start(self) -> None:
        self._checked("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log_file), "-w",
                      "-t", "60")  # fmt: skip

    def stop_immediately(self) -> None:
        """Every server process quits at once, without a checkpoint: a crash, as far as the
        data directory can tell."""
        self._checked("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w")

    def running(self) -> bool:
        return self._run("pg_ctl", "status", "-D", str(self.data)).returncode == 0

    def remove(self) -> None:
        """Stops the cluster if it runs and deletes its directory (in the background)."""
        if self.data.exists() and self.running():
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w")
        delete_in_background(self.folder)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _cluster_user() -> str | None:
    """Who runs the cluster: the current user, or `postgres` when that is root."""
    if not (PG_BIN / "initdb").exists():
        raise PrivatePostgresUnavailable(f"no PostgreSQL binaries in {PG_BIN}")
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(CLUSTER_USER)
    except KeyError:
        raise PrivatePostgresUnavailable(
            f"running as root, and there is no {CLUSTER_USER!r} user for initdb to run as"
        ) from None
    if shutil.which("runuser") is None:
        raise PrivatePostgresUnavailable("running as root, and runuser is not installed")
    return CLUSTER_USER


_template_lock = threading.Lock()
_template: list[Path] = []  # this process's initdb, made on first use


def _template_data(run_as: str | None) -> Path:
    """A data directory straight from initdb, made once per process (pytest-xdist worker) and
    removed when it exits: a copy of it is a new cluster in a fraction of initdb's time."""
    with _template_lock:
        if not _template:
            folder = cluster_folder("credit-pg-template-")
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
            template = PrivatePostgres(folder, 0, run_as)
            # --no-sync only skips initdb's own flush of the fresh files; clusters run with fsync.
            template._checked(
                "initdb", "-D", str(template.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                "--no-locale", "--no-sync",
            )  # fmt: skip
            _template.append(template.data)
        return _template[0]


def copy_template(data: Path, run_as: str | None) -> None:
    """A new cluster's data directory `data` (which must not exist): a copy of the template.
    The copies share initdb's system identifier, which only replication compares, and a
    replica is made by pg_basebackup, never by a copy."""
    copy = ["cp", "-a", str(_template_data(run_as)), str(data)]
    if run_as is not None:
        copy = ["runuser", "-u", run_as, "--", *copy]
    done = subprocess.run(copy, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise PrivatePostgresUnavailable(f"copying the template cluster failed: {done.stderr}")


def delete_in_background(folder: Path) -> None:
    """Deletes `folder` in a thread of its own, which the interpreter waits for before it exits:
    a cluster's files can take seconds to delete on a busy disk, and the next test need not
    wait for that."""
    threading.Thread(target=shutil.rmtree, args=(folder,), kwargs={"ignore_errors": True}).start()


def cluster_folder(prefix: str = "credit-pg-") -> Path:
    """A new empty folder that the cluster's OS user owns (under /tmp itself: pytest's own
    temporary folders are private to root)."""
    run_as = _cluster_user()
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    if run_as is not None:
        account = pwd.getpwnam(run_as)
        os.chown(folder, account.pw_uid, account.pw_gid)
    return folder


def _start_on_a_free_port(cluster: PrivatePostgres) -> None:
    try:
        cluster.start()
    except PrivatePostgresUnavailable:  # the free port may have been taken meanwhile
        cluster.port = _free_port()
        cluster.configure({"port": str(cluster.port)})
        cluster.start()


def start_private_postgres(settings: dict[str, str] | None = None) -> PrivatePostgres:
    """A new cluster, started, with `settings` added to SETTINGS; `remove()` it afterwards.
    Raises PrivatePostgresUnavailable when this machine cannot run one."""
    run_as = _cluster_user()
    cluster = PrivatePostgres(cluster_folder(), _free_port(), run_as)
    try:
        cluster.init()
        cluster.configure(settings or {})
        _start_on_a_free_port(cluster)
    except BaseException:
        cluster.remove()
        raise
    return cluster


def start_replica(primary: PrivatePostgres) -> PrivatePostgres:
    """A streaming replica of `primary` (`pg_basebackup -R`: it follows the primary's WAL as a
    hot standby), started; `remove()` it afterwards."""
    replica = PrivatePostgres(cluster_folder("credit-pg-replica-"), _free_port(), primary.run_as)
    try:
        replica._checked(
            "pg_basebackup", "-D", str(replica.data), "-h", "127.0.0.1", "-p", str(primary.port),
            "-U", "postgres", "-R", "-X", "stream", "-c", "fast", "--no-sync",
        )  # fmt: skip
        replica.configure(
            {"port": str(replica.port), "unix_socket_directories": f"'{replica.folder}'"}
        )
        _start_on_a_free_port(replica)
    except BaseException:
        replica.remove()
        raise
    return replica


def base_backup(cluster: PrivatePostgres, target: Path) -> None:
    """`pg_basebackup` of `cluster` into `target` (plain format, with the WAL it needs)."""
    cluster._checked(
        "pg_basebackup", "-D", str(target), "-h", "127.0.0.1", "-p", str(cluster.port),
        "-U", "postgres", "-X", "stream", "-c", "fast", "--no-sync",
    )  # fmt: skip


def start_restored(backup: Path, settings: dict[str, str]) -> PrivatePostgres:
    """A new cluster from a copy of the base backup `backup`, started in archive recovery
    (`recovery.signal`) with `settings` (restore_command, a recovery target...); `remove()` it
    afterwards."""
    run_as = _cluster_user()
    restored = PrivatePostgres(cluster_folder("credit-pg-restored-"), _free_port(), run_as)
    try:
        copy = ["cp", "-a", f"{backup}/.", str(restored.data)]
        if run_as is not None:
            copy = ["runuser", "-u", run_as, "--", *copy]
        subprocess.run(["mkdir", "-p", str(restored.data)], check=True)
        if run_as is not None:
            account = pwd.getpwnam(run_as)
            os.chown(restored.data, account.pw_uid, account.pw_gid)
        os.chmod(restored.data, 0o700)
        subprocess.run(copy, check=True, capture_output=True)
        restored.configure(
            {
                "port": str(restored.port),
                "unix_socket_directories": f"'{restored.folder}'",
                "archive_mode": "off",
                **settings,
            }
        )
        signal = restored.data / "recovery.signal"
        signal.touch()
        if run_as is not None:
            os.chown(signal, account.pw_uid, account.pw_gid)
        _start_on_a_free_port(restored)
    except BaseException:
        restored.remove()
        raise
    return restored


def wait_for_replay(
    primary: PrivatePostgres, replica: PrivatePostgres, timeout: float = 60
) -> None:
    """Returns once the replica has replayed everything the primary has written so far."""
    target = primary.psql("SELECT pg_current_wal_lsn()")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        behind = replica.psql(f"SELECT pg_last_wal_replay_lsn() < '{target}'::pg_lsn")
        if behind == "f":
            return
        time.sleep(0.05)
    raise AssertionError(f"the replica has not replayed up to {target} in {timeout} s")


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    cluster = start_private_postgres()
    try:
        yield cluster
    finally:
        cluster.remove()


# The subject-id key the private clusters' stores are made with.
PRIVATE_SUBJECT_KEY = "test-subject-key"


def credit(url: str, *args: str) -> subprocess.CompletedProcess:
    """A `credit` command against a private cluster's store, with the environment an operator
    gives it, run in this process (typer's CliRunner): the same command and settings, without
    a new interpreter importing the service (seconds of CPU each, on CI's busy cores). Not
    while other threads of the test print: the runner swaps sys.stdout and sys.stderr."""
    from typer.testing import CliRunner

    from service.cli import app
    from service.settings import get_settings

    env = {
        "CREDIT_DATABASE_URL": url,
        "CREDIT_SUBJECT_ID_KEY": PRIVATE_SUBJECT_KEY,
        "CREDIT_ENVIRONMENT": "test",
        "CREDIT_MIGRATE_ON_START": "false",
    }
    get_settings.cache_clear()  # the settings are read from the environment once per process
    try:
        done = CliRunner().invoke(app, list(args), env=env)
    finally:
        get_settings.cache_clear()
    stderr = done.stderr
    if done.exception is not None and not isinstance(done.exception, SystemExit):
        stderr += "".join(traceback.format_exception(done.exception))
    return subprocess.CompletedProcess(["credit", *args], done.exit_code, done.stdout, stderr)
