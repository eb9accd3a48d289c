"""The window clerk's journey in headless Chromium against the app served by uvicorn: the demo
agency signs in, looks a company up for a stated purpose, prints its check sheet (one A4 page),
checks a bid opening's bidders pasted one a line, and downloads them as XLSX. No code reaches a
URL, nothing leaves the machine, the console logs no error; each page fits 390 px. Screenshots
at 1280 and 390 px go to docs/screenshots/."""

from __future__ import annotations

import base64
import io
import re
import time
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest

from tests.clerk import BLACK_LISTED, CLEAN, DRIVER, PURPOSE_NOTE, record_bidders
from tests.e2e.conftest import console_errors, requested_urls
from tests.e2e.waiting import page_wait

pytestmark = pytest.mark.e2e
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# A PDF page object (not the /Pages tree): Chromium writes each page's dictionary in clear.
PDF_PAGE = re.compile(rb"/Type\s*/Page(?![a-z])")


@pytest.fixture
def demo_accounts(settings, services, monkeypatch) -> dict[str, tuple[str, str]]:
    """The demo's console accounts (role -> name, password), as `credit serve --demo` makes
    them."""
    import service.bootstrap
    import service.cli

    for module in (service.cli, service.bootstrap):
        monkeypatch.setattr(module, "get_settings", lambda: settings)
    return {role: (name, password) for name, role, password in service.cli._demo_accounts()}


async def recorded(live_server: str, recorder: dict[str, str]) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=live_server) as http:
        return await record_bidders(http, recorder)


def screenshots(driver: Any, name: str) -> None:
    """The whole page at 1280 px and at 390 px (a phone, emulated: a headless window does not
    shrink below about 500 px); at 390 px nothing is wider than the screen."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.set_window_size(1280, 900)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, height + 100)
    assert driver.save_screenshot(str(SCREENSHOTS / f"{name}-1280.png"))
    driver.set_window_size(1000, 900)
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True},
    )
    assert driver.execute_script("return document.documentElement.clientWidth") == 390
    assert driver.execute_script("return document.documentElement.scrollWidth") <= 390, name
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 390, "height": height, "deviceScaleFactor": 1, "mobile": True},
    )
    assert driver.save_screenshot(str(SCREENSHOTS / f"{name}-390.png"))
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def printed_pages(driver: Any) -> int:
    """How many A4 pages the page prints on (Chromium's own print to PDF, the page's @page)."""
    pdf = driver.execute_cdp_cmd("Page.printToPDF", {"preferCSSPageSize": True})
    return len(PDF_PAGE.findall(base64.b64decode(pdf["data"])))


def test_the_demo_agency_checks_a_company_prints_its_sheet_and_checks_a_bid_opening(
    browser, live_server, services, role_headers, demo_accounts, tmp_path
):
    import asyncio

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import Select

    ids = asyncio.run(recorded(live_server, role_headers["recorder"]))
    services.checkpoints.make()  # the scheduled signing, done now
    name, password = demo_accounts["agency"]
    wait = page_wait(browser, 10)

    browser.get(f"{live_server}/console/")
    wait.until(expected_conditions.presence_of_element_located((By.ID, "sign-in")))
    browser.find_element(By.ID, "name").send_keys(name)
    browser.find_element(By.ID, "password").send_keys(password)
    browser.find_element(By.ID, "sign-in").click()
    wait.until(expected_conditions.presence_of_element_located((By.ID, "tasks")))
    assert browser.find_element(By.ID, "staff-role").text == "信用查询人员"

    # Look a company up --------------------------------------------------------------------
    browser.find_element(By.LINK_TEXT, "信用核查").click()
    wait.until(expected_conditions.presence_of_element_located((By.ID, "lookup")))
    browser.find_element(By.ID, "code").send_keys(BLACK_LISTED["code"])
    browser.find_element(By.ID, "look-up").click()  # no purpose yet: the browser asks for one
    assert browser.current_url == f"{live_server}/console/check"
    assert browser.find_elements(By.ID, "result") == []
    assert browser.execute_script("return document.getElementById('purpose').validity.valid") is (
        False
    )
    Select(browser.find_element(By.ID, "purpose")).select_by_visible_text("招标投标")
    browser.find_element(By.ID, "note").send_keys(PURPOSE_NOTE)
    browser.find_element(By.ID, "look-up").click()
    wait.until(expected_conditions.presence_of_element_located((By.ID, "result")))
    assert browser.current_url == f"{live_server}/console/check"  # the code is in no URL
    assert browser.find_element(By.ID, "subject-heading").text == BLACK_LISTED["name"]
    grades = browser.find_element(By.ID, "grades").text
    assert "公路建设市场信用评价" in grades and "列入严重失信主体名单，等级降为最低" in grades
    assert "严重失信主体名单（黑名单）" in browser.find_element(By.ID, "lists").text
    assert browser.find_element(By.ID, "code").get_attribute("value") == ""
    screenshots(browser, "check-lookup")

    # Its check sheet, printed ----------------------------------------------------------------
    browser.find_element(By.ID, "print-sheet").click()
    wait.until(expected_conditions.presence_of_element_located((By.ID, "check-sheet")))
    assert browser.title == "信用核查单 · 信用交通工作台"
    assert browser.find_element(By.ID, "checker-person").text == "演示查询员（demo.agency）"
    assert browser.find_element(By.ID, "checked-purpose").text == f"招标投标：{PURPOSE_NOTE}"
    assert "已纳入此检查点" in browser.find_element(By.ID, "checkpoint-state").text
    screenshots(browser, "check-sheet")
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    assert not browser.find_element(By.CSS_SELECTOR, ".site-nav").is_displayed()
    assert browser.find_element(By.ID, "grades").is_displayed()
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    assert printed_pages(browser) == 1

    # A bid opening's bidders, pasted -----------------------------------------------------------
    browser.find_element(By.LINK_TEXT, "批量核查").click()
    wait.until(expected_conditions.presence_of_element_located((By.ID, "batch")))
    pasted = "\n".join([BLACK_LISTED["code"], CLEAN["code"], "9141010X", DRIVER["code"]])
    browser.find_element(By.ID, "codes").send_keys(pasted)
    Select(browser.find_element(By.ID, "purpose")).select_by_visible_text("招标投标")
    browser.find_element(By.ID, "check-batch").click()
    wait.until(expected_conditions.presence_of_element_located((By.ID, "bidders")))
    rows = browser.find_elements(By.CSS_SELECTOR, "#bidders tbody tr")
    assert [row.find_element(By.TAG_NAME, "td").text for row in rows] == ["1", "2", "3", "4"]
    assert "代码有误" in rows[2].text and "410105********" + DRIVER["code"][-4:] in rows[3].text
    assert DRIVER["code"] not in browser.find_element(By.ID, "result").text
    assert "第 3 行（9141010X）：代码有误" in browser.find_element(By.ID, "code-problems").text
    screenshots(browser, "check-batch")

    # ... and downloaded --------------------------------------------------------------------
    browser.execute_cdp_cmd(
        "Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)}
    )
    browser.find_element(By.ID, "download").click()
    deadline = time.monotonic() + 10
    while not (saved := list(tmp_path.glob("*.xlsx"))) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert saved, "nothing was downloaded"
    time.sleep(0.2)  # let Chromium finish writing the file it has named
    sheet = openpyxl.load_workbook(io.BytesIO(saved[0].read_bytes())).active
    assert sheet is not None
    table = [list(row) for row in sheet.iter_rows(values_only=True)]
    first = next(i for i, row in enumerate(table) if row[0] == "行号")
    assert [(row[0], row[1], row[8]) for row in table[first + 1 :]] == [
        (1, BLACK_LISTED["name"], "查得"),
        (2, CLEAN["name"], "查得"),
        (3, None, "代码有误"),
        (4, DRIVER["name"], "查得"),
    ]

    # Nothing left the machine; no code of any bidder was in a URL; no console error.
    # (Chromium's own pages and inline images, chrome:// and data:, are no network requests)
    urls = [url for url in requested_urls(browser) if not url.startswith(("chrome://", "data:"))]
    assert urls and all(url.startswith(live_server) for url in urls), urls
    for code in (BLACK_LISTED["code"], CLEAN["code"], DRIVER["code"], *ids.values()):
        assert all(code not in url for url in urls), code
    assert console_errors(browser) == []
