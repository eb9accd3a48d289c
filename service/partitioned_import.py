"""An import by several processes (PostgreSQL), one per partition of the subjects: `credit
import --processes N`.

Deciding a row and encoding, sealing and storing its events take about three quarters of an
import's CPU, and one process uses one core. Each process here reads the whole file, finds
each row's subject, and checks and writes the rows whose subject is in its partition
(`ImportShare`), in batches of its own: a subject's rows are written by one process, in the
file's order, so its stream and its checks (duplicates, registration, idempotency) are those
of an import by one. The writers meet only at the event log's lock, held for the insert. The
report is the processes' reports merged: each row is reported once, by line.

The calling process imports the first share itself (it has the service built, and an idle
process would hold some 130 MB for nothing); the others are started afresh
(service/spawned.py), each building the service from the settings as a CLI command does."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from service.bootstrap import build_services
from service.commanding.credit_files import CreditFiles
from service.commanding.importing.batch import ImportShare, import_stream
from service.commanding.importing.limits import ImportFileError, ImportLimits
from service.commanding.importing.report import ImportReport
from service.settings import Settings
from service.spawned import SpawnedProcesses

# How often the rows done are summed once this process has done its share.
POLL_SECONDS = 1.0


class ImportProcessFailed(RuntimeError):
    """An importing process stopped on an error (its traceback is in the message). The batches
    the processes wrote before it stay, as after an import by one process that stopped: the
    same file imported again adds only the rows not yet there."""


def import_in_processes(
    settings: Settings,
    files: CreditFiles,
    stream: BinaryIO,
    path: Path,
    *,
    processes: int,
    recorded_by: str,
    batch_size: int,
    keep_rejected_rows: bool = False,
    on_progress: Callable[[int], None] | None = None,
    on_reading: Callable[[int], None] | None = None,
) -> ImportReport:
    """Import the file at `path` with `processes` processes, this one (reading `stream`, the
    file opened, through `files`) and others started for the purpose, each writing its
    partition's rows; the merged report. `on_reading` is told the rows this process has read
    (each reads the whole file before it writes), then `on_progress` the rows every process has
    done. Raises ImportFileError (the file as a whole refused, before anything is written) or
    ImportProcessFailed."""
    arguments = {
        partition: (
            settings,
            str(path),
            ImportShare(partition, processes),
            recorded_by,
            batch_size,
            keep_rejected_rows,
        )
        for partition in range(1, processes)
    }
    others = SpawnedProcesses(
        import_share,
        arguments,
        counters=processes,  # the rows each process has done, this one's first
        name=lambda partition: f"importing process {partition}",
        failed=ImportProcessFailed,
    )
    rows_done = others.counters

    def tell_progress() -> None:
        if on_progress is not None:
            on_progress(min(rows_done))

    def progress(rows: int) -> None:
        rows_done[0] = rows
        others.collect(wait=0)  # a failure elsewhere stops this process's share too
        tell_progress()

    outcomes: dict[int, ImportReport | ImportFileError] = {}
    with others:
        try:
            outcomes[0] = import_stream(
                stream,
                path.name,
                files,
                recorded_by=recorded_by,
                batch_size=batch_size,
                on_progress=progress,
                on_reading=on_reading,
                keep_rejected_rows=keep_rejected_rows,
                limits=ImportLimits.from_settings(settings),
                share=ImportShare(0, processes),
            )
        except ImportFileError as refused:
            # Found mid-file (an encoding error), it comes before any row is written: each
            # process reads the file through first and meets it at the same line. The others
            # are waited for.
            outcomes[0] = refused
        progress(outcomes[0].rows_read if isinstance(outcomes[0], ImportReport) else rows_done[0])
        outcomes.update(others.wait(POLL_SECONDS, tell_progress))
    refusals = [outcome for outcome in outcomes.values() if isinstance(outcome, ImportFileError)]
    if refusals:
        raise refusals[0]
    merged = ImportReport.merged(
        [report for _, report in sorted(outcomes.items()) if isinstance(report, ImportReport)]
    )
    if on_progress is not None:
        on_progress(merged.rows_read)
    return merged


def import_share(
    rows_done: Any,
    settings: Settings,
    path: str,
    share: ImportShare,
    recorded_by: str,
    batch_size: int,
    keep_rejected_rows: bool,
) -> ImportReport | ImportFileError:
    """One importing process started for its share of the file's rows: its report, or why the
    file was refused. It keeps the rows it has done in `rows_done[its partition]`."""

    def progress(rows: int) -> None:
        rows_done[share.partition] = rows

    services = build_services(settings, migrate=False)
    try:
        with open(path, "rb") as stream:
            report = import_stream(
                stream,
                Path(path).name,
                services.files,
                recorded_by=recorded_by,
                batch_size=batch_size,
                on_progress=progress,
                keep_rejected_rows=keep_rejected_rows,
                limits=ImportLimits.from_settings(settings),
                share=share,
            )
    except ImportFileError as refused:
        return refused
    finally:
        services.close_sync()
    progress(report.rows_read)
    return report
