"""An agency's change subscriptions in headless Chromium against the app served by uvicorn: a
person pastes codes, keeps the kinds offered and adds one, is told which lines were not
followed and why, reads the change of a subject it follows on the changes page, has a callback
URL refused and then one taken with its secret shown once, sees the webhook paused after its
receiver failed, reads its delivery log and resumes it, and cancels the subscriptions. No code
reaches a URL, nothing leaves the machine, the console logs no error. Then a notice to stop
using a repaired record, sent to the agency's API client, confirmed by a person of the agency.
Screenshots at 1280 and 390 px go to docs/screenshots/."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import httpx
import pytest

from tests.api.test_cases import setup_records
from tests.api.test_notices import approved_repair, notices_of
from tests.api.test_webhooks import Moment, Receiver, delivery_worker
from tests.builders import enterprise, penalty, uscc
from tests.console import create_staff
from tests.e2e.conftest import console_errors, requested_urls
from tests.e2e.screenshots import save_screenshots
from tests.e2e.waiting import page_wait

pytestmark = pytest.mark.e2e


async def registered(live_server: str, recorder: dict[str, str], serials: list[int]) -> list[str]:
    """Subjects registered, and in the credit file's read model, where subscribing finds them."""
    ids = []
    async with httpx.AsyncClient(base_url=live_server, headers=recorder) as http:
        for serial in serials:
            response = await http.post("/v1/subjects", json=enterprise(serial))
            assert response.status_code == 201, response.text
            made = response.json()
            status = await http.get(
                f"/v1/subjects/{made['subject_id']}/status",
                params={"min_position": made["position"]},
            )
            assert status.status_code == 200, status.text
            ids.append(made["subject_id"])
    return ids


async def record_penalty(live_server: str, recorder: dict[str, str], subject_id: str) -> int:
    async with httpx.AsyncClient(base_url=live_server, headers=recorder) as http:
        response = await http.post(f"/v1/subjects/{subject_id}/events", json=penalty("订-1"))
        assert response.status_code == 201, response.text
        return int(response.json()["position"])


def test_an_agency_subscribes_reads_the_changes_and_cancels(
    browser, live_server, services, role_headers
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions

    recorder = role_headers["recorder"]
    first, _ = asyncio.run(registered(live_server, recorder, [41, 42]))
    person = create_staff(services)["agency"]
    wait = page_wait(browser, 10)

    browser.get(f"{live_server}/console/")
    wait.until(expected_conditions.presence_of_element_located((By.ID, "sign-in")))
    browser.find_element(By.ID, "name").send_keys(person.name)
    browser.find_element(By.ID, "password").send_keys(person.password)
    browser.find_element(By.ID, "sign-in").click()
    wait.until(expected_conditions.presence_of_element_located((By.ID, "tasks")))

    # Subscribe: codes pasted, the kinds offered kept and one added ----------------------------
    browser.find_element(By.LINK_TEXT, "变动订阅").click()
    wait.until(expected_conditions.presence_of_element_located((By.ID, "subscribe")))
    assert browser.find_element(By.ID, "no-subscriptions").text == "本单位尚无订阅。"
    pasted = "\n".join([uscc(41), uscc(96), "9141010X", uscc(42)])
    browser.find_element(By.ID, "codes").send_keys(pasted)
    repaired = browser.find_element(By.XPATH, "//label[text()='信用修复']")
    repaired.click()
    browser.find_element(By.ID, "create-subscription").click()
    wait.until(expected_conditions.presence_of_element_located((By.ID, "made")))
    assert browser.current_url == f"{live_server}/console/subscriptions"  # codes in no URL
    assert browser.find_element(By.ID, "made-summary").text == (
        "共提交 4 个代码，已订阅 2 个主体；变动类型：列入名单、信息公示、信用修复。"
    )
    problems = browser.find_element(By.ID, "code-problems").text.splitlines()
    assert problems == [
        f"第 2 行（{uscc(96)}）：未找到，没有以该代码登记的信用主体",
        "第 3 行（9141010X）：代码有误，不是有效的统一社会信用代码、居民身份证号码或车牌号码",
    ]
    assert len(browser.find_elements(By.CSS_SELECTOR, "#subscriptions tbody tr")) == 1
    save_screenshots(browser, "console-subscriptions")

    # A change of a subject followed, on the changes page -------------------------------------
    position = asyncio.run(record_penalty(live_server, recorder, first))
    deadline = time.monotonic() + 30
    while services.runner.position("changes") < position:
        assert time.monotonic() < deadline, "the changes read model did not reach the penalty"
        time.sleep(0.05)
    browser.find_element(By.LINK_TEXT, "变动通知").click()
    wait.until(expected_conditions.presence_of_element_located((By.ID, "changes")))
    rows = browser.find_elements(By.CSS_SELECTOR, "#changes tbody tr")
    assert len(rows) == 1
    assert "信息公示" in rows[0].text and "行政处罚" in rows[0].text and uscc(41) in rows[0].text
    save_screenshots(browser, "console-subscription-changes")

    # A callback URL: a private address refused, what was typed kept; then one taken -------
    receiver = Receiver(answers=[503, 503])
    try:
        browser.find_element(By.LINK_TEXT, "管理订阅").click()
        wait.until(expected_conditions.presence_of_element_located((By.ID, "subscriptions")))
        services.webhooks.rules = replace(services.webhooks.rules, allow_private=False)
        browser.find_element(By.ID, "codes").send_keys(uscc(41))
        browser.find_element(By.ID, "callback_url").send_keys("http://10.0.0.1/hook")
        browser.find_element(By.ID, "create-subscription").click()
        wait.until(expected_conditions.presence_of_element_located((By.ID, "message")))
        assert browser.find_element(By.ID, "message").text.startswith(
            "回调地址的主机 10.0.0.1 解析为 10.0.0.1，不是公网地址"
        )
        assert browser.find_element(By.ID, "codes").get_attribute("value") == uscc(41)
        typed = browser.find_element(By.ID, "callback_url")
        assert typed.get_attribute("value") == "http://10.0.0.1/hook"
        assert len(browser.find_elements(By.CSS_SELECTOR, "#subscriptions tbody tr")) == 1

        services.webhooks.rules = replace(services.webhooks.rules, allow_private=True)
        typed.clear()
        typed.send_keys(receiver.url)
        browser.find_element(By.ID, "create-subscription").click()
        wait.until(expected_conditions.presence_of_element_located((By.ID, "webhook-secret")))
        assert browser.find_element(By.ID, "secret-value").text.startswith("whsec_")
        assert "只显示这一次" in browser.find_element(By.ID, "secret-warning").text
        save_screenshots(browser, "console-subscriptions-webhook")
        browser.get(f"{live_server}/console/subscriptions")  # shown once: not on reloading
        wait.until(expected_conditions.presence_of_element_located((By.ID, "subscriptions")))
        assert browser.find_elements(By.ID, "webhook-secret") == []

        # The receiver fails twice: the webhook pauses; its log; resumed ----------------------
        clock = Moment()
        worker = delivery_worker(services, clock, pause_after=2)
        worker.run_once()
        clock.advance(30)
        worker.run_once()
        assert len(receiver.received) == 2
        browser.get(f"{live_server}/console/subscriptions")
        wait.until(expected_conditions.presence_of_element_located((By.ID, "subscriptions")))
        paused = browser.find_element(By.CSS_SELECTOR, ".webhook-state[data-state='paused']")
        assert paused.text == "已暂停"
        browser.find_element(By.LINK_TEXT, "推送记录").click()
        wait.until(expected_conditions.presence_of_element_located((By.ID, "attempts")))
        attempts = browser.find_elements(By.CSS_SELECTOR, "#attempts tbody tr")
        assert [row.find_elements(By.TAG_NAME, "td")[1].text for row in attempts] == [
            "503（失败）",
            "503（失败）",
        ]
        assert browser.find_element(By.ID, "webhook-failures").text == "2 次"
        save_screenshots(browser, "console-subscription-deliveries")
        browser.find_element(By.ID, "resume-webhook").click()
        wait.until(expected_conditions.presence_of_element_located((By.ID, "notice")))
        assert browser.find_element(By.ID, "webhook-state").text == "正常"
        assert browser.find_elements(By.ID, "resume-webhook") == []
        clock.advance(1)
        worker.run_once()
        assert len(receiver.received) == 3  # the change it paused on, taken this time
    finally:
        receiver.close()

    # Cancelled ----------------------------------------------------------------------------
    browser.get(f"{live_server}/console/subscriptions")
    wait.until(expected_conditions.presence_of_element_located((By.ID, "subscriptions")))
    for _ in range(2):
        cancel = browser.find_element(By.CSS_SELECTOR, "#subscriptions button")
        cancel.click()
        # The page the click left must be gone before the next button is looked for: its own
        # heading would otherwise answer the wait while the next page is still on its way.
        wait.until(expected_conditions.staleness_of(cancel))
        wait.until(expected_conditions.presence_of_element_located((By.ID, "new-heading")))
    wait.until(expected_conditions.presence_of_element_located((By.ID, "no-subscriptions")))

    urls = [url for url in requested_urls(browser) if not url.startswith(("chrome://", "data:"))]
    assert urls and all(url.startswith(live_server) for url in urls), urls
    assert all(uscc(41) not in url and uscc(96) not in url for url in urls)
    # The refused callback's answer is a 422, which Chromium notes; nothing else went wrong.
    errors = console_errors(browser)
    assert len(errors) == 1 and "422 (Unprocessable Entity)" in errors[0], errors


def test_an_agency_confirms_a_notice_its_api_client_was_sent(
    browser, live_server, services, role_headers, clock
):
    """A repair approved after the agency's clients read the record: a person of the agency
    sees both notices and confirms one for its client."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions

    async def told() -> dict:
        async with httpx.AsyncClient(
            base_url=live_server, headers=role_headers["recorder"], timeout=10
        ) as http:
            records = await setup_records(http)
            read = await http.get(
                f"/v1/subjects/{records['subject_id']}/status", headers=role_headers["agency"]
            )
            assert read.status_code == 200, read.text
            await approved_repair(http, services, clock, records)
            [notice] = await notices_of(http, role_headers["agency"])
            return notice

    notice = asyncio.run(told())
    person = create_staff(services)["agency"]
    wait = page_wait(browser, 10)
    browser.get(f"{live_server}/console/sign-in")
    wait.until(expected_conditions.presence_of_element_located((By.ID, "sign-in")))
    browser.find_element(By.ID, "name").send_keys(person.name)
    browser.find_element(By.ID, "password").send_keys(person.password)
    browser.find_element(By.ID, "sign-in").click()
    wait.until(expected_conditions.presence_of_element_located((By.ID, "tasks")))

    browser.find_element(By.LINK_TEXT, "停止使用通知").click()
    wait.until(expected_conditions.presence_of_element_located((By.ID, "notices")))
    rows = browser.find_elements(By.CSS_SELECTOR, "#notices tbody tr")
    assert len(rows) == 2 and all("信用修复" in row.text for row in rows)
    row = browser.find_element(By.CSS_SELECTOR, f"tr[data-notice='{notice['notice_id']}']")
    assert "test-agency" in row.text
    row.find_element(By.TAG_NAME, "button").click()
    wait.until(expected_conditions.presence_of_element_located((By.ID, "notice")))
    row = browser.find_element(By.CSS_SELECTOR, f"tr[data-notice='{notice['notice_id']}']")
    assert "已确认" in row.text and "工作人员 wang.fang 在工作台确认" in row.text
    assert len(browser.find_elements(By.CSS_SELECTOR, "#notices tbody button")) == 1
    save_screenshots(browser, "console-notices")
    assert console_errors(browser) == []
