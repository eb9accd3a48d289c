"""A read-model table's single new row goes to PostgreSQL by INSERT, more rows by COPY: the
two store the same values. A subject with every kind of record and follow-up projected one
event a page (most tables get one row a page) equals its replay in pages of thousands (every
table's rows copied), field by field."""

from __future__ import annotations

import pytest

from bench.fixtures import long_credit_file
from projections import writes
from projections.cases import projector as cases
from projections.changes import projector as changes
from projections.credit_file import projector as credit_file
from projections.report_records import projector as report_records
from service.replay.check import verify_read_models

pytestmark = pytest.mark.integration


def test_rows_inserted_one_at_a_time_equal_the_rows_a_replay_copies(services, clock, monkeypatch):
    if services.database.is_sqlite:
        pytest.skip("SQLite inserts every row by executemany")
    long_credit_file(services.files, clock, events=250, seed=6)
    written: dict[str, list[int]] = {}
    insert_rows = writes.insert_rows

    def counted(conn, table, rows):
        written.setdefault(table.name, []).append(len(rows))
        insert_rows(conn, table, rows)

    for module in (credit_file, changes, report_records, cases):
        monkeypatch.setattr(module, "insert_rows", counted)
    services.runner.catch_up(page_size=1)
    single = {name for name, sizes in written.items() if 1 in sizes}
    assert {"records", "changes", "report_records"} <= single, written.keys()

    report = verify_read_models(services)
    assert report.events >= 250
    assert report.ok, report.differences[:5]
