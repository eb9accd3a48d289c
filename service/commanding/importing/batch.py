"""The import of a whole 双公示 file: one transaction per batch of rows; a bad row is rejected
and reported, and never stops the import."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from hashlib import blake2b
from typing import BinaryIO

from domain import codes
from service.access.permissions import RecordingPermit
from service.commanding.credit_files import BatchItem, CreditFiles, StreamCache
from service.commanding.importing.columns import (
    ROW_PROBLEM,
    RowError,
    SubjectsRead,
    row_subject_code,
    row_to_item,
)
from service.commanding.importing.grouping import SubjectGroups
from service.commanding.importing.limits import ImportLimits
from service.commanding.importing.report import ImportReport, refusal_reason
from service.commanding.importing.sniffing import read_rows
from service.metrics import count_import

# What an import keeps of the subjects it wrote, for the next batches that touch them: up to
# this many subjects, holding up to this many records together (some 1.6 KB a record in
# memory: about 65 MB). Bounded by records, the peak stays under 300 MB however large the file
# and whatever its subjects hold (docs/benchmarks.md "Import throughput").
IMPORT_SUBJECTS_KEPT = 20_000
IMPORT_RECORDS_KEPT = 40_000
# The subjects' registrations as the rows read them, kept for their other rows: more than a
# group's subjects (grouping.py: some 3,000 at a million rows), few enough to weigh some 8 MB.
IMPORT_REGISTRATIONS_KEPT = 5_000

# Collections while an import runs: the first generation is collected after this many new
# containers instead of 700. Each row makes a few dozen short-lived dicts and lists while the
# import holds thousands of subjects (StreamCache); at the default, collecting took a fifth of
# the import's CPU (cProfile and instruction counts, docs/benchmarks.md "Import throughput").
# Cycles are still collected, a few dozen times per batch rather than thousands.
IMPORT_GC_THRESHOLD = 50_000
_gc_lock = threading.Lock()
_gc_imports = 0
_gc_saved: tuple[int, int, int] | None = None


@contextmanager
def _fewer_collections() -> Iterator[None]:
    """The collector's first threshold raised while any import runs in this process (the API
    runs uploads in threads: the first to start raises it, the last to finish restores it)."""
    global _gc_imports, _gc_saved
    with _gc_lock:
        if _gc_imports == 0:
            _gc_saved = gc.get_threshold()
            gc.set_threshold(max(IMPORT_GC_THRESHOLD, _gc_saved[0]), *_gc_saved[1:])
        _gc_imports += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_imports -= 1
            if _gc_imports == 0 and _gc_saved is not None:
                gc.set_threshold(*_gc_saved)
                _gc_saved = None


@dataclass(frozen=True)
class ImportShare:
    """The rows one of several importing processes writes: those whose subject's code falls in
    its share. Every process reads the whole file, and each row's subject code
    (`row_subject_code`); a row that names no valid subject is the first process's to refuse,
    so each row is written or refused by one process, and reported once."""

    partition: int
    partitions: int

    def group_of(self, subject_code: str | None, groups: int) -> int | None:
        """The group (grouping.py) of a row of this share among `groups`; None for a row of
        another share. The code's hash among partitions × groups is its share here, and its
        group the quotient: the groups divide the share's subjects evenly. The code is hashed,
        not the subject's id, a keyed hash that costs several times more, at every row."""
        if subject_code is None:
            return 0 if self.partition == 0 else None
        digest = blake2b(subject_code.encode(), digest_size=8).digest()
        spread = int.from_bytes(digest) % (self.partitions * groups)
        if spread % self.partitions != self.partition:
            return None
        return spread // self.partitions


def import_stream(
    stream: BinaryIO,
    filename: str,
    files: CreditFiles,
    *,
    recorded_by: str,
    batch_size: int = 1000,
    on_progress: Callable[[int], None] | None = None,
    on_reading: Callable[[int], None] | None = None,
    permit: RecordingPermit | None = None,
    keep_rejected_rows: bool = False,
    limits: ImportLimits | None = None,
    share: ImportShare | None = None,
) -> ImportReport:
    """Import a whole file, one transaction per `batch_size` rows. Bad rows become rejections
    and never stop the import; a whole-file problem raises ImportFileError before anything is
    written. The file is read through first, its rows set aside by subject (grouping.py):
    `on_reading` is told the rows read meanwhile, then `on_progress` the rows done (written,
    found present, rejected, or another share's).

    With `keep_rejected_rows`, the report also keeps the cells of the first
    MAX_KEPT_REJECTED_ROWS rejected rows (for `write_rejected_csv`). `limits` bound what the
    file may unpack to and hold (ImportTooLarge, before anything is written). With `share`, only
    the rows of that share are written and reported (`rows_read` still counts the whole file's),
    and the subjects kept between batches are bounded by that share of the bounds."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    kind, rows = read_rows(stream, filename, limits)
    today = files.clock.today()
    report = ImportReport(rows_read=0, accepted=0, already_present=0, rejected=[], kind=kind)
    reasons: dict[str, str] = {}  # one string per distinct reason, however many rows share it
    batch: list[BatchItem] = []
    unreported = 0
    share = share or ImportShare(0, 1)
    partitions = share.partitions
    # A subject seen in one batch is not read again in the next, while it is kept.
    streams = StreamCache(
        IMPORT_SUBJECTS_KEPT // partitions, max_records=IMPORT_RECORDS_KEPT // partitions
    )
    subjects_read: SubjectsRead = {}  # up to IMPORT_REGISTRATIONS_KEPT, then begun again

    in_batch: dict[int, dict[str, str]] = {}  # the rows of the current batch, if kept
    # The current batch's penalty rows: each one's severity, the rule that decided it, its flag.
    assessed: dict[int, tuple[str, str, str | None]] = {}

    def reject(line: int, reason: str, row: dict[str, str] | None = None) -> None:
        if not report.lists(line):
            report.rejected_count += 1
            return
        if reason not in reasons:  # a reason may quote a cell: never an ID number in full
            reasons[reason] = codes.mask_id_numbers(reason)
        cells = None if row is None else {k: v for k, v in row.items() if k != ROW_PROBLEM}
        report.reject(line, reasons[reason], cells)

    def flush() -> None:
        nonlocal unreported
        if batch:
            items = {item.line: item for item in batch}
            for outcome in files.append_batch(
                batch, recorded_by=recorded_by, cache=streams, permit=permit
            ):
                if outcome.status == "accepted":
                    report.accepted += 1
                    if outcome.line in assessed:
                        report.accepted_penalty(outcome.line, *assessed[outcome.line])
                elif outcome.status == "already_present":
                    report.already_present += 1
                else:
                    assert outcome.refusal is not None  # a rejected row says why
                    reason = refusal_reason(kind, items[outcome.line], outcome.refusal, permit)
                    reject(outcome.line, reason, in_batch.get(outcome.line))
            batch.clear()
            in_batch.clear()
            assessed.clear()
            if len(subjects_read) > IMPORT_REGISTRATIONS_KEPT:
                subjects_read.clear()
        unreported = 0
        if on_progress is not None:
            on_progress(report.rows_read - grouped.rows + decided)

    grouped = SubjectGroups()
    decided = 0  # of the rows grouped
    try:
        with _fewer_collections():
            for line, row in rows:
                report.rows_read += 1
                if keep_rejected_rows and not report.columns:
                    report.columns = [name for name in row if name != ROW_PROBLEM]
                group = share.group_of(row_subject_code(kind, row, today), grouped.groups)
                if group is not None:
                    grouped.add(group, line, row)
                if on_reading is not None and report.rows_read % batch_size == 0:
                    on_reading(report.rows_read)
            if on_reading is not None:
                on_reading(report.rows_read)
            rows.close()  # the file is read: its reader's memory goes before the writing
            if on_progress is not None:
                on_progress(report.rows_read - grouped.rows)  # the other shares' rows
            for line, row in grouped:
                decided += 1
                try:
                    imported = row_to_item(
                        kind,
                        line,
                        row,
                        today=today,
                        policy=files.policy,
                        subjects_read=subjects_read,
                    )
                    batch.append(imported.item)
                    if imported.severity is not None:
                        assessed[line] = imported.severity
                    if keep_rejected_rows:
                        in_batch[line] = row
                except RowError as error:
                    reject(line, error.reason, row if keep_rejected_rows else None)
                unreported += 1
                if unreported >= batch_size:
                    flush()
            if unreported:
                flush()
    finally:
        rows.close()
        grouped.close()
    report.sort()
    count_import(report.accepted, report.already_present, report.rejected_count)
    return report
