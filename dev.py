"""Zero-setup entry point: makes .venv, installs the project into it, then runs a command.

python3 dev.py serve   # the service on SQLite with demo data
python3 dev.py test    # the whole test suite, on SQLite and PostgreSQL
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".installed-from"
LOCK = ROOT / "requirements.lock"


def ensure_environment() -> None:
    """Install (or refresh) the virtual environment when pyproject.toml or the lock has changed.

    Every dependency comes from requirements.lock, pinned and hash-checked, so a new machine gets
    the versions CI tested; the project itself is then installed editable without resolving."""
    digest = hashlib.sha256()
    for source in (ROOT / "pyproject.toml", LOCK):
        digest.update(source.read_bytes())
    wanted = digest.hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print(f"creating {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("installing the project and its locked dependencies into .venv ...", flush=True)
    pip = [str(BIN / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "--require-hashes", "-r", str(LOCK)], check=True)
    subprocess.run([*pip, "--no-deps", "-e", str(ROOT)], check=True)
    STAMP.write_text(wanted)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"serve", "test", "credit"}:
        print(__doc__)
        return 2
    ensure_environment()
    command, rest = argv[0], argv[1:]
    if command == "serve":
        args = [str(BIN / "credit"), "serve", "--demo", *rest]
    elif command == "test":
        args = [str(BIN / "python"), "-m", "tests", *rest]
    else:
        args = [str(BIN / "credit"), *rest]
    return subprocess.call(args, cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
