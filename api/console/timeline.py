"""Where things sit on the auditor's visual timeline: one row per record (and one for the
subject's registration), laid out on a shared time axis in percent of its width, so that HTML and
CSS draw it without a script. A row shows when the record was decided (valid time) and recorded
(recorded time), its publication window as the read model has it today, and, on the same row,
each later event that acted on it: a correction, a revocation, an end, a case step.

Only geometry and words are decided here; which event acts on which record comes from
`service.history.linked`, and a record's publication from the read model."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from math import ceil
from typing import Any

from api.console.vocabulary import PUBLICATION_STATES, REFERS_TO
from api.templating import chinese_date
from domain.events import FOLLOW_UP_TYPES
from service.history import CASE_STEPS, LinkedEvent

# The short sign of each kind of later event on its record's row (the legend explains them).
SIGNS = {"corrects": "更", "revokes": "撤", "ends": "止", "case_step": "案"}
MIN_SPAN_DAYS = 30  # a history of one day is still drawn on an axis a month wide
MAX_TICKS = 6


def anchor(version: int) -> str:
    """The id of an event's row in the table (and of its record's row on the timeline)."""
    return f"event-{version}"


@dataclass(frozen=True)
class Span:
    left: float  # percent of the track's width
    width: float
    label: str


@dataclass(frozen=True)
class Mark:
    left: float
    sign: str
    kind: str  # corrects, revokes, ends, case_step: its colour
    target: str  # the anchor of the event's row in the table
    label: str  # what a screen reader and a tooltip say


@dataclass
class Row:
    target: str  # the anchor of the row's own event in the table
    title: str
    description: str  # the row in words, for screen readers
    decided: float | None
    recorded: float
    lag: Span | None  # from decided to recorded, when they differ
    window: Span | None  # publication, as the read model has it today
    state: str | None  # publication state today (a CSS class and the words in `state_label`)
    state_label: str
    marks: list[Mark] = field(default_factory=list)
    basis: tuple[str, str] | None = None  # a list entry's basis: its anchor and its title


@dataclass(frozen=True)
class Tick:
    left: float
    label: str


@dataclass(frozen=True)
class Timeline:
    rows: list[Row]
    ticks: list[Tick]
    today: float
    first: date
    last: date


class Scale:
    """Days to percent of the track, between the first and the last day shown."""

    def __init__(self, first: date, last: date):
        self.first = first
        self.last = max(last, first + timedelta(days=MIN_SPAN_DAYS))
        self.days = (self.last - self.first).days

    def at(self, day: date) -> float:
        offset = min(max((day - self.first).days, 0), self.days)
        return round(offset / self.days * 100, 2)

    def span(self, start: date, end: date | None, label: str) -> Span:
        left = self.at(start)
        right = self.at(end) if end is not None else 100.0
        return Span(left, max(round(right - left, 2), 0.4), label)

    def ticks(self) -> list[Tick]:
        """Years on a long axis, months on a short one; at most MAX_TICKS of them, so that their
        labels fit beside one another on a phone."""
        if self.days >= 730:
            years = range(self.first.year + 1, self.last.year + 1)
            step = ceil(len(years) / MAX_TICKS)
            return [Tick(self.at(date(y, 1, 1)), f"{y}年") for y in years[::step]]
        months = (self.last.year - self.first.year) * 12 + self.last.month - self.first.month
        step = max(1, ceil(months / MAX_TICKS))
        ticks: list[Tick] = []
        year, month = self.first.year, self.first.month
        while True:
            month += 1
            if month > 12:
                year, month = year + 1, 1
            day = date(year, month, 1)
            if day > self.last:
                return ticks
            if (month - 1) % step == 0:
                ticks.append(Tick(self.at(day), f"{year}年{month}月"))


def _local_day(moment: datetime, zone: tzinfo) -> date:
    return moment.astimezone(zone).date()


def _publication(record: dict[str, Any] | None) -> tuple[date | None, date | None]:
    if record is None:
        return None, None
    return record["publication"]["from"], record["publication"]["until"]


def build(
    events: list[LinkedEvent],
    records: dict[Any, dict[str, Any]],
    titles: dict[int, str],
    today: date,
    zone: tzinfo,
) -> Timeline:
    """The timeline of a page of history: `records` is the read model's view of each record by
    id (its publication today), `titles` each event's one-line title by version."""
    days: list[date] = [today]
    for event in events:
        item = event.item
        days.append(_local_day(item["recorded_at"], zone))
        if item["valid_time"] is not None:
            days.append(item["valid_time"])
        start, end = _publication(records.get(item["record_id"]))
        days += [d for d in (start, end) if d is not None]
    scale = Scale(min(days), max(days))

    rows: dict[int, Row] = {}  # by the version of the event that made the row's record
    row_of_record: dict[Any, Row] = {}
    for event in events:
        item = event.item
        onto = _acted_on_row(event, row_of_record)
        if onto is not None:
            onto.marks.append(_mark(event, titles, scale, zone))
            continue
        row = _row(event, records.get(item["record_id"]), titles, scale, zone)
        rows[item["version"]] = row
        if item["record_id"] is not None:
            row_of_record[item["record_id"]] = row
    for event in events:  # a list entry names the row of the record it rests on
        for reference in event.refers_to:
            if reference.effect == "rests_on" and reference.version is not None:
                entry = rows.get(event.item["version"])
                if entry is not None:
                    entry.basis = (anchor(reference.version), titles[reference.version])
    return Timeline(list(rows.values()), scale.ticks(), scale.at(today), scale.first, scale.last)


def _acted_on_row(event: LinkedEvent, row_of_record: dict[Any, Row]) -> Row | None:
    """The row a follow-up or a case step is drawn on: its record's, when the page has it."""
    item = event.item
    if item["type"] not in FOLLOW_UP_TYPES and item["type"] not in CASE_STEPS:
        return None
    for reference in event.refers_to:
        if reference.effect != "rests_on" and reference.record_id in row_of_record:
            return row_of_record[reference.record_id]
    return None


def _mark(event: LinkedEvent, titles: dict[int, str], scale: Scale, zone: tzinfo) -> Mark:
    item = event.item
    day = item["valid_time"] or _local_day(item["recorded_at"], zone)
    effect = next(r.effect for r in event.refers_to if r.effect != "rests_on")
    return Mark(
        scale.at(day),
        SIGNS[effect],
        effect,
        anchor(item["version"]),
        f"{titles[item['version']]}（{REFERS_TO[effect]}，{chinese_date(day)}）",
    )


def _row(
    event: LinkedEvent,
    record: dict[str, Any] | None,
    titles: dict[int, str],
    scale: Scale,
    zone: tzinfo,
) -> Row:
    item = event.item
    recorded_on = _local_day(item["recorded_at"], zone)
    decided_on: date | None = item["valid_time"]
    start, end = _publication(record)
    state = record["publication"]["state"] if record else None
    state_label = PUBLICATION_STATES.get(state, state) if state else ""
    if record is not None and record["corrected"]:
        state_label += "，已更正"
    window = None
    if start is not None:
        until = f"至{chinese_date(end)}" if end else "起"
        window = scale.span(start, end, f"公示期 {chinese_date(start)}{until}")
    lag = None
    if decided_on is not None and decided_on < recorded_on:
        late = (recorded_on - decided_on).days
        lag = scale.span(decided_on, recorded_on, f"决定后 {late} 天记录")
    words = [titles[item["version"]]]
    if decided_on is not None:
        words.append(f"决定日期 {chinese_date(decided_on)}")
    words.append(f"记录于 {chinese_date(recorded_on)}")
    if window is not None:
        words.append(window.label)
    if state_label:
        words.append(f"当前{state_label}")
    return Row(
        target=anchor(item["version"]),
        title=titles[item["version"]],
        description="，".join(words),
        decided=scale.at(decided_on) if decided_on is not None else None,
        recorded=scale.at(recorded_on),
        lag=lag,
        window=window,
        state=state,
        state_label=state_label,
    )
