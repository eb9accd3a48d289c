"""dev.py's pip commands: online from the index with the lock's hashes; from a wheelhouse with
no index at all; and the wheelhouse made of exactly the lock's files. (Building a real
wheelhouse takes minutes: docs/operations.md records a run.)"""

from __future__ import annotations

from pathlib import Path

import pytest

import dev

pytestmark = pytest.mark.domain
PYTHON = Path("/venv/bin/python")


def test_online_the_locked_dependencies_are_installed_by_hash_then_the_project():
    upgrade, locked, project = dev.install_commands(PYTHON)
    assert upgrade[-2:] == ["--upgrade", "pip"]
    assert locked[-3:] == ["--require-hashes", "-r", str(dev.LOCK)]
    assert project[-3:] == ["--no-deps", "-e", str(dev.ROOT)]
    assert all("--no-index" not in command for command in (upgrade, locked, project))


def test_from_a_wheelhouse_every_install_reads_that_folder_only():
    wheelhouse = Path("/srv/wheelhouse")
    commands = dev.install_commands(PYTHON, wheelhouse)
    assert len(commands) == 2  # pip is not upgraded: there is no index to upgrade it from
    for command in commands:
        assert command[:4] == [str(PYTHON), "-m", "pip", "install"]
        at = command.index("--no-index")
        assert command[at + 1 : at + 3] == ["--find-links", str(wheelhouse)]
        assert "--upgrade" not in command
    locked, project = commands
    assert locked[-3:] == ["--require-hashes", "-r", str(dev.LOCK)]
    assert project[-3:] == ["--no-deps", "-e", str(dev.ROOT)]


def test_the_wheelhouse_holds_the_locked_files_by_hash_and_the_build_backend():
    locked, backend = dev.wheelhouse_commands(PYTHON, Path("/tmp/wh"))
    assert locked[1:4] == ["-m", "pip", "download"]
    assert {"--require-hashes", "--no-deps"} <= set(locked)
    assert locked[locked.index("-r") + 1] == str(dev.LOCK)
    assert locked[-2:] == ["-d", "/tmp/wh"]
    assert dev.BUILD_BACKEND in backend and backend[-2:] == ["-d", "/tmp/wh"]
    build_system = (dev.ROOT / "pyproject.toml").read_text()
    assert f'requires = ["{dev.BUILD_BACKEND}"]' in build_system


def test_the_wheelhouse_is_named_before_the_command_or_by_the_environment(monkeypatch):
    monkeypatch.delenv(dev.WHEELHOUSE_VARIABLE, raising=False)
    assert dev.split_wheelhouse(["credit", "--help"]) == (None, ["credit", "--help"])
    where, rest = dev.split_wheelhouse(["--wheelhouse", "/srv/wh", "test", "-x"])
    assert (where, rest) == (Path("/srv/wh"), ["test", "-x"])
    monkeypatch.setenv(dev.WHEELHOUSE_VARIABLE, "/srv/other")
    assert dev.split_wheelhouse(["serve"]) == (Path("/srv/other"), ["serve"])
    with pytest.raises(SystemExit, match="needs a folder"):
        dev.split_wheelhouse(["--wheelhouse"])


def test_a_missing_wheelhouse_is_refused_before_anything_is_installed(tmp_path, capsys):
    assert dev.main(["--wheelhouse", str(tmp_path / "absent"), "credit", "--help"]) == 2
    assert "no wheelhouse at" in capsys.readouterr().out
