"""The staff console in headless Chromium against the app served by uvicorn: a person signs in,
sees their home page, and signs out; at 390 px the page fits the screen, and printed it keeps
the content without navigation or forms. A screenshot for the docs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.console import create_staff
from tests.e2e.waiting import page_wait

pytestmark = pytest.mark.e2e
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "console-home.png"


def test_a_person_signs_in_sees_their_home_and_signs_out_in_chromium(
    browser, live_server, services
):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions

    person = create_staff(services)["auditor"]
    wait = page_wait(browser, 10)
    browser.get(f"{live_server}/console/")  # not signed in: sent to the sign-in page
    wait.until(expected_conditions.presence_of_element_located((By.ID, "sign-in")))
    assert browser.current_url == f"{live_server}/console/sign-in"
    assert browser.title == "登录 · 信用交通工作台"
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN"
    # The order a keyboard follows: the skip link, the name, the password, the button.
    order = []
    for _ in range(4):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        active = browser.switch_to.active_element
        order.append(active.get_attribute("id") or active.get_attribute("class"))
    assert order == ["skip-link", "name", "password", "sign-in"]
    browser.find_element(By.ID, "name").send_keys(person.name)
    browser.find_element(By.ID, "password").send_keys(person.password)
    browser.find_element(By.ID, "sign-in").click()

    wait.until(expected_conditions.presence_of_element_located((By.ID, "tasks")))
    assert browser.current_url == f"{live_server}/console/"
    assert browser.find_element(By.ID, "staff-name").text == person.display_name
    assert browser.find_element(By.ID, "staff-agency").text == "郑州市交通运输局"
    assert browser.find_element(By.ID, "staff-role").text == "审计人员"
    tasks = [item.text for item in browser.find_elements(By.CSS_SELECTOR, "#tasks li")]
    assert "查阅查询留痕和管理日志" in tasks
    masthead = browser.find_element(By.CSS_SELECTOR, ".masthead")  # the stylesheet is served
    assert masthead.value_of_css_property("background-color") == "rgba(11, 79, 138, 1)"
    cookie = browser.get_cookie("__Host-console")
    assert cookie and cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["secure"]
    SCREENSHOT.parent.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOT))

    # 390 px wide (a phone; a headless window cannot be made that narrow): nothing wider than
    # the screen, the sign-out button still there.
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True},
    )
    assert browser.execute_script("return document.documentElement.clientWidth") == 390
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 390
    assert browser.find_element(By.ID, "sign-out").is_displayed()
    # Printed: the content stays, the navigation and the forms go.
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    assert not browser.find_element(By.CSS_SELECTOR, ".site-nav").is_displayed()
    assert not browser.find_element(By.ID, "sign-out").is_displayed()
    assert browser.find_element(By.ID, "tasks").is_displayed()
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})

    browser.find_element(By.ID, "sign-out").click()
    wait.until(expected_conditions.presence_of_element_located((By.ID, "notice")))
    assert browser.find_element(By.ID, "notice").text == "您已安全退出。"
    assert browser.get_cookie("__Host-console") is None
    browser.get(f"{live_server}/console/")  # the session is over: back to the sign-in page
    wait.until(expected_conditions.presence_of_element_located((By.ID, "sign-in")))
    assert browser.current_url.startswith(f"{live_server}/console/sign-in")
