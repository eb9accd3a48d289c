"""Every kind of chart, inlined in a console page as the `chart_figure` macro puts it, in headless
Chromium: zero axe-core violations at 1280 and 390 px, with figures and without; the chart's
text alternative hidden on screen and printed; the labels in the page's font."""

from __future__ import annotations

import base64
from urllib.parse import quote

import pytest

from api.console import STATIC
from api.console.charts import Series, bar_chart, rate_chart, stacked_chart
from api.templating import templates
from domain.months import Month
from tests.e2e.axe import axe_violations
from tests.e2e.screenshots import WIDTHS, emulate_width, stop_emulating

pytestmark = pytest.mark.e2e
MONTHS = [Month(2026, m) for m in range(6, 12)]
PAGE = """<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">
<title>图表</title><style>{css}</style></head><body><main><h1>信用工作指标</h1>
{% from "console/_chart.html" import chart_figure %}
{% for chart in charts %}<section aria-labelledby="h{{ loop.index }}">
<h2 id="h{{ loop.index }}">{{ chart.title }}</h2>{{ chart_figure(chart) }}</section>{% endfor %}
</main></body></html>"""


def page_of_every_chart(*, empty: bool) -> str:
    rates = [0.75, 1.0, None, 0.5, 0.995, 1.0]
    charts = [
        rate_chart("rate-one", "双公示及时率", MONTHS, [Series("及时率", rates)]),
        rate_chart(
            "rate-two",
            "三率",
            MONTHS,
            [Series("及时率", rates), Series("合格率", [0.6, 0.7, 0.8, 0.9, 0.95, None])],
        ),
        bar_chart(
            "late", "迟报记录", ["郑州市交通运输综合执法支队", "开封市"], [Series("迟报", [12, 3])]
        ),
        stacked_chart(
            "lists",
            "名单",
            ["郑州市", "开封市", "洛阳市"],
            [
                Series("红名单", [10, 3, 5]),
                Series("黑名单", [2, 1, 0]),
                Series("重点关注名单", [4, 0, 7]),
            ],
        ),
    ]
    if empty:
        charts = [
            rate_chart("rate-none", "双公示及时率", [], [Series("及时率", [])]),
            bar_chart("late-none", "迟报记录", [], [Series("迟报", [])]),
            stacked_chart("lists-none", "名单", [], [Series("红名单", [])]),
        ]
    css = "".join((STATIC / name).read_text() for name in ("console.css", "charts.css"))
    return templates.env.from_string(PAGE.replace("{css}", css)).render(charts=charts)


@pytest.mark.parametrize("empty", [False, True], ids=["figures", "empty"])
def test_charts_have_no_accessibility_violation(browser, empty):
    browser.get("data:text/html;charset=utf-8," + quote(page_of_every_chart(empty=empty)))
    found = []
    try:
        for width in WIDTHS:
            emulate_width(browser, width)
            found += [f"{width} px · {violation}" for violation in axe_violations(browser)]
    finally:
        stop_emulating(browser)
    assert found == [], "axe-core found:\n" + "\n".join(found)


def test_the_table_is_hidden_on_screen_and_printed_and_the_font_is_the_pages(browser):
    browser.get("data:text/html;charset=utf-8," + quote(page_of_every_chart(empty=False)))
    table = browser.find_element("css selector", "#lists .chart-data")
    assert table.size["width"] <= 1 and table.size["height"] <= 1  # on screen: the chart shows it
    label = browser.execute_script(
        "return getComputedStyle(document.querySelector('#lists-svg text')).fontFamily"
    )
    assert "Noto Sans CJK SC" in label  # the page's stack, inherited
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        assert table.size["width"] > 100 and table.size["height"] > 50
        assert table.is_displayed()
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    pdf = browser.execute_cdp_cmd("Page.printToPDF", {"paperWidth": 8.27, "paperHeight": 11.69})
    assert base64.b64decode(pdf["data"]).startswith(b"%PDF")
