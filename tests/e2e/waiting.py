"""Waiting in Chromium for what a page shows after a click."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.support.ui import WebDriverWait


def page_wait(driver: WebDriver, seconds: float) -> WebDriverWait[WebDriver]:
    """A wait that polls through a page being replaced. While a form's answer replaces the page,
    chromedriver may report of an element it was reading that its node "does not belong to the
    document" (an "unhandled inspector error", not a stale element): the next poll reads the new
    page. A condition that never holds still times out, and the test fails."""
    # Imported here, as every browser test imports selenium: only a browser test needs it.
    from selenium.common.exceptions import (
        NoSuchElementException,
        StaleElementReferenceException,
        WebDriverException,
    )
    from selenium.webdriver.support.ui import WebDriverWait

    navigating = (NoSuchElementException, StaleElementReferenceException, WebDriverException)
    return WebDriverWait(driver, seconds, ignored_exceptions=navigating)
