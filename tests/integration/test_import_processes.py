"""An import by several processes, each writing the rows of its partition of the subjects
(service/partitioned_import.py), writes and reports what an import by one process does."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest

from service.access.personal_data import PersonalDataVault
from service.bootstrap import Services, build_services
from service.clock import Clock, FixedClock
from service.commanding.importing import grouping, report
from service.commanding.importing.batch import ImportShare, import_stream
from service.commanding.importing.report import ImportReport
from service.integrity.export import export_lines
from service.integrity.verifier import verify_export
from service.partitioned_import import ImportProcessFailed, import_in_processes
from service.settings import Settings
from tests.integration.test_cli import credit
from tests.integration.test_import_write_path import FILES, deterministic_seal, emptied, stored
from tests.unit.test_importing import PENALTY_HEADER, csv_bytes, penalty, person_penalty, uscc

pytestmark = pytest.mark.integration
__all__ = ["emptied"]  # the fixture, shared with the write path's tests

# Rows refused as they are read (no subject, a bad code, an empty required cell) and by the
# store (a date in the future), spread among good rows of many subjects.
BAD_ROWS = (
    "refused.csv",
    csv_bytes(
        PENALTY_HEADER,
        [
            row
            for n in range(40)
            for row in (
                penalty(100 + n),
                penalty(100 + n, CF_WSH=f"郑交执罚〔2026〕{n}-2号", CF_CFLB="警告"),
                person_penalty(200 + n) if n % 3 else penalty(n, CF_XDR_LB="外国人"),
                penalty(300 + n, CF_XDR_SHXYM=uscc(300 + n)[:-1] + "0") if n % 4 == 0 else {},
                penalty(400 + n, CF_WFXW="") if n % 5 == 0 else {},
                penalty(500 + n, CF_JDRQ="2027-01-01") if n % 6 == 0 else {},
            )
            if row
        ],
    ),
)
ALL_FILES = [*FILES, BAD_ROWS]


def import_files(
    settings: Settings, clock: Clock, shares: int, batch_size: int = 7
) -> tuple[list[ImportReport], dict[str, Any]]:
    """Each file imported twice (the second time, what was accepted is already present): by
    one process, or share by share as each of `shares` processes would, the shares' reports
    merged; and what the store then holds, each stream's events by version."""
    services = build_services(settings, clock=clock, migrate=False)

    def imported(name: str, data: bytes, share: ImportShare | None) -> ImportReport:
        return import_stream(
            io.BytesIO(data),
            name,
            services.files,
            recorded_by="importer@test",
            batch_size=batch_size,
            keep_rejected_rows=True,
            share=share,
        )

    try:
        reports = [
            imported(name, data, None)
            if shares == 1
            else ImportReport.merged(
                [imported(name, data, ImportShare(k, shares)) for k in range(shares)]
            )
            for name, data in ALL_FILES * 2
        ]
        verification = verify_export(list(export_lines(services.checkpoints)))
        assert verification.ok, verification.findings
        return reports, by_stream(stored(services))
    finally:
        services.close_sync()


def by_stream(store: dict[str, Any]) -> dict[str, Any]:
    """The store's events, snapshots and subjects by stream: positions differ between imports
    that interleave their subjects' batches differently, a stream's versions do not."""
    events: dict[UUID, list[tuple[int, str, bytes]]] = {}
    for _, stream, version, topic, state in store["events"]:
        events.setdefault(stream, []).append((version, topic, state))
    return {"events": events, "snapshots": store["snapshots"], "subjects": store["subjects"]}


def test_files_imported_subject_group_by_group_are_written_and_reported_as_in_the_files_order(
    settings: Settings, clock: FixedClock, emptied: Callable[[], None], monkeypatch
):
    """One group of rows is the file's order; the default groups write each subject's rows in
    that order and the subjects in another: the same reports and the same streams."""
    monkeypatch.setattr(PersonalDataVault, "seal", deterministic_seal)
    monkeypatch.setattr(grouping, "ROW_GROUPS", 1)
    in_files_order, expected = import_files(settings, clock, 1)
    emptied()
    monkeypatch.undo()
    monkeypatch.setattr(PersonalDataVault, "seal", deterministic_seal)
    reports, written = import_files(settings, clock, 1)

    assert reports == in_files_order
    assert written == expected


@pytest.mark.parametrize("shares", [2, 3])
def test_files_imported_share_by_share_are_written_and_reported_as_by_one(
    settings: Settings, clock: FixedClock, emptied: Callable[[], None], monkeypatch, shares: int
):
    monkeypatch.setattr(PersonalDataVault, "seal", deterministic_seal)
    expected_reports, expected = import_files(settings, clock, 1)
    emptied()
    reports, written = import_files(settings, clock, shares)

    assert reports == expected_reports
    refused = reports[len(FILES)]
    assert refused.accepted > 80 and refused.rejected_count > 20 and refused.rejected_rows
    assert reports[-1].accepted == 0 and reports[-1].already_present == refused.accepted
    assert written["events"] == expected["events"]
    assert written["snapshots"] == expected["snapshots"]
    assert written["subjects"] == expected["subjects"]


def test_merged_reports_list_and_keep_the_first_rows_by_line_within_the_bounds(
    settings: Settings, clock: FixedClock, emptied: Callable[[], None], monkeypatch
):
    """With a batch a row: one process decides its rows subject by subject, not in the file's
    order, and its lists, cut at their bounds, are the first rows by line, as the merged shares'
    are."""
    monkeypatch.setattr(PersonalDataVault, "seal", deterministic_seal)
    monkeypatch.setattr(report, "MAX_LISTED_REJECTIONS", 9)
    monkeypatch.setattr(report, "MAX_KEPT_REJECTED_ROWS", 5)
    monkeypatch.setattr(report, "MAX_KEPT_REJECTED_CHARS", 400)
    expected_reports, _ = import_files(settings, clock, 1, batch_size=1)
    emptied()
    reports, _ = import_files(settings, clock, 3, batch_size=1)

    refused = expected_reports[len(FILES)]
    assert len(refused.rejected) == 9 and refused.rejected_count > 9
    assert 0 < len(refused.rejected_rows) < 5  # cut by characters before rows
    assert reports == expected_reports


def test_an_import_by_processes_reports_and_stores_as_one_process(
    settings: Settings, emptied: Callable[[], None], tmp_path
):
    """`credit import --processes 3`: on PostgreSQL, the same report as one process gives and
    the same events in each stream (the processes keep the service's own clock); on SQLite,
    which has one writer, one process does it all and says so."""
    path = tmp_path / "refused.csv"
    path.write_bytes(BAD_ROWS[1])
    rejected_csv = tmp_path / "rejected.csv"
    result = credit(
        settings, "import", str(path), "--processes", "3", "--report", str(rejected_csv)
    )
    assert result.returncode == 1, result.stderr  # some rows were rejected
    one_writer = "SQLite: the rows are written by this process alone"
    assert (one_writer in result.stderr) == settings.database_url.startswith("sqlite")
    written = stored_by_stream(settings)
    emptied()
    services = build_services(settings, migrate=False)
    try:
        with path.open("rb") as stream:
            expected = import_stream(
                stream, path.name, services.files, recorded_by="cli-import", batch_size=1000
            )
    finally:
        services.close_sync()

    summary = (
        f"{expected.rows_read} rows read, {expected.accepted} accepted, 0 already present, "
        f"{expected.rejected_count} rejected"
    )
    assert summary in result.stderr
    for rejection in expected.rejected:
        assert result.stderr.count(f"  line {rejection.line}: ") == 1
    rows = list(csv.reader(rejected_csv.read_text(encoding="utf-8-sig").splitlines()))
    assert [int(row[0]) for row in rows[1:]] == [r.line for r in expected.rejected]
    assert versions_and_topics(written) == versions_and_topics(stored_by_stream(settings))


def stored_by_stream(settings: Settings) -> dict[str, Any]:
    services = build_services(settings, migrate=False)
    try:
        return by_stream(stored(services))
    finally:
        services.close_sync()


def versions_and_topics(store: dict[str, Any]) -> dict[UUID, list[tuple[int, str]]]:
    return {s: [(v, t) for v, t, _ in events] for s, events in store["events"].items()}


def test_a_file_refused_whole_is_refused_by_every_process_and_nothing_is_written(
    settings: Settings, tmp_path
):
    path = tmp_path / "other.csv"
    path.write_text("name,code\nx,y\n")
    result = credit(settings, "import", str(path), "--processes", "2")
    assert result.returncode == 2
    assert "import refused" in result.stderr


def test_the_processes_progress_is_told_and_a_failed_process_stops_the_import(
    settings: Settings, services: Services, tmp_path
):
    path = tmp_path / "penalties.csv"
    path.write_bytes(FILES[0][1])
    told: list[int] = []
    with path.open("rb") as stream:
        imported = import_in_processes(
            settings,
            services.files,
            stream,
            path,
            processes=2,
            recorded_by="t",
            batch_size=5,
            on_progress=told.append,
        )
    assert imported.accepted > 100 and imported.rows_read == told[-1]
    assert told == sorted(told)

    # A process started for a share that cannot build the service stops the import.
    unreachable = settings.model_copy(update={"database_url": "postgresql://nobody@127.0.0.1:1/x"})
    failed = r"importing process 1 failed:(.|\n)*build_services"  # its traceback
    with path.open("rb") as stream, pytest.raises(ImportProcessFailed, match=failed):
        import_in_processes(
            unreachable, services.files, stream, path, processes=2, recorded_by="t", batch_size=5
        )
