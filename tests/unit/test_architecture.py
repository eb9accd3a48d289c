"""The layers hold: domain imports no framework, and nothing imports an outer layer."""

import os
import subprocess
import sys
from pathlib import Path

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
    assert "Contracts: 3 kept, 0 broken" in result.stdout
    # Case steps right after a write need no read model: they decide on the subject's stream.
    assert "Case commands decide on the subject's stream, never on a read model KEPT" in (
        result.stdout
    )


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
