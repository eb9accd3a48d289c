"""Charts of the credit office's figures, drawn by the service as inline SVG: a rate over months
against its target (`rate_chart`), counts by category as horizontal bars (`bar_chart`), and
counts by category split into parts as stacked columns (`stacked_chart`). A page puts a `Chart`
on with the `chart_figure` macro of `console/_chart.html`, which adds its text alternative.

Why not a charting library: pygal (the one made for SVG) was tried. Its output names the chart
with a random id and stamps the day it was drawn, so the same figures never give the same bytes
and cannot be compared in a test; its bars tell series apart by hue alone, with no fill
patterns, so a printout in grey loses them; its chart has no `role` or accessible name, and its
tooltips are markup for its own script. A script-drawn library would not print or work offline
without it. The few shapes these charts need are simple enough to write here, where every
coordinate is ours to test.

Conventions, the same in every chart:
- A rate is a fraction from 0 to 1 (0.75 is 75 %), shown with `percent`; a count is a whole
  number. None is "no figure" (nothing to measure that month): a gap, never a zero.
- Series are told apart without colour: each has a fill pattern (bars) or a dash style and a
  marker shape (lines) of its own, and a step of lightness, so a grey printout keeps them apart.
- The text is the page's: no font is named here, so the SVG takes the console's font stack
  (the Noto CJK fonts where no other Chinese font is installed) and Chinese labels render as
  the rest of the page does. Nothing is loaded from anywhere.
- The output depends only on the arguments: the same figures give the same bytes.
- The SVG is one `role="img"` with an `aria-label` and a `<title>`; the numbers themselves are
  in the table the macro puts beside it (read by screen readers, shown when printed).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from domain.months import Month

WIDTH = 640  # the drawing's own units; the page scales it (console's charts.css)
FONT = 13  # label size in those units
SMALL = 12
INK = "#1f2933"  # text and outlines: the console's text colour
AXIS = "#52606d"
GRID = "#d9dee5"
TARGET = "#1f2933"
LEGEND_ROW = 24
NO_DATA = "本期无数据"


@dataclass(frozen=True)
class Series:
    """One named row of figures: one value per month or per category, None where there is none."""

    name: str
    values: Sequence[float | None]


@dataclass(frozen=True)
class Chart:
    """A chart for a page: its SVG, and the same figures as a table (its text alternative)."""

    chart_id: str  # unique on the page: the figure's id, and the prefix of the SVG's ids
    title: str
    svg: Markup
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    no_data: str = NO_DATA  # what the table says when it has no rows


@dataclass(frozen=True)
class SeriesStyle:
    """How one series is drawn, told apart in grey by lightness and pattern or dash and marker."""

    colour: str  # a bar's pattern, or its fill when solid
    background: str  # a bar's ground under its pattern
    pattern: str  # solid, hatch, dots, lines
    line: str  # a line's colour (and its markers')
    dash: str  # a line's stroke-dasharray ("" solid)
    marker: str  # circle, square, triangle, diamond


STYLES = (
    SeriesStyle("#0b4f8a", "#0b4f8a", "solid", "#0b4f8a", "", "circle"),
    SeriesStyle("#0b4f8a", "#c6dbef", "hatch", "#a35200", "8 4", "square"),
    SeriesStyle("#7a4b00", "#fbe3b0", "dots", "#3e4c59", "2 3", "triangle"),
    SeriesStyle("#3e4c59", "#ffffff", "lines", "#6b2c91", "12 3 2 3", "diamond"),
)


def percent(rate: float | None) -> str:
    """0.75 as 75%, 0.995 as 99.5%; None as —."""
    if rate is None:
        return "—"
    shown = f"{rate * 100:.1f}".removesuffix(".0")
    return f"{shown}%"


def count(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def month_label(month: Month) -> str:
    return month.chinese


# Charts ------------------------------------------------------------------------------------------
PLOT_LEFT = 52  # room for "100%"
PLOT_RIGHT = WIDTH - 72  # room for the target's label
PLOT_HEIGHT = 200


def rate_chart(
    chart_id: str,
    title: str,
    months: Sequence[Month],
    series: Sequence[Series],
    *,
    target: float | None = 1.0,
    target_label: str = "目标",
) -> Chart:
    """A rate (0-1) over months, one line per series, against a dashed target line (100 % by
    default; None for none). Each series has one value per month, None for a month with nothing
    to measure (the line breaks there). With one series each point carries its value."""
    _check(chart_id, series, len(months))
    for s in series:
        for value in s.values:
            if value is not None and not 0 <= value <= 1:
                raise ValueError(f"{s.name}: a rate is a fraction from 0 to 1, got {value}")
    if target is not None and not 0 <= target <= 1:
        raise ValueError(f"the target is a fraction from 0 to 1, got {target}")
    legend = _legend(chart_id, series, lines=True)
    top = legend.height + 18  # room above 100 % for a point's label
    bottom = top + PLOT_HEIGHT
    height = bottom + 44  # two lines of month labels
    band = (PLOT_RIGHT - PLOT_LEFT) / max(len(months), 1)

    def y(rate: float) -> float:
        return bottom - rate * PLOT_HEIGHT

    def x(index: int) -> float:
        return PLOT_LEFT + (index + 0.5) * band

    parts = [legend.svg]
    for step in range(5):  # 0 %, 25 %, 50 %, 75 %, 100 %
        rate = step / 4
        parts.append(
            _line(PLOT_LEFT, y(rate), PLOT_RIGHT, y(rate), GRID if step else AXIS, "grid")
            + _text(PLOT_LEFT - 6, y(rate) + 4, percent(rate), anchor="end", size=SMALL)
        )
    previous_year = None
    for index, month in enumerate(months):
        parts.append(_text(x(index), bottom + 18, f"{month.month}月", anchor="middle"))
        if month.year != previous_year:  # the year under its first month and each January
            parts.append(_text(x(index), bottom + 36, f"{month.year}年", size=SMALL))
            previous_year = month.year
    if target is not None:
        parts.append(
            f'<line class="target" x1="{_n(PLOT_LEFT)}" y1="{_n(y(target))}" '
            f'x2="{_n(PLOT_RIGHT)}" y2="{_n(y(target))}" stroke="{TARGET}" stroke-width="1.5" '
            'stroke-dasharray="6 4"/>'
            + _text(PLOT_RIGHT + 6, y(target) + 4, f"{target_label} {percent(target)}", size=SMALL)
        )
    for number, s in enumerate(series):
        style = STYLES[number]
        for run in _runs(s.values):
            points = " ".join(f"{_n(x(i))},{_n(y(v))}" for i, v in run)
            parts.append(
                f'<polyline points="{points}" fill="none" stroke="{style.line}" '
                f'stroke-width="2"{_dash(style.dash)}/>'
            )
        for index, value in enumerate(s.values):
            if value is None:
                continue
            parts.append(_marker(style, x(index), y(value), f"{s.name} {percent(value)}"))
            if len(series) == 1:
                parts.append(_text(x(index), y(value) - 9, percent(value), anchor="middle"))
    if not months or all(v is None for s in series for v in s.values):
        parts.append(_no_data((PLOT_LEFT + PLOT_RIGHT) / 2, top + PLOT_HEIGHT / 2))
    columns = ("月份", *(s.name for s in series))
    rows = tuple(
        (month_label(month), *(percent(s.values[i]) for s in series))
        for i, month in enumerate(months)
    )
    return _chart(chart_id, title, height, parts, columns, rows, defs="")


LABEL_MAX = 200  # a category's label column at most, in the drawing's units
BAR = 16
BAR_GAP = 3
GROUP_GAP = 14


def bar_chart(
    chart_id: str,
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    category_heading: str = "类别",
    unit: str = "",
) -> Chart:
    """Counts by category as horizontal bars, one bar per series in each category's group
    (e.g. late records by authority; open and overdue cases by authority). Each bar ends with
    its count; `unit` follows it in the table's headings ("件")."""
    _check(chart_id, series, len(categories))
    legend = _legend(chart_id, series, lines=False) if len(series) > 1 else _Legend("", 0)
    label_width = min(max((_text_width(c, FONT) for c in categories), default=0), LABEL_MAX)
    left = label_width + 16
    right = WIDTH - 56  # room for the longest bar's count
    top = legend.height + 8
    group = len(series) * BAR + (len(series) - 1) * BAR_GAP
    rows_height = len(categories) * (group + GROUP_GAP)
    axis_y = top + max(rows_height, 60)
    height = axis_y + 28
    highest = max((v for s in series for v in s.values if v is not None), default=0)
    scale = _CountScale(highest, left, right)
    parts = [legend.svg]
    for tick in scale.ticks():
        x = scale.at(tick)
        parts.append(
            _line(x, top, x, axis_y, AXIS if tick == 0 else GRID, "grid")
            + _text(x, axis_y + 18, count(tick), anchor="middle", size=SMALL)
        )
    for index, category in enumerate(categories):
        group_top = top + index * (group + GROUP_GAP) + GROUP_GAP / 2
        parts.append(
            _text(
                left - 8,
                group_top + group / 2 + 5,
                _fit(category, label_width),
                anchor="end",
            )
        )
        for number, s in enumerate(series):
            value = s.values[index]
            bar_top = group_top + number * (BAR + BAR_GAP)
            if value is None:
                parts.append(_text(left + 4, bar_top + BAR - 3, "—", size=SMALL))
                continue
            width = scale.at(value) - left
            parts.append(
                _bar(
                    chart_id,
                    number,
                    left,
                    bar_top,
                    width,
                    BAR,
                    f"{category} {s.name} {count(value)}",
                )
                + _text(left + width + 4, bar_top + BAR - 3, count(value), size=SMALL)
            )
    if all(v is None for s in series for v in s.values):  # no categories, or no figures
        parts.append(_no_data((left + right) / 2, top + 30))
    columns = (category_heading, *(_headed(s.name, unit) for s in series))
    rows = tuple(
        (category, *(count(s.values[i]) for s in series)) for i, category in enumerate(categories)
    )
    return _chart(chart_id, title, height, parts, columns, rows, defs=_patterns(chart_id, series))


COLUMN_PLOT_HEIGHT = 220


def stacked_chart(
    chart_id: str,
    title: str,
    categories: Sequence[str],
    parts_of: Sequence[Series],
    *,
    category_heading: str = "类别",
    total_heading: str = "合计",
    unit: str = "",
) -> Chart:
    """Counts by category as columns stacked from their parts, in the order given, bottom up
    (e.g. the red, black and watch lists' entries by region), each column topped by its total.
    The table gives each part and the total."""
    _check(chart_id, parts_of, len(categories))
    legend = _legend(chart_id, parts_of, lines=False)
    top = legend.height + 22  # room for the tallest column's total
    bottom = top + COLUMN_PLOT_HEIGHT
    height = bottom + 30
    totals = [sum(s.values[i] or 0 for s in parts_of) for i in range(len(categories))]
    highest = max(totals, default=0)
    scale = _CountScale(highest, 0, COLUMN_PLOT_HEIGHT)
    band = (PLOT_RIGHT - PLOT_LEFT) / max(len(categories), 1)
    column = min(band * 0.6, 72)
    parts = [legend.svg]
    for tick in scale.ticks():
        y = bottom - scale.at(tick)
        parts.append(
            _line(PLOT_LEFT, y, PLOT_RIGHT, y, AXIS if tick == 0 else GRID, "grid")
            + _text(PLOT_LEFT - 6, y + 4, count(tick), anchor="end", size=SMALL)
        )
    for index, category in enumerate(categories):
        centre = PLOT_LEFT + (index + 0.5) * band
        left = centre - column / 2
        parts.append(_text(centre, bottom + 18, _fit(category, band - 4), anchor="middle"))
        base = 0.0
        for number, s in enumerate(parts_of):
            value = s.values[index] or 0
            if value:
                segment_top = bottom - scale.at(base + value)
                segment = scale.at(base + value) - scale.at(base)
                parts.append(
                    _bar(
                        chart_id,
                        number,
                        left,
                        segment_top,
                        column,
                        segment,
                        f"{category} {s.name} {count(value)}",
                    )
                )
            base += value
        parts.append(
            _text(
                centre,
                bottom - scale.at(totals[index]) - 6,
                count(totals[index]),
                anchor="middle",
                size=SMALL,
            )
        )
    if all(v is None for s in parts_of for v in s.values):  # no categories, or no figures
        parts.append(_no_data((PLOT_LEFT + PLOT_RIGHT) / 2, top + COLUMN_PLOT_HEIGHT / 2))
    columns = (
        category_heading,
        *(_headed(s.name, unit) for s in parts_of),
        _headed(total_heading, unit),
    )
    rows = tuple(
        (category, *(count(s.values[i]) for s in parts_of), count(totals[i]))
        for i, category in enumerate(categories)
    )
    return _chart(chart_id, title, height, parts, columns, rows, defs=_patterns(chart_id, parts_of))


# Scales ------------------------------------------------------------------------------------------
class _CountScale:
    """Counts from 0 to a round number at or above the highest, onto [start, end]."""

    def __init__(self, highest: float, start: float, end: float):
        self.step = _nice_step(highest)
        self.top = max(self.step * math.ceil(highest / self.step), self.step)
        self.start, self.end = start, end

    def at(self, value: float) -> float:
        return self.start + value / self.top * (self.end - self.start)

    def ticks(self) -> list[int]:
        return [self.step * i for i in range(round(self.top / self.step) + 1)]


def _nice_step(highest: float) -> int:
    """A step of 1, 2 or 5 times a power of ten giving at most five intervals up to `highest`."""
    if highest <= 5:
        return 1
    power = 10 ** math.floor(math.log10(highest / 5))
    return next(power * m for m in (1, 2, 5, 10) if highest / (power * m) <= 5)


# Pieces ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Legend:
    svg: str
    height: float


def _legend(chart_id: str, series: Sequence[Series], *, lines: bool) -> _Legend:
    """The series' keys in a row (wrapping), above the plot: a short line with its marker, or a
    swatch of the bar's fill."""
    parts, x, y = [], float(PLOT_LEFT), 16.0
    for number, s in enumerate(series):
        width = 30 + _text_width(s.name, SMALL) + 18
        if x + width > WIDTH and x > PLOT_LEFT:
            x, y = float(PLOT_LEFT), y + LEGEND_ROW
        style = STYLES[number]
        if lines:
            parts.append(
                f'<line x1="{_n(x)}" y1="{_n(y - 4)}" x2="{_n(x + 24)}" y2="{_n(y - 4)}" '
                f'stroke="{style.line}" stroke-width="2"{_dash(style.dash)}/>'
                + _marker(style, x + 12, y - 4, "")
            )
        else:
            parts.append(_bar(chart_id, number, x, y - 11, 24, 12, ""))
        parts.append(_text(x + 30, y, s.name, size=SMALL))
        x += width
    svg = f'<g class="legend">{"".join(parts)}</g>' if parts else ""
    return _Legend(svg, y + 8 if parts else 0)


def _patterns(chart_id: str, series: Sequence[Series]) -> str:
    """One fill per series: its ground, and the pattern that tells it apart in grey."""
    defs = []
    for number in range(len(series)):
        style = STYLES[number]
        if style.pattern == "solid":
            continue
        mark = {
            "hatch": f'<path d="M0,6 L6,0" stroke="{style.colour}" stroke-width="1.5"/>',
            "dots": f'<circle cx="3" cy="3" r="1.4" fill="{style.colour}"/>',
            "lines": f'<path d="M0,3 L6,3" stroke="{style.colour}" stroke-width="1.5"/>',
        }[style.pattern]
        defs.append(
            f'<pattern id="{chart_id}-fill-{number}" width="6" height="6" '
            f'patternUnits="userSpaceOnUse"><rect width="6" height="6" '
            f'fill="{style.background}"/>{mark}</pattern>'
        )
    return "".join(defs)


def _bar(
    chart_id: str, number: int, x: float, y: float, width: float, height: float, label: str
) -> str:
    style = STYLES[number]
    fill = style.colour if style.pattern == "solid" else f"url(#{chart_id}-fill-{number})"
    data = f' class="bar" data-label="{escape(label)}"' if label else ""  # not a legend's key
    return (
        f'<rect{data} x="{_n(x)}" y="{_n(y)}" width="{_n(width)}" '
        f'height="{_n(height)}" fill="{fill}" stroke="{INK}" stroke-width="1"/>'
    )


def _marker(style: SeriesStyle, x: float, y: float, label: str) -> str:
    data = f'class="point" data-label="{escape(label)}" ' if label else ""  # not a legend's key
    common = f'{data}fill="{style.line}" stroke="#ffffff" stroke-width="1"'
    if style.marker == "circle":
        return f'<circle {common} cx="{_n(x)}" cy="{_n(y)}" r="4.5"/>'
    if style.marker == "square":
        return f'<rect {common} x="{_n(x - 4)}" y="{_n(y - 4)}" width="8" height="8"/>'
    corners = (
        [(0, -5.5), (5, 4), (-5, 4)]
        if style.marker == "triangle"
        else [(0, -5.5), (5.5, 0), (0, 5.5), (-5.5, 0)]  # a diamond
    )
    shape = " ".join(f"{_n(x + dx)},{_n(y + dy)}" for dx, dy in corners)
    return f'<polygon {common} points="{shape}"/>'


def _line(x1: float, y1: float, x2: float, y2: float, colour: str, kind: str) -> str:
    return (
        f'<line class="{kind}" x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}" '
        f'stroke="{colour}" stroke-width="1"/>'
    )


def _text(x: float, y: float, words: str, *, anchor: str = "start", size: int = FONT) -> str:
    return (
        f'<text x="{_n(x)}" y="{_n(y)}" font-size="{size}" fill="{INK}" '
        f'text-anchor="{anchor}">{escape(words)}</text>'
    )


def _no_data(x: float, y: float) -> str:
    return (
        f'<text class="no-data" x="{_n(x)}" y="{_n(y)}" font-size="{FONT}" fill="{AXIS}" '
        f'text-anchor="middle">{NO_DATA}</text>'
    )


def _dash(pattern: str) -> str:
    return f' stroke-dasharray="{pattern}"' if pattern else ""


def _chart(
    chart_id: str,
    title: str,
    height: float,
    parts: list[str],
    columns: tuple[str, ...],
    rows: tuple[tuple[str, ...], ...],
    *,
    defs: str,
) -> Chart:
    label = f"{title}（图表，数据见下表）"
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart-svg" id="{chart_id}-svg" '
        f'viewBox="0 0 {WIDTH} {_n(height)}" width="{WIDTH}" height="{_n(height)}" '
        f'role="img" aria-label="{escape(label)}">'
        f"<title>{escape(title)}</title>"
        + (f"<defs>{defs}</defs>" if defs else "")
        + "".join(parts)
        + "</svg>"
    )
    return Chart(chart_id, title, Markup(svg), columns, rows)


def _check(chart_id: str, series: Sequence[Series], length: int) -> None:
    if not chart_id.replace("-", "").isalnum() or not chart_id.isascii():
        raise ValueError(f"a chart id is letters, digits and hyphens: {chart_id!r}")
    if len(series) > len(STYLES):
        raise ValueError(f"at most {len(STYLES)} series can be told apart, got {len(series)}")
    for s in series:
        if len(s.values) != length:
            raise ValueError(f"{s.name}: {len(s.values)} values for {length} places")


def _runs(values: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """The stretches of consecutive values, split where a value is missing."""
    runs: list[list[tuple[int, float]]] = [[]]
    for index, value in enumerate(values):
        if value is None:
            runs.append([])
        else:
            runs[-1].append((index, value))
    return [run for run in runs if len(run) > 1]


def _text_width(words: str, size: int) -> float:
    """About how wide text is drawn: a Chinese character is a full em, other characters half."""
    return sum(size if ord(c) > 0x2E7F else size * 0.6 for c in words)


def _fit(words: str, width: float) -> str:
    """The label, cut with … to fit `width` (the table beside the chart has it whole)."""
    if _text_width(words, FONT) <= width:
        return words
    while words and _text_width(words + "…", FONT) > width:
        words = words[:-1]
    return words + "…"


def _headed(name: str, unit: str) -> str:
    return f"{name}（{unit}）" if unit else name


def _n(value: float) -> str:
    """A coordinate to a tenth of a unit, written the same way every time."""
    return f"{round(value, 1):g}"
