"""Replayed attacks on what is echoed and what looks alike (issue 12, item 6): unmasked legacy
and embedded ID numbers in batch answers and import reports, and zero-width or bidirectional
characters that made a second, identical-looking record pass the duplicate check."""

from __future__ import annotations

import csv
import io

import pytest
from pydantic import ValidationError

from service.commanding.cases import RepairApplication
from tests.builders import (
    AUTHORITY_CODE,
    PENALTY_FILE_HEADER,
    enterprise,
    penalty,
    penalty_file,
    penalty_file_row,
    resident_id,
)

pytestmark = pytest.mark.api
PROBLEMS = "https://credit-transport.example/problems/"


def head(services) -> int:
    return services.ledger.recorder.max_notification_id() or 0


def access_rows(services) -> int:
    from sqlalchemy import text

    with services.write_engine.connect() as connection:
        return connection.execute(text("SELECT count(*) FROM access_log")).scalar_one()


# --- Masking ---------------------------------------------------------------------------------


async def test_status_batch_masks_legacy_and_embedded_id_numbers(client, services):
    full = resident_id(3)  # 410105198503140033-like, valid
    body = {"codes": ["110105491231002", "1" + full, full + "9", f"A{full}B", full]}
    response = await client.post("/v1/status:batch", json=body)
    assert response.status_code == 200, response.text
    masked = [item["code_masked"] for item in response.json()["results"]]
    assert masked == [
        "110105******002",
        "1" + full[:5] + "*" * 10 + full[-3:],
        full[:6] + "*" * 10 + full[-2:] + "9",
        f"A{full[:6]}********{full[-4:]}B",
        f"{full[:6]}********{full[-4:]}",
    ]
    assert all(full not in item and full[6:14] not in item for item in masked)
    assert head(services) == 0
    assert access_rows(services) == 0  # no subject found: nothing read, nothing logged


async def test_the_import_report_never_repeats_an_id_number(client, services):
    person = resident_id(7)
    bad_check = person[:17] + ("0" if person[17] != "0" else "1")
    rows = [
        penalty_file_row(1, CF_XDR_LB="自然人", CF_XDR_SHXYM=bad_check),
        penalty_file_row(2, CF_WFXW=f"当事人{person}超限运输", CF_JDRQ="2027-01-01"),
    ]
    data = penalty_file(rows)
    report = await client.post("/v1/imports", files={"file": ("batch.csv", data)})
    assert report.status_code == 200, report.text
    as_json = report.text
    sheet = await client.post(
        "/v1/imports", files={"file": ("batch.csv", data)}, params={"format": "csv"}
    )
    as_csv = sheet.content.decode("utf-8-sig")
    for answer in (as_json, as_csv):
        assert person not in answer and bad_check not in answer
        assert person[6:14] not in answer  # nor the birth date
    header, *lines = csv.reader(io.StringIO(as_csv))
    cells = [dict(zip(header, line, strict=True)) for line in lines]
    assert cells[1]["CF_WFXW"] == f"当事人{person[:6]}********{person[-4:]}超限运输"
    assert header == ["line", "reason", *PENALTY_FILE_HEADER]
    assert head(services) == 0


async def test_a_problem_detail_quoting_a_reference_masks_the_id_number_in_it(client, services):
    person = resident_id(9)
    subject = (await client.post("/v1/subjects", json=enterprise(1))).json()
    url = f"/v1/subjects/{subject['subject_id']}/events"
    ref = f"罚{person}号"
    assert (await client.post(url, json=penalty(ref, fine_amount="1"))).status_code == 201
    before = head(services)
    conflict = await client.post(url, json=penalty(ref, fine_amount="2"))
    assert conflict.status_code == 409
    assert conflict.json()["detail"] == (
        f"PenaltyDecided '罚{person[:6]}********{person[-4:]}号' from authority "
        f"{AUTHORITY_CODE} is already recorded with different content; record a "
        "RecordCorrected to change it"
    )
    assert head(services) == before


# --- Look-alike characters -------------------------------------------------------------------


async def test_a_zero_width_reference_is_refused_and_full_width_is_the_same_record(
    client, services
):
    subject = (await client.post("/v1/subjects", json=enterprise(1))).json()
    url = f"/v1/subjects/{subject['subject_id']}/events"
    first = await client.post(url, json=penalty("CF-2026-001"))
    assert first.status_code == 201, first.text
    before = head(services)

    hidden = await client.post(url, json=penalty("CF-2026-\u200b001"))
    assert hidden.status_code == 422
    assert hidden.json()["type"] == PROBLEMS + "validation-error"
    assert hidden.json()["detail"] == (
        "PenaltyDecided: source_ref: contains the invisible character U+200B (ZERO WIDTH SPACE) "
        "at position 9: retype it"
    )
    assert head(services) == before

    wide = await client.post(url, json=penalty("ＣＦ-２０２６-００１"))
    assert wide.status_code == 200, wide.text  # already recorded: the same record
    assert wide.json()["record_id"] == first.json()["record_id"]
    assert head(services) == before
    changed = await client.post(url, json=penalty("ＣＦ-2026-001", fine_amount="9"))
    assert changed.status_code == 409
    assert changed.json()["type"] == PROBLEMS + "duplicate-record-conflict"
    assert head(services) == before


@pytest.mark.parametrize(
    ("field", "value", "character"),
    [
        ("name", "郑州宏达\u202e司公限有输运", "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
        ("name", "郑州宏达\u2066运输有限公司", "U+2066 (LEFT-TO-RIGHT ISOLATE)"),
        ("code", "\ufeff" + enterprise(1)["code"], "U+FEFF (ZERO WIDTH NO-BREAK SPACE)"),
        ("name", "郑州宏达\u200d运输", "U+200D (ZERO WIDTH JOINER)"),
    ],
)
async def test_invisible_characters_in_a_subject_are_refused_naming_the_field(
    client, services, field, value, character
):
    response = await client.post("/v1/subjects", json=enterprise(1, **{field: value}))
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert detail.startswith(f"{field}: contains the invisible character {character} at position")
    assert head(services) == 0


async def test_a_control_character_in_free_text_is_refused_but_a_line_break_is_kept(
    client, services
):
    subject = (await client.post("/v1/subjects", json=enterprise(1))).json()
    url = f"/v1/subjects/{subject['subject_id']}/events"
    before = head(services)
    bell = await client.post(url, json=penalty("A-1", facts="超限\x07运输"))
    assert bell.status_code == 422
    assert bell.json()["detail"] == (
        "PenaltyDecided: facts: contains the control character U+0007 at position 3"
    )
    assert head(services) == before
    lines = await client.post(url, json=penalty("A-2", facts="超限运输\n第二行\t完"))
    assert lines.status_code == 201, lines.text


async def test_an_import_row_with_a_zero_width_reference_is_rejected_with_line_and_reason(
    client, services
):
    rows = [
        penalty_file_row(1, CF_WSH="CF-2026-\u200b001"),
        penalty_file_row(2, CF_XDR_MC="宏\u202e达"),
    ]
    response = await client.post("/v1/imports", files={"file": ("batch.csv", penalty_file(rows))})
    assert response.status_code == 200, response.text
    assert response.json()["rejected"] == [
        {
            "line": 2,
            "reason": "CF_WSH 行政处罚决定书文号：取值无效（contains the invisible character "
            "U+200B (ZERO WIDTH SPACE) at position 9: retype it）",
        },
        {
            "line": 3,
            "reason": "CF_XDR_MC 行政相对人名称：取值无效（contains the invisible character "
            "U+202E (RIGHT-TO-LEFT OVERRIDE) at position 2: retype it）",
        },
    ]
    assert head(services) == 0


def test_a_case_application_refuses_invisible_characters_in_code_and_applicant():
    application = {
        "subject_code": enterprise(1)["code"],
        "record_id": "00000000-0000-4000-8000-000000000001",
        "corrections": ["罚款已缴纳"],
        "commitment_signed": True,
        "applicant": "王\u200b建国",
    }
    with pytest.raises(ValidationError) as raised:
        RepairApplication.model_validate(application)
    [error] = raised.value.errors()
    assert error["msg"] == (
        "Value error, applicant: contains the invisible character U+200B (ZERO WIDTH SPACE) at "
        "position 2: retype it"
    )
    wide = RepairApplication.model_validate(
        {**application, "applicant": "王建国", "subject_code": "９１" + enterprise(1)["code"][2:]}
    )
    assert wide.subject_code == enterprise(1)["code"]


async def test_a_name_that_nfkc_lengthens_past_its_column_is_refused(client, services):
    response = await client.post("/v1/subjects", json=enterprise(1, name="\ufdfa" * 12))
    assert response.status_code == 422
    assert response.json()["detail"] == (
        "name: has 216 characters once normalised (NFKC); at most 200"
    )
    assert head(services) == 0
