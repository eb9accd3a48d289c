"""axe-core in the browser under test: the engine is injected into the page and run there, and
its violations come back as values a test can list.

The engine is axe-core's own `axe.min.js` from the npm package, kept beside this module with its
licence (MPL-2.0), so the browser tests need python3, pip and Chromium only. The PyPI packages
that bundle it were older (axe-core-python: 4.4.3 of 2022), needed Python 3.12
(axe-selenium-python 3), or brought Playwright and its Node driver for one file
(axe-playwright-python). To move to a newer axe-core:

    npm pack axe-core@<version>
    tar -xzf axe-core-<version>.tgz --strip-components=1 -C tests/e2e/axe-core \\
        package/axe.min.js package/LICENSE

then set AXE_CORE_VERSION and AXE_CORE_SHA256 below (`sha256sum tests/e2e/axe-core/axe.min.js`)."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

AXE_CORE = Path(__file__).resolve().parent / "axe-core" / "axe.min.js"
AXE_CORE_VERSION = "4.14.1"
AXE_CORE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
# Every rule axe runs by default: WCAG 2.0-2.2 A and AA, and its best practices (landmarks, one
# h1, regions). Only the violations come back: passes and incomplete results would be
# serialised for nothing.
RUN_OPTIONS = {"resultTypes": ["violations"]}
# Whether this document has the engine already: injecting it is sending 0.5 MB through the
# driver and evaluating it (some 150 ms a time), and a page is checked at each width in turn.
ENGINE_LOADED = "return typeof axe === 'object' && axe !== null && axe.version === arguments[0]"
RUN = """
const [options, done] = [arguments[0], arguments[arguments.length - 1]];
axe.run(document, options).then(
  (results) => done({version: axe.version, violations: results.violations}),
  (error) => done({error: String(error)}),
);
"""


@dataclass(frozen=True)
class Violation:
    """One rule broken by one element: what a person fixing it needs."""

    rule: str
    impact: str
    target: str
    help: str
    summary: str

    def __str__(self) -> str:
        return f"{self.rule} ({self.impact}) at {self.target}: {self.help}. {self.summary}"


@functools.cache
def axe_source() -> str:
    """The engine, refused if it is not the file whose version and hash this module names."""
    source = AXE_CORE.read_bytes()
    digest = hashlib.sha256(source).hexdigest()
    if digest != AXE_CORE_SHA256:
        raise AssertionError(f"{AXE_CORE} is not axe-core {AXE_CORE_VERSION} (sha256 {digest})")
    return source.decode()


def axe_violations(driver: Any) -> list[Violation]:
    """Run axe-core on the page the browser shows, one Violation per element and rule."""
    driver.set_script_timeout(30)
    if not driver.execute_script(ENGINE_LOADED, AXE_CORE_VERSION):
        driver.execute_script(axe_source())
    result = driver.execute_async_script(RUN, RUN_OPTIONS)
    if "error" in result:
        raise AssertionError(f"axe-core failed on {driver.current_url}: {result['error']}")
    if result["version"] != AXE_CORE_VERSION:
        raise AssertionError(f"axe-core {result['version']} ran, not {AXE_CORE_VERSION}")
    return [
        Violation(
            rule=violation["id"],
            impact=violation.get("impact") or "",
            target=" ".join(str(part) for part in node["target"]),
            help=violation["help"],
            summary=(node.get("failureSummary") or "").replace("\n", " "),
        )
        for violation in result["violations"]
        for node in violation["nodes"]
    ]
