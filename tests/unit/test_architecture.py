"""The layers hold: domain imports no framework, nothing imports an outer layer or a part above
its own, and no module imports itself through others; the tree type-checks; the lock pins every
dependency pyproject.toml names."""

import graphlib
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path

import grimp
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.domain
def test_import_contracts_hold():
    lint_imports = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 5 kept, 0 broken" in result.stdout
    # Case steps right after a write need no read model: they decide on the subject's stream.
    assert "Case commands decide on the subject's stream, never on a read model KEPT" in (
        result.stdout
    )


def import_cycle(imports: Mapping[str, Iterable[str]]) -> str | None:
    """One import cycle, as "a -> b -> a" where each module imports the next, or None."""
    try:
        tuple(graphlib.TopologicalSorter(imports).static_order())
    except graphlib.CycleError as error:
        return " -> ".join(reversed(error.args[1]))  # graphlib lists importers after imports
    return None


@pytest.mark.domain
def test_an_import_cycle_is_named():
    assert import_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None
    assert import_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) in (
        "a -> b -> c -> a",
        "b -> c -> a -> b",
        "c -> a -> b -> c",
    )


@pytest.mark.domain
def test_no_module_imports_itself_through_others():
    """TYPE_CHECKING imports count: a cycle there is a boundary in the wrong place all the same."""
    graph = grimp.build_graph(
        "domain",
        "service",
        "projections",
        "api",
        exclude_type_checking_imports=False,
        cache_dir=None,
    )
    imports = {module: graph.find_modules_directly_imported_by(module) for module in graph.modules}
    assert {"domain.policy", "service.bootstrap", "projections.runner", "api.app"} <= set(imports)
    cycle = import_cycle(imports)
    assert cycle is None, f"import cycle: {cycle}"


@pytest.mark.domain
def test_domain_sources_name_no_framework():
    forbidden = ("fastapi", "starlette", "sqlalchemy", "asyncpg", "psycopg", "pydantic", "uvicorn")
    for path in (ROOT / "domain").rglob("*.py"):
        for line in path.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith(("import ", "from ")):
                module = stripped.split()[1].split(".")[0]
                assert module not in forbidden, f"{path.name} imports {module}"


@pytest.mark.domain
def test_the_tree_passes_the_linter_and_the_formatter():
    ruff = Path(sys.executable).parent / "ruff"
    lint = subprocess.run([str(ruff), "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout
    formatted = subprocess.run(
        [str(ruff), "format", "--check", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert formatted.returncode == 0, formatted.stdout


def holds_python(path: Path) -> bool:
    return path.suffix == ".py" if path.is_file() else any(path.rglob("*.py"))


@pytest.mark.slow
@pytest.mark.domain
def test_the_tree_type_checks():
    # The files and the strictness per package are in pyproject.toml's [tool.mypy], which a bare
    # run reads; the cache in .mypy_cache makes a rerun take seconds.
    checked = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]["files"])
    python = {p.name for p in ROOT.iterdir() if not p.name.startswith(".") and holds_python(p)}
    unchecked = python - checked - {"alembic"}  # left out on purpose: see pyproject.toml
    assert not unchecked, f"add {sorted(unchecked)} to files in [tool.mypy]"
    result = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Success: no issues found"), result.stdout


def locked_versions(lock_text: str) -> dict[str, str]:
    """Package name (PEP 503 normalised) -> pinned version, from a hashed requirements lock."""
    pins = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)", lock_text, re.MULTILINE)
    return {canonicalize_name(name): version for name, version in pins}


def declared_requirements(pyproject_text: str) -> list[Requirement]:
    project = tomllib.loads(pyproject_text)["project"]
    return [
        Requirement(line)
        for line in [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    ]


def unlocked(pyproject_text: str, lock_text: str) -> list[str]:
    """Every dependency pyproject.toml names that the lock lacks, or pins outside its range."""
    locked = locked_versions(lock_text)
    problems = []
    for requirement in declared_requirements(pyproject_text):
        version = locked.get(canonicalize_name(requirement.name))
        if version is None:
            problems.append(f"{requirement.name} is not in the lock")
        elif not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{requirement.name} is locked at {version}, outside {requirement}")
    return problems


@pytest.mark.domain
def test_the_lock_covers_every_declared_dependency():
    lock = (ROOT / "requirements.lock").read_text()
    assert unlocked((ROOT / "pyproject.toml").read_text(), lock) == [], (
        "refresh requirements.lock with the command in its header"
    )
    # dev.py installs with --require-hashes: a pin without its hash would stop every install.
    hashed = re.findall(r"^\S+==\S+ \\\n    --hash=sha256:[0-9a-f]{64}", lock, re.MULTILINE)
    assert len(hashed) == len(locked_versions(lock))


@pytest.mark.domain
def test_a_dependency_the_lock_lacks_or_pins_out_of_range_is_named():
    pyproject = """
[project]
dependencies = ["Foo_Bar>=2", "baz[extra]==1.*"]
[project.optional-dependencies]
dev = ["qux"]
"""
    lock = "foo-bar==2.1 \\\n    --hash=sha256:00\nbaz==2.0 \\\n    --hash=sha256:11\n"
    assert unlocked(pyproject, lock) == [
        "baz is locked at 2.0, outside baz[extra]==1.*",
        "qux is not in the lock",
    ]
