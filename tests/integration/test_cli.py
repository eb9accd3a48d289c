"""The `credit` command as an operator runs it: migrate, import with a report, rebuild."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.builders import penalty_file
from tests.builders import penalty_file_row as row
from tests.integration.readmodel import dump

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def credit(settings, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "CREDIT_DATABASE_URL": settings.database_url,
        "CREDIT_SUBJECT_ID_KEY": settings.subject_id_key.get_secret_value(),
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_import_reports_rows_and_rebuild_reproduces_the_read_models(settings, services, tmp_path):
    path = tmp_path / "penalties.csv"
    path.write_bytes(penalty_file([row(1), row(2, CF_CFJGDM="11410100MB0000001X"), row(3)]))
    assert credit(settings, "migrate").returncode == 0

    report = tmp_path / "rejected.csv"
    first = credit(settings, "import", str(path), "--report", str(report))
    assert first.returncode == 1  # some rows were rejected
    assert "3 rows read, 2 accepted, 0 already present, 1 rejected" in first.stderr
    assert "line 3: CF_CFJGDM" in first.stderr
    header, rejected = csv.reader(report.read_text(encoding="utf-8-sig").splitlines())
    assert (header[:3], rejected[0], rejected[-1]) == (
        ["line", "reason", "CF_XDR_MC"],
        "3",
        "11410100MB0000001X",
    )
    again = credit(settings, "import", str(path))
    assert "0 accepted, 2 already present, 1 rejected" in again.stderr

    services.runner.catch_up()
    live = dump(services.write_engine)
    rebuilt = credit(settings, "rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "rebuilt from 4 events" in rebuilt.stderr
    assert "4/4 events" in rebuilt.stderr  # the progress: events applied of those to apply
    assert dump(services.write_engine) == live
    assert len(live["records"]) == 2
    compared = credit(settings, "rebuild", "--compare")
    assert compared.returncode == 0, compared.stderr
    assert "the old read models equal the rebuilt ones" in compared.stderr
    assert dump(services.write_engine) == live


def test_a_file_without_national_columns_is_refused_with_exit_code_2(settings, tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("name,code\nx,y\n")
    result = credit(settings, "import", str(path))
    assert result.returncode == 2
    assert "import refused" in result.stderr


@pytest.mark.slow
def test_verify_replay_passes_then_names_a_tampered_field(settings, services, tmp_path):
    from sqlalchemy import update

    from projections.tables import records

    path = tmp_path / "penalties.csv"
    path.write_bytes(penalty_file([row(1), row(2)]))
    assert credit(settings, "import", str(path)).returncode == 0
    services.runner.catch_up()
    passed = credit(settings, "verify-replay")
    assert passed.returncode == 0, passed.stderr
    assert "replayed 4 events" in passed.stderr
    assert "equal a replay of the event log" in passed.stderr

    with services.write_engine.begin() as conn:
        conn.execute(update(records).values(authority_name="篡改"))
    failed = credit(settings, "verify-replay")
    assert failed.returncode == 1
    assert "authority_name: live '篡改'" in failed.stderr
    assert "2 differences" in failed.stderr


def test_a_secret_is_printed_whole_on_a_narrow_terminal(monkeypatch):
    """An 80-column terminal (or none) used to end a demo secret with "…"."""
    import io

    from rich.console import Console

    import service.cli

    out = io.StringIO()
    monkeypatch.setattr(service.cli, "console", Console(file=out, width=80))
    secret = "sX4PQvot8vh6TlafVygPSWlOnU8YaufT6CTTCWa1b2c3d4e"
    rows = [("demo-credit_office", "credit_office", secret)]
    service.cli.print_whole_table("DEMO MODE: demo clients", ("client_id", "role", "secret"), rows)
    printed = out.getvalue()
    assert secret in printed and "demo-credit_office" in printed and "…" not in printed
