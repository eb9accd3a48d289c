"""The administrator's pages in headless Chromium against the app served by uvicorn: the demo's
administrator asks for an auditor client, sees it waiting, and a second administrator approves
it and receives its secret, which then gets a token; every admin page fits 390 px and is
photographed at 1280 and 390 px for the docs (docs/screenshots/admin-*.png)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from service.access.administration import Done
from tests.builders import AUTHORITY_CODE
from tests.e2e.conftest import console_errors, requested_urls
from tests.e2e.waiting import page_wait

pytestmark = pytest.mark.e2e
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
WIDTHS = (1280, 390)


def photograph(browser: Any, name: str) -> None:
    """The whole page at each width, as docs/screenshots/<name>-<width>.png; at 390 px nothing
    may be wider than the screen (a headless window cannot be made that narrow: emulated)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    for width in WIDTHS:
        metrics = {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600}
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        assert browser.execute_script("return document.documentElement.scrollWidth") <= width
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride", {**metrics, "height": min(height, 4000)}
        )
        assert browser.save_screenshot(str(SCREENSHOTS / f"{name}-{width}.png"))
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def demo_admin(services: Any, settings: Any, monkeypatch: Any) -> tuple[str, str]:
    """The demo's administrator and the password `python3 dev.py serve` would print."""
    import service.bootstrap
    import service.cli

    for module in (service.cli, service.bootstrap):
        monkeypatch.setattr(module, "get_settings", lambda: settings)
    [(name, password)] = [
        (name, password) for name, role, password in service.cli._demo_accounts() if role == "admin"
    ]
    return name, password


def test_an_auditor_client_asked_for_by_one_administrator_is_approved_by_another(
    browser, live_server, services, settings, monkeypatch
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import Select

    wait = page_wait(browser, 10)
    present = expected_conditions.presence_of_element_located

    def sign_in(name: str, password: str) -> None:
        browser.get(f"{live_server}/console/sign-in")
        wait.until(present((By.ID, "sign-in")))
        browser.find_element(By.ID, "name").send_keys(name)
        browser.find_element(By.ID, "password").send_keys(password)
        browser.find_element(By.ID, "sign-in").click()
        wait.until(present((By.ID, "tasks")))

    def open_from_nav(label: str, heading: str) -> None:
        browser.find_element(By.LINK_TEXT, label).click()
        wait.until(expected_conditions.text_to_be_present_in_element((By.TAG_NAME, "h1"), heading))

    name, password = demo_admin(services, settings, monkeypatch)
    second = services.administration.create_account(
        "cli:test",
        "zhou.min",
        "周敏",
        "admin",
        "河南省交通运输厅",
        AUTHORITY_CODE,
        four_eyes_waived="test set-up",
    )
    assert isinstance(second, Done) and second.secret is not None

    sign_in(name, password)
    open_from_nav("API 客户端", "API 客户端")
    browser.find_element(By.ID, "new-client-id").send_keys("zz-shenji-01")
    Select(browser.find_element(By.ID, "new-client-role")).select_by_visible_text("审计人员")
    browser.find_element(By.ID, "new-client-agency-name").send_keys("河南省交通运输厅审计处")
    browser.find_element(By.ID, "new-client-agency-code").send_keys(AUTHORITY_CODE)
    browser.find_element(By.CSS_SELECTOR, "#create-client button[type=submit]").click()
    wait.until(present((By.ID, "notice")))
    assert "须由另一名系统管理员批准后生效" in browser.find_element(By.ID, "notice").text
    [row] = browser.find_elements(By.CSS_SELECTOR, "#approvals tbody tr")
    assert "zz-shenji-01" in row.text and "待另一名管理员审批" in row.text
    assert row.find_elements(By.TAG_NAME, "button") == []  # one's own request: no buttons
    assert services.clients.get("zz-shenji-01") is None
    photograph(browser, "admin-clients")
    browser.find_element(By.ID, "sign-out").click()
    wait.until(present((By.ID, "notice")))

    sign_in("zhou.min", second.secret)
    open_from_nav("待审批", "待审批")
    [row] = browser.find_elements(By.CSS_SELECTOR, "#approvals tbody tr")
    assert "新建 API 客户端" in row.text and name in row.text
    photograph(browser, "admin-approvals")
    row.find_element(By.CSS_SELECTOR, "button[aria-label^='批准']").click()
    wait.until(present((By.ID, "result-secret")))
    secret = browser.find_element(By.ID, "result-secret").text
    assert "已批准：新建 API 客户端（zz-shenji-01）" in browser.find_element(By.ID, "notice").text
    token = httpx.post(
        f"{live_server}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "zz-shenji-01",
            "client_secret": secret,
        },
    )
    assert token.status_code == 200 and token.json()["scope"] == "credit:audit credit:read"

    for label, heading, name_of_page in (
        ("签名密钥", "签名密钥", "admin-keys"),
        ("删除个人信息", "删除个人信息", "admin-erasures"),
        ("管理日志", "管理日志", "admin-log"),
    ):
        open_from_nav(label, heading)
        photograph(browser, name_of_page)
    assert browser.find_element(By.ID, "chain").text.startswith("哈希链完整")
    logged = browser.find_element(By.ID, "admin-log").text
    assert f"account:{name}" in logged and "account:zhou.min" in logged

    # Printed: the log stays, the navigation and the forms go.
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    assert not browser.find_element(By.CSS_SELECTOR, ".site-nav").is_displayed()
    assert browser.find_element(By.ID, "admin-log").is_displayed()
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    # Nothing left the machine, and nothing failed to load or run.
    own = (f"{live_server}/", "data:", "chrome:")  # the service's, or the browser's own
    assert [url for url in requested_urls(browser) if not url.startswith(own)] == []
    # (The browser's own guess at /favicon.ico is the layout's to answer, not these pages'.)
    assert [error for error in console_errors(browser) if "/favicon.ico" not in error] == []
