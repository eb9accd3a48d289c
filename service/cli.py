"""The `credit` command: serve the API, run the projection worker, migrate, rebuild, import."""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from projections.runner import ProjectionFailed
from service.access.administration import Administration, cli_actor
from service.audit_cli import audit_app
from service.bootstrap import build_command_services, build_services
from service.logs import configure_logging, logging_config
from service.metrics import MULTIPROCESS_DIRECTORY
from service.operator_errors import operator_error
from service.readiness import readiness
from service.settings import get_settings
from service.store.database import Database
from service.store.migrations import upgrade
from service.tracing import check_tracing_available, start_tracing

app = typer.Typer(
    help="Transport credit records (信用交通): service commands.",
    no_args_is_help=True,
    add_completion=False,
    # A program fault keeps its traceback, but never with local variables (settings, secrets).
    pretty_exceptions_show_locals=False,
)
console = Console(stderr=True)
T = TypeVar("T")
WORKER_PING_SECONDS = 60
# Each process of a partitioned rebuild holds two or three connections of the server's.
MAX_REBUILD_PARTITIONS = 32
# Each process of an import by several holds the service's pools, as a CLI command does.
MAX_IMPORT_PROCESSES = 16
# What `credit generate-env` writes: the secrets compose.yaml takes from the env file.
GENERATED_SECRETS = (
    "CREDIT_SUBJECT_ID_KEY",
    "CREDIT_KEY_ENCRYPTION_KEY",
    "CREDIT_METRICS_TOKEN",
    "POSTGRES_PASSWORD",
)


def _configure_logging() -> None:
    configure_logging(get_settings().log_format)


@app.command()
def migrate() -> None:
    """Prepare the database: event store tables, then `alembic upgrade head`."""
    database = Database.from_url(get_settings().database_url)
    database.check_reachable()
    upgrade(database)
    console.print(f"[green]database ready[/green]: {database.url!r}")


@app.command("grant-service-role")
def grant_service_role(
    role: Annotated[str, typer.Argument(help="an existing PostgreSQL role")],
    apply: Annotated[bool, typer.Option(help="run the statements (else print them)")] = False,
) -> None:
    """The least privileges the service needs on PostgreSQL: no DELETE or TRUNCATE on stored
    history. Run as the tables' owner; start the service as ROLE with
    CREDIT_MIGRATE_ON_START=false."""
    from sqlalchemy import create_engine, text

    from service.store.database_roles import service_role_grants

    statements = service_role_grants(role)
    database = Database.from_url(get_settings().database_url)
    if not apply or database.is_sqlite:
        print(";\n".join(statements) + ";")
        return
    database.check_reachable()
    engine = create_engine(database.sync_url())
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()
    console.print(f"granted {len(statements)} privileges to {role}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    demo: Annotated[bool, typer.Option(help="seed demo data into an empty store first")] = False,
    workers: Annotated[int, typer.Option(help="API worker processes")] = 1,
) -> None:
    """Run the HTTP API (with the projection runner in-process unless configured otherwise)."""
    import uvicorn

    _configure_logging()
    settings = get_settings()
    if demo and settings.environment == "production":
        console.print(
            "[red]refused[/red]: demo mode (demo data, demo clients) is not for production"
        )
        raise typer.Exit(2)
    Database.from_url(settings.database_url).check_reachable()
    if settings.tracing:
        check_tracing_available()
    metrics_directory = None
    if workers > 1 and not os.environ.get(MULTIPROCESS_DIRECTORY):
        # Each worker process writes its metrics to files there; /metrics adds them up.
        metrics_directory = tempfile.mkdtemp(prefix="credit-metrics-")
        os.environ[MULTIPROCESS_DIRECTORY] = metrics_directory
    url = f"http://{host}:{port}"
    example = _seed_demo_if_empty() if demo else None
    agency_secret = _print_demo_clients() if demo else None
    if demo:
        _print_demo_accounts(url)
    console.print(
        f"[bold]credit service[/bold] on {url}  ·  OpenAPI docs: {url}/docs  ·  "
        f"database: {Database.from_url(settings.database_url).url!r}",
        soft_wrap=True,
    )
    if agency_secret:
        console.print("try, as the demo agency:", soft_wrap=True)
        print(
            f"  TOKEN=$(curl -s -u demo-agency:{agency_secret} -d grant_type=client_credentials "
            f"{url}/oauth/token | python3 -c 'import json,sys; "
            'print(json.load(sys.stdin)["access_token"])\')'
        )
        print(
            f'  curl -s -X POST {url}/v1/status:batch -H "Authorization: Bearer $TOKEN" '
            f"-H 'content-type: application/json' -d '{{\"codes\": [\"{example or ''}\"]}}'",
            flush=True,
        )
    uvicorn.run(
        "api.app:create_served_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=logging_config(settings.log_format),
        # api/observability.py logs each request by its route template, with its request id;
        # uvicorn's access log would print raw paths, query strings and the caller's address.
        access_log=False,
        # uvicorn kills a worker process that does not answer its ping within this many seconds
        # and starts another: its default, 5, killed every worker still importing or building
        # its services on a machine whose cores were busy, again and again for minutes.
        timeout_worker_healthcheck=WORKER_PING_SECONDS,
        # uvicorn would believe X-Forwarded-For from any loopback peer; the app reads it itself,
        # from CREDIT_TRUSTED_PROXIES only (api/app.py).
        proxy_headers=False,
    )
    if metrics_directory is not None:
        shutil.rmtree(metrics_directory, ignore_errors=True)


def _seed_demo_if_empty() -> str | None:
    """Seed demo data into an empty store; returns an example enterprise code to query."""
    from datetime import datetime

    from service.clock import FixedClock
    from service.demo.generator import seed_demo

    # The demo's records are back-dated: the services run on a clock the seeding moves.
    clock = FixedClock(datetime.now(UTC), get_settings().zone)
    services = build_command_services(clock=clock)
    try:
        if services.ledger.recorder.max_notification_id():
            console.print("demo data: the store already has events; not seeding")
            return None
        started = time.perf_counter()
        summary = seed_demo(services.files, clock, cases=services.cases)
        services.runner.catch_up()
        console.print(
            f"demo data: {sum(summary.subjects_by_kind.values())} subjects, "
            f"{sum(summary.records_by_type.values())} records, "
            f"{sum(summary.cases_by_kind.values())} repair and objection cases in "
            f"{time.perf_counter() - started:.1f}s"
        )
        for kind, example in summary.example_codes.items():
            console.print(f"  example {kind}: {example}")
        return summary.example_codes.get("enterprise")
    finally:
        services.close_sync()


DEMO_ROLES = ("admin", "recorder", "agency", "auditor", "credit_office")
DEMO_ACTOR = "demo-bootstrap"


def _administer(act: Callable[[Administration], T]) -> T:
    """One act of administration, as the operator at this terminal (`cli_actor`): a refusal
    (ClientError: an unknown role, a duplicate, a wrong grant ...) is printed and exits 2."""
    from service.access.clients import ClientError

    services = build_command_services()
    try:
        return act(services.administration)
    except ClientError as error:
        console.print(f"[red]refused[/red]: {error}")
        raise typer.Exit(2) from None
    finally:
        services.close_sync()


def _print_outcome(outcome) -> None:
    """A pending approval, or the secret of what was done."""
    from service.access.administration import Pending

    if isinstance(outcome, Pending):
        console.print(
            f"{outcome.action} {outcome.target}: waits for a different administrator "
            f"(four eyes): `credit admin approve {outcome.approval_id}` as another OS user, or "
            f"POST /v1/admin/approvals/{outcome.approval_id}:approve"
        )
        print(f"approval_id={outcome.approval_id}")
        return
    if outcome.account is not None:
        account = outcome.account
        if outcome.action == "create-account":
            console.print(f"created account {account.name} ({account.role})")
        if outcome.secret is None:  # vouched for by an identity provider: no password here
            console.print(f"admitted account {account.name} ({account.role}, {account.provider})")
            return
        print(f"password={outcome.secret}")
        return
    if outcome.client is not None and outcome.action == "create-client":
        client = outcome.client
        console.print(
            f"created {client.client_id} ({client.role}, scopes {' '.join(client.scopes)})"
        )
    if outcome.secret is not None:
        print(f"client_secret={outcome.secret}")
    elif outcome.result:
        console.print(f"{outcome.action} {outcome.target}: done")


DEMO_ACCOUNTS = {  # role -> (sign-in name, display name)
    "recorder": ("demo.recorder", "演示记录员"),
    "agency": ("demo.agency", "演示查询员"),
    "auditor": ("demo.auditor", "演示审计员"),
    "admin": ("demo.admin", "演示管理员"),
    "credit_office": ("demo.credit-office", "演示信用办"),
}


def _demo_grants(role: str) -> dict[str, Any]:
    """What every demo client and console account is given: the demo agency, a recorder's
    authorities and sectors, and four eyes waived (demo mode refuses to run in production)."""
    from service.demo.generator import demo_recording_grants

    authority_codes, sectors = demo_recording_grants()
    recording = {"authority_codes": authority_codes, "sectors": sectors}
    return {
        "agency_name": "河南省交通运输厅（演示）",
        "agency_code": authority_codes[0],
        **(recording if role == "recorder" else {}),
        "four_eyes_waived": "demo mode",
    }


def _print_demo_accounts(url: str) -> None:
    """Demo mode, loudly: one console account per role, each with a fresh password printed
    here (and only here)."""
    print_whole_table(
        "DEMO MODE: console accounts (passwords renewed at every demo start)",
        ("sign-in name", "role", "password"),
        _demo_accounts(),
    )
    console.print(f"sign in to the staff console at {url}/console/", soft_wrap=True)


def _demo_accounts() -> list[tuple[str, str, str]]:
    """One console account per role, created or given a fresh password: (name, role,
    password) each. Logged as the demo bootstrap's, without a second administrator: demo mode
    refuses to run in production."""
    from service.access.administration import Done

    services = build_command_services(migrate=False)
    accounts = []
    admin = services.administration
    try:
        for role, (name, display_name) in DEMO_ACCOUNTS.items():
            if services.accounts.get(name) is None:
                done = admin.create_account(
                    DEMO_ACTOR, name, display_name, role, **_demo_grants(role)
                )
            else:
                done = admin.reset_password(DEMO_ACTOR, name, four_eyes_waived="demo mode")
            assert isinstance(done, Done) and done.secret is not None
            accounts.append((name, role, done.secret))
    finally:
        services.close_sync()
    return accounts


def _print_demo_clients() -> str:
    """Demo mode, loudly: one client per role, with fresh secrets printed here (and only here).
    Returns the demo agency's secret."""
    from service.access.administration import Done

    services = build_command_services(migrate=False)
    rows = []
    admin = services.administration
    try:
        for role in DEMO_ROLES:
            client_id = f"demo-{role}"
            # Logged in the admin log as the demo bootstrap's, without a second administrator:
            # demo mode refuses to run in production.
            if services.clients.get(client_id) is None:
                done = admin.create_client(DEMO_ACTOR, client_id, role, **_demo_grants(role))
            else:
                done = admin.reset_secret(DEMO_ACTOR, client_id, four_eyes_waived="demo mode")
            assert isinstance(done, Done) and done.secret is not None
            secret = done.secret
            rows.append((client_id, role, secret))
            if role == "agency":
                example_secret = secret
    finally:
        services.close_sync()
    print_whole_table(
        "DEMO MODE: demo clients (secrets renewed at every demo start)",
        ("client_id", "role", "secret"),
        rows,
    )
    return example_secret


def print_whole_table(
    title: str, columns: tuple[str, ...], rows: list[tuple[str, str, str]]
) -> None:
    """A table of names and secrets, never cut short: a narrow terminal (or none, 80 columns)
    would otherwise end a secret with "…", and a secret one cannot copy is no secret at all.
    The table is as wide as its longest cells; the terminal wraps it if it must."""
    from rich.table import Table

    table = Table(title=title)
    widths = [
        max([len(column), *(len(row[i]) for row in rows)]) for i, column in enumerate(columns)
    ]
    for column, width in zip(columns, widths, strict=True):
        table.add_column(column, no_wrap=True, min_width=width)
    for row in rows:
        table.add_row(*row)
    console.print(table, width=max(console.width, sum(widths) + 3 * len(columns) + 1), crop=False)


clients_app = typer.Typer(
    help="API clients: create, list, disable, reset a secret.", no_args_is_help=True
)
accounts_app = typer.Typer(
    help="Staff accounts of the console: create, list, disable, reset a password.",
    no_args_is_help=True,
)
keys_app = typer.Typer(help="Token signing keys.", no_args_is_help=True)
admin_app = typer.Typer(
    help="Four-eyes approvals and refusals, erasure of personal data (each act in the admin log).",
    no_args_is_help=True,
)
app.add_typer(clients_app, name="clients")
app.add_typer(accounts_app, name="accounts")
app.add_typer(keys_app, name="keys")
app.add_typer(admin_app, name="admin")
app.add_typer(audit_app, name="audit")


@clients_app.command("create")
def create_client(
    client_id: Annotated[str, typer.Argument(help="e.g. zz-enforcement-recorder")],
    role: Annotated[str, typer.Option(help="recorder, agency, auditor, admin or credit_office")],
    agency_name: Annotated[str, typer.Option(help="the agency the client belongs to")],
    agency_code: Annotated[str, typer.Option(help="the agency's USCC")],
    authority_code: Annotated[
        list[str] | None, typer.Option(help="recorders: an authority code it records for")
    ] = None,
    sector: Annotated[list[str] | None, typer.Option(help="recorders: a sector")] = None,
) -> None:
    """Create a client; its secret is printed once and stored only as a hash. An auditor or
    admin client waits for a different administrator's approval (`credit admin approve`)."""
    outcome = _administer(
        lambda admin: admin.create_client(
            cli_actor(),
            client_id,
            role,
            agency_name,
            agency_code,
            authority_code or [],
            sector or [],
        )
    )
    _print_outcome(outcome)


@clients_app.command("list")
def list_clients() -> None:
    """Every client with its role, agency, grants and whether it is disabled."""
    services = build_command_services()
    try:
        for client in services.clients.all():
            state = "disabled" if client.disabled else "enabled"
            print(
                f"{client.client_id}\t{client.role}\t{state}\t{client.agency_name}\t"
                f"{','.join(client.authority_codes)}\t{','.join(client.sectors)}"
            )
    finally:
        services.close_sync()


@clients_app.command("disable")
def disable_client(client_id: str) -> None:
    """Disable a client: its tokens stop working within CREDIT_CLIENT_CACHE_SECONDS."""
    _administer(lambda admin: admin.disable_client(cli_actor(), client_id))
    console.print(f"{client_id} disabled")


@clients_app.command("reset-secret")
def reset_secret(client_id: str) -> None:
    """Give a client a new secret (printed once); the old one stops working at once. For an
    auditor or admin client this waits for a different administrator's approval."""
    outcome = _administer(lambda admin: admin.reset_secret(cli_actor(), client_id))
    _print_outcome(outcome)


@accounts_app.command("create")
def create_account(
    name: Annotated[str, typer.Argument(help="the sign-in name, e.g. zhang.wei")],
    display_name: Annotated[str, typer.Option(help="the person's name, e.g. 张伟")],
    role: Annotated[str, typer.Option(help="recorder, agency, auditor, admin or credit_office")],
    agency_name: Annotated[str, typer.Option(help="the agency the person works for")],
    agency_code: Annotated[str, typer.Option(help="the agency's USCC")],
    authority_code: Annotated[
        list[str] | None, typer.Option(help="recorders: an authority code they record for")
    ] = None,
    sector: Annotated[list[str] | None, typer.Option(help="recorders: a sector")] = None,
) -> None:
    """Create a console account; its first password is printed once. An auditor or admin
    account (the first administrator's too) waits for a different administrator's approval
    (`credit admin approve`)."""
    outcome = _administer(
        lambda admin: admin.create_account(
            cli_actor(),
            name,
            display_name,
            role,
            agency_name,
            agency_code,
            authority_code or [],
            sector or [],
        )
    )
    _print_outcome(outcome)


@accounts_app.command("list")
def list_accounts() -> None:
    """Every account with its role, agency, provider and whether it is disabled."""
    services = build_command_services()
    try:
        for account in services.accounts.all():
            state = "disabled" if account.disabled else "enabled"
            print(
                f"{account.name}\t{account.role}\t{state}\t{account.provider}\t"
                f"{account.display_name}\t{account.agency_name}"
            )
    finally:
        services.close_sync()


@accounts_app.command("disable")
def disable_account(name: str) -> None:
    """Disable an account: its sessions end at once and it can no longer sign in."""
    _administer(lambda admin: admin.disable_account(cli_actor(), name))
    console.print(f"{name} disabled")


@accounts_app.command("reset-password")
def reset_password(name: str) -> None:
    """A new password (printed once); the old one and every session end at once. For an
    auditor or admin account this waits for a different administrator's approval."""
    outcome = _administer(lambda admin: admin.reset_password(cli_actor(), name))
    _print_outcome(outcome)


@keys_app.command("rotate")
def rotate_keys() -> None:
    """Sign new tokens with a new key; the old key stays published until its tokens expire."""
    services = build_command_services()
    try:
        kid = services.administration.rotate_signing_key(cli_actor())
    finally:
        services.close_sync()
    console.print(f"new signing key {kid}")


@admin_app.command("approvals")
def list_approvals() -> None:
    """Acts waiting for a second administrator: id, act, target, who asked, and why (an
    erasure's stated ground)."""
    services = build_command_services()
    try:
        for row in services.administration.approvals():
            reason = row["request"].get("reason") or ""
            print(
                f"{row['approval_id']}\t{row['action']}\t{row['target']}\t"
                f"{row['requested_by']}\t{reason}"
            )
    finally:
        services.close_sync()


@admin_app.command("approve")
def approve(approval_id: Annotated[str, typer.Argument(help="from the request's answer")]) -> None:
    """Approve an act another administrator asked for (not your own: four eyes); it is carried
    out now, and a created client's or reset secret is printed once."""
    from uuid import UUID

    from domain.errors import DomainError
    from service.access.administration import NoPersonalData
    from service.access.clients import ClientError

    try:
        wanted = UUID(approval_id)
    except ValueError:
        console.print(f"[red]refused[/red]: {approval_id!r} is not an approval id")
        raise typer.Exit(2) from None
    services = build_command_services()
    try:
        outcome = services.administration.approve(cli_actor(), wanted)
    except (DomainError, ClientError, NoPersonalData) as error:
        console.print(f"[red]refused[/red]: {getattr(error, 'detail', error)}")
        raise typer.Exit(2) from None
    finally:
        services.close_sync()
    _print_outcome(outcome)


@admin_app.command("refuse")
def refuse(
    approval_id: Annotated[str, typer.Argument(help="from the request's answer")],
    reason: Annotated[str, typer.Option(help="why (4-200 characters), kept in the admin log")],
) -> None:
    """Refuse an act another administrator asked for (not your own: four eyes); it is never
    carried out."""
    from uuid import UUID

    from domain.errors import DomainError
    from service.access.administration import ReasonRequired

    try:
        wanted = UUID(approval_id)
    except ValueError:
        console.print(f"[red]refused[/red]: {approval_id!r} is not an approval id")
        raise typer.Exit(2) from None
    services = build_command_services()
    try:
        refused = services.administration.refuse(cli_actor(), wanted, reason)
    except (DomainError, ReasonRequired) as error:
        console.print(f"[red]refused[/red]: {getattr(error, 'detail', error)}")
        raise typer.Exit(2) from None
    finally:
        services.close_sync()
    console.print(f"{refused.action} {refused.target}: refused; it will not be carried out")


@admin_app.command("erase-personal-data")
def erase_personal_data(
    subject_id: Annotated[str, typer.Argument(help="the subject whose data key is destroyed")],
    reason: Annotated[
        str,
        typer.Option(help="the ground for erasure (个人信息保护法 art. 47), 4-200 characters"),
    ],
) -> None:
    """Ask to destroy a subject's data key (crypto-shredding, cannot be undone); a different
    administrator approves it with `credit admin approve`, or refuses it."""
    from uuid import UUID

    from service.access.administration import NoPersonalData, ReasonRequired

    try:
        subject = UUID(subject_id)
    except ValueError:
        console.print(f"[red]refused[/red]: {subject_id!r} is not a subject id")
        raise typer.Exit(2) from None
    services = build_command_services()
    try:
        outcome = services.administration.erase_personal_data(cli_actor(), subject, reason)
    except NoPersonalData:
        console.print("[red]refused[/red]: this subject has no sealed personal data left")
        raise typer.Exit(2) from None
    except ReasonRequired as error:
        console.print(f"[red]refused[/red]: {error}")
        raise typer.Exit(2) from None
    finally:
        services.close_sync()
    _print_outcome(outcome)


@app.command()
def worker() -> None:
    """Run the projection runner alone (set CREDIT_RUN_PROJECTIONS_IN_API=false on the API). A
    projector that fails stops alone (see `credit projections status`); the worker goes on.
    With CREDIT_NATS_URL set, it also publishes the public changes to NATS JetStream."""
    _configure_logging()
    if get_settings().tracing:
        start_tracing()
    services = build_command_services()
    signal.signal(signal.SIGTERM, lambda *_: services.runner.stop())
    logging.getLogger("service.cli").info(
        "projection worker following the log from position %d", services.runner.position()
    )
    services.checkpoint_schedule.start()
    # The day's close, shortly after each midnight, and the days missed while down.
    services.day_close_schedule.start()
    if services.settings.deliver_webhooks_in_worker:
        services.deliveries.start()
    from service.notifications.jetstream import NatsPublisher  # nats: only where it publishes

    publisher = NatsPublisher.configured(services.settings, services.write_engine)
    if publisher is not None:
        console.print(
            f"publishing public changes to stream {publisher.layout.stream} at {publisher.url}"
        )
        publisher.start()
    try:
        services.runner.run_forever()
    except KeyboardInterrupt:
        services.runner.stop()
    finally:
        if publisher is not None:
            publisher.stop()
        services.close_sync()
    if services.runner.crash is not None:
        raise typer.Exit(1)


@app.command("close-day")
def close_day(
    day: Annotated[
        str | None,
        typer.Option(help="the day to close up to, YYYY-MM-DD (default: today in CREDIT_TIMEZONE)"),
    ] = None,
) -> None:
    """Record the day's close (日结) up to DAY, each day not closed yet in order, as `credit
    worker` does shortly after each midnight: what time alone changes on a day (a rating's
    validity over, a list entry at its planned end, a commitment falling due) is told that day
    (docs/notifications.md). A day closed before is not closed again; a day not begun is refused."""
    from datetime import date

    from domain.errors import RuleViolated
    from domain.rule_texts import rule_text_zh

    try:
        up_to = date.fromisoformat(day) if day is not None else None
    except ValueError:
        console.print(f"[red]refused[/red]: --day {day!r} is no date written YYYY-MM-DD")
        raise typer.Exit(2) from None
    services = build_command_services()
    try:
        closed = services.day_closes.close(up_to)
        last = services.day_closes.last_closed()
    except RuleViolated as error:
        console.print(
            f"[red]refused[/red] ({error.rule}): {rule_text_zh(error.rule)} {error.detail}"
        )
        raise typer.Exit(2) from None
    finally:
        services.close_sync()
    for each in closed:
        state = "closed" if each.created else "already closed"
        console.print(f"{each.day}: {state} at log position {each.position}")
    if not closed:
        console.print(f"nothing to close: the days are closed up to {last[0] if last else '-'}")


@app.command()
def deliver() -> None:
    """Deliver the webhooks of subscriptions (docs/notifications.md): fills delivery rows from
    the changes outbox and sends them, with retries. Several may run at once on PostgreSQL;
    on SQLite run one. Stopped by SIGTERM or Ctrl-C between two batches; a batch cut off
    mid-send is sent again, each delivery under its own webhook-id, after its lease."""
    _configure_logging()
    services = build_command_services()
    signal.signal(signal.SIGTERM, lambda *_: services.deliveries.stop())
    console.print("webhook delivery worker started")
    try:
        services.deliveries.run_forever()
    except KeyboardInterrupt:
        pass
    finally:
        services.close_sync()


@app.command("publish-nats")
def publish_nats() -> None:
    """Publish the public changes to NATS JetStream (CREDIT_NATS_URL, CREDIT_NATS_STREAM,
    CREDIT_NATS_PARTITIONS) until stopped, from the stream's cursor; the stream is created or
    updated first. `credit worker` does the same beside the projections when configured."""
    from service.notifications.jetstream import NatsPublisher

    _configure_logging()
    services = build_command_services(migrate=False)
    publisher = NatsPublisher.configured(services.settings, services.write_engine)
    if publisher is None:
        services.close_sync()
        console.print("[red]refused[/red]: CREDIT_NATS_URL is not set: there is no broker")
        raise typer.Exit(2)
    signal.signal(signal.SIGTERM, lambda *_: publisher.stop(timeout=0))
    console.print(
        f"publishing public changes to stream {publisher.layout.stream} at {publisher.url}, "
        f"from position {publisher.outbox.cursor()}"
    )
    publisher.start()
    try:
        while publisher.running:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        publisher.stop()
        services.close_sync()
    if publisher.crash is not None:
        raise typer.Exit(1)


projections_app = typer.Typer(
    help="Read models: each projector's position and failure; resume or skip a failed one.",
    no_args_is_help=True,
)
app.add_typer(projections_app, name="projections")


@projections_app.command("status")
def projections_status() -> None:
    """Each projector: position, lag, the event it failed on (with the error), its skips."""
    services = build_command_services(migrate=False)
    try:
        head = services.ledger.recorder.max_notification_id() or 0
        states, skips = services.runner.states(), services.runner.skips()
    finally:
        services.close_sync()
    for name, state in states.items():
        line = f"{name}\tposition {state.position}\tlag {head - state.position}"
        if state.failure is not None:
            f = state.failure
            line += (
                f"\tFAILED on {f.position} ({f.event_type}) at {f.at:%Y-%m-%d %H:%M:%S}: {f.error}"
            )
        print(line)
        for skip in (s for s in skips if s.projector == name):
            print(
                f"  skipped {skip.position} ({skip.event_type}) by {skip.skipped_by} "
                f"at {skip.at:%Y-%m-%d %H:%M:%S}: {skip.reason}"
            )


@projections_app.command("ready")
def projections_ready() -> None:
    """Exit 0 when the migrations are at head and every projector runs within
    CREDIT_READY_MAX_LAG events of the log (what GET /readyz answers); else print why, exit 1.
    The worker's health check."""
    settings = get_settings()
    services = build_command_services(migrate=False)
    try:
        head = services.ledger.recorder.max_notification_id() or 0
        state = readiness(services.write_engine, services.runner, head, settings.ready_max_lag)
    finally:
        services.close_sync()
    if not state.ready:
        for reason in state.reasons:
            print(f"not ready: {reason}")
        raise typer.Exit(1)
    print(f"ready: log head {head}")


@app.command("generate-env")
def generate_env(
    output: Annotated[Path, typer.Option("--output", "-o", help="the file to write")] = Path(
        ".env"
    ),
) -> None:
    """Write a new env file for compose.yaml: fresh random secrets for every setting production
    requires (and the database password, the metrics token). Refuses to overwrite a file: new
    keys would orphan every subject id and every wrapped key made with the old ones."""
    if output.exists():
        console.print(f"[red]refused[/red]: {output} exists; its keys are in use")
        raise typer.Exit(2)
    lines = [
        "# Secrets of the credit service (compose.yaml). Keep a copy offline: losing",
        "# CREDIT_SUBJECT_ID_KEY or CREDIT_KEY_ENCRYPTION_KEY loses the data they protect.",
        *(f"{name}={secrets.token_urlsafe(48)}" for name in GENERATED_SECRETS),
    ]
    output.write_text("\n".join(lines) + "\n")
    output.chmod(0o600)
    console.print(f"wrote {output} ({', '.join(GENERATED_SECRETS)})")


@projections_app.command("resume")
def projections_resume(
    name: Annotated[str, typer.Argument(help="the projector, e.g. cases")],
) -> None:
    """Clear a projector's recorded failure once its cause is fixed: the process that follows
    the log (API or worker) tries the event again within CREDIT_PROJECTION_POLL_SECONDS."""
    services = build_command_services(migrate=False)
    try:
        failure = services.runner.resume(name)
    except ValueError as error:
        console.print(f"[red]refused[/red]: {error}")
        raise typer.Exit(2) from None
    finally:
        services.close_sync()
    if failure is None:
        console.print(f"{name} was not stopped; nothing to resume")
        return
    logging.getLogger("service.cli").warning(
        "projector %s resumed at position %d (%s)", name, failure.position, failure.event_type
    )
    console.print(f"{name} resumed: the event at {failure.position} will be tried again")


@projections_app.command("skip")
def projections_skip(
    name: Annotated[str, typer.Argument(help="the projector, e.g. cases")],
    position: Annotated[int, typer.Option(help="the position it failed on (see status)")],
    reason: Annotated[str, typer.Option(help="why this event can never be projected")],
    by: Annotated[str, typer.Option(help="who decides (recorded with the skip)")],
) -> None:
    """Pass over the one event a projector failed on, when it can never be projected: recorded
    with its reason and author (a rebuild and a replay check pass over it too), then resumed.
    Its read model lacks that event's effect: say so to whoever relies on it."""
    _configure_logging()
    services = build_command_services(migrate=False)
    try:
        skip = services.runner.skip(name, position, reason=reason, by=by)
    except ValueError as error:
        console.print(f"[red]refused[/red]: {error}")
        raise typer.Exit(2) from None
    finally:
        services.close_sync()
    console.print(
        f"{name}: the event at {skip.position} ({skip.event_type}) is skipped; {name} resumes"
    )


@app.command()
def rebuild(
    compare: Annotated[
        bool,
        typer.Option(
            "--compare",
            help="compare the old and the new read models at the switch and name each "
            "difference (the live projection waits meanwhile)",
        ),
    ] = False,
    partitions: Annotated[
        int,
        typer.Option(
            min=1,
            max=MAX_REBUILD_PARTITIONS,
            help="processes building the new read models, each from one partition of the "
            "subjects (PostgreSQL; 1: this process alone; more only with cores to spare)",
        ),
    ] = 1,
) -> None:
    """Rebuild every read model from the start of the event log, beside the live ones, which
    keep answering queries; then switch to the new ones at once and drop the old
    (docs/operations.md)."""
    from service.replay.generations import rebuild_beside
    from service.replay.partitioned import PartitionBuildFailed

    services = build_command_services()
    # One process by default: on 2 cores shared with PostgreSQL two building processes ran at
    # 0.6 of one's rate (docs/benchmarks.md); partitions pay only with free cores.
    if partitions > 1 and services.database.is_sqlite:
        console.print("SQLite: the read models are built by this process alone")
    try:
        with _rebuild_progress() as progress:
            task = progress.add_task("rebuilding read models", total=None)
            report = rebuild_beside(
                services,
                lambda done, total: progress.update(task, completed=done, total=total),
                compare=compare,
                partitions=partitions,
            )
    except (ProjectionFailed, PartitionBuildFailed) as failed:
        console.print(f"[red]not switched, the read models are as they were[/red]: {failed}")
        raise typer.Exit(1) from None
    finally:
        services.close_sync()
    console.print(
        f"rebuilt from {report.events:,} events ({report.rate:,.0f} events/s) and switched in; "
        + ", ".join(f"{phase} {seconds:.1f}s" for phase, seconds in report.seconds.items())
    )
    if not report.compared:
        return
    for difference in report.differences[:200]:
        console.print(
            f"  {difference.table} {difference.key} (subject {difference.subject_id})"
            f": {difference.field}: old {difference.live!r} != rebuilt "
            f"{difference.replayed!r}"
        )
    if report.difference_count:
        console.print(
            f"[yellow]{report.difference_count} differences between the old read models and "
            "the rebuilt ones[/yellow]"
        )
    else:
        console.print("[green]the old read models equal the rebuilt ones[/green]")


@app.command("verify-replay")
def verify_replay() -> None:
    """Rebuild every read model into a scratch database and compare it with the live one,
    naming each difference by subject and field. Exit 1 if any."""
    from service.replay.check import verify_read_models

    services = build_command_services()
    started = time.perf_counter()
    try:
        with _progress() as progress:
            task = progress.add_task("replaying into a scratch database", total=None)
            report = verify_read_models(
                services,
                lambda done, total: progress.update(task, completed=done, total=total),
            )
    finally:
        services.close_sync()
    elapsed = time.perf_counter() - started
    console.print(
        f"replayed {report.events:,} events (to position {report.position:,}), compared "
        f"{report.rows_compared:,} rows in {elapsed:.1f}s (replay "
        f"{report.replay_rate:,.0f} events/s; "
        + ", ".join(f"{phase} {seconds:.1f}s" for phase, seconds in report.seconds.items())
        + ")"
    )
    for difference in report.differences[:200]:
        console.print(
            f"  {difference.table} {difference.key} (subject {difference.subject_id})"
            f": {difference.field}: live {difference.live!r} != replayed "
            f"{difference.replayed!r}"
        )
    if not report.ok:
        console.print(f"[red]{report.difference_count} differences[/red]")
        raise typer.Exit(1)
    console.print("[green]the read models equal a replay of the event log[/green]")


@app.command("run-replay-check", hidden=True)
def run_replay_check(check_id: str) -> None:
    """One background replay check, in the child process an API process starts for it
    (service/replay/jobs.py), with the settings as JSON on stdin. Exit 1 if it recorded no
    result."""
    from uuid import UUID

    from service.replay.jobs import run_check
    from service.settings import Settings

    _configure_logging()
    settings = Settings.model_validate_json(sys.stdin.read())
    signal.signal(signal.SIGTERM, _stop_replay_check)
    services = build_services(settings, migrate=False)
    try:
        recorded = run_check(services, UUID(check_id))
    finally:
        services.close_sync()
    if not recorded:
        raise typer.Exit(1)


def _stop_replay_check(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds: the scratch database is dropped, the row marked


@app.command("import")
def import_command(
    path: Annotated[
        Path,
        # Opened by the command, so that a missing file is one line like other operator errors.
        typer.Argument(help="CSV (UTF-8/GBK) or XLSX with CF_* or XK_* columns"),
    ],
    recorded_by: Annotated[
        str, typer.Option(help="client id the records are attributed to")
    ] = "cli-import",
    batch_size: Annotated[int, typer.Option(min=1, max=100_000)] = 1000,
    report_path: Annotated[
        Path | None,
        typer.Option(
            "--report",
            dir_okay=False,
            help="also write the rejected rows, with their cells, to this CSV for Excel/WPS",
        ),
    ] = None,
    processes: Annotated[
        int,
        typer.Option(
            min=1,
            max=MAX_IMPORT_PROCESSES,
            help="processes writing the rows, each those of one partition of the subjects "
            "(PostgreSQL; 1: this process alone; more only with cores to spare)",
        ),
    ] = 1,
) -> None:
    """Import a 双公示 batch file; prints the report (accepted, already present, rejected)."""
    from service.commanding.importing.batch import import_stream
    from service.commanding.importing.limits import ImportFileError, ImportLimits
    from service.commanding.importing.spreadsheet import CSV_ENCODING
    from service.partitioned_import import ImportProcessFailed, import_in_processes

    services = build_command_services()
    if processes > 1 and services.database.is_sqlite:
        console.print("SQLite: the rows are written by this process alone")
        processes = 1
    started = time.perf_counter()
    try:
        with path.open("rb") as stream, _progress() as progress:
            # The file is read through first (its rows set aside by subject), then written:
            # the rows to write are known by then, and so is the time left.
            reading = progress.add_task(f"reading {path.name}", total=None)
            task = progress.add_task(f"importing {path.name}", total=None, start=False)

            def read(rows: int) -> None:
                progress.update(reading, completed=rows)

            def done(rows: int) -> None:
                if not progress.tasks[task].started:
                    progress.update(reading, total=progress.tasks[reading].completed)
                    progress.start_task(task)
                progress.update(task, completed=rows, total=progress.tasks[reading].completed)

            if processes > 1:
                report = import_in_processes(
                    services.settings,
                    services.files,
                    stream,
                    path,
                    processes=processes,
                    recorded_by=recorded_by,
                    batch_size=batch_size,
                    keep_rejected_rows=report_path is not None,
                    on_progress=done,
                    on_reading=read,
                )
            else:
                report = import_stream(
                    stream,
                    path.name,
                    services.files,
                    recorded_by=recorded_by,
                    batch_size=batch_size,
                    on_progress=done,
                    on_reading=read,
                    keep_rejected_rows=report_path is not None,
                    limits=ImportLimits.from_settings(services.settings),
                )
    except ImportFileError as error:
        console.print(f"[red]import refused[/red]: {error}")
        raise typer.Exit(2) from None
    except ImportProcessFailed as failed:
        console.print(
            f"[red]import stopped[/red]: {failed}\nthe batches written stay; importing the "
            "same file again adds only the rows not yet there"
        )
        raise typer.Exit(1) from None
    finally:
        services.close_sync()
    elapsed = time.perf_counter() - started
    rejected = report.to_dict()["rejected_count"]
    console.print(
        f"{path.name}: {report.rows_read} rows read, {report.accepted} accepted, "
        f"{report.already_present} already present, {rejected} rejected "
        f"in {elapsed:.1f}s"
    )
    for rejection in report.rejected[:200]:
        console.print(f"  line {rejection.line}: {rejection.reason}")
    if rejected > 200:
        console.print(f"  ... and {rejected - 200} more")
    for rule, rows in sorted(report.severity_rules.items()):
        console.print(f"  severity by {rule}: {rows} row(s)")
    for flagged in report.flagged[:200]:
        console.print(f"  line {flagged.line} flagged: {flagged.flag}")
    if report.flagged_count > 200:
        console.print(f"  ... and {report.flagged_count - 200} more flagged")
    if report_path is not None:
        with report_path.open("w", encoding=CSV_ENCODING, newline="") as out:
            report.write_rejected_csv(out)
        console.print(f"rejected rows written to {report_path}")
    if report.rejected:
        raise typer.Exit(1)


class _EventRate(ProgressColumn):
    """Events per second over the last moments (rich's own speed column counts bytes)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} events/s" if speed else "")


def _rebuild_progress() -> Progress:
    """Events applied of those to apply, the rate and the time left."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("events"),
        _EventRate(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,} rows"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


def main() -> None:
    """Every command: an operator's error (bad setting, database unreachable, file missing) is
    one line on stderr and a non-zero exit code (service/operator_errors.py), not a traceback
    that might quote a setting's value."""
    try:
        app(sys.argv[1:])
    except Exception as error:
        known = operator_error(error)
        if known is None:
            raise
        message, code = known
        sys.stderr.write(f"credit: {message}\n")
        sys.exit(code)


if __name__ == "__main__":
    main()
