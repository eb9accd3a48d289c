"""A credit report's journey in headless Chromium against the app served by uvicorn: the demo
agency looks a company up, issues its credit report from the check result and downloads the
PDF; then a visitor without an account verifies it on the public page, by number and code and
by uploading the file, and a changed copy is refused. The PDF's first page, drawn by PDFium, is
docs/screenshots/credit-report-page1.png; the verification page's result is screenshotted."""

from __future__ import annotations

import asyncio
import io
import re
import time
from pathlib import Path

import httpx
import pytest
from pypdf import PdfReader

from tests.clerk import BLACK_LISTED, record_bidders
from tests.e2e.conftest import console_errors
from tests.e2e.test_clerk_check import SCREENSHOTS, demo_accounts, screenshots
from tests.e2e.waiting import page_wait

pytestmark = pytest.mark.e2e
__all__ = ["demo_accounts"]  # the fixture, used by name


async def recorded(live_server: str, recorder: dict[str, str]) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=live_server) as http:
        return await record_bidders(http, recorder)


def first_page_png(pdf: bytes, path: Path) -> None:
    """The PDF's first page as a PNG, drawn by PDFium (pypdfium2's wheels: no system library),
    at 1.6 times 72 dpi."""
    import pypdfium2

    document = pypdfium2.PdfDocument(pdf)
    try:
        document[0].render(scale=1.6).to_pil().save(path)
    finally:
        document.close()


def test_a_report_issued_in_the_console_is_verified_on_the_public_page(
    browser, live_server, services, role_headers, demo_accounts, tmp_path
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import Select

    asyncio.run(recorded(live_server, role_headers["recorder"]))
    name, password = demo_accounts["agency"]
    wait = page_wait(browser, 10)
    browser.get(f"{live_server}/console/")
    wait.until(expected_conditions.presence_of_element_located((By.ID, "sign-in")))
    browser.find_element(By.ID, "name").send_keys(name)
    browser.find_element(By.ID, "password").send_keys(password)
    browser.find_element(By.ID, "sign-in").click()
    wait.until(expected_conditions.presence_of_element_located((By.ID, "tasks")))

    browser.find_element(By.LINK_TEXT, "信用核查").click()
    wait.until(expected_conditions.presence_of_element_located((By.ID, "lookup")))
    browser.find_element(By.ID, "code").send_keys(BLACK_LISTED["code"])
    Select(browser.find_element(By.ID, "purpose")).select_by_visible_text("招标投标")
    browser.find_element(By.ID, "look-up").click()
    wait.until(expected_conditions.presence_of_element_located((By.ID, "report-form")))

    # Issue and download ---------------------------------------------------------------------
    browser.execute_cdp_cmd(
        "Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)}
    )
    Select(browser.find_element(By.ID, "report-kind")).select_by_value("credit")
    browser.find_element(By.ID, "issue-report").click()
    deadline = time.monotonic() + 20
    while not (saved := list(tmp_path.glob("*.pdf"))) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert saved, "no report was downloaded"
    pdf = saved[0].read_bytes()
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    number = re.search(r"报告编号\s*(XYBG\d{14})", text)
    code = re.search(r"核验码\s*([A-Z2-9]{12})", text)
    assert number and code, text[:500]
    assert BLACK_LISTED["name"] in text and "严重失信主体名单" in text
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    first_page_png(pdf, SCREENSHOTS / "credit-report-page1.png")

    # Verify, as anyone ----------------------------------------------------------------------
    browser.delete_all_cookies()
    browser.get(f"{live_server}/reports/verify")
    browser.find_element(By.ID, "number").send_keys(number[1])
    browser.find_element(By.ID, "code").send_keys(code[1])
    browser.find_element(By.ID, "file").send_keys(str(saved[0]))
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(expected_conditions.presence_of_element_located((By.ID, "report-genuine")))
    assert browser.find_element(By.ID, "report-number").text == number[1]
    assert BLACK_LISTED["name"] in browser.find_element(By.ID, "report-subject").text
    assert browser.find_element(By.ID, "report-file").text == "文件一致"
    screenshots(browser, "report-verify-result")

    changed = tmp_path / "changed.pdf"
    tampered = bytearray(pdf)
    tampered[len(tampered) // 3] ^= 0x01
    changed.write_bytes(bytes(tampered))
    browser.get(f"{live_server}/reports/verify")
    browser.find_element(By.ID, "number").send_keys(number[1])
    browser.find_element(By.ID, "code").send_keys(code[1])
    browser.find_element(By.ID, "file").send_keys(str(changed))
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(expected_conditions.presence_of_element_located((By.ID, "report-file")))
    assert browser.find_element(By.ID, "report-file").text == "文件不一致"
    assert "文件已被改动" in browser.find_element(By.CSS_SELECTOR, ".message").text
    # the refusal is a 409, which the browser's console notes; nothing else may be there
    assert all("409 (Conflict)" in error for error in console_errors(browser))

    # The QR code's address opens the result at once.
    browser.get(f"{live_server}/reports/verify?number={number[1]}&code={code[1]}")
    assert browser.find_element(By.ID, "report-genuine").text == "报告真实有效"
    assert console_errors(browser) == []
