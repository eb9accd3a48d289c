"""The auditor's desk in headless Chromium against the app served by uvicorn: the demo's auditor
signs in, finds a subject by code, reads its timeline, follows a correction to what it changed,
opens who read the subject (this read first), starts a replay check and sees it finish, and signs
a checkpoint that verifies. Every page fits 390 px, asks nothing of the internet, logs no error,
and is photographed at 1280 and 390 px for the docs."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.auditing import AuditedSubject, a_subject_with_a_history
from tests.e2e.conftest import console_errors, requested_urls
from tests.e2e.test_api_docs_page import off_service
from tests.e2e.waiting import page_wait

pytestmark = pytest.mark.e2e
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PURPOSE = "信用修复案件复核"


def history_for_the_auditor(live_server: str, recorder: dict[str, str]) -> AuditedSubject:
    async def build() -> AuditedSubject:
        async with httpx.AsyncClient(base_url=live_server) as http:
            subject = await a_subject_with_a_history(http, recorder)
            for _ in range(250):  # the timeline also reads the read models
                health = (await http.get("/health")).json()
                if health["projections"]["position"] >= subject.position:
                    return subject
                await asyncio.sleep(0.02)
        raise AssertionError("the read models did not catch up")

    return asyncio.run(build())


def demo_auditor(settings: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """The demo's auditor account, as `python3 dev.py serve` prints it."""
    import service.bootstrap
    import service.cli

    for module in (service.cli, service.bootstrap):
        monkeypatch.setattr(module, "get_settings", lambda: settings)
    accounts = service.cli._demo_accounts()
    [(name, password)] = [(n, p) for n, role, p in accounts if role == "auditor"]
    return name, password


def photographed(browser: Any, page: str) -> None:
    """The whole page at 1280 and at 390 px wide (a phone: emulated, since a headless window does
    not shrink that far), into docs/screenshots; at 390 nothing is wider than the screen."""
    SCREENSHOTS.mkdir(exist_ok=True)
    for width in (1280, 390):
        metrics = {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 500}
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride", {**metrics, "height": min(height, 5000)}
        )
        assert browser.execute_script("return document.documentElement.scrollWidth") <= width
        assert browser.save_screenshot(str(SCREENSHOTS / f"{page}-{width}.png"))
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_the_demo_auditor_reads_a_history_its_readers_a_replay_check_and_a_checkpoint(
    browser, live_server, settings, role_headers, monkeypatch
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions

    subject = history_for_the_auditor(live_server, role_headers["recorder"])
    name, password = demo_auditor(settings, monkeypatch)
    wait = page_wait(browser, 10)

    def opened(element_id: str) -> Any:
        return wait.until(expected_conditions.presence_of_element_located((By.ID, element_id)))

    browser.get(f"{live_server}/console/sign-in")
    browser.find_element(By.ID, "name").send_keys(name)
    browser.find_element(By.ID, "password").send_keys(password)
    browser.find_element(By.ID, "sign-in").click()
    opened("tasks")
    assert browser.find_element(By.ID, "staff-role").text == "审计人员"

    # Find the subject by its code: a POST, so the code is never in the address.
    browser.find_element(By.LINK_TEXT, "主体历史").click()
    opened("find-subject")
    photographed(browser, "audit-desk")
    browser.find_element(By.ID, "subject").send_keys(subject.code)
    browser.find_element(By.ID, "purpose").send_keys(PURPOSE)
    browser.find_element(By.ID, "find").click()
    opened("timeline")
    assert subject.code not in browser.current_url
    assert browser.current_url.startswith(
        f"{live_server}/console/audit/subjects/{subject.subject_id}?purpose="
    )
    assert browser.find_element(By.ID, "purpose").text == PURPOSE
    rows = browser.find_elements(By.CSS_SELECTOR, "#timeline .tl-row[id^=row-]")
    assert len(rows) == 6  # the registration and five records; the rest are marks on them
    assert len(browser.find_elements(By.CSS_SELECTOR, "#history tbody tr")) == 12
    photographed(browser, "audit-history")
    # Printed: the table of every event, without the timeline, the links away or the forms.
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    assert browser.find_element(By.ID, "history").is_displayed()
    assert not browser.find_element(By.ID, "timeline").is_displayed()
    assert not browser.find_element(By.ID, "access-log-link").is_displayed()
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})

    # The correction's mark on the corrected penalty's row leads to the correction in the table.
    mark = browser.find_element(By.CSS_SELECTOR, "#timeline .mark-corrects")
    target = mark.get_attribute("href").rsplit("#", 1)[1]
    mark.click()
    assert browser.current_url.endswith(f"#{target}")
    correction = browser.find_element(By.ID, target)
    assert correction.get_attribute("data-type") == "RecordCorrected"
    assert "更正：第 3 条" in correction.text
    browser.find_element(By.CSS_SELECTOR, f'#{target} a[href="#event-3"]').click()
    assert "被更正：第 7 条" in browser.find_element(By.ID, "event-3").text

    # Who read the subject: this read first, then the timeline's.
    browser.find_element(By.ID, "access-log-link").click()
    opened("access-log")
    readers = browser.find_elements(By.CSS_SELECTOR, "#access-log tbody tr")
    assert "account:demo.auditor" in readers[0].text and "查阅查询留痕" in readers[0].text
    assert "查阅全部历史" in readers[1].text and PURPOSE in readers[1].text
    photographed(browser, "audit-access-log")

    # A replay check, followed until it has finished (the page's script swaps in the progress).
    browser.find_element(By.LINK_TEXT, "回放核对").click()
    opened("start-check")
    browser.find_element(By.ID, "start").click()
    opened("check")
    page_wait(browser, 90).until(
        lambda driver: driver.find_element(By.ID, "check").get_attribute("data-state") != "running"
    )
    assert browser.find_element(By.ID, "check").get_attribute("data-state") == "passed"
    assert browser.find_element(By.ID, "verdict").text.startswith("由事件日志重建的读模型")
    photographed(browser, "audit-replay-check")

    # The latest checkpoint, signed now, verifies.
    browser.find_element(By.LINK_TEXT, "检查点").click()
    opened("make-checkpoint")
    browser.find_element(By.ID, "make").click()
    opened("checkpoint")
    assert browser.find_element(By.ID, "checkpoint-verdict").text.startswith("核验通过")
    assert browser.find_element(By.ID, "tree-size").text == f"{subject.position} 条事件"
    photographed(browser, "audit-checkpoint")
    # Printed, the page keeps its content and drops the forms.
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    assert not browser.find_element(By.ID, "make-checkpoint").is_displayed()
    assert browser.find_element(By.ID, "checkpoint").is_displayed()
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})

    urls = requested_urls(browser)
    assert f"{live_server}/console/static/replay-check.js" in urls
    assert off_service(urls, live_server) == []
    # The browser asks for /favicon.ico by itself; the console has none.
    assert [e for e in console_errors(browser) if "/favicon.ico" not in e] == []
