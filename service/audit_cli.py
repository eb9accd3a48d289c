"""`credit audit ...`: checkpoints, signed exports and the offline verifier."""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer
from rich.console import Console

from service.settings import DEFAULT_TIMEZONE

audit_app = typer.Typer(
    help="Tamper evidence: checkpoints, signed exports, offline verification.",
    no_args_is_help=True,
)
console = Console(stderr=True)


@audit_app.command("checkpoint")
def make_checkpoint() -> None:
    """Sign a checkpoint of the log now and print it as JSON (save it: it is what a later
    export is checked against)."""
    from service.bootstrap import build_command_services

    services = build_command_services()
    try:
        checkpoint = services.checkpoints.make()
    finally:
        services.close_sync()
    print(json.dumps(checkpoint.as_json(), indent=2))


@audit_app.command("keys")
def checkpoint_keys() -> None:
    """Print every key that has signed checkpoints (JSON; save it beside your checkpoints)."""
    from service.bootstrap import build_command_services

    services = build_command_services()
    try:
        print(json.dumps({"keys": services.checkpoints.public_keys()}, indent=2))
    finally:
        services.close_sync()


@audit_app.command("rotate-key")
def rotate_checkpoint_key() -> None:
    """Sign checkpoints with a new key from now on; the old one stays published for good."""
    from service.access.administration import cli_actor
    from service.bootstrap import build_command_services

    services = build_command_services()
    try:
        key_id = services.administration.rotate_checkpoint_key(cli_actor())
    finally:
        services.close_sync()
    console.print(f"new checkpoint key {key_id}")


@audit_app.command("export")
def export(
    output: Annotated[Path, typer.Option("--output", "-o", help="the NDJSON file to write")],
    subject: Annotated[
        UUID | None, typer.Option(help="one subject's events (default: the whole store)")
    ] = None,
    since_tree_size: Annotated[
        int | None,
        typer.Option(help="add a consistency proof from this tree size (your saved checkpoint)"),
    ] = None,
    purpose: Annotated[
        str, typer.Option(max=200, help="why, for the access log (at most 200 characters)")
    ] = "unspecified",
) -> None:
    """Write a signed NDJSON export with the checkpoint it matches. Logged in the access log
    first, as the API logs it, under "cli:<os user>"."""
    from service.access.access_log import NO_SUBJECT, AccessEntry
    from service.access.administration import cli_actor
    from service.bootstrap import build_command_services
    from service.integrity.export import ExportRangeError, export_lines, export_summary

    services = build_command_services()
    try:
        if subject is not None:
            with services.checkpoints.reader.connect() as conn:
                known = services.checkpoints.log.has_stream(conn, subject)
            if not known:
                console.print(f"[red]refused[/red]: no subject {subject}")
                raise typer.Exit(2)
        checkpoint = services.checkpoints.make()
        lines = export_lines(
            services.checkpoints,
            subject_id=subject,
            since_tree_size=since_tree_size,
            checkpoint=checkpoint,
        )
        try:
            first = next(lines)
        except ExportRangeError as error:
            console.print(f"[red]refused[/red]: {error}")
            raise typer.Exit(2) from None
        summary = export_summary(checkpoint, subject, since_tree_size)
        who = cli_actor()[:64]
        entry = AccessEntry(who, "operator", "", subject or NO_SUBJECT, "export", purpose, summary)
        services.access_log.append([entry])
        written = 1
        with output.open("wb") as out:
            out.write(first)
            for line in lines:
                out.write(line)
                written += 1
    finally:
        services.close_sync()
    console.print(f"wrote {written:,} lines to {output}")


@audit_app.command("verify-export")
def verify_export_command(
    export_file: Annotated[Path, typer.Argument(help="an export written by `credit audit export`")],
    checkpoint: Annotated[
        Path | None, typer.Option(help="a checkpoint you saved earlier (JSON)")
    ] = None,
    keys: Annotated[
        Path | None,
        typer.Option(help="the checkpoint keys you saved (JSON from /v1/audit/checkpoint-keys)"),
    ] = None,
) -> None:
    """Check an export offline: every event's hash and chain, the Merkle root or inclusion
    proofs, the signatures, and that the log still extends your saved checkpoint. Names each
    event that breaks; exit 1 if any does. Needs no database and no service."""
    from service.integrity.verifier import verify_export

    saved = json.loads(checkpoint.read_text()) if checkpoint else None
    trusted = _keys(keys) if keys is not None else None
    with export_file.open("rb") as lines:
        report = verify_export(lines, saved_checkpoint=saved, trusted_keys=trusted)
    console.print(
        f"{report.scope or '?'} export: {report.events:,} events, tree size {report.tree_size}"
    )
    for note in report.notes:
        console.print(f"  note: {note}")
    for finding in report.findings:
        print(f"BROKEN: {finding}")
    if report.findings:
        console.print(f"[red]{len(report.findings)} problem(s) found[/red]")
        sys.exit(1)
    console.print("[green]the export verifies[/green]")


@audit_app.command("verify-report")
def verify_report_command(
    export_file: Annotated[
        Path,
        typer.Option(
            "--export",
            help="a signed export of the report's subject, made with "
            "--since-tree-size <the report's tree size>",
        ),
    ],
    report_file: Annotated[
        Path,
        typer.Option("--report", help="the report as GET /v1/credit-reports/{number} gives it"),
    ],
    keys: Annotated[
        Path | None,
        typer.Option(help="the checkpoint keys you saved (JSON from /v1/audit/checkpoint-keys)"),
    ] = None,
    pdf: Annotated[
        Path | None, typer.Option(help="the report's PDF, to check it is the one issued")
    ] = None,
    policy: Annotated[
        Path | None, typer.Option(help="the policy file the service ran (default: the shipped one)")
    ] = None,
    timezone: Annotated[str, typer.Option(help="the service's CREDIT_TIMEZONE")] = DEFAULT_TIMEZONE,
) -> None:
    """Recompute a credit report's contents offline from a signed export of its subject: the
    export verified as verify-export does, the report's signature checked, its checkpoint tied
    to the export's, the subject's events folded up to the report's version with the service's
    own functions, and the digest compared. Prints each difference by path; exit 1 on any
    problem. Needs no database and no service."""
    from zoneinfo import ZoneInfo

    from service.credit_reports.offline import verify_report
    from service.policy.loader import load_policy

    raw = report_file.read_bytes()
    report = None if raw.startswith(b"%PDF") else json.loads(raw)
    if not isinstance(report, dict) or "contents" not in report or "request" not in report:
        console.print(
            "[red]refused[/red]: --report is not the JSON of GET /v1/credit-reports/{number} "
            "(a PDF goes to --pdf)"
        )
        raise typer.Exit(2)
    trusted = _keys(keys) if keys is not None else None
    with export_file.open("rb") as lines:
        check = verify_report(
            list(lines), report, load_policy(policy), zone=ZoneInfo(timezone), trusted_keys=trusted
        )
    console.print(f"report {report.get('number')}: subject {report.get('subject_id')}")
    for note in check.notes:
        console.print(f"  note: {note}")
    for difference in check.differences:
        issued, recomputed = (
            json.dumps(difference[side], ensure_ascii=False) for side in ("issued", "recomputed")
        )
        print(f"DIFFERS: {difference['path']}: issued {issued}, recomputed {recomputed}")
    if pdf is not None and hashlib.sha256(pdf.read_bytes()).hexdigest() != report["pdf_sha256"]:
        check.findings.append(f"{pdf} is not the PDF issued (its SHA-256 is not pdf_sha256)")
    for finding in check.findings:
        print(f"BROKEN: {finding}")
    if not check.ok:
        console.print(f"[red]{len(check.findings)} problem(s) found[/red]")
        sys.exit(1)
    console.print(f"[green]the report verifies[/green]: contents SHA-256 {check.recomputed_sha256}")


@audit_app.command("verify-access-log")
def verify_access_log(
    checkpoint: Annotated[
        Path | None,
        typer.Option(help="also check against a checkpoint you saved (JSON), signed by --keys"),
    ] = None,
    keys: Annotated[
        Path | None,
        typer.Option(help="the checkpoint keys you saved (JSON from /v1/audit/checkpoint-keys)"),
    ] = None,
) -> None:
    """Walk the access log and the admin log: every row's hash chain, and every head a signed
    checkpoint anchored, which the log must still hold. One line per log; exit 0 if both
    hold, 1 naming the first bad seq or "CUT after seq N", 2 if the saved checkpoint is not
    validly signed."""
    from service.bootstrap import build_command_services
    from service.integrity.checkpoints import Checkpoint
    from service.integrity.verifier import checkpoint_signed

    saved: tuple[Checkpoint, ...] = ()
    if checkpoint is not None:
        document = json.loads(checkpoint.read_text())
        trusted = _keys(keys) if keys is not None else None
        if trusted is None or not checkpoint_signed(document, trusted):
            console.print("[red]refused[/red]: the saved checkpoint is not signed by --keys")
            raise typer.Exit(2)
        saved = (Checkpoint.from_json(document),)
    services = build_command_services()
    try:
        results = services.checkpoints.verify_chains(saved)
    finally:
        services.close_sync()
    for name, check in results.items():
        print(check.describe(name.replace("_", " ")))
    if not all(check.ok for check in results.values()):
        raise typer.Exit(1)


def _keys(path: Path) -> dict[str, bytes]:
    listed = json.loads(path.read_text())
    return {
        key["key_id"]: base64.b64decode(key["public_key"])
        for key in (listed["keys"] if isinstance(listed, dict) else listed)
    }
