"""Credit reports over HTTP, against a hand-built history: a penalty repaired (left out), a
penalty under objection (marked 异议处理中), a black-list entry that lapsed with the repaired
penalty it rested on. A report as of now and as of the day before, each against the as-of
status; the special report's statements; verification of the genuine PDF, refusal of one
byte changed and of a wrong code; the text read back from the PDF; the auditor's
recomputation with its inclusion proofs; who may read which report."""

from __future__ import annotations

import io
import re
from datetime import datetime
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from domain.integrity import event_leaf
from domain.merkle import verify_inclusion
from tests.builders import enterprise, licence, list_entry, penalty, rating

pytestmark = pytest.mark.api
BEIJING = ZoneInfo("Asia/Shanghai")
COMPANY = enterprise(811)
PURPOSE = {"X-Purpose": "%E6%8B%9B%E6%A0%87%E6%8A%95%E6%A0%87"}  # 招标投标


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


async def history(client, clock) -> dict:
    """Recorded on 1 July 2026: a licence, a rating, two general penalties and a black-list
    entry resting on the first; on 20 November 2026 (now) the first is repaired and the second
    is objected to."""
    now = clock.moment
    clock.moment = datetime(2026, 7, 1, 10, tzinfo=BEIJING)
    sid = (await client.post("/v1/subjects", json=COMPANY)).json()["subject_id"]
    url = f"/v1/subjects/{sid}/events"
    ids = {"subject_id": sid}
    for name, body in {
        "licence": licence("RPT-LICENCE", decision_date="2025-03-01"),
        "rating": rating("RPT-RATING", decision_date="2026-03-01"),
        "repaired": penalty("RPT-REPAIRED", decision_date="2026-06-01"),
        "objected": penalty("RPT-OBJECTED", decision_date="2026-06-15"),
    }.items():
        ack = await client.post(url, json=body)
        assert ack.status_code == 201, ack.text
        ids[name] = ack.json()["record_id"]
    black = await client.post(
        url,
        json={
            **list_entry("RPT-BLACK", decision_date="2026-07-01"),
            "basis_record_id": ids["repaired"],
        },
    )
    assert black.status_code == 201, black.text
    clock.moment = now
    repair = await client.post(
        "/v1/cases/repair",
        json={
            "subject_code": COMPANY["code"],
            "record_id": ids["repaired"],
            "corrections": ["罚款已缴纳"],
            "commitment_signed": True,
            "evidence": ["缴款凭证.pdf"],
            "applicant": COMPANY["name"],
        },
    )
    assert repair.status_code == 201, repair.text
    after = {"min_position": repair.json()["position"]}
    number = repair.json()["case_number"]
    await client.post(f"/v1/cases/{number}:accept", json={}, params=after)
    approved = await client.post(
        f"/v1/cases/{number}:approve", json={"reasons": "符合条件"}, params=after
    )
    assert approved.status_code == 200, approved.text
    objection = await client.post(
        "/v1/cases/objection",
        json={
            "subject_code": COMPANY["code"],
            "record_id": ids["objected"],
            "grounds": "wrong_content",
            "statement": "罚款金额有误",
            "applicant": COMPANY["name"],
        },
    )
    assert objection.status_code == 201, objection.text
    ids["objection_case"] = objection.json()["case_number"]
    ids["repair_case"] = repair.json()
    ids["position"] = objection.json()["position"]
    return ids


async def issue(client, sid: str, headers=PURPOSE, **order) -> tuple:
    response = await client.post(f"/v1/subjects/{sid}/credit-reports", json=order, headers=headers)
    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/pdf"
    number = response.headers["X-Report-Number"]
    assert response.headers["Location"] == f"/v1/credit-reports/{number}"
    code = re.search(r"核验码\s*([A-Z2-9]{12})", text_of(response.content))
    assert code is not None
    return number, code.group(1), response.content


async def stored_contents(services, number: str) -> dict:
    report = services.reports.find(number)
    assert report is not None
    return report.contents


async def test_a_report_as_of_now_leaves_the_repaired_penalty_and_lapsed_entry_out(
    client, clock, services
):
    ids = await history(client, clock)
    sid = ids["subject_id"]
    number, code, pdf = await issue(client, sid)
    assert re.fullmatch(r"XYBG20261120\d{6}", number)
    contents = await stored_contents(services, number)

    assert [r["source_ref"] for r in contents["penalties"]] == ["RPT-OBJECTED"]
    assert contents["penalties"][0]["objection_case"] == ids["objection_case"]
    assert [r["source_ref"] for r in contents["objections"]] == ["RPT-OBJECTED"]
    assert [r["source_ref"] for r in contents["licences"]] == ["RPT-LICENCE"]
    assert contents["lists"] == []
    assert contents["period"] == {"start": "2023-11-21", "end": "2026-11-20"}
    assert contents["known_before"] is None and contents["report_day"] == "2026-11-20"

    # The status an agency reads now says the same.
    status = (
        await client.get(f"/v1/subjects/{sid}/status", params={"min_position": ids["position"]})
    ).json()
    assert [(g["scheme"], g["grade"]) for g in contents["ratings"]] == [
        (g["scheme"], g["grade"]) for g in status["grades"]
    ]
    assert status["lists"] == []
    assert status["published_records"]["by_family"]["penalty"] == len(contents["penalties"])

    text = text_of(pdf)
    for expected in (
        "公共信用信息报告",
        number,
        code,
        COMPANY["name"],
        "行政处罚信息",
        "RPT-OBJECTED",
        "异议处理中",
        "2026年11月20日",
        "已信用修复的记录",
    ):
        assert expected in text, expected
    assert "RPT-REPAIRED" not in text and "RPT-BLACK" not in text


async def test_a_report_as_of_the_day_before_equals_the_as_of_status(client, clock, services):
    ids = await history(client, clock)
    sid = ids["subject_id"]
    number, _, pdf = await issue(client, sid, as_of="2026-11-19")
    contents = await stored_contents(services, number)
    assert [r["source_ref"] for r in contents["penalties"]] == ["RPT-OBJECTED", "RPT-REPAIRED"]
    assert all(r["objection_case"] is None for r in contents["penalties"])
    assert contents["objections"] == []
    assert [m["list_type"] for m in contents["lists"]] == ["black"]

    then = (await client.get(f"/v1/subjects/{sid}/status", params={"as_of": "2026-11-19"})).json()
    assert contents["ratings"] == [
        {
            "scheme": g["scheme"],
            "grade": g["grade"],
            "score": g["score"],
            "valid_from": g["valid_from"],
            "valid_until": g["valid_until"],
            "authority": g["authority_name"],
            "forced_by": g["forced_by"],
        }
        for g in then["grades"]
    ]
    assert [(m["list_type"], m["entered_on"]) for m in contents["lists"]] == [
        (m["list_type"], m["entered_on"]) for m in then["lists"]
    ]
    assert then["published_records"]["by_family"]["penalty"] == 2
    assert contents["basis"]["policy_version"] == then["policy_version"]
    assert contents["known_before"] == "2026-11-19T16:00:00+00:00"  # midnight in Beijing
    text = text_of(pdf)
    assert "RPT-REPAIRED" in text and "严重失信主体名单" in text


async def test_the_special_report_states_penalties_and_lists_of_the_period(client, clock, services):
    ids = await history(client, clock)
    sid = ids["subject_id"]
    now_number, _, now_pdf = await issue(client, sid, kind="special", years=3)
    before_number, _, _ = await issue(client, sid, kind="special", years=3, as_of="2026-11-19")
    now = (await stored_contents(services, now_number))["special"]["statements"]
    before = (await stored_contents(services, before_number))["special"]["statements"]
    assert {s["topic"]: s["count"] for s in now} == {
        "penalties": 1,
        "serious_dishonesty": 0,
        "black_list": 0,
    }
    assert {s["topic"]: s["count"] for s in before} == {
        "penalties": 2,
        "serious_dishonesty": 0,
        "black_list": 1,
    }
    text = text_of(now_pdf)
    assert "专项信用报告（交通运输领域）" in text
    assert "有行政处罚记录 1 条" in text
    assert "无严重失信行为记录" in text and "未被列入严重失信主体名单" in text


async def test_anyone_verifies_a_genuine_report_and_a_changed_one_does_not(
    client, clock, services, anonymous
):
    ids = await history(client, clock)
    number, code, pdf = await issue(client, ids["subject_id"])
    anonymous.headers.pop("Authorization", None)
    scanned = await anonymous.get("/reports/verify", params={"number": number, "code": code})
    assert scanned.status_code == 200
    assert "报告真实有效" in scanned.text and COMPANY["name"] in scanned.text
    assert "2026年11月20日" in scanned.text

    upload = await anonymous.post(
        "/reports/verify",
        data={"number": number, "code": code.lower()},
        files={"file": ("report.pdf", pdf, "application/pdf")},
    )
    assert upload.status_code == 200 and "文件一致" in upload.text

    changed = bytearray(pdf)
    changed[len(changed) // 2] ^= 0x01
    refused = await anonymous.post(
        "/reports/verify",
        data={"number": number, "code": code},
        files={"file": ("report.pdf", bytes(changed), "application/pdf")},
    )
    assert refused.status_code == 409 and "文件不一致" in refused.text

    wrong = await anonymous.post("/reports/verify", data={"number": number, "code": "AAAAAAAAAAAA"})
    unknown = await anonymous.post(
        "/reports/verify", data={"number": "XYBG20261120999999", "code": code}
    )
    for answer in (wrong, unknown):
        assert answer.status_code == 404
        assert "未找到该报告" in answer.text and COMPANY["name"] not in answer.text

    log = services.access_log.for_subject(UUID(ids["subject_id"]), after_seq=None, limit=200)
    actions = [entry["action"] for entry in log]
    assert "credit_report" in actions
    assert actions.count("credit_report_verify") == 3  # the genuine ones, changed file included


async def test_the_auditor_recomputes_a_report_and_proves_its_events(
    client, clock, auditor, services
):
    ids = await history(client, clock)
    number, _, _ = await issue(client, ids["subject_id"], as_of="2026-11-19")
    found = await client.get(f"/v1/credit-reports/{number}/recomputation", headers=auditor)
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["ok"] is True and body["differences"] == []
    assert body["recomputed_sha256"] == body["contents_sha256"]
    root = bytes.fromhex(body["checkpoint"]["root"])
    size = body["checkpoint"]["tree_size"]
    # Only the events recorded by 19 November are the report's: the cases came on the 20th,
    # but every event of the stream up to the report's version is proved in the tree.
    assert [e["version"] for e in body["events"]] == list(range(1, len(body["events"]) + 1))
    for event in body["events"]:
        leaf = event_leaf(bytes.fromhex(event["event_hash"]))
        proof = [bytes.fromhex(node) for node in event["proof"]]
        assert verify_inclusion(leaf, event["leaf_index"], size, proof, root)
    refused = await client.get(f"/v1/credit-reports/{number}/recomputation")
    assert refused.status_code == 403


async def test_a_report_needs_a_purpose_and_its_metadata_is_the_asking_agencys(
    client, clock, role_headers
):
    ids = await history(client, clock)
    sid = ids["subject_id"]
    no_purpose = await client.post(f"/v1/subjects/{sid}/credit-reports", json={})
    assert no_purpose.status_code == 422
    too_long = await client.post(
        f"/v1/subjects/{sid}/credit-reports", json={"years": 6}, headers=PURPOSE
    )
    assert too_long.status_code == 422
    future = await client.post(
        f"/v1/subjects/{sid}/credit-reports", json={"as_of": "2026-11-21"}, headers=PURPOSE
    )
    assert future.status_code == 422
    number, _, pdf = await issue(client, sid, sections=["penalties"])
    meta = (await client.get(f"/v1/credit-reports/{number}")).json()
    assert meta["summary"] == {"penalties": 1}
    assert meta["subject_name"] == COMPANY["name"] and meta["purpose"] == "招标投标"
    import hashlib

    assert meta["pdf_sha256"] == hashlib.sha256(pdf).hexdigest()
    auditor = await client.get(f"/v1/credit-reports/{number}", headers=role_headers["auditor"])
    assert auditor.status_code == 200
    missing = await client.get("/v1/credit-reports/XYBG20261120999999")
    assert missing.status_code == 404


async def test_a_report_verifies_offline_from_what_it_prints_and_the_published_keys(
    client, clock, anonymous
):
    """What docs/credit-reports.md tells an auditor to do without the service: rebuild the
    signed statement from the PDF's text and check it with the checkpoint key published at
    /v1/audit/checkpoint-keys (the JSON written out by hand here, as the docs give it)."""
    import base64
    import json

    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    ids = await history(client, clock)
    number, _, pdf = await issue(client, ids["subject_id"])
    text = text_of(pdf)
    block = text[text.index("核验信息") :]
    fields = {
        "root": re.search(r"检查点根哈希\s*([0-9a-f]{64})", block)[1],  # type: ignore[index]
        "contents_sha256": re.search(r"SHA-256 ([0-9a-f]{64})", block)[1],  # type: ignore[index]
        "issued_at": re.search(r"issued_at (\S+)", block)[1],  # type: ignore[index]
        "tree_size": int(re.search(r"日志规模 (\d+)", block)[1]),  # type: ignore[index]
        "origin": re.search(r"日志名 (\S+)", block)[1],  # type: ignore[index]
    }
    signed = re.search(r"报告签名\s*Ed25519 ([0-9a-f]+) (.+?)\s*适用规则", block, re.S)
    assert signed is not None
    key_id, signature = signed[1], base64.b64decode(re.sub(r"\s", "", signed[2]))
    message = json.dumps(
        {"format": "credit-report/1", "number": number, **fields},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    keys = (await anonymous.get("/v1/audit/checkpoint-keys")).json()
    [key] = [k for k in keys["keys"] if k["key_id"] == key_id]
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(key["public_key"]))
    public.verify(signature, message)  # raises if it does not verify
    with pytest.raises(InvalidSignature):
        public.verify(signature, message.replace(number.encode(), b"XYBG20261120999999"))
