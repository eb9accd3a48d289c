"""The applicant's progress page (案件进度查询): through the ASGI app with httpx, then once in
headless Chromium against the app served by uvicorn, with a screenshot for the docs."""

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
from tests.builders import enterprise, penalty

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
    """An anonymous client over the ASGI app with the applicant pages, lifespan running."""
    app = build_app(settings, services)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://credit.test") as client:
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
    assert "<script" not in html and "<link" not in html and "src=" not in html
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


async def test_a_wrong_code_and_an_unknown_number_give_the_identical_404_page(http, recorder):
    filed = await file_repair(http, recorder)
    await settled(http, filed["position"])
    wrong = await page(http, filed["case_number"], "WRONG234")
    unknown = await page(http, "XF20261120999999", filed["query_code"])
    malformed = await page(http, "XF1", "WRONG234")
    assert wrong.status_code == unknown.status_code == malformed.status_code == 404
    assert wrong.text == unknown.text == malformed.text
    assert NOT_FOUND in wrong.text and '<html lang="zh-CN">' in wrong.text
    assert filed["case_number"] not in wrong.text  # nothing typed is echoed back
    empty = await page(http, " ", "")
    assert empty.status_code == 422 and "请填写案件编号和查询码。" in empty.text


async def test_repeated_attempts_from_one_address_are_slowed_down(http):
    statuses = [(await page(http, "XF20261120000001", f"GUESS{n:03d}")) for n in range(22)]
    assert [r.status_code for r in statuses[:20]] == [404] * 20
    limited = statuses[-1]
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert f"查询过于频繁，请 {limited.headers['retry-after']} 秒后再试。" in limited.text
    json_api = await http.post(  # one budget with the JSON endpoint
        "/v1/cases:progress", json={"case_number": "XF20261120000001", "query_code": "GUESS"}
    )
    assert json_api.status_code == 429


def test_markup_in_case_data_is_escaped():
    view = {
        "case_number": "XF<b>1</b>",
        "kind": "repair",
        "status": "filed",
        "steps": [{"step": "RepairApplied", "on": "2026-11-20", "reasons": "<script>x</script>"}],
        "due": None,
    }
    html = web.templates.get_template("progress.html").render(case=web.page_of(view), message="")
    assert "<script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert "XF&lt;b&gt;1&lt;/b&gt;" in html


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
    html = web.templates.get_template("progress.html").render(case=web.page_of(view), message="")
    assert '<time datetime="2027-01-12">2027年1月12日</time>' in html
    assert (PROVISIONAL in html) is provisional


# In a real browser (tests/e2e/conftest.py serves the app and drives Chromium) -----------------
async def test_an_applicant_follows_a_case_in_chromium(browser, live_server, recorder):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

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
    WebDriverWait(browser, 10).until(
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
