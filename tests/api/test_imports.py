"""Importing a 双公示 file over HTTP: a report per row, idempotent, nothing half-written."""

from __future__ import annotations

import csv
import io

import pytest

from tests.builders import AUTHORITY_CODE, AUTHORITY_NAME, uscc

pytestmark = pytest.mark.api
HEADER = [
    "CF_XDR_MC",
    "CF_XDR_LB",
    "CF_XDR_SHXYM",
    "CF_WSH",
    "CF_WFXW",
    "CF_SY",
    "CF_YJ",
    "CF_CFLB",
    "CF_NR",
    "CF_NR_FK",
    "CF_JDRQ",
    "CF_CFJG",
    "CF_CFJGDM",
]


def penalty_file(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def row(n: int, **changes: str) -> list[str]:
    cells = dict(
        zip(
            HEADER,
            [
                f"郑州顺达货运有限公司{n}",
                "法人及非法人组织",
                uscc(n),
                f"郑交执罚〔2026〕{n:04d}号",
                "超限运输",
                "车辆超限运输",
                "《公路安全保护条例》第六十四条",
                "罚款",
                "罚款0.5万元",
                "0.5",
                "2026-11-02",
                AUTHORITY_NAME,
                AUTHORITY_CODE,
            ],
            strict=True,
        )
    )
    cells.update(changes)
    return list(cells.values())


async def test_an_import_reports_each_row_and_a_reimport_adds_nothing(client, services):
    data = penalty_file(
        [row(1), row(2, CF_NR_FK="-3"), row(3, CF_JDRQ="2027-01-01"), row(4)], encoding="gbk"
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
