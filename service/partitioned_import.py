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
process would hold some 130 MB for nothing); the others are started afresh (spawn), not
forked, since the caller holds pools, connections and their threads, and each builds the
service from the settings as a CLI command does."""

from __future__ import annotations

import multiprocessing
import queue
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from service.bootstrap import build_services
from service.commanding.credit_files import CreditFiles
from service.commanding.importing.batch import ImportShare, import_stream
from service.commanding.importing.limits import ImportFileError, ImportLimits
from service.commanding.importing.report import ImportReport
from service.settings import Settings

# How long the report of a process that ended may take to arrive.
END_WAIT_SECONDS = 5.0


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
) -> ImportReport:
    """Import the file at `path` with `processes` processes, this one (reading `stream`, the
    file opened, through `files`) and others started for the purpose, each writing its
    partition's rows; the merged report. `on_progress` is told the rows every process has
    read. Raises ImportFileError (the file as a whole refused, before anything is written) or
    ImportProcessFailed."""
    context = multiprocessing.get_context("spawn")
    rows_read = context.Array("q", processes, lock=False)
    results: Any = context.Queue()
    others = {
        partition: context.Process(
            target=import_share,
            args=(
                settings,
                str(path),
                ImportShare(partition, processes),
                recorded_by,
                batch_size,
                keep_rejected_rows,
                rows_read,
                results,
            ),
            name=f"credit-import-{partition}",
            daemon=True,
        )
        for partition in range(1, processes)
    }
    reports: dict[int, ImportReport] = {}
    refusals: list[str] = []
    heard: set[int] = set()  # the other processes that have reported

    def collect(wait: float) -> None:
        """Take the reports the other processes have put on the queue (waiting up to `wait`
        for the next); raise if one of them failed or ended without a report."""
        while len(heard) < len(others):
            try:
                partition, report, refused, error = results.get(timeout=wait)
            except queue.Empty:
                ended = [k for k, p in others.items() if k not in heard and p.exitcode]
                if not ended:
                    return
                try:  # what it put on the queue before it ended, if anything
                    partition, report, refused, error = results.get(timeout=END_WAIT_SECONDS)
                except queue.Empty:
                    raise ImportProcessFailed(
                        f"importing process {ended[0]} ended with {others[ended[0]].exitcode} "
                        "and reported nothing"
                    ) from None
            if error is not None:
                raise ImportProcessFailed(f"importing process {partition} failed:\n{error}")
            heard.add(partition)
            if refused is not None:
                refusals.append(refused)
            else:
                reports[partition] = report

    def progress(rows: int) -> None:
        rows_read[0] = rows
        collect(wait=0)  # a failure elsewhere stops this process's share too
        if on_progress is not None:
            on_progress(min(rows_read))

    try:
        for process in others.values():
            process.start()
        try:
            reports[0] = import_stream(
                stream,
                path.name,
                files,
                recorded_by=recorded_by,
                batch_size=batch_size,
                on_progress=progress,
                keep_rejected_rows=keep_rejected_rows,
                limits=ImportLimits.from_settings(settings),
                share=ImportShare(0, processes),
            )
        except ImportFileError as refused:
            # Found mid-file (an encoding error), it comes after the rows before it are written,
            # by each process up to the same line: the others are waited for.
            refusals.append(str(refused))
        progress(reports[0].rows_read if 0 in reports else rows_read[0])
        while len(heard) < len(others):
            collect(wait=1.0)
            if on_progress is not None:
                on_progress(min(rows_read))
    finally:
        for process in others.values():
            if process.is_alive():
                process.terminate()
            process.join()
        results.close()
    if refusals:
        raise ImportFileError(refusals[0])
    merged = ImportReport.merged([reports[k] for k in range(processes)])
    if on_progress is not None:
        on_progress(merged.rows_read)
    return merged


def import_share(
    settings: Settings,
    path: str,
    share: ImportShare,
    recorded_by: str,
    batch_size: int,
    keep_rejected_rows: bool,
    rows_read: Any,
    results: Any,
) -> None:
    """One importing process started for its share of the file's rows. Reports (partition,
    its report, why the file was refused, an error's traceback)."""

    def progress(rows: int) -> None:
        rows_read[share.partition] = rows

    try:
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
        finally:
            services.close_sync()
    except ImportFileError as refused:
        results.put((share.partition, None, str(refused), None))
    except BaseException:
        results.put((share.partition, None, None, traceback.format_exc()))
        raise
    else:
        progress(report.rows_read)
        results.put((share.partition, report, None, None))
