"""Credit reports issued from the pages: the window clerk's "生成信用报告" on a check result,
under the person's account and the purpose stated, and a subject's own report on the applicant
pages, proved by a case's number and query code, with its own statement. Each is logged; a
form without its token, a role without credit:read and a wrong query code issue nothing."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from service.access.tables import access_log
from service.bootstrap import Services
from service.credit_reports.tables import credit_reports
from tests.applicant import (
    COMPANY,
    OLD_PENALTY,
    page_client,
    settled,
    subject_with_records,
    token_of,
)
from tests.clerk import BLACK_LISTED, record_bidders
from tests.console import Person, create_staff, csrf_of, sign_in

pytestmark = pytest.mark.api


@pytest.fixture
async def browser(settings, services) -> AsyncIterator[httpx.AsyncClient]:
    async with page_client(settings, services) as http:
        yield http


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def reports_kept(services: Services) -> int:
    with services.write_engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(credit_reports)).scalar_one())


def logged(services: Services, action: str) -> list[dict[str, Any]]:
    with services.write_engine.connect() as conn:
        rows = conn.execute(select(access_log).where(access_log.c.action == action))
        return [dict(row._mapping) for row in rows]


async def test_a_clerk_issues_a_report_from_a_check_result_and_downloads_it(
    browser, services, role_headers
):
    bidders = await record_bidders(browser, role_headers["recorder"])
    staff: dict[str, Person] = create_staff(services)
    await sign_in(browser, staff["agency"].name, staff["agency"].password)
    token = csrf_of((await browser.get("/console/check")).text)
    result = await browser.post(
        "/console/check",
        data={"csrf_token": token, "code": BLACK_LISTED["code"], "purpose": "招标投标"},
    )
    assert 'action="/console/check/report"' in result.text and "生成信用报告" in result.text
    assert '<option value="road_transport">道路运输</option>' in result.text  # its own sectors
    form = {
        "csrf_token": token,
        "subject_id": bidders[BLACK_LISTED["code"]],
        "purpose": "招标投标",
        "note": "",
        "kind": "special",
        "years": "3",
    }
    unsigned = await browser.post("/console/check/report", data={**form, "csrf_token": ""})
    assert unsigned.status_code == 403 and reports_kept(services) == 0

    issued = await browser.post("/console/check/report", data=form)
    assert issued.status_code == 200, issued.text
    assert issued.headers["content-type"] == "application/pdf"
    number = issued.headers["X-Report-Number"]
    assert number in issued.headers["content-disposition"]
    text = text_of(issued.content)
    assert "专项信用报告（交通运输领域）" in text and BLACK_LISTED["name"] in text
    [row] = logged(services, "credit_report")
    assert row["client_id"] == f"account:{staff['agency'].name}"
    assert row["purpose"] == "招标投标" and row["returned"]["number"] == number
    kept = services.reports.find(number)
    assert kept is not None and kept.request.requested_by == f"account:{staff['agency'].name}"
    assert kept.request.sectors == ()  # no sector chosen: every one of the subject's
    assert "该主体在道路运输行业" in text

    not_its = await browser.post(
        "/console/check/report", data={**form, "sector": "waterway_transport"}
    )
    assert not_its.status_code == 422 and "该主体不在所选行业" in not_its.text
    assert reports_kept(services) == 1
    one = await browser.post("/console/check/report", data={**form, "sector": "road_transport"})
    assert one.status_code == 200, one.text
    chosen = services.reports.find(one.headers["X-Report-Number"])
    assert chosen is not None and chosen.request.sectors == ("road_transport",)

    code = re.search(r"核验码\s*([A-Z2-9]{12})", text)
    assert code is not None
    verified = await browser.get("/reports/verify", params={"number": number, "code": code[1]})
    assert verified.status_code == 200 and "报告真实有效" in verified.text


async def test_a_role_without_credit_read_issues_no_report(browser, services):
    staff = create_staff(services)
    for role in ("admin", "credit_office"):
        browser.cookies.clear()
        await sign_in(browser, staff[role].name, staff[role].password)
        token = csrf_of((await browser.get("/console/")).text)
        refused = await browser.post(
            "/console/check/report",
            data={
                "csrf_token": token,
                "subject_id": "00000000-0000-4000-8000-000000000001",
                "purpose": "招标投标",
            },
        )
        assert refused.status_code == 403, role
    assert reports_kept(services) == 0


async def test_a_subject_downloads_its_own_report_with_its_statement(
    browser, services, role_headers
):
    made = await subject_with_records(browser, role_headers["recorder"])
    filed = await browser.post(
        "/v1/cases/objection",
        json={
            "subject_code": COMPANY["code"],
            "record_id": made[OLD_PENALTY],
            "grounds": "wrong_content",
            "statement": "罚款金额有误",
            "applicant": COMPANY["name"],
        },
    )
    assert filed.status_code == 201, filed.text
    case = filed.json()
    await settled(browser, case["position"])  # the applicant's case is found in its read model
    opened = await browser.get("/reports/apply")
    assert opened.status_code == 200 and "申请本主体的信用报告" in opened.text
    form = {
        "csrf_token": token_of(opened.text),
        "case_number": case["case_number"],
        "query_code": "WRONG1",
        "kind": "credit",
        "years": "3",
        "statement": "本公司已于2026年11月缴清罚款并完成整改。",
    }
    wrong = await browser.post("/reports/apply", data=form)
    assert wrong.status_code == 404 and "未找到该案件" in wrong.text
    assert reports_kept(services) == 0

    issued = await browser.post("/reports/apply", data={**form, "query_code": case["query_code"]})
    assert issued.status_code == 201, issued.text
    text = text_of(issued.content)
    assert "主体说明" in text and "本公司已于2026年11月缴清罚款并完成整改。" in text
    assert OLD_PENALTY in text and "异议处理中" in text
    [row] = logged(services, "credit_report")
    assert (row["client_id"], row["role"]) == ("applicant", "applicant")
    kept = services.reports.find(issued.headers["X-Report-Number"])
    assert kept is not None and kept.request.extra == {"case_number": case["case_number"]}
    assert kept.request.sectors is None  # a credit report makes no statements

    assert 'name="sector"' in opened.text and "本主体所在的全部行业" in opened.text
    special = {**form, "query_code": case["query_code"], "kind": "special"}
    not_its = await browser.post("/reports/apply", data={**special, "sector": "waterway_transport"})
    assert not_its.status_code == 422 and "本主体不在所选行业" in not_its.text
    assert reports_kept(services) == 1
    one = await browser.post("/reports/apply", data={**special, "sector": "road_transport"})
    assert one.status_code == 201, one.text
    assert "该主体在道路运输行业" in text_of(one.content)
    chosen = services.reports.find(one.headers["X-Report-Number"])
    assert chosen is not None and chosen.request.sectors == ("road_transport",)
