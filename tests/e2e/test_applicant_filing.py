"""The applicant's filing pages (网上申请) through the ASGI app, as a browser without JavaScript
sends them: a repair and an objection filed end to end and seen by the deciding authority over
the API; the applicant verified by a decision number, refused alike for an unknown subject;
early repairs refused with their date; bad input answered in Chinese with what was typed,
nothing written; the form token, the address budget and the body limit."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from uuid import uuid4

import httpx
import pytest

from api import web
from service.bootstrap import Services
from tests.applicant import (
    COMPANY,
    LICENCE,
    NEW_PENALTY,
    OLD_PENALTY,
    codes_of,
    identify,
    message_of,
    page_client,
    settled,
    subject_with_records,
    submit,
    token_of,
    value_of,
    without_typed,
)
from tests.builders import AUTHORITY_NAME, enterprise, individual, licence, penalty, uscc

pytestmark = pytest.mark.e2e
REPAIR = {
    "applicant": "郑州宏达道路运输有限公司",
    "corrections": "罚款已于2026年6月20日缴纳\n已完成整改",
    "evidence": "缴款凭证.pdf\n整改报告.pdf",
    "commitment": "signed",
}


@pytest.fixture
async def http(settings, services) -> AsyncIterator[httpx.AsyncClient]:
    async with page_client(settings, services) as client:
        yield client


@pytest.fixture
def recorder(role_headers) -> dict[str, str]:
    return role_headers["recorder"]


@pytest.fixture
async def records(http, recorder) -> dict:
    return await subject_with_records(http, recorder)


def head(services: Services) -> int:
    """The event log's head: unchanged means nothing was written."""
    return services.ledger.recorder.max_notification_id() or 0


async def access_log(http, role_headers, subject_id: str) -> list[dict]:
    answer = await http.get(
        f"/v1/subjects/{subject_id}/access-log", headers=role_headers["auditor"]
    )
    assert answer.status_code == 200, answer.text
    return [e for e in answer.json()["entries"] if e["client_id"] == "applicant"]


# The first step: who applies ------------------------------------------------------------------
async def test_the_first_step_asks_for_the_code_and_a_decision_number_in_a_post(http):
    page = await http.get("/cases/apply?kind=objection")
    assert page.status_code == 200
    html = page.text
    assert '<html lang="zh-CN">' in html and "<script" not in html and "src=" not in html
    assert '<form method="post" action="/cases/apply"' in html
    for name, label in (("subject_code", "主体代码"), ("decision_number", "决定书文号")):
        assert f'<label for="{name}">{label}</label>' in html
    assert re.search(r'value="objection" required checked', html)
    cookie = page.headers["set-cookie"]
    assert cookie.startswith(f"__Host-applicant-form={token_of(html)};")
    for flag in ("HttpOnly", "Secure", "SameSite=lax", "Path=/"):
        assert flag.lower() in cookie.lower()
    assert "/cases/apply" not in (await http.get("/openapi.json")).text


async def test_the_applicant_is_verified_by_any_decision_on_the_subjects_file(
    http, records, role_headers
):
    # The licence's number, typed with other brackets and spaces, names the subject's file.
    step = await identify(http, "repair", COMPANY["code"], " 豫交许[2025]0001号 ")
    assert step.status_code == 200, message_of(step.text)
    html = step.text
    assert f'<dd id="subject-name">{COMPANY["name"]}</dd>' in html
    listed = re.findall(r'<span class="ref">([^<]+)</span>', html)
    assert listed == [NEW_PENALTY, OLD_PENALTY]  # published conduct only, latest first
    assert LICENCE not in listed
    old = html.split(OLD_PENALTY, 1)[1]
    assert f"行政处罚 · 2026年6月1日 · {AUTHORITY_NAME}" in old
    assert "事由：超限运输" in old
    assert "可申请信用修复（最短公示期已于 2026年9月1日 届满）" in old
    new = html.split(NEW_PENALTY, 1)[1].split(OLD_PENALTY, 1)[0]
    assert '<span class="not-yet">2027年1月15日起可申请信用修复</span>' in new
    assert "信用修复承诺" in html and 'name="commitment" value="signed" required' in html
    # The code travels back in the form, never in a link; the read is logged under "applicant".
    assert "/cases/apply/submit" in html and COMPANY["code"] not in str(step.url)
    (logged,) = await access_log(http, role_headers, records["subject_id"])
    assert logged["role"] == "applicant" and logged["action"] == "applicant_records"
    assert set(logged["returned"]["record_ids"]) == {records[OLD_PENALTY], records[NEW_PENALTY]}


async def test_a_wrong_number_reads_exactly_like_an_unknown_subject(
    http, records, role_headers, services
):
    before = head(services)
    wrong = await identify(http, "repair", COMPANY["code"], "郑交执罚〔2026〕9999号")
    unknown = await identify(http, "repair", uscc(9811), "郑交执罚〔2026〕9999号")
    elsewhere = await identify(http, "repair", uscc(9811), OLD_PENALTY)  # a number of another's
    for answer in (wrong, unknown, elsewhere):
        assert answer.status_code == 404
        assert message_of(answer.text) == web.NOT_VERIFIED
        assert COMPANY["name"] not in answer.text
    assert without_typed(wrong.text) == without_typed(unknown.text) == without_typed(elsewhere.text)
    # What was typed stays in the form, to be corrected.
    assert value_of(wrong.text, "subject_code") == COMPANY["code"]
    assert value_of(wrong.text, "decision_number") == "郑交执罚〔2026〕9999号"
    assert await access_log(http, role_headers, records["subject_id"]) == []
    assert head(services) == before

    malformed = await identify(http, "repair", "91410105MA0000000X", OLD_PENALTY)
    assert malformed.status_code == 422 and message_of(malformed.text) == web.BAD_CODE
    empty = await identify(http, "", COMPANY["code"], "")
    assert empty.status_code == 422 and message_of(empty.text) == web.IDENTIFY_FIELDS


async def test_a_person_files_with_the_id_number_which_no_page_shows_again(http, recorder):
    driver = individual(813)
    subject = await http.post("/v1/subjects", json=driver, headers=recorder)
    assert subject.status_code == 201, subject.text
    made = await http.post(
        f"/v1/subjects/{subject.json()['subject_id']}/events",
        json=penalty("郑交执罚〔2026〕0813号", decision_date="2026-06-01"),
        headers=recorder,
    )
    await settled(http, made.json()["position"])
    step = await identify(http, "repair", driver["code"], "郑交执罚〔2026〕0813号")
    assert step.status_code == 200, message_of(step.text)
    masked = re.search(r'<dd id="subject-code">([^<]+)</dd>', step.text)
    assert masked and masked.group(1) == f"{driver['code'][:6]}********{driver['code'][-4:]}"
    # The number the person typed comes back only inside the form that sends it again.
    assert step.text.count(driver["code"]) == 2  # the two forms' hidden fields
    filed = await submit(http, step, record_id=made.json()["record_id"], **REPAIR)
    assert filed.status_code == 201, message_of(filed.text)
    assert driver["code"] not in filed.text and masked.group(1) in filed.text


async def test_a_subject_without_published_conduct_has_nothing_to_file_on(http, recorder):
    other = enterprise(812)
    subject = await http.post("/v1/subjects", json=other, headers=recorder)
    sid = subject.json()["subject_id"]
    made = await http.post(
        f"/v1/subjects/{sid}/events", json=licence("豫交许〔2025〕0812号"), headers=recorder
    )
    await settled(http, made.json()["position"])
    step = await identify(http, "repair", other["code"], "豫交许〔2025〕0812号")
    assert step.status_code == 200
    assert 'id="no-records"' in step.text and "/cases/apply/submit" not in step.text


# Filing ------------------------------------------------------------------------------------
async def test_a_repair_filed_on_the_page_reaches_the_deciding_authority(
    http, records, recorder, services
):
    step = await identify(http, "repair", COMPANY["code"], OLD_PENALTY)
    filed = await submit(http, step, record_id=records[OLD_PENALTY], **REPAIR)
    assert filed.status_code == 201, message_of(filed.text)
    number, code = codes_of(filed.text)
    assert re.fullmatch(r"XF20261120\d{6}", number) and re.fullmatch(r"[A-Z2-9]{8}", code)
    assert "查询码只在这里显示这一次" in filed.text
    assert f'<dd id="filed-record">{OLD_PENALTY}（行政处罚，2026年6月1日）</dd>' in filed.text
    assert "3 个工作日内作出决定" in filed.text and "10 个工作日内办结" in filed.text
    # The form's token went with the confirmation: sending the form again files nothing twice.
    assert "__Host-applicant-form" not in http.cookies
    before = head(services)
    again = await submit(http, step, record_id=records[OLD_PENALTY], **REPAIR)
    assert again.status_code == 403 and message_of(again.text) == web.STALE_FORM
    assert head(services) == before
    assert value_of(again.text, "applicant") == REPAIR["applicant"]

    # The deciding authority sees the case over the API and takes it on.
    await settled(http, before)
    listed = await http.get("/v1/cases", headers=recorder)
    assert number in [case["case_number"] for case in listed.json()["cases"]]
    accepted = await http.post(f"/v1/cases/{number}:accept", json={}, headers=recorder)
    assert accepted.status_code == 200, accepted.text
    progress = await http.post(
        "/v1/cases:progress",
        json={"case_number": number, "query_code": code},
        params={"min_position": accepted.json()["position"]},
    )
    view = progress.json()
    assert (view["kind"], view["status"], view["record_id"]) == (
        "repair",
        "accepted",
        records[OLD_PENALTY],
    )
    assert view["steps"][0]["evidence"] == ["缴款凭证.pdf", "整改报告.pdf"]


async def test_an_objection_filed_on_the_page_flags_the_record(
    http, records, recorder, role_headers, services
):
    step = await identify(http, "objection", COMPANY["code"], NEW_PENALTY)
    assert 'id="grounds"' in step.text and "信用修复承诺" not in step.text
    filed = await submit(
        http,
        step,
        record_id=records[NEW_PENALTY],
        applicant="郑州宏达道路运输有限公司",
        grounds="wrong_content",
        statement="车辆已按规定维护，有维护记录",
        evidence="维护记录.pdf",
    )
    assert filed.status_code == 201, message_of(filed.text)
    number, code = codes_of(filed.text)
    assert number.startswith("YY20261120") and "异议处理中" in filed.text
    await settled(http, head(services))
    listed = await http.get("/v1/cases", headers=recorder)
    assert number in [case["case_number"] for case in listed.json()["cases"]]
    shown = await http.get(
        f"/v1/subjects/{records['subject_id']}/records", headers=role_headers["agency"]
    )
    flagged = {r["source_ref"]: r["objection"] for r in shown.json()["records"]}
    assert flagged[NEW_PENALTY] == {"case_number": number, "label": "异议处理中"}
    assert flagged[OLD_PENALTY] is None
    # The applicant follows it with the codes the confirmation showed.
    progress = await http.post("/cases/progress", data={"case_number": number, "query_code": code})
    assert '<dd id="case-kind">异议</dd>' in progress.text
    assert "2027年1月15日起" in progress.text  # when the record may be repaired


async def test_an_early_repair_is_refused_with_the_date_it_becomes_possible(
    http, records, services
):
    step = await identify(http, "repair", COMPANY["code"], OLD_PENALTY)
    before = head(services)
    early = await submit(http, step, record_id=records[NEW_PENALTY], **REPAIR)
    assert early.status_code == 409
    assert message_of(early.text) == (
        "该记录的最短公示期尚未届满，2027年1月15日起方可申请信用修复。期满前可以对记录内容提出异议。"
    )
    assert head(services) == before
    # Everything typed is still there.
    assert re.search(rf'value="{records[NEW_PENALTY]}" required checked', early.text)
    assert value_of(early.text, "applicant") == REPAIR["applicant"]
    assert value_of(early.text, "corrections") == REPAIR["corrections"]
    assert value_of(early.text, "evidence") == REPAIR["evidence"]
    assert 'value="signed" required checked' in early.text


@pytest.mark.parametrize(
    ("kind", "fields", "message"),
    [
        ("repair", {**REPAIR, "commitment": ""}, "请阅读并勾选信用修复承诺。"),
        ("repair", {**REPAIR, "corrections": " \n "}, "请逐行填写纠正失信行为、履行义务的情况"),
        ("repair", {**REPAIR, "record_id": ""}, "请选择要申请的记录。"),
        ("repair", {**REPAIR, "applicant": "郑州\u200b宏达"}, "申请人含有不可见字符"),
        ("repair", {**REPAIR, "applicant": " "}, "请填写申请人"),
        ("repair", {**REPAIR, "evidence": "\n".join(["凭证"] * 51)}, "材料至多 50 项"),
        (
            "objection",
            {"applicant": "宏达", "statement": "有误", "grounds": ""},
            "请选择异议理由。",
        ),
        ("objection", {"applicant": "宏达", "grounds": "wrong_content"}, "请填写异议说明"),
    ],
)
async def test_bad_input_is_answered_in_chinese_keeping_what_was_typed(
    http, records, services, kind, fields, message
):
    step = await identify(http, kind, COMPANY["code"], OLD_PENALTY)
    before = head(services)
    body = {"record_id": records[OLD_PENALTY], **fields}
    answer = await submit(http, step, **body)
    assert answer.status_code == 422
    assert message_of(answer.text).startswith(message)
    assert head(services) == before
    assert value_of(answer.text, "applicant") == body["applicant"]
    if kind == "objection":
        assert value_of(answer.text, "statement") == body.get("statement", "")


async def test_a_second_case_on_one_record_is_refused(http, records):
    step = await identify(http, "repair", COMPANY["code"], OLD_PENALTY)
    assert (await submit(http, step, record_id=records[OLD_PENALTY], **REPAIR)).status_code == 201
    step = await identify(http, "objection", COMPANY["code"], OLD_PENALTY)
    second = await submit(
        http,
        step,
        record_id=records[OLD_PENALTY],
        applicant="宏达",
        grounds="wrong_content",
        statement="金额有误",
    )
    assert second.status_code == 409
    assert message_of(second.text).startswith("该记录已有正在办理的信用修复或异议案件")


async def test_the_second_step_checks_the_verification_again(http, records, services):
    """The hidden fields come back from the browser: changed, they verify nothing."""
    step = await identify(http, "repair", COMPANY["code"], OLD_PENALTY)
    forged = step.text.replace(
        f'name="decision_number" value="{OLD_PENALTY}"', 'name="decision_number" value="伪造"'
    )
    before = head(services)
    answer = await submit(
        http, httpx.Response(200, text=forged), record_id=records[OLD_PENALTY], **REPAIR
    )
    assert answer.status_code == 404 and message_of(answer.text) == web.NOT_VERIFIED
    assert head(services) == before


async def test_forms_without_their_token_change_nothing(http, records, services):
    before = head(services)
    tokenless = await http.post(
        "/cases/apply",
        data={"kind": "repair", "subject_code": COMPANY["code"], "decision_number": OLD_PENALTY},
    )
    assert tokenless.status_code == 403 and message_of(tokenless.text) == web.STALE_FORM
    assert value_of(tokenless.text, "subject_code") == COMPANY["code"]
    step = await identify(http, "repair", COMPANY["code"], OLD_PENALTY)
    http.cookies.clear()  # another site's form: the browser would not send the cookie
    forged = await submit(http, step, record_id=records[OLD_PENALTY], **REPAIR)
    assert forged.status_code == 403
    assert head(services) == before


async def test_verifying_shares_the_address_budget_of_filing(http, settings):
    answers = [
        await identify(http, "repair", COMPANY["code"], f"郑交执罚〔2026〕{n:04d}号")
        for n in range(settings.applicant_burst + 1)
    ]
    assert [a.status_code for a in answers[:-1]] == [404] * settings.applicant_burst
    limited = answers[-1]
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    wait = limited.headers["retry-after"]
    assert message_of(limited.text) == f"操作过于频繁，请 {wait} 秒后再试。"
    assert (
        value_of(limited.text, "decision_number")
        == f"郑交执罚〔2026〕{settings.applicant_burst:04d}号"
    )
    filing = {  # one budget with the JSON endpoint
        "subject_code": COMPANY["code"],
        "record_id": str(uuid4()),
        "corrections": ["罚款已缴纳"],
        "commitment_signed": True,
        "applicant": "宏达",
    }
    json_api = await http.post("/v1/cases/repair", json=filing)
    assert json_api.status_code == 429


async def test_the_fullest_form_the_page_allows_fits_the_body_limit(http, records, settings):
    """The textareas stop at what the commands take; sent as multipart (UTF-8, not
    percent-encoded), the fullest form stays under the body limit of every page."""
    limits = web.LIMITS
    step = await identify(http, "objection", COMPANY["code"], OLD_PENALTY)
    line = "材" * limits.line_chars
    fullest = {
        "record_id": records[OLD_PENALTY],
        "applicant": "宏" * 200,
        "grounds": "wrong_content",
        "statement": "异" * limits.statement_chars,
        "evidence": "\n".join([line] * limits.evidence_lines),
        "corrections": "\n".join([line] * limits.corrections_lines),
    }
    assert len(fullest["evidence"]) <= limits.evidence_chars  # as the textarea counts
    assert len(fullest["corrections"]) <= limits.corrections_chars
    # A browser sends each line break as CRLF.
    fullest = {name: value.replace("\n", "\r\n") for name, value in fullest.items()}
    request = http.build_request(
        "POST", "/cases/apply/submit", files={k: (None, v) for k, v in fullest.items()}
    )
    assert len(request.read()) < settings.max_body_bytes
    answer = await submit(http, step, **fullest)
    assert answer.status_code == 201, message_of(answer.text)


def test_markup_in_what_was_typed_is_escaped():
    html = web.templates.get_template("apply.html").render(
        file=None,
        held=False,
        typed=web._typed(kind="repair", subject_code='"><script>x</script>'),
        message="<b>x</b>",
        notice="",
        csrf_token="t",
        limits=web.LIMITS,
        page="apply",
        kinds=list(web.KINDS.items()),
        kind_name="",
        grounds=[],
        commitment=web.COMMITMENT,
    )
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;b&gt;x" in html
