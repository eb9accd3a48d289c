"""The API docs in headless Chromium with no way out of the machine, as on a government network
without the internet: `/docs` and `/redoc` load everything from the service, render every
operation, and Swagger UI's Authorize gets a token by the client-credentials flow."""

from __future__ import annotations

import httpx
import pytest

from tests.builders import AUTHORITY_CODE
from tests.conftest import ON_SQLITE_ALONE
from tests.e2e.conftest import console_errors, requested_urls
from tests.e2e.waiting import page_wait

pytestmark = [pytest.mark.e2e, ON_SQLITE_ALONE]  # the token's exchange: on both in process
TIMEOUT_SECONDS = 20
# ReDoc's sidebar always shows its vendor's logo from their CDN (no option turns it off).
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def operation_ids(live_server: str) -> set[str]:
    # the first request builds the whole document: give it time on a busy machine
    document = httpx.get(f"{live_server}/openapi.json", timeout=60).json()
    return {
        operation["operationId"]
        for operations in document["paths"].values()
        for operation in operations.values()
    }


def off_service(urls: list[str], live_server: str) -> list[str]:
    """The URLs asked for that are not the service's (nor a browser-internal or in-page one)."""
    own = (f"{live_server}/", f"blob:{live_server}/", "data:", "chrome:")
    return [url for url in urls if not url.startswith(own)]


def test_swagger_ui_renders_every_operation_offline_and_authorizes_a_client(
    browser, live_server, services
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as until

    client, secret = services.clients.create(
        "docs-reader", "agency", "郑州市交通运输局", AUTHORITY_CODE
    )
    documented = operation_ids(live_server)
    browser.get(f"{live_server}/docs")
    wait = page_wait(browser, TIMEOUT_SECONDS)
    wait.until(until.presence_of_element_located((By.CSS_SELECTOR, ".opblock")))

    ids = browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-operation-id")
    shown = {element.text for element in ids}
    assert shown == documented, documented ^ shown
    browser.find_element(By.CSS_SELECTOR, "button.authorize").click()
    dialog = wait.until(until.visibility_of_element_located((By.CSS_SELECTOR, ".modal-ux")))
    dialog.find_element(By.ID, "client_id_clientCredentials").send_keys(client.client_id)
    dialog.find_element(By.ID, "client_secret_clientCredentials").send_keys(secret)
    dialog.find_element(By.CSS_SELECTOR, "button.authorize").click()
    logout = "//div[@class='modal-ux']//button[.='Logout']"  # shown once a token was issued
    wait.until(until.presence_of_element_located((By.XPATH, logout)))

    urls = requested_urls(browser)
    assert f"{live_server}/docs/assets/swagger-ui-bundle.js" in urls
    assert f"{live_server}/oauth/token" in urls
    assert off_service(urls, live_server) == []
    assert console_errors(browser) == []  # no script, style or request refused or failed


def test_redoc_renders_every_operation_offline(browser, live_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as until

    documented = operation_ids(live_server)
    browser.get(f"{live_server}/redoc")
    operation = (By.CSS_SELECTOR, "[data-section-id^='operation/']")
    page_wait(browser, TIMEOUT_SECONDS).until(until.presence_of_element_located(operation))
    sections = browser.find_elements(*operation)
    shown = {s.get_attribute("data-section-id").removeprefix("operation/") for s in sections}
    assert shown == documented, documented ^ shown
    urls = requested_urls(browser)
    assert f"{live_server}/docs/assets/redoc.standalone.js" in urls
    # The policy refuses ReDoc's logo (one console error says so) and ReDoc hides the image;
    # nothing else is asked of anyone but the service.
    assert off_service(urls, live_server) == [REDOC_LOGO]
    assert [e for e in console_errors(browser) if REDOC_LOGO not in e] == []
