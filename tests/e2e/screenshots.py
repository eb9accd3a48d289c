"""Screenshots of a page for the docs: the whole height of the page, at a desktop width and at a
phone's, as `docs/screenshots/<name>-1280.png` and `<name>-390.png`.

A headless window cannot be made narrower than about 500 px, so each width is emulated through
the DevTools protocol, as a phone at 390 px; the capture is as tall as the page at that width."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
WIDTHS = (1280, 390)
PHONE_WIDTH = 390
VIEWPORT_HEIGHT = 844  # a phone's; the capture itself is the page's height


def emulate_width(driver: Any, width: int) -> None:
    """Lay the page out `width` px wide (a phone's screen at PHONE_WIDTH)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {
            "width": width,
            "height": VIEWPORT_HEIGHT,
            "deviceScaleFactor": 1,
            "mobile": width <= PHONE_WIDTH,
        },
    )


def stop_emulating(driver: Any) -> None:
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def save_screenshots(driver: Any, name: str, folder: Path = SCREENSHOTS) -> list[Path]:
    """Save the page the browser shows at each of WIDTHS, full height; the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    saved = []
    try:
        for width in WIDTHS:
            emulate_width(driver, width)
            height = driver.execute_script(
                "return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight)"
            )
            shot = driver.execute_cdp_cmd(
                "Page.captureScreenshot",
                {
                    "format": "png",
                    "captureBeyondViewport": True,
                    "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
                },
            )
            path = folder / f"{name}-{width}.png"
            path.write_bytes(base64.b64decode(shot["data"]))
            saved.append(path)
    finally:
        stop_emulating(driver)
    return saved
