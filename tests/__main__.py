"""The whole test suite, as `python3 dev.py test` (and CI) runs it.

Runs pytest over every tier (architecture contracts included) on SQLite and on PostgreSQL.
With CI set, a PostgreSQL that cannot be reached fails the run."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.postgres import ADMIN_URL, postgres_reachable


def main(args: list[str]) -> int:
    reachable, reason = postgres_reachable()
    if not reachable:
        if os.environ.get("CI"):
            print(f"FAIL: PostgreSQL at {ADMIN_URL} is unreachable in CI: {reason}", flush=True)
            return 1
        print(f"note: PostgreSQL unreachable ({reason}); its tests will be skipped", flush=True)
    return subprocess.call([sys.executable, "-m", "pytest", *args])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
