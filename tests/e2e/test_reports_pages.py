"""The credit office's figures in headless Chromium: the month's page with its tables and charts
drawn, a figure clicked through to the rows behind it (the access log written for each subject
they name), an authority's cases, its late records from its 双公示及时率, and the 台账's download
link. The data: the case set of tests/api/test_case_reports.py, the list file of
tests/api/test_list_reports.py and the licences and penalties of
tests/api/test_console_report_rates.py, today 2026-12-02, so the page opens on November 2026."""

from __future__ import annotations

from typing import Any

import pytest

from api.console.report_details import REPORT_PURPOSE
from service.bootstrap import Services
from tests.api.test_case_reports import build_cases
from tests.api.test_console_report_rates import S8, build_records, fill, rate
from tests.api.test_list_reports import build_file
from tests.builders import AUTHORITY_CODE
from tests.console import create_staff
from tests.e2e.conftest import console_errors, requested_urls
from tests.e2e.waiting import page_wait

pytestmark = pytest.mark.e2e


def seeded(services: Services) -> dict[str, Any]:
    """The list file, the case set, then the licences and penalties: each moves the shared
    clock, ending on 12-02."""
    ids = build_file(services, services.clock)
    build_cases(services, services.clock)
    return {**ids, **build_records(services, services.clock)}


def signed_in(driver: Any, server: str, name: str, password: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions

    driver.get(server + "/console/sign-in")
    driver.find_element(By.NAME, "name").send_keys(name)
    driver.find_element(By.NAME, "password").send_keys(password)
    button = driver.find_element(By.ID, "sign-in")
    button.click()
    page_wait(driver, 10).until(expected_conditions.staleness_of(button))
    assert driver.current_url == server + "/console/"


def cells(driver: Any, table_id: str) -> list[list[str]]:
    from selenium.webdriver.common.by import By

    return [
        [cell.text for cell in row.find_elements(By.CSS_SELECTOR, "th, td")]
        for row in driver.find_elements(By.CSS_SELECTOR, f"#{table_id} tbody tr")
    ]


def test_a_figure_clicked_leads_to_the_rows_behind_it(browser, live_server, services):
    from selenium.webdriver.common.by import By

    ids = seeded(services)
    person = create_staff(services)["credit_office"]
    signed_in(browser, live_server, person.name, person.password)
    requested_urls(browser)  # only what the figures pages ask for from here on
    browser.find_element(By.LINK_TEXT, "信用工作指标").click()
    assert browser.title == "信用工作指标 2026年11月 · 信用交通工作台"
    assert cells(browser, "case-figures")[-1] == ["合计", "5", "5", "3", "60%", "2", "6"]
    # November: T5 (A, late), T7 (A) and T6 (B) on time.
    assert cells(browser, "timeliness-figures")[-1] == ["合计", "3", "2", "66.67%", "1"]
    # The 合格率 and beside it the 填报率: the fields filled over those expected, summed.
    november = ["T5", "T6", "T7"]
    total = cells(browser, "completeness-figures")[-1]
    assert (total[0], total[1], total[4]) == ("合计", "3", rate(*fill(november)))
    legend = browser.find_element(By.ID, "completeness-trend-svg").text
    assert "合格率" in legend and "填报率" in legend and "目标 100%" in legend
    for chart in (
        "late-by-authority", "timeliness-trend", "incomplete-by-authority", "missing-fields",
        "completeness-trend", "case-decisions", "case-rate-trend", "lists-by-region",
        "lists-by-sector",
    ):  # fmt: skip
        svg = browser.find_element(By.ID, f"{chart}-svg")
        assert svg.is_displayed() and svg.size["height"] > 100, chart
    assert browser.find_element(By.ID, "ledger-download").get_attribute("href") == (
        live_server + "/console/reports/ledger.xlsx?month=2026-11"
    )

    # The black list's subjects at the month's end: the "2" in its row.
    black = browser.find_element(By.CSS_SELECTOR, "#list-figures tbody tr:nth-child(2)")
    black.find_element(By.CSS_SELECTOR, "td:nth-of-type(1) a").click()
    assert browser.current_url == (
        live_server + "/console/reports/lists?month=2026-11&list=black#members"
    )
    assert browser.find_element(By.ID, "page-heading").text == "黑名单明细 · 2026年11月"
    members = cells(browser, "members-rows")
    assert [row[0].splitlines()[0] for row in members] == [
        "郑州宏达道路运输有限公司901",
        "郑州宏达道路运输有限公司902",
    ]
    for subject in ("S1", "S2", "S3"):  # members, and S3 entered and left in November
        logged = services.access_log.for_subject(ids[subject], after_seq=None, limit=10)
        assert [(e["action"], e["purpose"]) for e in logged] == [
            ("page_report_lists", REPORT_PURPOSE)
        ]

    # Back to the month, and an authority's cases.
    browser.find_element(By.ID, "back").click()
    browser.find_element(
        By.CSS_SELECTOR, f'#case-figures a[href$="authority={AUTHORITY_CODE}"]'
    ).click()
    assert browser.find_element(By.ID, "cases-summary").text.startswith(
        "当月提交 3 件，办结 4 件，其中按期办结 2 件（按期办结率 50%）"
    )
    assert len(cells(browser, "case-rows")) == 5  # O2, R3, R1, R2 and the file's repair of C3

    # Back to the month, and the authority's late records: the "1" of its 迟报.
    browser.find_element(By.ID, "back").click()
    browser.find_element(
        By.CSS_SELECTOR, f'#timeliness-figures td a[href$="authority={AUTHORITY_CODE}"]'
    ).click()
    assert browser.current_url == (
        live_server + f"/console/reports/late?month=2026-11&authority={AUTHORITY_CODE}"
    )
    assert browser.find_element(By.ID, "page-heading").text == "双公示迟报明细 · 2026年11月"
    [late] = cells(browser, "late-rows")
    assert late[0].splitlines()[0] == S8["name"]
    assert late[1:] == [
        "行政处罚", "罚-T5", "郑州市交通运输综合执法支队", "2026年11月10日", "2026年11月19日",
        "2026年11月20日", "1", "",
    ]  # fmt: skip
    logged = services.access_log.for_subject(ids["S8"], after_seq=None, limit=10)
    assert [(e["action"], e["purpose"]) for e in logged] == [("page_report_late", REPORT_PURPOSE)]
    urls = [url for url in requested_urls(browser) if not url.startswith(("chrome://", "data:"))]
    assert urls and all(url.startswith(live_server) for url in urls), urls  # nothing from outside
    assert console_errors(browser) == []
