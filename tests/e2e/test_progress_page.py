"""The applicant's progress page (案件进度查询): through the ASGI app with httpx (a look-up, what
a failed one keeps, when the record may be repaired, materials supplied on the page), then once
in headless Chromium against the app served by uvicorn, with a screenshot for the docs."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from api import web
from api.app import create_app
from service.notifications.notices import Propagation
from tests.applicant import message_of, value_of, without_typed
from tests.builders import enterprise, penalty
from tests.e2e.waiting import page_wait

pytestmark = pytest.mark.e2e
COMPANY = enterprise(701)
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "progress-page.png"
NOT_FOUND = "未找到该案件，请核对案件编号和查询码。"
PROVISIONAL = "（暂定：按法定节假日推算，放假调休安排公布后可能变动）"


def build_app(settings, services) -> FastAPI:
    app = create_app(settings, services=services)
    app.include_router(web.router)
    return app


@pytest.fixture
async def http(settings, services) -> AsyncIterator[httpx.AsyncClient]:
    """An anonymous client over the ASGI app with the applicant pages, lifespan running; over
    HTTPS, since outside development the form cookie is Secure."""
    app = build_app(settings, services)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://credit.test") as client:
            yield client


@pytest.fixture
def recorder(role_headers) -> dict[str, str]:
    return role_headers["recorder"]


# Filing and moving a case on through the JSON API -------------------------------------------
async def settled(http: httpx.AsyncClient, position: int) -> None:
    """Wait until the read models have the write at `position` (the page reads them)."""
    for _ in range(250):
        health = (await http.get("/health")).json()
        if health["projections"]["position"] >= position:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"projections did not reach {position}: {health}")


async def published_penalty(http: httpx.AsyncClient, recorder: dict[str, str]) -> dict:
    """A penalty of COMPANY's, published and repairable (decided 2026-06-01: from 2026-09-01)."""
    subject = await http.post("/v1/subjects", json=COMPANY, headers=recorder)
    assert subject.status_code == 201, subject.text
    record = await http.post(
        f"/v1/subjects/{subject.json()['subject_id']}/events",
        json=penalty("CASE-WEB", decision_date="2026-06-01"),
        headers=recorder,
    )
    assert record.status_code == 201, record.text
    return record.json()


async def file_repair(http: httpx.AsyncClient, recorder: dict[str, str]) -> dict:
    record = await published_penalty(http, recorder)
    filed = await http.post(
        "/v1/cases/repair",
        json={
            "subject_code": COMPANY["code"],
            "record_id": record["record_id"],
            "corrections": ["罚款已缴纳", "已完成整改"],
            "commitment_signed": True,
            "evidence": ["缴款凭证.pdf"],
            "applicant": "郑州宏达道路运输有限公司",
        },
        params={"min_position": record["position"]},
        headers=recorder,
    )
    assert filed.status_code == 201, filed.text
    return filed.json()


async def step(http, recorder, filed: dict, action: str, body: dict | None = None) -> int:
    response = await http.post(
        f"/v1/cases/{filed['case_number']}:{action}",
        json=body or {},
        params={"min_position": filed["position"]},
        headers=recorder,
    )
    assert response.status_code == 200, response.text
    return response.json()["position"]


async def return_and_supply(http, recorder, filed: dict) -> int:
    await step(http, recorder, filed, "return", {"missing": ["整改报告原件"]})
    supplied = await http.post(
        "/v1/cases:supply",
        json={
            "case_number": filed["case_number"],
            "query_code": filed["query_code"],
            "evidence": ["整改报告.pdf"],
        },
    )
    assert supplied.status_code == 200, supplied.text
    return supplied.json()["position"]


async def page(http: httpx.AsyncClient, case_number: str, query_code: str) -> httpx.Response:
    return await http.post(
        "/cases/progress", data={"case_number": case_number, "query_code": query_code}
    )


def timeline(html: str) -> list[str]:
    """The step names of the page's timeline, in order."""
    listing = re.search(r'<ol class="timeline"[^>]*>(.*?)</ol>', html, re.S)
    assert listing, html
    return re.findall(r'<span class="step">([^<]+)</span>', listing.group(1))


# Through the ASGI app -------------------------------------------------------------------------
async def test_the_form_renders_in_chinese_without_outside_resources(http):
    response = await http.get("/cases/progress")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "form-action 'self'" in response.headers["content-security-policy"]
    html = response.text
    assert html.startswith("<!DOCTYPE html>")
    assert '<html lang="zh-CN">' in html and '<meta charset="utf-8">' in html
    assert '<form method="post" action="/cases/progress"' in html
    for name, label in (("case_number", "案件编号"), ("query_code", "查询码")):
        assert f'<label for="{name}">{label}</label>' in html
        assert f'id="{name}" name="{name}" required' in html
    # Nothing from elsewhere: no script, no stylesheet, not even a favicon to ask for.
    assert "<script" not in html and "src=" not in html
    assert re.findall(r"<link[^>]*>", html) == ['<link rel="icon" href="data:,">']
    assert "http://" not in html and "https://" not in html
    assert "/cases/progress" not in (await http.get("/openapi.json")).text


async def test_a_returned_then_accepted_repair_shows_timeline_missing_materials_and_deadline(
    http, recorder, services, clock
):
    filed = await file_repair(http, recorder)
    number, code = filed["case_number"], filed["query_code"]
    returned = await step(http, recorder, filed, "return", {"missing": ["整改报告原件"]})
    await settled(http, returned)
    response = await page(http, number, code.lower())  # the code is not case-sensitive
    assert response.status_code == 200, response.text
    html = response.text
    assert f'<dd id="case-number">{number}</dd>' in html
    assert '<dd id="case-kind">信用修复</dd>' in html
    assert ">待补正</span>" in html
    assert re.search(r"<h3>需补正材料</h3>\s*<div[^>]*>\s*<ul>\s*<li>整改报告原件</li>", html)
    assert '<dd id="case-due">补正材料后重新计算</dd>' in html
    assert timeline(html) == ["提交申请", "退回补正"]

    supplied = await http.post(
        "/v1/cases:supply",
        json={"case_number": number, "query_code": code, "evidence": ["整改报告.pdf"]},
    )
    assert supplied.status_code == 200, supplied.text
    await settled(http, await step(http, recorder, filed, "accept"))
    html = (await page(http, number, code)).text
    assert ">审核中</span>" in html
    assert timeline(html) == ["提交申请", "退回补正", "补正材料", "受理"]
    assert '<time datetime="2026-11-20">2026年11月20日</time><span class="step">受理</span>' in html
    assert "需补正：整改报告原件" in html  # the return stays in the timeline
    assert "需补正材料</h3>" not in html  # nothing is missing any more
    view = services.case_queries.view(services.case_queries.for_applicant(number, code))
    assert view["due"].isoformat() == "2026-11-25"  # 3 working days after the supply
    assert '<time datetime="2026-11-25">2026年11月25日</time>' in html
    assert (PROVISIONAL in html) == view["due_provisional"]
    assert "已超期" not in html

    clock.moment += timedelta(days=6)  # Thursday 2026-11-26: one working day late
    html = (await page(http, number, code)).text
    assert '<span class="overdue">已超期 1 个工作日</span>' in html


async def test_a_resolved_objection_shows_its_outcome(http, recorder):
    record = await published_penalty(http, recorder)
    objection = await http.post(
        "/v1/cases/objection",
        json={
            "subject_code": COMPANY["code"],
            "record_id": record["record_id"],
            "grounds": "wrong_content",
            "statement": "罚款金额有误",
            "applicant": "郑州宏达道路运输有限公司",
        },
        params={"min_position": record["position"]},
        headers=recorder,
    )
    assert objection.status_code == 201, objection.text
    resolved = await step(
        http,
        recorder,
        objection.json(),
        "resolve",
        {"outcome": "corrected", "reasons": "金额更正为五千元", "changes": {"fine_amount": "0.5"}},
    )
    await settled(http, resolved)
    html = (await page(http, objection.json()["case_number"], objection.json()["query_code"])).text
    assert '<dd id="case-kind">异议</dd>' in html and ">已办结</span>" in html
    assert '<dd id="case-outcome">更正</dd>' in html
    assert timeline(html) == ["提出异议", "异议办结（更正）"]
    assert "说明：金额更正为五千元" in html
    assert 'id="case-due"' not in html  # closed: no deadline any more


async def test_a_wrong_code_and_an_unknown_number_give_the_same_404_keeping_what_was_typed(
    http, recorder
):
    filed = await file_repair(http, recorder)
    await settled(http, filed["position"])
    wrong = await page(http, filed["case_number"], "WRONG234")
    unknown = await page(http, "XF20261120999999", filed["query_code"])
    malformed = await page(http, "XF1", "WRONG234")
    assert wrong.status_code == unknown.status_code == malformed.status_code == 404
    assert without_typed(wrong.text) == without_typed(unknown.text) == without_typed(malformed.text)
    assert NOT_FOUND in wrong.text and '<html lang="zh-CN">' in wrong.text
    assert 'id="timeline"' not in wrong.text  # nothing of the case
    # What was typed stays in the form, to be corrected.
    assert value_of(wrong.text, "case_number") == filed["case_number"]
    assert value_of(wrong.text, "query_code") == "WRONG234"
    assert value_of(unknown.text, "case_number") == "XF20261120999999"
    empty = await page(http, " ", "")
    assert empty.status_code == 422 and "请填写案件编号和查询码。" in empty.text
    assert value_of(empty.text, "case_number") == " "
    found = await page(http, filed["case_number"], filed["query_code"])
    assert value_of(found.text, "case_number") == ""  # the form is for another case now


async def test_repeated_attempts_from_one_address_are_slowed_down(http):
    statuses = [(await page(http, "XF20261120000001", f"GUESS{n:03d}")) for n in range(22)]
    assert [r.status_code for r in statuses[:20]] == [404] * 20
    limited = statuses[-1]
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert f"操作过于频繁，请 {limited.headers['retry-after']} 秒后再试。" in limited.text
    assert value_of(limited.text, "query_code") == "GUESS021"
    json_api = await http.post(  # one budget with the JSON endpoint
        "/v1/cases:progress", json={"case_number": "XF20261120000001", "query_code": "GUESS"}
    )
    assert json_api.status_code == 429


def rendered(case: dict) -> str:
    """The progress page's template with a case and nothing typed."""
    return web.templates.get_template("progress.html").render(
        case=case,
        message="",
        notice="",
        page="progress",
        repair_from="",
        lookup={"case_number": "", "query_code": ""},
        typed={"case_number": "", "query_code": "", "evidence": ""},
        limits=web.LIMITS,
        csrf_token="token",
    )


def test_markup_in_case_data_is_escaped():
    view = {
        "case_number": "XF<b>1</b>",
        "kind": "repair",
        "status": "filed",
        "steps": [{"step": "RepairApplied", "on": "2026-11-20", "reasons": "<script>x</script>"}],
        "due": None,
    }
    html = rendered(web.page_of(view))
    assert "<script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert "XF&lt;b&gt;1&lt;/b&gt;" in html


def test_an_approved_repair_shows_how_many_agencies_were_told_and_confirmed():
    view = {
        "case_number": "XF20261120000001",
        "kind": "repair",
        "status": "approved",
        "outcome": "approved",
        "steps": [{"step": "RepairApproved", "on": "2026-11-20"}],
        "due": None,
        "propagation": Propagation(told=3, acknowledged=1),
    }
    html = rendered(web.page_of(view))
    assert (
        '<dd id="case-propagation">已通知 3 个曾查询该信息的单位停止使用，其中 1 个已确认</dd>'
        in html
    )
    assert 'id="case-propagation"' not in rendered(web.page_of({**view, "propagation": None}))


@pytest.mark.parametrize("provisional", [True, False])
def test_a_deadline_in_a_year_without_a_schedule_is_shown_as_provisional(provisional):
    view = {
        "case_number": "XF20261228000001",
        "kind": "repair",
        "status": "filed",
        "steps": [{"step": "RepairApplied", "on": "2026-12-28"}],
        "due": date(2027, 1, 12),
        "due_provisional": provisional,
    }
    html = rendered(web.page_of(view))
    assert '<time datetime="2027-01-12">2027年1月12日</time>' in html
    assert (PROVISIONAL in html) is provisional


async def test_the_page_says_when_the_cases_record_may_first_be_repaired(http, recorder):
    filed = await file_repair(http, recorder)  # decided 2026-06-01: since 2026-09-01
    await settled(http, filed["position"])
    html = (await page(http, filed["case_number"], filed["query_code"])).text
    assert '<dd id="case-repair-from">已可申请（最短公示期已于 2026年9月1日 届满）</dd>' in html
    company = await http.post("/v1/subjects", json=COMPANY, headers=recorder)
    recent = await http.post(
        f"/v1/subjects/{company.json()['subject_id']}/events",
        json=penalty("CASE-WEB-2", decision_date="2026-10-15"),
        headers=recorder,
    )
    objection = await http.post(
        "/v1/cases/objection",
        json={
            "subject_code": COMPANY["code"],
            "record_id": recent.json()["record_id"],
            "grounds": "wrong_content",
            "statement": "罚款金额有误",
            "applicant": "郑州宏达道路运输有限公司",
        },
    )
    assert objection.status_code == 201, objection.text
    await settled(http, objection.json()["position"])
    html = (await page(http, objection.json()["case_number"], objection.json()["query_code"])).text
    assert (
        '<dd id="case-repair-from">2027年1月15日起（最短公示期届满前不能申请信用修复）</dd>' in html
    )


async def supply(http: httpx.AsyncClient, found: httpx.Response, evidence: str, **fields: str):
    """The supply form of a progress page, sent as the browser sends it."""
    form = found.text.split('action="/cases/supply"')[1].split("</form>")[0]
    hidden = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', form))
    body = {**hidden, "evidence": evidence, **fields}
    return await http.post("/cases/supply", files={k: (None, v) for k, v in body.items()})


async def test_materials_asked_for_are_supplied_on_the_progress_page(http, recorder, services):
    filed = await file_repair(http, recorder)
    await settled(http, await step(http, recorder, filed, "return", {"missing": ["整改报告原件"]}))
    found = await page(http, filed["case_number"], filed["query_code"])
    assert '<h2 id="supply-heading">补正材料</h2>' in found.text
    head = services.ledger.recorder.max_notification_id()

    # Bad input and a form without its token: the page again, what was typed, nothing written.
    empty = await supply(http, found, " \n ")
    assert empty.status_code == 422 and message_of(empty.text).startswith("请填写补正的材料")
    http.cookies.clear()
    forged = await supply(http, found, "整改报告原件.pdf")
    assert forged.status_code == 403 and value_of(forged.text, "supplied") == "整改报告原件.pdf"
    wrong = await supply(http, forged, "整改报告原件.pdf", query_code="WRONG234")
    assert wrong.status_code == 404 and message_of(wrong.text) == NOT_FOUND
    assert value_of(wrong.text, "query_code") == "WRONG234"
    assert services.ledger.recorder.max_notification_id() == head

    supplied = await supply(http, forged, "整改报告原件.pdf\n营业执照副本.pdf")
    assert supplied.status_code == 200, message_of(supplied.text)
    html = supplied.text
    assert "补正材料已提交，认定机关将重新审核。" in html
    assert ">已提交，待受理</span>" in html and 'id="supply-heading"' not in html
    assert timeline(html) == ["提交申请", "退回补正", "补正材料"]
    assert "材料：整改报告原件.pdf；营业执照副本.pdf" in html
    view = services.case_queries.view(
        services.case_queries.for_applicant(filed["case_number"], filed["query_code"])
    )
    assert view["status"] == "filed"
    assert view["steps"][-1]["evidence"] == ["整改报告原件.pdf", "营业执照副本.pdf"]

    # Nothing is missing now (the form of the earlier page, with the token this browser holds).
    held = http.cookies["__Host-applicant-form"]
    again = await supply(http, found, "又一份.pdf", csrf_token=held)
    assert again.status_code == 409
    assert message_of(again.text) == "该案件当前不需要补正材料，请以页面显示的办理状态为准。"


# In a real browser (tests/e2e/conftest.py serves the app and drives Chromium) -----------------
async def test_an_applicant_follows_a_case_in_chromium(browser, live_server, recorder):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions

    async with httpx.AsyncClient(base_url=live_server, timeout=10) as http:
        filed = await file_repair(http, recorder)
        await return_and_supply(http, recorder, filed)
        await settled(http, await step(http, recorder, filed, "accept"))

    browser.get(f"{live_server}/cases/progress")
    assert browser.title.startswith("案件进度查询")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN"
    browser.find_element(By.ID, "case_number").send_keys(filed["case_number"])
    browser.find_element(By.ID, "query_code").send_keys(filed["query_code"])
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    page_wait(browser, 10).until(
        expected_conditions.presence_of_element_located((By.ID, "timeline"))
    )

    assert browser.find_element(By.ID, "case-number").text == filed["case_number"]
    assert browser.find_element(By.ID, "case-status").text == "审核中"
    steps = browser.find_elements(By.CSS_SELECTOR, "#timeline .step")
    assert [s.text for s in steps] == ["提交申请", "退回补正", "补正材料", "受理"]
    text = browser.find_element(By.ID, "timeline").text
    assert "2026年11月20日" in text and "需补正：整改报告原件" in text
    assert browser.find_element(By.ID, "case-due").text.startswith("2026年11月25日")
    header = browser.find_element(By.TAG_NAME, "header")  # the inline CSS passed the CSP
    assert header.value_of_css_property("background-color") == "rgba(11, 79, 138, 1)"

    SCREENSHOT.parent.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOT))
