"""The change feed tells what time alone changed on the day it changed: a rating's validity over
and a black-list entry at its planned end come in at the day's close, at its position, not at
the subject's next event."""

from __future__ import annotations

from datetime import datetime, time

import pytest

from domain.day_close import DAY_CLOSE_STREAM
from tests.api.test_subscriptions import caught_up, feed, new_subject, record, subscribe
from tests.builders import list_entry, penalty, rating

pytestmark = pytest.mark.api


async def test_a_ratings_end_and_an_entrys_planned_end_are_in_the_feed_at_the_days_close(
    client, role_headers, services, clock
):
    agency = role_headers["agency"]
    subject = await new_subject(client, 1)
    await subscribe(
        client, agency, {"subject_ids": [subject], "kinds": ["grade.changed", "list.left"]}
    )
    await record(client, subject, rating(valid_until="2026-11-25"))
    await record(client, subject, list_entry(decision_date="2026-11-01", planned_end="2026-11-23"))
    last = await record(client, subject, penalty("P-1"))
    await caught_up(services, last["position"])
    start = await feed(client, agency)
    assert [c["after"]["grade"] for c in start["changes"]] == ["A", "D"]  # rated, then forced

    closed = {}
    for day in ("2026-11-22", "2026-11-23", "2026-11-24", "2026-11-25"):
        # Five minutes past midnight in Beijing.
        clock.moment = datetime.combine(
            datetime.fromisoformat(day).date(), time(0, 5), tzinfo=clock.zone
        )
        [done] = services.day_closes.close()
        closed[day] = done.position
    await caught_up(services, closed["2026-11-25"])
    page = await feed(client, agency, after=start["next"])
    assert [
        (c["position"], c["kind"], c["after"].get("grade"), c["after"].get("cause"))
        for c in page["changes"]
    ] == [
        (closed["2026-11-23"], "list.left", None, "time"),
        # the lowest grade was the entry's doing: with it over, the rating's 88 less the
        # general penalty's deduction
        (closed["2026-11-23"], "grade.changed", "B", "time"),
        (closed["2026-11-25"], "grade.changed", None, "time"),  # the rating's validity over
    ]
    assert all(c["subject_id"] == subject for c in page["changes"])
    assert page["changes"][0]["after"]["ended_on"] == "2026-11-23"
    # The subject's next event tells none of them again.
    clock.moment = datetime.combine(datetime(2026, 11, 26).date(), time(10), tzinfo=clock.zone)
    later = await record(client, subject, penalty("P-2"))
    await caught_up(services, later["position"])
    assert (await feed(client, agency, after=page["next"]))["changes"] == []


async def test_the_day_closes_stream_is_no_subjects_history(client, services, auditor):
    services.day_closes.close()
    response = await client.get(f"/v1/subjects/{DAY_CLOSE_STREAM}/history", headers=auditor)
    assert response.status_code == 404, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
