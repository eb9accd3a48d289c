"""Signing in through the OpenID Connect provider in headless Chromium: the console and the fake
统一身份认证 (`tests/oidc_provider.py`) each served by uvicorn on 127.0.0.1, the browser sent to
the provider by the one button and back, into the console; a refusal said on the sign-in page;
signing out at the provider too. axe-core on both sign-in pages, and their screenshots."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from service.settings import Settings
from tests.conftest import NOW
from tests.e2e.axe import axe_violations
from tests.e2e.screenshots import save_screenshots
from tests.e2e.waiting import page_wait
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, ROLE_MAP, FakeProvider, claims_of

pytestmark = pytest.mark.e2e


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    """The provider, served on a free port of 127.0.0.1 (its issuer names that port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    fake = FakeProvider(now=lambda: NOW, issuer=f"http://127.0.0.1:{sock.getsockname()[1]}")
    config = uvicorn.Config(fake.app, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start the provider")
        time.sleep(0.02)
    yield fake
    server.should_exit = True
    thread.join(10)
    sock.close()


@pytest.fixture
def settings(settings: Settings, provider: FakeProvider) -> Settings:
    """The console signs in through the provider, over the loopback network."""
    return Settings(
        **{
            **settings.model_dump(),
            "console_identity_provider": "oidc",
            "oidc_issuer": provider.issuer,
            "oidc_client_id": CLIENT_ID,
            "oidc_client_secret": CLIENT_SECRET,
            "oidc_role_map": ROLE_MAP,
        }
    )


def test_a_person_signs_in_through_the_provider_in_chromium(browser, live_server, provider):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions

    wait = page_wait(browser, 10)
    browser.get(f"{live_server}/console/")  # not signed in: the sign-in page
    wait.until(expected_conditions.presence_of_element_located((By.ID, "sign-in")))
    assert browser.find_element(By.ID, "sign-in").text == "通过统一身份认证登录"
    assert not browser.find_elements(By.CSS_SELECTOR, "input[type=password]")
    assert axe_violations(browser) == []
    save_screenshots(browser, "console-sign-in-oidc")

    browser.find_element(By.ID, "sign-in").click()  # to the provider and straight back
    wait.until(expected_conditions.presence_of_element_located((By.ID, "tasks")))
    assert browser.current_url == f"{live_server}/console/"
    assert browser.find_element(By.ID, "staff-name").text == "孙丽"
    assert browser.find_element(By.ID, "staff-role").text == "信用信息记录人员"
    assert provider.authorization_requests[0]["code_challenge_method"] == "S256"

    browser.find_element(By.ID, "sign-out").click()  # out here, out there, and back
    wait.until(expected_conditions.presence_of_element_located((By.ID, "notice")))
    assert browser.find_element(By.ID, "notice").text == "您已安全退出。"
    assert provider.signed_out[0]["client_id"] == CLIENT_ID
    assert browser.get_cookie("__Host-console") is None

    provider.person = claims_of("sun.li", "JTT_KZ")  # a role the console does not know
    browser.find_element(By.ID, "sign-in").click()
    wait.until(expected_conditions.presence_of_element_located((By.ID, "message")))
    assert "JTT_KZ 均不是本系统的角色" in browser.find_element(By.ID, "message").text
    assert browser.get_cookie("__Host-console") is None
    assert axe_violations(browser) == []
    save_screenshots(browser, "console-sign-in-oidc-refused")
