"""The whole test suite, as `python3 dev.py test` (and CI) runs it.

Runs pytest over every tier (architecture contracts included) on SQLite and on PostgreSQL.
With CI set, a PostgreSQL that cannot be reached fails the run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from tests.postgres import ADMIN_URL, postgres_reachable

BROWSER_PACKAGES = ("chromium", "chromium-driver", "fonts-noto-cjk")
FAILOVER_PACKAGES = ("postgresql-15-auto-failover",)  # pg_autoctl: tests/auto_failover.py
SUITE_WORKERS = 3  # CI has two cores: see workers()


def ensure_packages() -> None:
    """Install, where CI may (as root), the Debian packages tests need beyond PostgreSQL:
    Chromium for the progress-page test, pg_auto_failover for the failover test. Elsewhere,
    or if the installation fails, those tests skip (outside CI) or fail (in CI) and say why."""
    missing: list[str] = []
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        missing += BROWSER_PACKAGES
    if not shutil.which("pg_autoctl"):
        missing += FAILOVER_PACKAGES
    if not missing or not os.environ.get("CI") or os.geteuid() != 0 or not shutil.which("apt-get"):
        return
    print(f"installing {', '.join(missing)} for the tests that need them ...", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=False)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", *missing],
        check=False,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )


def main(args: list[str]) -> int:
    reachable, reason = postgres_reachable()
    if not reachable:
        if os.environ.get("CI"):
            print(f"FAIL: PostgreSQL at {ADMIN_URL} is unreachable in CI: {reason}", flush=True)
            return 1
        print(f"note: PostgreSQL unreachable ({reason}); its tests will be skipped", flush=True)
    ensure_packages()
    return subprocess.call(
        [sys.executable, "-m", "pytest", *workers(args), *args], env=bytecode_kept()
    )


def bytecode_kept() -> dict[str, str]:
    """The suite's environment, with compiled bytecode written and read again. The suite starts
    hundreds of Python processes (the CLI, the API, workers, check processes); where
    PYTHONDONTWRITEBYTECODE is set, each compiled the project's sources anew, some 0.2 s of CPU
    a process, and every pytest worker rewrote every test module. The bytecode goes under the
    virtual environment, not beside the sources, which stay as the setting asked."""
    env = dict(os.environ)
    if env.pop("PYTHONDONTWRITEBYTECODE", None):
        env.setdefault("PYTHONPYCACHEPREFIX", os.path.join(sys.prefix, "pycache"))
    return env


def workers(args: list[str]) -> list[str]:
    """Three pytest-xdist workers unless the caller chose (`-n 0` runs in one process), on CI's
    two cores: the suite waits on databases, browsers and child processes as well as computing,
    and a third worker fills those waits (the whole suite took 1,056 s with three on a quiet
    two-core machine, 1,166 s with two). Every test keeps to its own database, ports and files,
    and the timing tests hold with every core busy (the suite passed with three workers at a
    load average of 8 to 12). A worker that runs out of tests takes some of another's
    (`worksteal`), where fixed chunks could leave it idle while another works through a chunk
    of long tests."""
    chosen = any(arg == "-n" or arg.startswith(("-n", "--numprocesses")) for arg in args)
    return [] if chosen else ["-n", str(SUITE_WORKERS), "--dist", "worksteal"]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
