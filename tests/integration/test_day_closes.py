"""The day's close as the service records it (service/commanding/day_closes.py): once per day
however often or by how many it is asked, each missed day in order after the worker was down,
never a day that has not begun; on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time as wall
from datetime import date, datetime, time, timedelta

import pytest

from domain.day_close import DAY_CLOSE_STREAM, DAY_NOT_IN_FUTURE, DayClosed
from domain.errors import RuleViolated
from service.commanding.commands import RegisterSubject, record_command_adapter
from service.commanding.day_closes import DayCloses, DayCloseSchedule
from service.replay.generations import rebuild_beside
from tests.builders import enterprise, list_entry, rating
from tests.integration.readmodel import dump
from tests.integration.test_cli import credit

pytestmark = pytest.mark.integration
TODAY = date(2026, 11, 20)  # the clock's day in Beijing (conftest NOW)


def closes_in_log(services) -> list[tuple[int, date]]:
    """(version, day) of every close in the stream, in stream order."""
    found = services.ledger.stream_page(DAY_CLOSE_STREAM, after_version=0, limit=1000)
    assert all(isinstance(event, DayClosed) for _, event in found)
    return [(event.originator_version, event.day) for _, event in found]


def test_a_day_closed_twice_is_recorded_once(services):
    [first] = services.day_closes.close()
    assert (first.day, first.created) == (TODAY, True)
    [again] = services.day_closes.close(TODAY)
    assert (again.day, again.position, again.created) == (TODAY, first.position, False)
    assert closes_in_log(services) == [(1, TODAY)]


def test_writers_racing_for_the_same_day_record_it_once(services):
    services.day_closes.close(TODAY - timedelta(days=1))
    writers = [DayCloses(services.ledger, services.clock, catch_up_days=31) for _ in range(4)]
    results: list[list] = []
    threads = [threading.Thread(target=lambda w=w: results.append(w.close())) for w in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert closes_in_log(services) == [(1, TODAY - timedelta(days=1)), (2, TODAY)]
    assert sorted(closed.created for result in results for closed in result) == [
        False,
        False,
        False,
        True,
    ]


def test_a_worker_down_for_three_days_closes_them_in_order(services, clock):
    services.day_closes.close()
    # Down from 20 November; back at 09:00 on the 23rd in Beijing.
    clock.moment = datetime.combine(TODAY + timedelta(days=3), time(9), tzinfo=clock.zone)
    schedule = DayCloseSchedule(services.day_closes, delay_seconds=60)
    schedule.start()
    try:
        for _ in range(200):
            if len(closes_in_log(services)) == 4:
                break
            wall.sleep(0.05)
    finally:
        schedule.stop()
    assert closes_in_log(services) == [
        (1, TODAY),
        (2, TODAY + timedelta(days=1)),
        (3, TODAY + timedelta(days=2)),
        (4, TODAY + timedelta(days=3)),
    ]
    positions = [
        p for p, _ in services.ledger.stream_page(DAY_CLOSE_STREAM, after_version=0, limit=9)
    ]
    assert positions == sorted(positions)
    # The read models follow the closes: the credit file holds none, the changes pass them.
    services.runner.catch_up()
    assert services.runner.position("changes") == positions[-1]


def test_the_schedule_closes_a_day_once_its_delay_after_midnight_has_passed(services, clock):
    schedule = DayCloseSchedule(services.day_closes, delay_seconds=300)
    midnight = datetime.combine(TODAY, time.min, tzinfo=clock.zone)
    assert schedule.due(midnight + timedelta(seconds=299)) == TODAY - timedelta(days=1)
    assert schedule.due(midnight + timedelta(seconds=300)) == TODAY
    assert schedule.seconds_to_next(midnight) == 300
    assert schedule.seconds_to_next(midnight + timedelta(seconds=300)) == 24 * 60 * 60


def test_a_day_not_begun_is_refused_and_the_catch_up_is_bounded(services, clock):
    with pytest.raises(RuleViolated) as refused:
        services.day_closes.close(TODAY + timedelta(days=1))
    assert refused.value.rule == DAY_NOT_IN_FUTURE
    assert closes_in_log(services) == []
    bounded = DayCloses(services.ledger, services.clock, catch_up_days=2)
    bounded.close(TODAY - timedelta(days=10))
    # Ten days later: the last two are closed, the eight before them passed over.
    assert [c.day for c in bounded.close()] == [TODAY - timedelta(days=1), TODAY]
    # A day passed over is not closed afterwards, out of order.
    assert bounded.close(TODAY - timedelta(days=5)) == []


def test_credit_close_day_closes_up_to_a_day_and_refuses_one_not_begun(settings, services):
    assert credit(settings, "migrate").returncode == 0
    done = credit(settings, "close-day", "--day", "2026-01-02")
    assert done.returncode == 0, done.stderr
    assert "2026-01-02: closed at log position" in done.stderr
    again = credit(settings, "close-day", "--day", "2026-01-02")
    assert "2026-01-02: already closed" in again.stderr
    future = credit(settings, "close-day", "--day", "2999-01-01")
    assert future.returncode == 2
    assert "refused (day-close-not-in-future)" in future.stderr
    assert closes_in_log(services) == [(1, date(2026, 1, 2))]


def test_a_rebuild_gives_the_changes_told_at_the_closes_again_with_their_ids(services, clock):
    subject = services.files.register(RegisterSubject(**enterprise(800)), recorded_by="t")
    for body in (
        rating("DC-R", valid_until="2026-11-24"),
        list_entry("DC-L", decision_date="2026-11-01", planned_end="2026-11-22"),
    ):
        services.files.append(
            subject.subject_id, record_command_adapter.validate_python(body), recorded_by="t"
        )
    services.day_closes.close()
    clock.moment = datetime.combine(TODAY + timedelta(days=5), time(9), tzinfo=clock.zone)
    services.day_closes.close()
    services.runner.catch_up()
    live = dump(services.write_engine)
    by_time = [c for c in live["changes"] if (c["after"] or {}).get("cause") == "time"]
    assert sorted(c["kind"] for c in by_time) == ["grade.changed", "grade.changed", "list.left"]
    rebuild_beside(services)
    rebuilt = dump(services.write_engine)
    assert rebuilt["changes"] == live["changes"]
    assert rebuilt["told_statuses"] == live["told_statuses"]
