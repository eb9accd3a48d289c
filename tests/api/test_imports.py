"""Importing a 双公示 file over HTTP: a report per row, idempotent, nothing half-written."""

from __future__ import annotations

import pytest

from tests.builders import penalty_file, penalty_file_row, uscc

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
