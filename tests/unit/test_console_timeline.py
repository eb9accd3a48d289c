"""The auditor's timeline and the console's words: every event type, list, subject kind,
severity, publication state and reference has its Chinese name; the time axis puts days where
they belong; a follow-up or a case step is drawn on the row of the record it acts on."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, get_args
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from api.console.timeline import Scale, build
from api.console.vocabulary import (
    EVENT_NAMES,
    LISTS,
    PUBLICATION_STATES,
    REFERRED_BY,
    REFERS_TO,
    SEVERITIES,
    SUBJECT_KINDS,
)
from domain.cases import CASE_EVENT_TYPES
from domain.events import LIST_TYPES, RECORD_EVENT_TYPES
from domain.events import SUBJECT_KINDS as KINDS
from domain.policy.model import SEVERITIES as SEVERITY_NAMES
from domain.publication import REPAIRED, REVOKED, publication_state
from service.history import Effect, LinkedEvent, Reference

pytestmark = pytest.mark.domain
BEIJING = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 11, 20)


def test_every_kind_of_thing_the_desk_shows_has_its_chinese_name():
    named = set(EVENT_NAMES)
    assert set(RECORD_EVENT_TYPES) | {c.__name__ for c in CASE_EVENT_TYPES} < named
    assert named - set(RECORD_EVENT_TYPES) - {c.__name__ for c in CASE_EVENT_TYPES} == {
        "SubjectRegistered"
    }
    assert set(LISTS) == set(LIST_TYPES) and set(SUBJECT_KINDS) == set(KINDS)
    assert set(SEVERITIES) == set(SEVERITY_NAMES)
    assert set(REFERS_TO) == set(REFERRED_BY) == set(get_args(Effect))
    states = {
        publication_state(day, start, end, state)
        for day in (date(2026, 1, 1), date(2026, 6, 1), date(2027, 1, 1))
        for start, end in ((None, None), (date(2026, 3, 1), date(2026, 9, 1)))
        for state in ("active", REVOKED, REPAIRED, "lapsed")
    }
    assert states == set(PUBLICATION_STATES)


def test_the_axis_puts_days_in_proportion_and_keeps_them_on_it():
    scale = Scale(date(2026, 1, 1), date(2027, 1, 1))
    assert (scale.at(date(2026, 1, 1)), scale.at(date(2027, 1, 1))) == (0.0, 100.0)
    assert scale.at(date(2026, 7, 2)) == pytest.approx(50.0, abs=0.2)
    assert scale.at(date(2025, 1, 1)) == 0.0 and scale.at(date(2030, 1, 1)) == 100.0
    window = scale.span(date(2026, 7, 2), None, "公示期")
    assert window.left + window.width == pytest.approx(100.0)
    assert [t.label for t in scale.ticks()] == [
        "2026年3月",
        "2026年5月",
        "2026年7月",
        "2026年9月",
        "2026年11月",
        "2027年1月",
    ]
    assert scale.ticks()[-1].left == 100.0
    long = Scale(date(2024, 5, 1), date(2029, 6, 1))
    assert [t.label for t in long.ticks()] == ["2025年", "2026年", "2027年", "2028年", "2029年"]
    longer = Scale(date(2016, 5, 1), date(2029, 6, 1))
    assert [t.label for t in longer.ticks()] == ["2017年", "2020年", "2023年", "2026年", "2029年"]
    one_day = Scale(TODAY, TODAY)  # still an axis a month wide
    assert one_day.at(TODAY) == 0.0 and one_day.days == 30


def item(version: int, kind: str, record_id: UUID | None, valid: date | None, **data: Any) -> dict:
    return {
        "version": version,
        "position": version,
        "type": kind,
        "recorded_at": datetime(2026, 11, 19, 20, tzinfo=UTC),  # 11-20 in Beijing
        "valid_time": valid,
        "recorded_by": "t",
        "record_id": record_id,
        "data": data,
    }


def test_follow_ups_and_case_steps_sit_on_the_row_of_their_record():
    penalty, correction, entry, stray = (UUID(int=n) for n in (1, 2, 3, 4))
    events = [
        LinkedEvent(item(1, "SubjectRegistered", None, None)),
        LinkedEvent(
            item(2, "PenaltyDecided", penalty, date(2026, 6, 1)),
            referred_by=[Reference("corrects", correction, 3)],
        ),
        LinkedEvent(
            item(3, "RecordCorrected", correction, date(2026, 11, 1)),
            refers_to=[Reference("corrects", penalty, 2)],
        ),
        LinkedEvent(
            item(4, "ListEntered", entry, date(2026, 7, 1)),
            refers_to=[Reference("rests_on", penalty, 2)],
        ),
        LinkedEvent(
            item(5, "RepairApplied", None, None), refers_to=[Reference("case_step", penalty, 2)]
        ),
        LinkedEvent(  # its record is on another page: a row of its own
            item(6, "RecordRevoked", stray, date(2026, 11, 1)),
            refers_to=[Reference("revokes", UUID(int=99), None)],
        ),
    ]
    records = {
        penalty: {
            "publication": {"state": "published", "from": date(2026, 6, 1), "until": None},
            "corrected": True,
        }
    }
    titles = {n: f"第{n}条" for n in range(1, 7)}
    timeline = build(events, records, titles, TODAY, BEIJING)
    rows = {row.target: row for row in timeline.rows}
    assert list(rows) == ["event-1", "event-2", "event-4", "event-6"]
    marks = rows["event-2"].marks
    assert [(m.sign, m.kind, m.target) for m in marks] == [
        ("更", "corrects", "event-3"),
        ("案", "case_step", "event-5"),
    ]
    assert marks[0].label == "第3条（更正，2026年11月1日）"
    assert marks[1].left == rows["event-2"].recorded  # a case step: its recorded day
    assert rows["event-4"].basis == ("event-2", "第2条")
    penalty_row = rows["event-2"]
    assert penalty_row.state_label == "公示中，已更正"
    window = penalty_row.window
    assert window is not None and window.left + window.width == 100  # open-ended: to the edge
    assert penalty_row.lag is not None and penalty_row.decided == 0.0
    assert "决定日期 2026年6月1日，记录于 2026年11月20日" in penalty_row.description
    assert rows["event-1"].decided is None and rows["event-1"].lag is None
    assert timeline.today == penalty_row.recorded
