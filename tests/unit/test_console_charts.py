"""The charts' geometry, read back from the SVG they draw: a rate sits at its share of the axis,
a count at its share of the scale, stacked parts on one another; empty data and one point; labels
escaped; the same figures give the same bytes; every series told apart without colour."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

import pytest

from api.console.charts import (
    STYLES,
    Chart,
    Series,
    bar_chart,
    percent,
    rate_chart,
    stacked_chart,
)
from domain.months import Month

SVG = "{http://www.w3.org/2000/svg}"
AUTUMN = [Month(2026, 9), Month(2026, 10), Month(2026, 11)]


def parsed(chart: Chart) -> ElementTree.Element:
    """The chart's SVG as XML (it must be well-formed to parse at all)."""
    return ElementTree.fromstring(str(chart.svg))


def texts(root: ElementTree.Element) -> list[str]:
    return [element.text or "" for element in root.iter(f"{SVG}text")]


def gridline_y(root: ElementTree.Element, label: str) -> float:
    """The height of the gridline that the axis labels `label` (0%, 100%, 5 ...)."""
    labelled = next(t for t in root.iter(f"{SVG}text") if t.text == label)
    return float(labelled.get("y") or 0) - 4  # the label sits 4 units under its line


def points(root: ElementTree.Element) -> dict[str, ElementTree.Element]:
    return {p.get("data-label") or "": p for p in root.iter() if p.get("class") == "point"}


def bars(root: ElementTree.Element) -> dict[str, ElementTree.Element]:
    return {
        b.get("data-label") or "": b for b in root.iter(f"{SVG}rect") if b.get("class") == "bar"
    }


def number(element: ElementTree.Element, attribute: str) -> float:
    return float(element.get(attribute) or "nan")


# The rate chart ---------------------------------------------------------------------------------
def test_a_rate_of_75_percent_sits_at_three_quarters_of_the_axis():
    root = parsed(rate_chart("rate", "及时率", AUTUMN, [Series("及时率", [0.75, 1.0, 0.0])]))
    zero, full = gridline_y(root, "0%"), gridline_y(root, "100%")
    assert zero - full == 200  # the plot's height
    marks = points(root)
    assert number(marks["及时率 75%"], "cy") == zero - 0.75 * 200
    assert number(marks["及时率 100%"], "cy") == full
    assert number(marks["及时率 0%"], "cy") == zero
    # Months evenly spaced, each under its point: the x of September's point is under "9月".
    september = next(t for t in root.iter(f"{SVG}text") if t.text == "9月")
    assert number(marks["及时率 75%"], "cx") == number(september, "x")
    assert "2026年" in texts(root)  # the year under the first month


def test_the_target_line_is_dashed_at_its_height_and_labelled():
    root = parsed(rate_chart("rate", "合格率", AUTUMN, [Series("合格率", [0.5, 0.6, 0.7])]))
    target = next(line for line in root.iter(f"{SVG}line") if line.get("class") == "target")
    assert target.get("stroke-dasharray")
    assert number(target, "y1") == number(target, "y2") == gridline_y(root, "100%")
    assert "目标 100%" in texts(root)

    root = parsed(
        rate_chart("rate", "合格率", AUTUMN, [Series("合格率", [0.5, 0.6, 0.7])], target=0.9)
    )
    target = next(line for line in root.iter(f"{SVG}line") if line.get("class") == "target")
    zero, full = gridline_y(root, "0%"), gridline_y(root, "100%")
    assert number(target, "y1") == pytest.approx(zero - 0.9 * (zero - full))
    assert "目标 90%" in texts(root)

    untargeted = parsed(
        rate_chart("rate", "x", AUTUMN, [Series("x", [0.5, 0.6, 0.7])], target=None)
    )
    assert not [line for line in untargeted.iter(f"{SVG}line") if line.get("class") == "target"]


def test_a_month_without_a_figure_breaks_the_line_and_reads_as_a_dash():
    chart = rate_chart(
        "rate", "及时率", [*AUTUMN, Month(2026, 12)], [Series("及时率", [0.9, None, 0.8, 1.0])]
    )
    root = parsed(chart)
    lines = list(root.iter(f"{SVG}polyline"))
    assert len(lines) == 1  # September stands alone; November to December is one line
    assert len((lines[0].get("points") or "").split()) == 2
    assert len(points(root)) == 3
    assert chart.rows[1] == ("2026年10月", "—")


def test_one_point_is_drawn_without_a_line():
    chart = rate_chart("rate", "及时率", [Month(2026, 11)], [Series("及时率", [0.995])])
    root = parsed(chart)
    assert list(root.iter(f"{SVG}polyline")) == []
    assert list(points(root)) == ["及时率 99.5%"]
    assert "99.5%" in texts(root)  # a single series carries its values
    assert chart.columns == ("月份", "及时率")
    assert chart.rows == (("2026年11月", "99.5%"),)


def test_no_months_or_no_figures_say_so():
    for chart in (
        rate_chart("rate", "及时率", [], [Series("及时率", [])]),
        rate_chart("rate", "及时率", AUTUMN, [Series("及时率", [None, None, None])]),
    ):
        root = parsed(chart)
        assert "本期无数据" in texts(root)
        assert points(root) == {}
    assert rate_chart("rate", "及时率", [], [Series("及时率", [])]).rows == ()


def test_several_series_differ_in_dash_and_marker_not_only_colour():
    root = parsed(
        rate_chart(
            "rate",
            "三率",
            AUTUMN,
            [Series("及时率", [0.9, 0.8, 0.7]), Series("合格率", [0.6, 0.5, 0.4])],
        )
    )
    lines = list(root.iter(f"{SVG}polyline"))
    assert [line.get("stroke-dasharray") for line in lines] == [None, STYLES[1].dash]
    shapes = {label.split()[0]: p.tag for label, p in points(root).items()}
    assert shapes == {"及时率": f"{SVG}circle", "合格率": f"{SVG}rect"}
    assert "90%" not in texts(root)  # two series: the values are in the table, not on points
    assert {"及时率", "合格率"} <= set(texts(root))  # the legend


def test_rates_outside_0_to_1_and_mismatched_series_are_refused():
    with pytest.raises(ValueError, match="fraction"):
        rate_chart("rate", "x", AUTUMN, [Series("x", [75, 80, 90])])  # percent, not a fraction
    with pytest.raises(ValueError, match="3 places"):
        rate_chart("rate", "x", AUTUMN, [Series("x", [0.5])])
    with pytest.raises(ValueError, match="chart id"):
        rate_chart('rate" onload="x', "x", AUTUMN, [Series("x", [0.5, 0.5, 0.5])])


def test_percent_is_written_as_a_reader_writes_it():
    assert [percent(r) for r in (0, 0.75, 1, 0.995, 0.12345, None)] == [
        "0%",
        "75%",
        "100%",
        "99.5%",
        "12.3%",
        "—",
    ]


# The bar chart ----------------------------------------------------------------------------------
def test_bars_are_as_long_as_their_share_of_the_scale():
    chart = bar_chart(
        "cases",
        "未办结案件",
        ["甲单位", "乙单位"],
        [Series("未办结", [12, 3]), Series("其中已超期", [4, 0])],
        unit="件",
    )
    root = parsed(chart)
    # 12 is the highest: the scale runs to 15 in steps of 5 (0, 5, 10, 15).
    assert [t for t in texts(root) if t in {"0", "5", "10", "15"}][:4] == ["0", "5", "10", "15"]
    ticks = {
        t.text: number(t, "x")
        for t in root.iter(f"{SVG}text")
        if t.text in {"0", "15"} and t.get("text-anchor") == "middle"  # not a bar's count
    }
    full = ticks["15"] - ticks["0"]  # each tick's label is centred on its gridline
    drawn = bars(root)
    for label, value in (
        ("甲单位 未办结 12", 12),
        ("甲单位 其中已超期 4", 4),
        ("乙单位 未办结 3", 3),
    ):
        assert number(drawn[label], "x") == ticks["0"]
        assert number(drawn[label], "width") == pytest.approx(value / 15 * full, abs=0.1)
    assert number(drawn["乙单位 其中已超期 0"], "width") == 0
    # The second series is hatched: a pattern, not a second colour only.
    assert drawn["甲单位 其中已超期 4"].get("fill") == "url(#cases-fill-1)"
    assert root.find(f".//{SVG}pattern[@id='cases-fill-1']") is not None
    assert chart.columns == ("类别", "未办结（件）", "其中已超期（件）")
    assert chart.rows == (("甲单位", "12", "4"), ("乙单位", "3", "0"))


def test_the_scale_rounds_up_to_a_round_number():
    def ticks(highest: int) -> list[str]:
        root = parsed(bar_chart("b", "x", ["a"], [Series("n", [highest])]))
        axis = [line for line in root.iter(f"{SVG}line") if line.get("class") == "grid"]
        labels = [t.text or "" for t in root.iter(f"{SVG}text")][: len(axis)]
        return labels

    assert ticks(0) == ["0", "1"]
    assert ticks(4) == ["0", "1", "2", "3", "4"]
    assert ticks(7) == ["0", "2", "4", "6", "8"]
    assert ticks(230) == ["0", "50", "100", "150", "200", "250"]
    assert ticks(1000) == ["0", "200", "400", "600", "800", "1,000"]


def test_labels_are_escaped_and_long_ones_cut_on_the_chart_only():
    name = "<script>alert(1)</script>&郑州市交通运输综合执法支队第一大队第二中队第三分队"
    chart = bar_chart("b", 'A "title" <b>', [name], [Series("未办结 <1>", [2])])
    svg = str(chart.svg)
    assert "<script>" not in svg and "<b>" not in svg
    root = parsed(chart)  # well-formed: everything escaped
    assert root.find(f"{SVG}title").text == 'A "title" <b>'  # type: ignore[union-attr]
    assert root.get("aria-label") == 'A "title" <b>（图表，数据见下表）'
    label = next(t for t in texts(root) if t.startswith("<script>"))
    assert label.endswith("…") and len(label) < len(name)
    assert chart.rows[0][0] == name  # the table has it whole


def test_an_empty_bar_chart_says_so():
    chart = bar_chart("b", "x", [], [Series("未办结", []), Series("其中已超期", [])])
    assert "本期无数据" in texts(parsed(chart))
    assert chart.rows == ()


# The stacked chart ------------------------------------------------------------------------------
def test_stacked_parts_sit_on_one_another_under_their_total():
    chart = stacked_chart(
        "lists",
        "名单",
        ["郑州市", "开封市"],
        [Series("红名单", [10, 3]), Series("黑名单", [2, None]), Series("重点关注名单", [4, 0])],
        category_heading="地区",
        unit="个",
    )
    root = parsed(chart)
    zero, twenty = gridline_y(root, "0"), gridline_y(root, "20")  # 16 rounds up to 20
    per_unit = (zero - twenty) / 20
    drawn = bars(root)
    red, black, watch = (
        drawn[f"郑州市 {part}"] for part in ("红名单 10", "黑名单 2", "重点关注名单 4")
    )
    assert number(red, "y") + number(red, "height") == pytest.approx(zero)
    assert number(red, "height") == pytest.approx(10 * per_unit)
    assert number(black, "y") + number(black, "height") == pytest.approx(number(red, "y"))
    assert number(watch, "y") == pytest.approx(zero - 16 * per_unit)
    assert sorted(label for label in drawn if label.startswith("开封市")) == ["开封市 红名单 3"]
    assert {"16", "3"} <= set(texts(root))  # the totals
    fills = {red.get("fill"), black.get("fill"), watch.get("fill")}
    assert len(fills) == 3 and sum(fill.startswith("url(") for fill in fills if fill) == 2
    assert chart.columns == (
        "地区",
        "红名单（个）",
        "黑名单（个）",
        "重点关注名单（个）",
        "合计（个）",
    )
    assert chart.rows == (("郑州市", "10", "2", "4", "16"), ("开封市", "3", "—", "0", "3"))


def test_too_many_series_to_tell_apart_are_refused():
    many = [Series(str(n), [1]) for n in range(len(STYLES) + 1)]
    with pytest.raises(ValueError, match="told apart"):
        stacked_chart("s", "x", ["a"], many)


# Every chart -----------------------------------------------------------------------------------
def test_the_same_figures_give_the_same_bytes_and_nothing_is_loaded():
    def draw() -> list[str]:
        return [
            str(rate_chart("r", "及时率", AUTUMN, [Series("及时率", [0.75, 0.8, 0.9])]).svg),
            str(bar_chart("b", "案件", ["甲"], [Series("未办结", [3])]).svg),
            str(stacked_chart("s", "名单", ["甲"], [Series("红名单", [3])]).svg),
        ]

    first = draw()
    assert draw() == first
    for svg in first:
        root = ElementTree.fromstring(svg)
        assert root.get("role") == "img" and root.get("aria-label")
        assert root[0].tag == f"{SVG}title"
        assert "href" not in svg and "<script" not in svg and "<style" not in svg
        assert "font-family" not in svg  # the page's font stack
