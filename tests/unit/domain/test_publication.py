"""Publication windows by record type, severity and the rules in force on the decision date."""

import copy
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.policy import parse_policy
from domain.publication import (
    Window,
    add_months,
    earliest_repair_date,
    publication_state,
    published_on,
    record_window,
    stands_on,
    state_resting_on,
)
from service.policy.loader import load_policy, read_policy_data

pytestmark = pytest.mark.domain
BOOK = load_policy()


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2025, 8, 31), 6, date(2026, 2, 28)),
        (date(2025, 11, 15), 3, date(2026, 2, 15)),
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
    ],
)
def test_add_months_falls_back_to_the_months_last_day(day, months, expected):
    assert add_months(day, months) == expected


def conduct(severity, decided, **extra):
    return {"decision_date": decided, "severity": severity, **extra}


@pytest.mark.parametrize(
    ("record_type", "fields", "expected"),
    [
        # 2019 rules (527号) before 2026-04-01
        (
            "PenaltyDecided",
            conduct("general", date(2025, 5, 10)),
            Window(date(2025, 5, 10), date(2026, 5, 10)),
        ),
        (
            "PenaltyDecided",
            conduct("serious", date(2026, 3, 31)),
            Window(date(2026, 3, 31), date(2029, 3, 31)),
        ),
        ("PenaltyDecided", conduct("general", date(2025, 5, 10), procedure="simplified"), None),
        # 2026 rules from 2026-04-01
        (
            "PenaltyDecided",
            conduct("general", date(2026, 4, 1), procedure="simplified"),
            Window(date(2026, 4, 1), date(2027, 4, 1)),
        ),
        ("DishonestConductRecorded", conduct("minor", date(2026, 5, 1)), None),
        (
            "CommitmentBreached",
            conduct("serious", date(2026, 5, 1)),
            Window(date(2026, 5, 1), date(2029, 5, 1)),
        ),
        # an authority's declared end is honoured within [minimum, maximum]
        (
            "PenaltyDecided",
            conduct("general", date(2026, 5, 1), declared_publication_end=date(2026, 6, 1)),
            Window(date(2026, 5, 1), date(2026, 8, 1)),
        ),
        (
            "PenaltyDecided",
            conduct("general", date(2026, 5, 1), declared_publication_end=date(2026, 12, 1)),
            Window(date(2026, 5, 1), date(2026, 12, 1)),
        ),
        (
            "PenaltyDecided",
            conduct("general", date(2026, 5, 1), declared_publication_end=date(2030, 1, 1)),
            Window(date(2026, 5, 1), date(2027, 5, 1)),
        ),
        (
            "LicenceGranted",
            {"decision_date": date(2025, 1, 1), "valid_until": None},
            Window(date(2025, 1, 1), None),
        ),
        (
            "RatingIssued",
            {
                "decision_date": date(2025, 12, 1),
                "valid_from": date(2026, 1, 1),
                "valid_until": date(2027, 1, 1),
            },
            Window(date(2026, 1, 1), date(2027, 1, 1)),
        ),
        ("ListEntered", {"decision_date": date(2026, 1, 1), "list_type": "watch"}, None),
        (
            "ListEntered",
            {
                "decision_date": date(2026, 1, 1),
                "list_type": "black",
                "planned_end": date(2029, 1, 1),
            },
            Window(date(2026, 1, 1), date(2029, 1, 1)),
        ),
        ("InterviewHeld", {"decision_date": date(2026, 1, 1)}, None),
        ("JointMeasureApplied", {"decision_date": date(2026, 1, 1)}, None),
    ],
)
def test_record_windows(record_type, fields, expected):
    assert record_window(record_type, fields, book=BOOK) == expected


def test_a_named_period_is_the_one_of_the_policy_in_force_on_the_decision_date():
    """The further administrative kinds are published as the version in force on their decision
    date says: a later version that shortens rewards and publishes coercion changes the windows
    of records decided under it, and leaves the earlier ones alone."""
    data = copy.deepcopy(read_policy_data())
    periods = data["version"][1]["publication_periods"]
    periods["administrative_reward"]["months"] = 12
    periods["administrative_coercion"] = {"source": "a later version", "months": 6}
    book = parse_policy(data)
    reward = "AdministrativeRewardGranted"
    coercion = "AdministrativeCoercionApplied"
    before, after = {"decision_date": date(2026, 3, 31)}, {"decision_date": date(2026, 4, 1)}
    assert record_window(reward, before, book=book) == Window(date(2026, 3, 31), date(2029, 3, 31))
    assert record_window(reward, after, book=book) == Window(date(2026, 4, 1), date(2027, 4, 1))
    assert record_window(coercion, before, book=book) is None
    assert record_window(coercion, after, book=book) == Window(date(2026, 4, 1), date(2026, 10, 1))
    # the shipped policy publishes neither coercion nor adjudication in either era
    for decided in (before, after):
        assert record_window(coercion, decided, book=BOOK) is None
        assert record_window("AdministrativeAdjudicationMade", decided, book=BOOK) is None


def test_window_states_around_its_edges():
    window = Window(date(2026, 1, 1), date(2027, 1, 1))
    assert [
        window.state_on(d)
        for d in (date(2025, 12, 31), date(2026, 1, 1), date(2026, 12, 31), date(2027, 1, 1))
    ] == ["scheduled", "published", "published", "expired"]


def test_repair_is_possible_after_the_minimum_period_of_the_era():
    assert earliest_repair_date("serious", date(2025, 6, 1), BOOK) == date(2025, 12, 1)
    assert earliest_repair_date("serious", date(2026, 6, 1), BOOK) == date(2027, 6, 1)
    assert earliest_repair_date("minor", date(2026, 6, 1), BOOK) is None


@given(
    severity=st.sampled_from(["minor", "general", "serious"]),
    procedure=st.sampled_from(["general", "simplified"]),
    decided=st.dates(date(2015, 1, 1), date(2030, 12, 31)),
    declared=st.none() | st.dates(date(2014, 1, 1), date(2036, 12, 31)),
)
def test_a_conduct_window_never_exceeds_the_maximum_of_its_policy(
    severity, procedure, decided, declared
):
    window = record_window(
        "PenaltyDecided",
        {
            "decision_date": decided,
            "severity": severity,
            "procedure": procedure,
            "declared_publication_end": declared,
        },
        book=BOOK,
    )
    period = BOOK.for_day(decided).publication.period_for(severity, procedure)
    if window is None:
        assert not period.published
        return
    assert window.start == decided
    # Published conduct has both bounds, and its window ends by the maximum.
    assert period.minimum_months is not None and period.maximum_months is not None
    assert window.end is not None
    assert add_months(decided, period.minimum_months) <= window.end
    assert window.end <= add_months(decided, period.maximum_months)


@pytest.mark.parametrize(
    ("own", "basis", "expected"),
    [
        ("active", None, "active"),  # it rests on no record
        ("active", "active", "active"),
        ("active", "repaired", "lapsed"),  # 信用修复管理办法 art. 3
        ("active", "revoked", "lapsed"),
        ("active", "lapsed", "lapsed"),  # what does not stand cannot bear another
        ("lapsed", "active", "active"),  # the basis's repair revoked: it stands again
        ("lapsed", None, "active"),  # corrected to rest on no record
        ("revoked", "active", "revoked"),  # its own revocation is final
        ("revoked", "repaired", "revoked"),
    ],
)
def test_a_record_lapses_with_the_record_it_rests_on(own, basis, expected):
    assert state_resting_on(own, basis) == expected


def test_a_lapsed_record_is_not_published_and_says_why():
    window = (date(2026, 7, 1), date(2029, 7, 1))
    assert published_on(date(2026, 11, 20), *window)
    assert not published_on(date(2026, 11, 20), *window, state="lapsed")
    assert publication_state(date(2026, 11, 20), *window, state="lapsed") == "lapsed"


APPROVED = datetime(2026, 11, 20, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("state", "repaired_at", "day_ends", "expected"),
    [
        ("active", None, APPROVED, True),
        ("repaired", APPROVED, APPROVED, True),  # the day ended as the repair was approved
        ("repaired", APPROVED, datetime(2026, 11, 21, tzinfo=UTC), False),
        ("lapsed", APPROVED, datetime(2026, 11, 19, 16, tzinfo=UTC), True),  # the day before
        ("lapsed", APPROVED, datetime(2026, 11, 20, 16, tzinfo=UTC), False),
        ("lapsed", None, datetime(2020, 1, 1, tzinfo=UTC), False),  # its basis revoked: void
        ("revoked", None, datetime(2020, 1, 1, tzinfo=UTC), False),
    ],
)
def test_a_record_stands_on_a_past_day_until_its_repair_or_its_basiss(
    state, repaired_at, day_ends, expected
):
    assert stands_on(state, repaired_at, day_ends) == expected
