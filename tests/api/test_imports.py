"""Importing a 双公示 file over HTTP: a report per row, idempotent, nothing half-written."""

from __future__ import annotations

import csv
import io

import pytest

from tests.builders import PENALTY_FILE_HEADER, penalty_file, penalty_file_row, uscc

pytestmark = pytest.mark.api


async def test_an_import_reports_each_row_and_a_reimport_adds_nothing(client, services):
    data = penalty_file(
        [
            penalty_file_row(1),
            penalty_file_row(2, CF_NR_FK="-3"),
            penalty_file_row(3, CF_JDRQ="2027-01-01"),
            penalty_file_row(4),
        ],
        encoding="gbk",
    )
    first = await client.post("/v1/imports", files={"file": ("batch.csv", data, "text/csv")})
    assert first.status_code == 200, first.text
    report = first.json()
    assert (report["kind"], report["rows_read"], report["accepted"]) == ("penalty", 4, 2)
    assert [r["line"] for r in report["rejected"]] == [3, 4]
    assert "CF_NR_FK" in report["rejected"][0]["reason"]
    head = services.ledger.recorder.max_notification_id()
    again = (await client.post("/v1/imports", files={"file": ("batch.csv", data)})).json()
    assert (again["accepted"], again["already_present"]) == (0, 2)
    assert services.ledger.recorder.max_notification_id() == head
    # subjects whose only row was rejected were not registered
    lookup = await client.post(
        "/v1/subjects:lookup", json={"code": uscc(2)}, params={"min_position": head}
    )
    assert lookup.status_code == 404
    found = await client.post("/v1/subjects:lookup", json={"code": uscc(4)})
    assert found.json()["published_records"]["total"] == 1


async def test_a_file_without_the_national_columns_is_refused_whole(client, services):
    data = b"name,code\nx,y\n"
    response = await client.post("/v1/imports", files={"file": ("batch.csv", data)})
    assert response.status_code == 422
    assert response.json()["type"].endswith("/import-file-invalid")
    assert not services.ledger.recorder.max_notification_id()


FORMULA = "=cmd|' /C calc'!A0"


@pytest.mark.parametrize(
    "ask", [{"params": {"format": "csv"}}, {"headers": {"Accept": "text/csv"}}]
)
async def test_the_rejected_rows_download_as_a_spreadsheet_with_formulas_neutralised(client, ask):
    bad = penalty_file_row(2, CF_SY=FORMULA, CF_JDRQ="2026年13月45日")
    data = penalty_file([penalty_file_row(1), bad, penalty_file_row(3, CF_NR_FK="-3")])
    response = await client.post(
        "/v1/imports", files={"file": ("batch.csv", data, "text/csv")}, **ask
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="rejected-rows.csv"'
    assert (response.headers["x-rows-read"], response.headers["x-accepted"]) == ("3", "1")
    assert response.content.startswith(b"\xef\xbb\xbf")  # so that Excel reads it as UTF-8
    header, *rows = csv.reader(io.StringIO(response.content.decode("utf-8-sig")))
    assert header == ["line", "reason", *PENALTY_FILE_HEADER]
    assert [(row[0], row[1].split(":")[0]) for row in rows] == [("3", "CF_JDRQ"), ("4", "CF_NR_FK")]
    cells = dict(zip(header, rows[0], strict=True))
    assert cells["CF_SY"] == "'" + FORMULA  # shown as text, never run
    assert [cells[name] for name in PENALTY_FILE_HEADER if name != "CF_SY"] == [
        value for name, value in zip(PENALTY_FILE_HEADER, bad, strict=True) if name != "CF_SY"
    ]
    assert dict(zip(header, rows[1], strict=True))["CF_NR_FK"] == "'-3"


async def test_without_rejections_the_spreadsheet_has_its_header_only(client):
    data = penalty_file([penalty_file_row(1)])
    response = await client.post(
        "/v1/imports", files={"file": ("batch.csv", data)}, params={"format": "csv"}
    )
    assert response.content.decode("utf-8-sig").splitlines() == [
        ",".join(f'"{name}"' for name in ["line", "reason", *PENALTY_FILE_HEADER])
    ]
