"""Operator errors at the `credit` command: one line on stderr, a non-zero exit code, and never
a setting's value (keys included), whatever the command."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from service.operator_errors import EXIT_CONFIG, EXIT_NO_INPUT, EXIT_UNAVAILABLE
from service.settings import Settings, SettingsError, describe

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
CANARY = "s3cr3t-CANARY-7f3a9c1e5b2d4f60"
UNREACHABLE = "postgresql://postgres@127.0.0.1:1/x"


def credit(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CREDIT_")}
    return subprocess.run(
        [sys.executable, "-m", "service.cli", *args],
        cwd=ROOT,
        env={**clean, "COLUMNS": "200", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def one_line(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("credit: "), result.stderr
    return lines[0]


# Every command that reads the settings (those of `credit audit` that need none are offline).
COMMANDS = {
    "migrate": ["migrate"],
    "serve": ["serve", "--port", "1"],
    "worker": ["worker"],
    "rebuild": ["rebuild"],
    "verify-replay": ["verify-replay"],
    "clients-list": ["clients", "list"],
    "keys-rotate": ["keys", "rotate"],
    "import": ["import", "whatever.csv"],
    "grant-service-role": ["grant-service-role", "credit_service"],
    "audit-checkpoint": ["audit", "checkpoint"],
}


@pytest.mark.parametrize("args", COMMANDS.values(), ids=COMMANDS)
def test_a_bad_setting_is_one_line_that_does_not_echo_a_secret(args, tmp_path):
    """The attack: pydantic's message quoted the tail of CREDIT_SUBJECT_ID_KEY."""
    result = credit(
        *args,
        CREDIT_ENVIRONMENT="production",
        CREDIT_SUBJECT_ID_KEY=CANARY,
        CREDIT_DATABASE_URL=f"sqlite:///{tmp_path}/credit.sqlite3",
    )
    assert result.returncode == EXIT_CONFIG, result.stderr
    assert one_line(result) == (
        "credit: bad setting: CREDIT_KEY_ENCRYPTION_KEY must be set in production"
    )
    for tail in (CANARY, CANARY[-8:], CANARY[:8]):
        assert tail not in result.stderr + result.stdout
    assert not (tmp_path / "credit.sqlite3").exists()  # nothing was created or written


def test_several_bad_settings_are_named_with_their_reasons_only(tmp_path):
    result = credit(
        "migrate",
        CREDIT_ENVIRONMENT="staging",
        CREDIT_TOKEN_TTL_SECONDS=CANARY,
        CREDIT_TRUSTED_PROXIES=f'["{CANARY}"]',
        CREDIT_KEY_ENCRYPTION_KEY=CANARY,
        CREDIT_DATABASE_URL=f"sqlite:///{tmp_path}/credit.sqlite3",
    )
    assert result.returncode == EXIT_CONFIG
    assert one_line(result) == (
        "credit: bad setting: CREDIT_ENVIRONMENT: Input should be 'development', 'test' or "
        "'production'; CREDIT_TOKEN_TTL_SECONDS: Input should be a valid integer, unable to "
        "parse string as an integer; CREDIT_TRUSTED_PROXIES[0]: value is not a valid IPv4 or "
        "IPv6 network"
    )
    assert CANARY not in result.stderr
    assert not (tmp_path / "credit.sqlite3").exists()


def test_a_list_setting_that_is_not_json_is_named(tmp_path):
    result = credit(
        "clients",
        "list",
        CREDIT_TRUSTED_PROXIES=CANARY,
        CREDIT_DATABASE_URL=f"sqlite:///{tmp_path}/credit.sqlite3",
    )
    assert result.returncode == EXIT_CONFIG
    assert one_line(result) == (
        'credit: bad setting: CREDIT_TRUSTED_PROXIES: not a JSON list (e.g. ["a", "b"])'
    )
    assert CANARY not in result.stderr


def test_serve_with_an_identity_provider_but_no_secret_stops_at_once(tmp_path):
    result = credit(
        "serve",
        "--port",
        "1",
        CREDIT_CONSOLE_IDENTITY_PROVIDER="oidc",
        CREDIT_OIDC_ISSUER="https://tyrz.example.gov.cn",
        CREDIT_OIDC_CLIENT_ID=CANARY,
        CREDIT_OIDC_ROLE_MAP='{"XYJT_CX": "agency"}',
        CREDIT_DATABASE_URL=f"sqlite:///{tmp_path}/credit.sqlite3",
    )
    assert result.returncode == EXIT_CONFIG
    assert one_line(result) == (
        "credit: bad setting: CREDIT_CONSOLE_IDENTITY_PROVIDER=oidc needs CREDIT_OIDC_CLIENT_SECRET"
    )
    assert CANARY not in result.stderr
    assert not (tmp_path / "credit.sqlite3").exists()


def test_a_role_map_that_is_not_json_is_named(tmp_path):
    result = credit(
        "clients",
        "list",
        CREDIT_OIDC_ROLE_MAP=CANARY,
        CREDIT_DATABASE_URL=f"sqlite:///{tmp_path}/credit.sqlite3",
    )
    assert result.returncode == EXIT_CONFIG
    assert one_line(result) == (
        'credit: bad setting: CREDIT_OIDC_ROLE_MAP: not a JSON object (e.g. {"XYJT_CX": "agency"})'
    )
    assert CANARY not in result.stderr


def test_a_database_url_that_does_not_parse_does_not_echo_its_password():
    result = credit("migrate", CREDIT_DATABASE_URL=f"postgresql://credit:{CANARY}@db:port/x")
    assert result.returncode == EXIT_CONFIG
    assert one_line(result) == (
        "credit: bad setting: CREDIT_DATABASE_URL: not a database URL: use sqlite:///path or "
        "postgresql://user@host/name"
    )
    assert CANARY not in result.stderr


def test_migrate_against_an_unreachable_database_is_one_line_within_seconds():
    """The attack: a 270-line traceback after the event store's pool had waited 5 s."""
    started = time.monotonic()
    baseline = credit("--help")  # the interpreter and the imports alone, on this busy machine
    startup = time.monotonic() - started
    assert baseline.returncode == 0
    started = time.monotonic()
    result = credit("migrate", CREDIT_DATABASE_URL=UNREACHABLE)
    elapsed = time.monotonic() - started
    assert result.returncode == EXIT_UNAVAILABLE
    assert one_line(result) == (
        'credit: database unreachable: connection failed: connection to server at "127.0.0.1", '
        "port 1 failed: Connection refused"
    )
    assert elapsed < startup + 3, (elapsed, startup)


@pytest.mark.parametrize("args", [["worker"], ["clients", "list"], ["serve", "--port", "1"]])
def test_other_commands_against_an_unreachable_database_are_one_line(args):
    result = credit(*args, CREDIT_DATABASE_URL=UNREACHABLE)
    assert result.returncode == EXIT_UNAVAILABLE
    assert one_line(result).startswith("credit: database unreachable: connection failed:")


def test_a_database_that_does_not_exist_is_one_line(postgres_database):
    from sqlalchemy import make_url

    missing = make_url(postgres_database).set(database="credit_no_such_database")
    result = credit("migrate", CREDIT_DATABASE_URL=missing.render_as_string(hide_password=False))
    assert result.returncode == EXIT_UNAVAILABLE
    assert 'database "credit_no_such_database" does not exist' in one_line(result)


def test_a_missing_import_file_is_one_line(tmp_path):
    result = credit(
        "import",
        str(tmp_path / "missing.csv"),
        CREDIT_DATABASE_URL=f"sqlite:///{tmp_path}/credit.sqlite3",
    )
    assert result.returncode == EXIT_NO_INPUT
    assert one_line(result) == (
        f"credit: cannot open a file: No such file or directory: {tmp_path / 'missing.csv'}"
    )


def test_a_missing_policy_file_is_one_line(tmp_path):
    result = credit(
        "clients",
        "list",
        CREDIT_POLICY_FILE=str(tmp_path / "policy.toml"),
        CREDIT_DATABASE_URL=f"sqlite:///{tmp_path}/credit.sqlite3",
    )
    assert result.returncode == EXIT_CONFIG
    assert one_line(result) == (
        "credit: bad policy file: policy.toml: cannot read the policy file: "
        "No such file or directory"
    )


def test_settings_never_show_their_keys():
    settings = Settings(subject_id_key=CANARY, key_encryption_key=CANARY)
    assert CANARY not in repr(settings) + str(settings) + settings.model_dump_json()
    assert settings.subject_id_key.get_secret_value() == CANARY


def test_a_settings_error_names_the_setting_and_the_reason_only():
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as refused:
        Settings(environment="production", subject_id_key=CANARY)
    described = describe(refused.value)
    assert described == "CREDIT_KEY_ENCRYPTION_KEY must be set in production"
    assert CANARY[-6:] in str(refused.value)  # what pydantic's own message would have shown
    assert issubclass(SettingsError, ValueError)
