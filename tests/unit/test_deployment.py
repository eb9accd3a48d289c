"""compose.yaml and the Dockerfile, read as files (no Docker here): every setting production
requires is given to each process of the service from the env file, each command they run is a
`credit` command that exists, each health check asks a route that exists, and the image installs
the locked runtime dependencies by hash, in stages, as a user that is not root."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from pydantic import ValidationError

from service.cli import GENERATED_SECRETS, app
from service.settings import Settings
from tests.unit.test_architecture import locked_versions

pytestmark = pytest.mark.domain
ROOT = Path(__file__).resolve().parents[2]
SERVICE_PROCESSES = ("migrate", "api", "worker", "deliver")
INTERPOLATION = re.compile(r"\$\{(\w+)(?::?[?-][^}]*)?\}")


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def interpolated(value: str, env: dict[str, str]) -> str:
    """A value as compose makes it from the env file; a variable without one fails (`:?`)."""

    def substitute(match: re.Match[str]) -> str:
        return env[match.group(1)]

    return INTERPOLATION.sub(substitute, value)


def env_file() -> dict[str, str]:
    """What `credit generate-env` writes: a fresh value for each secret."""
    return {name: f"{name.lower()}-{'x' * 40}" for name in GENERATED_SECRETS}


def service_environment(service: dict[str, Any], env: dict[str, str]) -> dict[str, str]:
    return {name: interpolated(str(value), env) for name, value in service["environment"].items()}


def settings_from(environment: dict[str, str]) -> Settings:
    """The settings a process gets from these CREDIT_* variables (and no others)."""
    return Settings.model_validate(
        {name.removeprefix("CREDIT_").lower(): value for name, value in environment.items()}
    )


def credit_commands() -> Any:
    """The CLI as its command tree (typer's click groups: a group has `commands`)."""
    return typer.main.get_command(app)


def is_credit_command(argv: list[str]) -> bool:
    """`credit SUB [SUB ...] [--options]` names commands the CLI has."""
    assert argv[0] == "credit", argv
    group = credit_commands()
    for word in argv[1:]:
        if word.startswith("-") or not hasattr(group, "commands"):
            break
        found = group.commands.get(word)
        if found is None:
            return False
        group = found
    return not hasattr(group, "commands")  # a command, not a group left without one


def health_paths(test: list[str] | str) -> list[str]:
    text = test if isinstance(test, str) else " ".join(test)
    return re.findall(r"http://127\.0\.0\.1:\d+(/[\w/-]*)", text)


def app_routes() -> set[str]:
    from api.app import create_app

    return set(create_app(Settings()).openapi()["paths"])


def test_every_setting_production_requires_is_given_to_each_process_from_the_env_file():
    services = compose()["services"]
    env = env_file()
    for name in SERVICE_PROCESSES:
        environment = service_environment(services[name], env)
        assert environment["CREDIT_ENVIRONMENT"] == "production", name
        settings = settings_from(environment)
        assert settings.environment == "production"
        # every secret comes from the env file, none is written in compose.yaml itself
        for secret in ("CREDIT_SUBJECT_ID_KEY", "CREDIT_KEY_ENCRYPTION_KEY"):
            assert "${" + secret in services[name]["environment"][secret], (name, secret)
        assert env["POSTGRES_PASSWORD"] in environment["CREDIT_DATABASE_URL"]
    assert "${POSTGRES_PASSWORD" in services["postgres"]["environment"]["POSTGRES_PASSWORD"]


def test_without_the_env_file_compose_refuses_to_start():
    """A `${NAME:?...}` variable stops compose with its message when the env file lacks it."""
    services = compose()["services"]
    for name in SERVICE_PROCESSES:
        for value in services[name]["environment"].values():
            for variable in INTERPOLATION.finditer(str(value)):
                assert variable.group(0).startswith("${" + variable.group(1) + ":?"), value
                assert variable.group(1) in GENERATED_SECRETS


def test_production_settings_missing_a_key_are_refused_as_compose_would_give_them():
    environment = service_environment(compose()["services"]["api"], env_file())
    del environment["CREDIT_KEY_ENCRYPTION_KEY"]
    with pytest.raises(ValidationError, match="CREDIT_KEY_ENCRYPTION_KEY must be set"):
        settings_from(environment)


def test_the_processes_run_credit_commands_that_exist_in_order():
    services = compose()["services"]
    assert services["migrate"]["command"] == ["credit", "migrate"]
    assert services["migrate"]["restart"] == "no"
    assert services["api"]["command"][:2] == ["credit", "serve"]
    assert services["worker"]["command"] == ["credit", "worker"]
    assert services["deliver"]["command"] == ["credit", "deliver"]
    for name in ("api", "worker", "deliver"):
        assert services[name]["restart"] == "unless-stopped"
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }
        environment = services[name]["environment"]
        # several API processes: migrations and projections are the other services' work
        assert environment["CREDIT_MIGRATE_ON_START"] == "false"
        assert environment["CREDIT_RUN_PROJECTIONS_IN_API"] == "false"
    for name in SERVICE_PROCESSES:
        assert is_credit_command(services[name]["command"]), name
    assert is_credit_command(services["worker"]["healthcheck"]["test"][1:])
    assert not is_credit_command(["credit", "no-such-command"])
    assert not is_credit_command(["credit", "projections"])  # a group, not a command


def test_health_checks_ask_routes_the_api_has():
    services = compose()["services"]
    routes = app_routes()
    [api_path] = health_paths(services["api"]["healthcheck"]["test"])
    assert api_path == "/readyz" and api_path in routes
    assert services["postgres"]["healthcheck"]["test"][1] == "pg_isready"
    [image_path] = health_paths(dockerfile_instruction("HEALTHCHECK"))
    assert image_path == "/livez" and image_path in routes


def dockerfile_lines() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text()
    text = re.sub(r"\\\n", " ", text)
    return [line.strip() for line in text.splitlines() if line.strip() and line[0] != "#"]


def dockerfile_instruction(name: str) -> str:
    [line] = [line for line in dockerfile_lines() if line.split()[0] == name]
    return line


def test_the_image_is_built_in_stages_from_a_pinned_base_and_runs_as_a_user():
    lines = dockerfile_lines()
    base = next(line.split("=", 1)[1] for line in lines if line.startswith("ARG PYTHON_IMAGE="))
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base), base
    stages = [line for line in lines if line.startswith("FROM ")]
    assert len(stages) >= 2
    assert all(line.split()[1] == "${PYTHON_IMAGE}" for line in stages)
    user = dockerfile_instruction("USER").split()[1]
    assert user not in ("root", "0")
    assert "--from=dependencies /opt/venv" in " ".join(lines)
    [install] = [line for line in lines if "pip install" in line]
    argv = shlex.split(install.split("&&")[-1])
    assert "--require-hashes" in argv and "requirements-runtime.lock" in argv[-1]
    assert is_credit_command(json.loads(dockerfile_instruction("CMD").split(None, 1)[1]))


def test_the_runtime_lock_pins_what_the_service_needs_at_the_versions_of_the_full_lock():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = locked_versions((ROOT / "requirements-runtime.lock").read_text())
    full = locked_versions((ROOT / "requirements.lock").read_text())
    needed = [*project["dependencies"], *project["optional-dependencies"]["tracing"]]
    for line in needed:
        needed_name = canonicalize_name(Requirement(line).name)
        assert needed_name in runtime, f"{needed_name}: refresh requirements-runtime.lock (README)"
    for name, version in runtime.items():
        assert full.get(name) == version, f"{name}: the two locks differ; refresh both"
    for test_tool in ("pytest", "selenium", "mypy"):
        assert test_tool not in runtime


def test_generate_env_writes_every_secret_once_and_never_overwrites(tmp_path):
    from typer.testing import CliRunner

    target = tmp_path / ".env"
    result = CliRunner().invoke(app, ["generate-env", "--output", str(target)])
    assert result.exit_code == 0, result.output
    values = dict(
        line.split("=", 1) for line in target.read_text().splitlines() if not line.startswith("#")
    )
    assert sorted(values) == sorted(GENERATED_SECRETS)
    assert all(len(value) >= 60 for value in values.values())
    assert len(set(values.values())) == len(values)
    assert target.stat().st_mode & 0o077 == 0
    again = CliRunner().invoke(app, ["generate-env", "--output", str(target)])
    assert again.exit_code == 2
    assert (
        dict(
            line.split("=", 1)
            for line in target.read_text().splitlines()
            if not line.startswith("#")
        )
        == values
    )
