"""Which days a close records, and the first day time alone may change a status: pure rules."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from domain.credit_status import RecordFact, _leaves_window, evaluate, next_time_change
from domain.day_close import DAY_NOT_IN_FUTURE, days_to_close
from domain.errors import RuleViolated
from service.policy.loader import load_policy

pytestmark = pytest.mark.domain
BOOK = load_policy()
TODAY = date(2026, 11, 20)


def test_the_days_after_the_last_closed_are_closed_in_order_within_the_bound():
    assert days_to_close(None, TODAY, TODAY, catch_up_days=31) == [TODAY]
    assert days_to_close(TODAY - timedelta(days=3), TODAY, TODAY, catch_up_days=31) == [
        TODAY - timedelta(days=2),
        TODAY - timedelta(days=1),
        TODAY,
    ]
    assert days_to_close(TODAY - timedelta(days=40), TODAY, TODAY, catch_up_days=2) == [
        TODAY - timedelta(days=1),
        TODAY,
    ]
    assert days_to_close(TODAY, TODAY, TODAY, catch_up_days=31) == []
    assert days_to_close(TODAY, TODAY - timedelta(days=5), TODAY, catch_up_days=31) == []
    with pytest.raises(RuleViolated) as refused:
        days_to_close(None, TODAY + timedelta(days=1), TODAY, catch_up_days=31)
    assert refused.value.rule == DAY_NOT_IN_FUTURE


def conduct(decided: date) -> RecordFact:
    return RecordFact("c", "PenaltyDecided", decided, severity="minor", procedure="general")


def test_conduct_leaves_its_window_on_the_first_day_it_no_longer_counts():
    # Decided on 31 January: 12 months on, 31 January again; a 31st in a shorter month falls
    # back to its last day, so a window of one month ends on 1 March, not 28 February.
    assert next_time_change([conduct(date(2026, 1, 31))], BOOK, date(2026, 6, 1)) == date(
        2027, 1, 31
    )
    assert _leaves_window(date(2026, 1, 31), 1) == date(2026, 3, 1)
    policy = BOOK.for_day(date(2026, 6, 1))
    months = policy.warnings.repeat_window_months
    facts = [conduct(date(2026, 1, 31)), conduct(date(2026, 3, 1))]
    warned = evaluate(facts, BOOK, date(2027, 1, 30)).warnings
    assert [w.kind for w in warned] == ["repeated_conduct"] and months == 12
    assert evaluate(facts, BOOK, date(2027, 1, 31)).warnings == ()  # the day it left


def test_nothing_time_dependent_has_no_next_day_and_a_rating_its_validitys_end():
    licence = RecordFact("l", "LicenceGranted", date(2026, 1, 1))
    assert next_time_change([licence], BOOK, TODAY) is None
    rating = RecordFact(
        "r",
        "RatingIssued",
        date(2026, 3, 1),
        scheme="highway_construction",
        grade="A",
        valid_from=date(2026, 3, 1),
        valid_until=date(2027, 3, 1),
    )
    assert next_time_change([licence, rating], BOOK, TODAY) == date(2027, 3, 1)
    revoked = RecordFact("x", "RatingIssued", date(2026, 3, 1), state="revoked", valid_until=TODAY)
    assert next_time_change([revoked], BOOK, TODAY - timedelta(days=1)) is None


def test_a_commitment_is_due_from_its_window_and_overdue_the_day_after():
    due = date(2027, 1, 20)
    days = BOOK.for_day(TODAY).warnings.commitment_due_days
    commitment = RecordFact("m", "CommitmentMade", date(2026, 11, 1), due_date=due)
    starts = due - timedelta(days=days)
    assert next_time_change([commitment], BOOK, TODAY) == starts
    assert next_time_change([commitment], BOOK, starts) == due + timedelta(days=1)
    assert next_time_change([commitment], BOOK, due + timedelta(days=1)) is None
