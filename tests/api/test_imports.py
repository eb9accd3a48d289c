"""Importing a 双公示 file over HTTP: a report per row, idempotent, nothing half-written."""

from __future__ import annotations

import csv
import io
from typing import Any
from uuid import UUID

import pytest

from domain.codes import mask_code
from domain.subject import natural_key
from service.commanding.identity import record_id_for
from tests.builders import (
    AUTHORITY_CODE,
    AUTHORITY_NAME,
    PENALTY_FILE_HEADER,
    penalty_file,
    penalty_file_row,
    uscc,
)

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


# The same penalty as a national file's row and as an HTTP request body.
SAME_PENALTY_CELLS = {
    "CF_XDR_MC": "郑州顺达货运有限公司",
    "CF_XDR_LB": "法人及非法人组织",
    "CF_WSH": "郑交执罚〔2026〕0007号",
    "CF_WFXW": "超限运输",
    "CF_SY": "车辆超限运输，超限率 12%",
    "CF_YJ": "《公路安全保护条例》第六十四条",
    "CF_CFLB": "罚款；警告",
    "CF_NR": "罚款0.5万元",
    "CF_NR_FK": "0.5",
    "CF_NR_WFFF": "0.125",
    "CF_JDRQ": "2026-11-02",
    "CF_YXQ": "2027-11-01",
    "CF_CFJG": AUTHORITY_NAME,
    "CF_CFJGDM": AUTHORITY_CODE,
    "CF_FRDB": "张建国",
    "CF_SJLY": "郑州市交通运输局",
    "CF_SJLYDM": AUTHORITY_CODE,
    "BZ": "当场缴纳",
    "CF_YZCD": "一般",
    "RECORD_SECTOR": "road_transport",
}
SAME_PENALTY_BODY: dict[str, Any] = {
    "type": "PenaltyDecided",
    "decision_date": "2026-11-02",
    "authority_name": AUTHORITY_NAME,
    "authority_code": AUTHORITY_CODE,
    "source_ref": "郑交执罚〔2026〕0007号",
    "severity": "general",
    "procedure": "general",
    "violation_type": "超限运输",
    "facts": "车辆超限运输，超限率 12%",
    "legal_basis": "《公路安全保护条例》第六十四条",
    "penalty_categories": ["罚款", "警告"],
    "content": "罚款0.5万元",
    "fine_amount": "0.5",
    "confiscated_amount": "0.125",
    "effective_until": "2027-11-01",
    "sector": "road_transport",
    "legal_representative": "张建国",
    "data_source_name": "郑州市交通运输局",
    "data_source_code": AUTHORITY_CODE,
    "remarks": "当场缴纳",
}


async def test_an_imported_record_is_stored_and_loads_as_the_same_record_sent_over_http(
    client, services
):
    """The import's fast path may not store anything an HTTP request would not: one penalty,
    imported for one subject and sent over HTTP for another, gives the same stored events
    (topic and state bytes, but for the subject's id, code and the record id derived from
    them), and both load through the event store into the same aggregate state."""
    imported_code, sent_code = uscc(71), uscc(72)
    cells = {**SAME_PENALTY_CELLS, "CF_XDR_SHXYM": imported_code}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(list(cells))
    writer.writerow(list(cells.values()))
    report = (
        await client.post("/v1/imports", files={"file": ("batch.csv", out.getvalue().encode())})
    ).json()
    assert (report["accepted"], report["rejected"]) == (1, [])

    registered = await client.post(
        "/v1/subjects",
        json={
            "kind": "enterprise",
            "code": sent_code,
            "name": cells["CF_XDR_MC"],
            "region_code": "410105",
            "sectors": ["road_transport"],
        },
    )
    assert registered.status_code == 201, registered.text
    sent_id = UUID(registered.json()["subject_id"])
    appended = await client.post(f"/v1/subjects/{sent_id}/events", json=SAME_PENALTY_BODY)
    assert appended.status_code == 201, appended.text

    imported_id = services.files.subject_id_for_code(imported_code)
    ledger = services.ledger
    imported = ledger.recorder.select_events(imported_id)
    sent = ledger.recorder.select_events(sent_id)
    assert (
        [e.topic for e in imported]
        == [e.topic for e in sent]
        == [
            "credit:SubjectRegistered",
            "credit:PenaltyDecided",
        ]
    )
    key = natural_key("PenaltyDecided", AUTHORITY_CODE, SAME_PENALTY_BODY["source_ref"])
    imported_record = record_id_for(imported_id, key)
    sent_record = UUID(appended.json()["record_id"])
    assert sent_record == record_id_for(sent_id, key)

    def as_sent(state: bytes) -> bytes:
        """An imported event's state with the sent subject's identity in place of its own."""
        for mine, theirs in (
            (imported_id.hex, sent_id.hex),
            (imported_record.hex, sent_record.hex),
            (imported_code, sent_code),
            (mask_code("enterprise", imported_code), mask_code("enterprise", sent_code)),
        ):
            state = state.replace(mine.encode(), theirs.encode())
        return state

    assert [e.originator_version for e in imported] == [e.originator_version for e in sent]
    assert imported[1].state != sent[1].state  # the record ids differ ...
    for mine, theirs in zip(imported, sent, strict=True):
        assert as_sent(mine.state) == theirs.state  # ... and nothing else, byte for byte

    # Both load through the library into the same events and the same aggregate state.
    loaded_imported = list(ledger.repository.event_store.get(imported_id))
    loaded_sent = list(ledger.repository.event_store.get(sent_id))
    provenance = {"originator_id", "record_id", "code", "code_masked"}
    for mine, theirs in zip(loaded_imported, loaded_sent, strict=True):
        assert type(mine) is type(theirs)
        assert {k: v for k, v in vars(mine).items() if k not in provenance} == {
            k: v for k, v in vars(theirs).items() if k not in provenance
        }
    imported_subject = ledger.repository.get(imported_id)
    sent_subject = ledger.repository.get(sent_id)
    assert imported_subject.version == sent_subject.version == 2
    record = imported_subject.records[str(imported_record)]
    assert {**record, "id": str(sent_record)} == sent_subject.records[str(sent_record)]
