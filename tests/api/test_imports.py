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
    assert [(row[0], row[1].split(" ")[0]) for row in rows] == [("3", "CF_JDRQ"), ("4", "CF_NR_FK")]
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


# A national CF_* file as agencies send it: no severity column, the authority's declared end
# (CF_GSJZQ), the amounts and the licence action in their own columns.
NATIONAL_HEADER = [*PENALTY_FILE_HEADER, "CF_NR_WFFF", "CF_NR_ZKDX", "CF_GSJZQ"]


def national_row(n: int, **changes: str) -> list[str]:
    cells = dict(zip(PENALTY_FILE_HEADER, penalty_file_row(n), strict=True))
    cells.update(CF_NR_WFFF="", CF_NR_ZKDX="", CF_GSJZQ="")
    cells.update(changes)
    return [cells[name] for name in NATIONAL_HEADER]


def national_file(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(NATIONAL_HEADER)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


UNLICENSED_PASSENGER_TRANSPORT = {
    "CF_WFXW": "未取得道路运输经营许可，擅自从事道路客运经营",
    "CF_SY": "当事人驾驶小型客车，未取得道路运输经营许可，擅自从事道路旅客运输经营",
    "CF_YJ": "《中华人民共和国道路运输条例》第六十三条",
    "CF_CFLB": "罚款；没收违法所得",
    "CF_NR": "罚款5万元，没收违法所得0.12万元",
    "CF_NR_FK": "5",
    "CF_NR_WFFF": "0.12",
}


async def test_a_national_file_keeps_each_penalty_s_severity_and_declared_end(
    client, auditor, services
):
    rows = [
        # 2025: 令第58号 allows three years to any published penalty; the declared end stands
        national_row(
            1, **UNLICENSED_PASSENGER_TRANSPORT, CF_JDRQ="2025-11-20", CF_GSJZQ="2028-11-20"
        ),
        # 2026 (令第36号): three years only serious conduct may have
        national_row(
            2, **UNLICENSED_PASSENGER_TRANSPORT, CF_JDRQ="2026-05-20", CF_GSJZQ="2029-05-20"
        ),
        national_row(3, CF_NR_ZKDX="吊销道路运输经营许可证", CF_JDRQ="2026-06-01"),
        national_row(4, CF_CFLB="警告", CF_NR="警告", CF_NR_FK=""),
        national_row(5, CF_JDRQ="2026-06-01", CF_GSJZQ="2030-01-01"),
    ]
    response = await client.post(
        "/v1/imports", files={"file": ("batch.csv", national_file(rows), "text/csv")}
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["accepted"], report["rejected"]) == (5, [])
    assert [(row["line"], row["severity"]) for row in report["severities"]] == [
        (2, "general"),
        (3, "serious"),
        (4, "serious"),
        (5, "minor"),
        (6, "serious"),
    ]
    assert report["severity_rules"] == {
        "service default: general": 1,
        "policy 2026-36: penalty_severity.declared_end_beyond_general_maximum_is_serious "
        "(CF_GSJZQ 2029-05-20 > 2027-05-20)": 1,
        "policy 2026-36: penalty_severity.serious_when_any (吊销许可证件)": 1,
        "policy 2026-36: penalty_severity.minor_when_only (警告)": 1,
        "policy 2026-36: penalty_severity.declared_end_beyond_general_maximum_is_serious "
        "(CF_GSJZQ 2030-01-01 > 2027-06-01)": 1,
    }
    assert report["flagged_count"] == 1
    assert report["flagged"] == [
        {
            "line": 6,
            "flag": "CF_GSJZQ 2030-01-01 is beyond the maximum of 36 months for serious conduct "
            "under policy 2026-36: published until 2029-06-01",
        }
    ]

    head = services.ledger.recorder.max_notification_id()  # the read models catch up to it

    async def publication_of(n: int) -> dict:
        lookup = {"json": {"code": uscc(n)}, "params": {"min_position": head}}
        found = (await client.post("/v1/subjects:lookup", **lookup)).json()
        page = await client.get(
            f"/v1/subjects/{found['subject_id']}/records",
            params={"include": "all"},
            headers=auditor,
        )
        [penalty] = page.json()["records"]
        return {"severity": penalty["severity"], **penalty["publication"]}

    # today is 2026-11-20: the 2025 fine is still published, as its authority declared
    assert await publication_of(1) == {
        "severity": "general",
        "state": "published",
        "from": "2025-11-20",
        "until": "2028-11-20",
    }
    assert (await publication_of(2))["until"] == "2029-05-20"
    assert (await publication_of(3))["until"] == "2029-06-01"
    assert (await publication_of(4))["state"] == "not_published"
    assert (await publication_of(5))["until"] == "2029-06-01"
