"""Records filed in a sector and the special report's per-sector statements; and a report
recomputed offline from a signed export of its subject (`credit audit verify-report`).

A subject in road transport and waterway transport; the test recorder may record in road
transport only, a second recorder in road, waterway and taxi transport."""

from __future__ import annotations

import json
from uuid import UUID

import pytest
from typer.testing import CliRunner

from service.audit_cli import audit_app
from service.credit_reports.contents import ReportRequest, build
from service.integrity.export import export_lines
from tests.api.test_credit_reports import PURPOSE, issue, text_of
from tests.builders import AUTHORITY_CODE, enterprise, list_entry, penalty

pytestmark = pytest.mark.api
BOTH = enterprise(812, sectors=["road_transport", "waterway_transport"])


@pytest.fixture
def wide_recorder(services) -> dict[str, str]:
    """A recorder of road, waterway and taxi transport."""
    client, _ = services.clients.create(
        "test-wide-recorder",
        "recorder",
        "郑州市交通运输局",
        AUTHORITY_CODE,
        authority_codes=[AUTHORITY_CODE],
        sectors=["road_transport", "waterway_transport", "taxi"],
    )
    return {"Authorization": f"Bearer {services.tokens.issue(client).access_token}"}


def sector_of(services, subject_id: str, record_id: str) -> str | None:
    subject = services.files.subject(UUID(subject_id))
    return subject.records[record_id]["sector"]


async def filed(client, wide_recorder, services) -> dict:
    """Penalties: one in road transport (told: the test recorder's one shared sector), one in
    waterway transport (named by the wide recorder), one in none (the wide recorder shares two
    sectors with the subject and named none)."""
    sid = (await client.post("/v1/subjects", json=BOTH)).json()["subject_id"]
    url = f"/v1/subjects/{sid}/events"
    road = await client.post(url, json=penalty("SEC-ROAD", decision_date="2026-05-01"))
    water = await client.post(
        url,
        json=penalty("SEC-WATER", decision_date="2026-05-02", sector="waterway_transport"),
        headers=wide_recorder,
    )
    unfiled = await client.post(
        url, json=penalty("SEC-NONE", decision_date="2026-05-03"), headers=wide_recorder
    )
    for answer in (road, water, unfiled):
        assert answer.status_code == 201, answer.text
    return {
        "subject_id": sid,
        "road": road.json()["record_id"],
        "water": water.json()["record_id"],
        "none": unfiled.json()["record_id"],
        "position": unfiled.json()["position"],
    }


async def test_a_record_is_filed_in_a_sector_of_the_recorder_and_the_subject(
    client, wide_recorder, services
):
    ids = await filed(client, wide_recorder, services)
    sid = ids["subject_id"]
    assert sector_of(services, sid, ids["road"]) == "road_transport"
    assert sector_of(services, sid, ids["water"]) == "waterway_transport"
    assert sector_of(services, sid, ids["none"]) is None
    records = await client.get(
        f"/v1/subjects/{sid}/records", params={"min_position": ids["position"]}
    )
    details = {r["record_id"]: r["details"] for r in records.json()["records"]}
    assert details[ids["road"]]["sector"] == "road_transport"
    assert "sector" not in details[ids["none"]]

    version = services.files.subject(UUID(sid)).version
    url = f"/v1/subjects/{sid}/events"
    not_granted = await client.post(url, json=penalty("SEC-REFUSED", sector="waterway_transport"))
    assert not_granted.status_code == 403
    assert not_granted.headers["content-type"].startswith("application/problem+json")
    assert "waterway_transport" in not_granted.json()["detail"]
    not_the_subjects = await client.post(
        url, json=penalty("SEC-TAXI", sector="taxi"), headers=wide_recorder
    )
    assert not_the_subjects.status_code == 422, not_the_subjects.text
    assert not_the_subjects.json()["rule"] == "record-sector-of-subject"
    assert services.files.subject(UUID(sid)).version == version  # nothing written

    # Sent again as it was, a record is the one already there, in its sector.
    again = await client.post(url, json=penalty("SEC-ROAD", decision_date="2026-05-01"))
    assert again.status_code == 200, again.text
    assert again.json()["record_id"] == ids["road"]


async def test_the_special_report_gives_each_sectors_statements(
    client, wide_recorder, services, auditor
):
    ids = await filed(client, wide_recorder, services)
    sid = ids["subject_id"]
    black = await client.post(
        f"/v1/subjects/{sid}/events",
        json={
            **list_entry("SEC-BLACK", decision_date="2026-06-01"),
            "basis_record_id": ids["road"],
        },
    )
    assert black.status_code == 201, black.text
    number, _, pdf = await issue(client, sid, kind="special", years=3)
    contents = services.reports.find(number).contents
    special = contents["special"]
    assert contents["format"] == 2
    assert {s["topic"]: s["count"] for s in special["statements"]} == {
        "penalties": 3,
        "serious_dishonesty": 0,
        "black_list": 1,
    }
    by_sector = {
        block["sector"]: {s["topic"]: s["count"] for s in block["statements"]}
        for block in special["sectors"]
    }
    assert by_sector == {
        "road_transport": {"penalties": 1, "serious_dishonesty": 0, "black_list": 1},
        "waterway_transport": {"penalties": 1, "serious_dishonesty": 0, "black_list": 0},
    }
    assert special["without_sector"] == {
        "penalties": 1,
        "serious_dishonesty": 0,
        "black_list": 0,
    }
    text = text_of(pdf)
    assert "分行业信用状况声明" in text
    assert "该主体在道路运输行业" in text and "该主体在水路运输行业" in text
    assert "未标注行业的记录（本报告期内 1 条）只计入上述交通运输领域的声明" in text

    water_only, _, _ = await issue(
        client, sid, kind="special", years=3, sectors=["waterway_transport"]
    )
    blocks = services.reports.find(water_only).contents["special"]["sectors"]
    assert [b["sector"] for b in blocks] == ["waterway_transport"]
    recomputed = await client.get(
        f"/v1/credit-reports/{number}/recomputation", headers={**auditor, **PURPOSE}
    )
    assert recomputed.json()["ok"] is True, recomputed.text

    not_its_sector = await client.post(
        f"/v1/subjects/{sid}/credit-reports",
        json={"kind": "special", "sectors": ["taxi"]},
        headers=PURPOSE,
    )
    assert not_its_sector.status_code == 422 and "taxi" in not_its_sector.json()["detail"]
    not_special = await client.post(
        f"/v1/subjects/{sid}/credit-reports",
        json={"kind": "credit", "sectors": ["road_transport"]},
        headers=PURPOSE,
    )
    assert not_special.status_code == 422


def test_a_special_report_asked_without_sectors_keeps_the_contents_it_was_sealed_with():
    """Reports issued before records had sectors name none in their request: they recompute
    to format 1, without a sector anywhere, so their sealed digest still matches."""
    subject = {
        "subject_id": "5f0c7a8e-3b1d-5c2a-9e4f-6a7b8c9d0e1f",
        "name": "甲公司",
        "code_masked": "91410105MA00000016",
        "kind": "enterprise",
        "region_code": "410105",
        "sectors": ["road_transport"],
        "version": 1,
        "last_position": 1,
    }
    status = {"policy_version": "2026-01", "grades": [], "lists": []}
    from datetime import date
    from zoneinfo import ZoneInfo

    old = ReportRequest.from_json(
        {"kind": "special", "years": 3, "as_of": None, "sections": [], "statement": None}
    )
    assert old.sectors is None and "sectors" not in old.as_json()
    contents = build(
        subject, {}, status, old, on=date(2026, 11, 20), known_before=None, zone=ZoneInfo("UTC")
    )
    assert contents["format"] == 1
    assert set(contents["special"]) == {"domain", "statements"}


async def test_a_report_is_recomputed_offline_from_a_signed_export(
    client, wide_recorder, services, auditor, tmp_path
):
    ids = await filed(client, wide_recorder, services)
    sid = ids["subject_id"]
    number, _, pdf = await issue(client, sid, kind="special", years=3)
    report = (await client.get(f"/v1/credit-reports/{number}", headers=auditor)).json()
    # Recorded after the report: the export holds it, the report does not reflect it.
    await client.post(f"/v1/subjects/{sid}/events", json=penalty("SEC-LATER"))
    export = b"".join(
        export_lines(
            services.checkpoints, subject_id=UUID(sid), since_tree_size=report["tree_size"]
        )
    )
    paths = {
        "export": tmp_path / "subject-export.ndjson",
        "report": tmp_path / "report.json",
        "keys": tmp_path / "keys.json",
        "pdf": tmp_path / "report.pdf",
    }
    paths["pdf"].write_bytes(pdf)
    paths["keys"].write_text(json.dumps({"keys": services.checkpoints.public_keys()}))

    def verify(export_bytes: bytes, report_json: dict):
        paths["export"].write_bytes(export_bytes)
        paths["report"].write_text(json.dumps(report_json, ensure_ascii=False))
        return CliRunner().invoke(
            audit_app,
            ["verify-report", *(f"--{name}={path}" for name, path in paths.items())],
        )

    genuine = verify(export, report)
    assert genuine.exit_code == 0, genuine.output
    assert "BROKEN" not in genuine.output and "DIFFERS" not in genuine.output

    # The PDF is not a report's JSON; a PDF changed by one byte is not the one issued.
    paths["report"].write_bytes(pdf)
    assert (
        CliRunner()
        .invoke(
            audit_app,
            ["verify-report", f"--export={paths['export']}", f"--report={paths['report']}"],
        )
        .exit_code
        == 2
    )
    paths["pdf"].write_bytes(pdf[:-1] + bytes([pdf[-1] ^ 1]))
    changed_pdf = verify(export, report)
    assert changed_pdf.exit_code == 1 and "is not the PDF issued" in changed_pdf.output
    paths["pdf"].write_bytes(pdf)

    # One event of the export altered: the water penalty's sector.
    lines = export.splitlines(keepends=True)
    altered = []
    for line in lines:
        document = json.loads(line)
        if document.get("type") == "event" and document["state"].get("source_ref") == "SEC-WATER":
            document["state"]["sector"] = "road_transport"
            line = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
        altered.append(line)
    refused = verify(b"".join(altered), report)
    assert refused.exit_code == 1
    assert "the export's signature does not verify" in refused.output
    assert "its content differs from what was sealed" in refused.output
    assert "DIFFERS: special.sectors[0].statements[0].count: issued 1, recomputed 2" in (
        refused.output
    )

    # The report's contents changed: its signed digest no longer covers them.
    changed = json.loads(json.dumps(report))
    changed["contents"]["special"]["statements"][0]["count"] = 0
    refused = verify(export, changed)
    assert refused.exit_code == 1
    assert "not those its signed digest covers" in refused.output
    assert "DIFFERS: special.statements[0].count: issued 0, recomputed 3" in refused.output
