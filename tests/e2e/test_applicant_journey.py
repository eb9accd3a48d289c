"""An applicant's whole journey in headless Chromium against the app served by uvicorn: file a
repair on the page, note the case number and query code from the confirmation, follow the case
on the progress page, and supply the materials the deciding authority asked for. Every page fits
390 px and prints what matters; screenshots at 1280 and 390 px for the docs."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.applicant import COMPANY, OLD_PENALTY, settled, subject_with_records
from tests.e2e.conftest import console_errors, requested_urls
from tests.e2e.waiting import page_wait

pytestmark = pytest.mark.e2e
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def fits_and_shot(browser: Any, name: str) -> None:
    """The whole page at 1280 px (a desktop) and at 390 px (a phone: nothing wider than the
    screen), each saved as docs/screenshots/<name>-<width>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width, mobile in ((1280, False), (390, True)):
        browser.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": mobile},
        )
        # (less a desktop scroll bar, if the page is taller than the window)
        seen = browser.execute_script("return document.documentElement.clientWidth")
        assert seen == width or (not mobile and seen > width - 20)
        assert browser.execute_script("return document.documentElement.scrollWidth") <= seen
        height = browser.execute_script("return document.documentElement.scrollHeight")
        shot = browser.execute_cdp_cmd(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
            },
        )
        (SCREENSHOTS / f"{name}-{width}.png").write_bytes(base64.b64decode(shot["data"]))
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


async def test_an_applicant_files_notes_the_codes_follows_and_supplies_in_chromium(
    browser, live_server, role_headers
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions

    recorder = role_headers["recorder"]
    wait = page_wait(browser, 10)

    def shown(element_id: str) -> Any:
        return wait.until(expected_conditions.presence_of_element_located((By.ID, element_id)))

    async with httpx.AsyncClient(base_url=live_server, timeout=10) as http:
        records = await subject_with_records(http, recorder)

    # The first step: who applies.
    browser.get(f"{live_server}/cases/apply")
    assert browser.title == "申请信用修复或异议 · 信用交通"
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN"
    fits_and_shot(browser, "applicant-apply")
    browser.find_element(By.CSS_SELECTOR, "input[name=kind][value=repair]").click()
    browser.find_element(By.ID, "subject_code").send_keys(COMPANY["code"])
    browser.find_element(By.ID, "decision_number").send_keys("郑交执罚[2026]0601号")
    browser.find_element(By.CSS_SELECTOR, "#identify-heading ~ form button[type=submit]").click()

    # The second step: the subject's published conduct, with when each may be repaired.
    shown("records")
    assert browser.find_element(By.ID, "subject-name").text == COMPANY["name"]
    items = browser.find_elements(By.CSS_SELECTOR, "#records li")
    assert [item.find_element(By.CLASS_NAME, "ref").text for item in items] == [
        "郑交执罚〔2026〕1015号",
        OLD_PENALTY,
    ]
    assert "2027年1月15日起可申请信用修复" in items[0].text
    browser.find_element(By.CSS_SELECTOR, f"input[value='{records[OLD_PENALTY]}']").click()
    browser.find_element(By.ID, "applicant").send_keys(COMPANY["name"])
    browser.find_element(By.ID, "corrections").send_keys("罚款已于2026年6月20日缴纳\n已完成整改")
    browser.find_element(By.ID, "evidence").send_keys("缴款凭证.pdf\n整改报告.pdf")
    browser.find_element(By.ID, "commitment").click()
    fits_and_shot(browser, "applicant-apply-details")
    browser.find_element(By.CSS_SELECTOR, "#details-heading ~ form button[type=submit]").click()

    # The confirmation: the codes, this once. The applicant notes them.
    number = shown("filed-case-number").text
    code = browser.find_element(By.ID, "filed-query-code").text
    assert number.startswith("XF20261120") and len(code) == 8
    assert "查询码只在这里显示这一次" in browser.find_element(By.TAG_NAME, "main").text
    fits_and_shot(browser, "applicant-filed")
    # Printed, the codes stay and the navigation goes.
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    assert browser.find_element(By.ID, "filed-query-code").is_displayed()
    assert not browser.find_element(By.CSS_SELECTOR, "nav.site-nav").is_displayed()
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})

    # The deciding authority asks for a missing material.
    async with httpx.AsyncClient(base_url=live_server, timeout=10) as http:
        returned = await http.post(
            f"/v1/cases/{number}:return", json={"missing": ["整改报告原件"]}, headers=recorder
        )
        assert returned.status_code == 200, returned.text
        await settled(http, returned.json()["position"])

    # Following the case with the noted codes, and supplying what is missing.
    browser.find_element(By.LINK_TEXT, "查询案件进度").click()
    shown("case_number").send_keys(number)
    browser.find_element(By.ID, "query_code").send_keys(code.lower())
    browser.find_element(By.CSS_SELECTOR, "#form-heading ~ form button[type=submit]").click()
    shown("timeline")
    assert browser.find_element(By.ID, "case-status").text == "待补正"
    assert browser.find_element(By.ID, "case-missing").text == "整改报告原件"
    assert "已可申请" in browser.find_element(By.ID, "case-repair-from").text
    browser.find_element(By.ID, "supplied").send_keys("整改报告原件（盖章）.pdf")
    fits_and_shot(browser, "applicant-progress-supply")
    browser.find_element(By.CSS_SELECTOR, "#supply-heading ~ form button[type=submit]").click()
    wait.until(
        expected_conditions.text_to_be_present_in_element((By.ID, "case-status"), "已提交，待受理")
    )
    assert "补正材料已提交" in browser.find_element(By.CSS_SELECTOR, ".notice").text
    steps = browser.find_elements(By.CSS_SELECTOR, "#timeline .step")
    assert [s.text for s in steps] == ["提交申请", "退回补正", "补正材料"]
    assert "材料：整改报告原件（盖章）.pdf" in browser.find_element(By.ID, "timeline").text
    fits_and_shot(browser, "applicant-progress")

    # Nothing secret or personal went into a URL, and nothing left the service.
    # (less the browser's own pages and in-page data, as test_api_docs_page.off_service has it)
    urls = [url for url in requested_urls(browser) if not url.startswith(("chrome:", "data:"))]
    assert f"{live_server}/cases/apply/submit" in urls
    assert all(url.startswith(f"{live_server}/") for url in urls), urls
    for secret in (COMPANY["code"], code, code.lower(), "0601"):
        assert not any(secret in url for url in urls), secret
    assert console_errors(browser) == []
    header = browser.find_element(By.TAG_NAME, "header")  # the inline CSS passed the CSP
    assert header.value_of_css_property("background-color") == "rgba(11, 79, 138, 1)"


async def test_an_early_repair_is_refused_in_the_browser_with_its_date(
    browser, live_server, role_headers
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions

    async with httpx.AsyncClient(base_url=live_server, timeout=10) as http:
        records = await subject_with_records(http, role_headers["recorder"])
    wait = page_wait(browser, 10)
    browser.get(f"{live_server}/cases/apply?kind=repair")
    browser.find_element(By.ID, "subject_code").send_keys(COMPANY["code"])
    browser.find_element(By.ID, "decision_number").send_keys(OLD_PENALTY)
    browser.find_element(By.CSS_SELECTOR, "#identify-heading ~ form button[type=submit]").click()
    wait.until(expected_conditions.presence_of_element_located((By.ID, "records")))
    newer = records["郑交执罚〔2026〕1015号"]
    browser.find_element(By.CSS_SELECTOR, f"input[value='{newer}']").click()
    browser.find_element(By.ID, "applicant").send_keys(COMPANY["name"])
    browser.find_element(By.ID, "corrections").send_keys("已整改")
    browser.find_element(By.ID, "commitment").click()
    browser.find_element(By.CSS_SELECTOR, "#details-heading ~ form button[type=submit]").click()
    alert = wait.until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "[role=alert]"))
    )
    assert "2027年1月15日起方可申请信用修复" in alert.text
    # What was typed is still there.
    assert browser.find_element(By.CSS_SELECTOR, f"input[value='{newer}']").is_selected()
    assert browser.find_element(By.ID, "corrections").get_attribute("value") == "已整改"
    assert browser.find_element(By.ID, "commitment").is_selected()
    fits_and_shot(browser, "applicant-apply-refused")
