"""`credit audit ...`: checkpoints, signed exports and the offline verifier."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Annotated
from uuid import UUID

import typer
from rich.console import Console

audit_app = typer.Typer(
    help="Tamper evidence: checkpoints, signed exports, offline verification.",
    no_args_is_help=True,
)
console = Console(stderr=True)


@audit_app.command("checkpoint")
def make_checkpoint() -> None:
    """Sign a checkpoint of the log now and print it as JSON (save it: it is what a later
    export is checked against)."""
    from service.bootstrap import build_services
    from service.settings import get_settings

    services = build_services(get_settings())
    try:
        checkpoint = services.checkpoints.make()
    finally:
        services.close_sync()
    print(json.dumps(checkpoint.as_json(), indent=2))


@audit_app.command("keys")
def checkpoint_keys() -> None:
    """Print every key that has signed checkpoints (JSON; save it beside your checkpoints)."""
    from service.bootstrap import build_services
    from service.settings import get_settings

    services = build_services(get_settings())
    try:
        print(json.dumps({"keys": services.checkpoints.public_keys()}, indent=2))
    finally:
        services.close_sync()


@audit_app.command("rotate-key")
def rotate_checkpoint_key() -> None:
    """Sign checkpoints with a new key from now on; the old one stays published for good."""
    from service.bootstrap import build_services
    from service.settings import get_settings

    services = build_services(get_settings())
    try:
        key_id = services.checkpoints.rotate_key()
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
) -> None:
    """Write a signed NDJSON export with the checkpoint it matches."""
    from service.bootstrap import build_services
    from service.integrity.export import export_lines
    from service.settings import get_settings

    services = build_services(get_settings())
    try:
        lines = export_lines(
            services.checkpoints, subject_id=subject, since_tree_size=since_tree_size
        )
        written = 0
        with output.open("wb") as out:
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
    trusted = None
    if keys is not None:
        listed = json.loads(keys.read_text())
        trusted = {
            key["key_id"]: base64.b64decode(key["public_key"])
            for key in (listed["keys"] if isinstance(listed, dict) else listed)
        }
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
