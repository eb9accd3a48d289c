"""The layers hold: domain imports no framework, nothing imports an outer layer or a part above
its own, and no module imports itself through others."""

import graphlib
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

import grimp
import pytest

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
