"""A pg_auto_failover formation of a test module's own: a monitor and two PostgreSQL 15 nodes
with synchronous replication, on free ports in a temporary folder, for tests that kill the
primary and bring it back.

`pg_autoctl` refuses root as initdb does, so as root it runs as the `postgres` OS user, with its
configuration and state under the formation's folder (XDG_* variables), not in that user's home.
Each `pg_autoctl run` is a process group of its own: killing the group is the machine dying."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from tests.private_postgres import (
    PG_BIN,
    PrivatePostgresUnavailable,
    _cluster_user,
    _free_port,
    cluster_folder,
    copy_template,
    delete_in_background,
)

PG_AUTOCTL = os.environ.get("CREDIT_TEST_PG_AUTOCTL", "pg_autoctl")
# The monitor's failure detection, shortened from its defaults (health check every 5 s, a node
# unhealthy after 20 s, the old primary given 30 s to demote itself) so that a test fails over
# within seconds. primary_demote_timeout must stay above the nodes' network_partition_timeout:
# a primary cut off from the monitor and its standby stops taking writes before the standby
# is promoted. docs/operations.md gives the values for production.
MONITOR_SETTINGS = {
    "pgautofailover.health_check_period": "1000",
    "pgautofailover.health_check_timeout": "1000",
    "pgautofailover.health_check_max_retries": "1",
    "pgautofailover.health_check_retry_delay": "500",
    "pgautofailover.node_considered_unhealthy_timeout": "3000",
    "pgautofailover.primary_demote_timeout": "6000",
}
NETWORK_PARTITION_TIMEOUT = 4  # seconds, on each node (pg_autoctl's default is 20)
NODE_SETTINGS = {
    "fsync": "on",
    "synchronous_commit": "on",
    "shared_buffers": "32MB",
    "max_connections": "120",
    "autovacuum": "off",
}


@dataclass
class Formation:
    folder: Path
    run_as: str | None
    monitor_port: int = field(default_factory=_free_port)
    node_ports: list[int] = field(default_factory=lambda: [_free_port(), _free_port()])
    runs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def pgdata(self, name: str) -> Path:
        return self.folder / name

    @property
    def monitor_uri(self) -> str:
        return f"postgres://autoctl_node@127.0.0.1:{self.monitor_port}/pg_auto_failover?sslmode=disable"

    def url(self, database: str = "postgres", attrs: str = "read-write") -> str:
        """Both nodes, in libpq's form: the one that accepts writes is chosen."""
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.node_ports)
        return f"postgresql://postgres@{hosts}/{database}?target_session_attrs={attrs}"

    def node_url(self, port: int, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{port}/{database}"

    def _command(self, *args: str) -> list[str]:
        env = [
            f"XDG_CONFIG_HOME={self.folder / 'config'}",
            f"XDG_DATA_HOME={self.folder / 'share'}",
            f"XDG_RUNTIME_DIR={self.folder / 'run'}",
            f"PG_CONFIG={PG_BIN / 'pg_config'}",
            f"PATH={PG_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            f"HOME={self.folder}",
        ]
        command = ["env", *env, PG_AUTOCTL, *args]
        if self.run_as is not None:
            command = ["runuser", "-u", self.run_as, "--", *command]
        return command

    def autoctl(self, *args: str, timeout: float = 120) -> str:
        done = subprocess.run(
            self._command(*args),
            cwd=self.folder,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise PrivatePostgresUnavailable(
                f"pg_autoctl {' '.join(args[:2])} failed ({done.returncode}): "
                f"{(done.stderr or done.stdout).strip()[-2000:]}"
            )
        return done.stdout

    def psql(self, port: int, sql: str, database: str = "postgres") -> str:
        command = [str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
                   "-d", database, "-XAtc", sql]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
        if done.returncode != 0:
            raise PrivatePostgresUnavailable(f"psql failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def start(self, name: str) -> None:
        """`pg_autoctl run` for the monitor or a node, in a process group of its own. For a node
        the formation has failed over from, that is how it rejoins: its keeper asks the monitor,
        is told it was demoted, and rewinds it to follow the new primary."""
        log = (self.folder / f"{name}.log").open("ab")
        self.runs[name] = subprocess.Popen(
            self._command("run", "--pgdata", str(self.pgdata(name))),
            cwd=self.folder,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def kill(self, name: str) -> None:
        """The node's machine dies: its keeper and its PostgreSQL, at once (SIGKILL)."""
        run = self.runs.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.pid, signal.SIGKILL)
        run.wait()
        # A backend orphaned by its postmaster's death exits at once; wait for the port.
        port = self.port_of(name)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if (
                subprocess.run(
                    [str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-t", "1"],
                    capture_output=True,
                    check=False,
                ).returncode
                == 2
            ):  # no response: nothing listens any more
                return
            time.sleep(0.1)

    def port_of(self, name: str) -> int:
        return self.monitor_port if name == "monitor" else self.node_ports[int(name[-1]) - 1]

    def states(self) -> dict[int, tuple[str, str]]:
        """Each node's port: (reported state, assigned state), as the monitor holds them."""
        rows = self.psql(
            self.monitor_port,
            "SELECT nodeport, reportedstate, goalstate FROM pgautofailover.node",
            "pg_auto_failover",
        )
        return {int(p): (r, g) for p, r, g in (line.split("|") for line in rows.splitlines())}

    def wait_for(self, wanted: dict[int, str], timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                states = self.states()
            except PrivatePostgresUnavailable:
                states = {}
            if all(
                states.get(port, ("", ""))[0] == state for port, state in wanted.items()
            ) and all(states[port][0] == states[port][1] for port in wanted):
                return
            time.sleep(0.2)
        raise AssertionError(f"the formation did not reach {wanted}: {states}\n{self.log_tail()}")

    def log_tail(self, lines: int = 15) -> str:
        tails = []
        for log in sorted(self.folder.glob("*.log")):
            text = log.read_text(errors="replace").splitlines()[-lines:]
            tails.append(f"--- {log.name}\n" + "\n".join(text))
        return "\n".join(tails)

    def writable(self, port: int) -> bool | None:
        """Whether the node at `port` takes writes now (None: it does not answer)."""
        try:
            with psycopg.connect(self.node_url(port), connect_timeout=2) as conn:
                row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
        except psycopg.Error:
            return None
        return row is not None and row[0] is False

    def wait_replayed(self, primary: int, standby: int, timeout: float = 120) -> None:
        """Returns once the standby has replayed all the WAL the primary has written so far."""
        target = self.psql(primary, "SELECT pg_current_wal_lsn()")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.psql(standby, f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn") == "t":
                return
            time.sleep(0.05)
        raise AssertionError(f"the standby has not replayed up to {target} in {timeout} s")

    def remove(self) -> None:
        """Kills every process of the formation and deletes its folder (in the background)."""
        for name in list(self.runs):
            run = self.runs.pop(name)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(run.pid, signal.SIGKILL)
            run.wait()
        datas = [self.pgdata(name) for name in ("monitor", "node1", "node2")]
        deadline = time.monotonic() + 5  # a killed postmaster takes a moment to exit
        while any(_postmaster_alive(data) for data in datas) and time.monotonic() < deadline:
            time.sleep(0.05)
        for data in datas:
            if _postmaster_alive(data):  # not of a killed process group
                stop = [str(PG_BIN / "pg_ctl"), "stop", "-D", str(data), "-m", "immediate", "-w"]
                if self.run_as is not None:
                    stop = ["runuser", "-u", self.run_as, "--", *stop]
                subprocess.run(stop, capture_output=True, timeout=60, check=False)
        delete_in_background(self.folder)


def _postmaster_alive(data: Path) -> bool:
    """Whether the postmaster of `data` runs. Killed, it stays a zombie until init reaps it,
    and its pid may soon be another process's: the postmaster's working folder is `data`."""
    try:
        pid = int((data / "postmaster.pid").read_text().split("\n", 1)[0])
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        folder = os.readlink(f"/proc/{pid}/cwd")
    except (OSError, ValueError, IndexError):
        return False
    return state not in ("Z", "X") and Path(folder) == data


def _configure(data: Path, settings: dict[str, str]) -> None:
    """Settings that win over pg_autoctl's own: postgresql.auto.conf is read after
    postgresql.conf and the files pg_autoctl includes from it (which size shared_buffers for
    the whole machine), and pg_basebackup copies it to the standby."""
    with (data / "postgresql.auto.conf").open("a") as conf:
        conf.write("listen_addresses = '127.0.0.1'\n")
        conf.writelines(f"{name} = '{value}'\n" for name, value in settings.items())


def start_formation() -> Formation:
    """A monitor and two nodes, the first primary and the second its synchronous standby;
    `remove()` it afterwards. Raises PrivatePostgresUnavailable when pg_autoctl is missing
    or the formation cannot start.

    The monitor and the first node are copies of one initdb (tests/private_postgres.py), the
    standby a pg_basebackup of the first node, made while the first node starts."""
    if shutil.which(PG_AUTOCTL) is None:
        raise PrivatePostgresUnavailable(
            f"{PG_AUTOCTL} is not installed (apt-get install postgresql-15-auto-failover)"
        )
    formation = Formation(cluster_folder("credit-pgaf-"), _cluster_user())
    try:
        common = ["--hostname", "127.0.0.1", "--listen", "127.0.0.1", "--auth", "trust", "--no-ssl"]
        for name, settings in (("monitor", MONITOR_SETTINGS), ("node1", NODE_SETTINGS)):
            copy_template(formation.pgdata(name), formation.run_as)
            _configure(formation.pgdata(name), settings)
        formation.autoctl(
            "create", "monitor", "--pgdata", str(formation.pgdata("monitor")),
            "--pgport", str(formation.monitor_port), "--pgctl", str(PG_BIN / "pg_ctl"), *common,
        )  # fmt: skip
        formation.start("monitor")
        for n, port in enumerate(formation.node_ports, start=1):
            name = f"node{n}"
            # The second node registers once the first is registered (the first to register
            # is the primary), and its pg_basebackup waits for the first node's keeper to run.
            formation.autoctl(
                "create", "postgres", "--pgdata", str(formation.pgdata(name)),
                "--pgport", str(port), "--pgctl", str(PG_BIN / "pg_ctl"), "--name", name,
                "--monitor", formation.monitor_uri, *common,
            )  # fmt: skip
            formation.autoctl(
                "config", "set", "--pgdata", str(formation.pgdata(name)),
                "timeout.network_partition_timeout", str(NETWORK_PARTITION_TIMEOUT),
            )  # fmt: skip
            formation.start(name)
        primary, standby = formation.node_ports
        formation.wait_for({primary: "primary", standby: "secondary"})
    except BaseException:
        formation.remove()
        raise
    return formation
