"""Zero-setup entry point: makes .venv, installs the project into it, then runs a command.

python3 dev.py serve   # the service on SQLite with demo data
python3 dev.py test    # the whole test suite, on SQLite and PostgreSQL
python3 dev.py credit ...              # any `credit` command
python3 dev.py wheelhouse [DIR]        # download every locked dependency into DIR (./wheelhouse)
python3 dev.py --wheelhouse DIR ...    # install from DIR only, with no network (or set
                                       # CREDIT_WHEELHOUSE=DIR)
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


# The build backend of the editable install (pyproject.toml [build-system]); pip builds it in an
# isolated environment, which offline finds its setuptools in the wheelhouse too.
BUILD_BACKEND = "setuptools>=69"
WHEELHOUSE_VARIABLE = "CREDIT_WHEELHOUSE"


def pip_command(python: Path) -> list[str]:
    return [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]


def install_commands(python: Path, wheelhouse: Path | None = None) -> list[list[str]]:
    """The pip commands that install the locked dependencies and the project. With a wheelhouse
    every one reads that folder only (--no-index), and pip stays as the venv has it."""
    pip = pip_command(python)
    if wheelhouse is None:
        return [
            [*pip, "--upgrade", "pip"],
            [*pip, "--require-hashes", "-r", str(LOCK)],
            [*pip, "--no-deps", "-e", str(ROOT)],
        ]
    offline = ["--no-index", "--find-links", str(wheelhouse)]
    return [
        [*pip, *offline, "--require-hashes", "-r", str(LOCK)],
        [*pip, *offline, "--no-deps", "-e", str(ROOT)],
    ]


def wheelhouse_commands(python: Path, directory: Path) -> list[list[str]]:
    """Download, on a machine with the package index, exactly the files the lock names (each
    checked against its hash) and the build backend, for `--wheelhouse` on one without."""
    download = [str(python), "-m", "pip", "download", "--disable-pip-version-check", "--quiet"]
    return [
        [*download, "--require-hashes", "--no-deps", "-r", str(LOCK), "-d", str(directory)],
        [*download, "--no-deps", BUILD_BACKEND, "-d", str(directory)],
    ]


def ensure_environment(wheelhouse: Path | None = None) -> None:
    """Install (or refresh) the virtual environment when pyproject.toml or the lock has changed.

    Every dependency comes from requirements.lock, pinned and hash-checked, so a new machine gets
    the versions CI tested; the project itself is then installed editable without resolving.
    From a wheelhouse, nothing is fetched from the network."""
    digest = hashlib.sha256()
    for source in (ROOT / "pyproject.toml", LOCK):
        digest.update(source.read_bytes())
    wanted = digest.hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print(f"creating {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    where = f" from {wheelhouse}" if wheelhouse else ""
    print(f"installing the project and its locked dependencies into .venv{where} ...", flush=True)
    for command in install_commands(BIN / "python", wheelhouse):
        subprocess.run(command, check=True)
    STAMP.write_text(wanted)


def split_wheelhouse(argv: list[str]) -> tuple[Path | None, list[str]]:
    """`--wheelhouse DIR` before the command, else CREDIT_WHEELHOUSE, else none."""
    if argv[:1] == ["--wheelhouse"]:
        if len(argv) < 2:
            raise SystemExit("--wheelhouse needs a folder")
        return Path(argv[1]).resolve(), argv[2:]
    given = os.environ.get(WHEELHOUSE_VARIABLE)
    return (Path(given).resolve() if given else None), argv


def main(argv: list[str]) -> int:
    wheelhouse, argv = split_wheelhouse(argv)
    if argv[:1] == ["wheelhouse"]:
        directory = Path(argv[1] if len(argv) > 1 else "wheelhouse").resolve()
        for download in wheelhouse_commands(Path(sys.executable), directory):
            subprocess.run(download, check=True)
        print(
            f"wheelhouse ready: {directory} (install with: python3 dev.py --wheelhouse "
            f"{directory} credit --help)"
        )
        return 0
    if not argv or argv[0] not in {"serve", "test", "credit"}:
        print(__doc__)
        return 2
    if wheelhouse is not None and not wheelhouse.is_dir():
        print(f"no wheelhouse at {wheelhouse}: make one with python3 dev.py wheelhouse DIR")
        return 2
    ensure_environment(wheelhouse)
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
