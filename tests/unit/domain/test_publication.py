"""Publication windows by record type, severity and the rules in force on the decision date."""

import copy
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.penalty_categories import PENALTY_CATEGORIES
from domain.policy import parse_policy
from domain.publication import (
    Window,
    add_months,
    conduct_publication,
    declared_end_note,
    earliest_repair_date,
    publication_state,
    published_on,
    record_window,
    stands_on,
    state_resting_on,
)
from service.policy.loader import load_policy, read_policy_data
from tests.builders import policy_version_data

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
        # 527号 until 2023-04-30: general 3-12 months, serious 6-36
        (
            "PenaltyDecided",
            conduct("general", date(2022, 5, 10)),
            Window(date(2022, 5, 10), date(2023, 5, 10)),
        ),
        (
            "PenaltyDecided",
            conduct("serious", date(2023, 4, 30)),
            Window(date(2023, 4, 30), date(2026, 4, 30)),
        ),
        ("PenaltyDecided", conduct("general", date(2022, 5, 10), procedure="simplified"), None),
        # 527号 names no category minor: a warning by ordinary procedure is general
        (
            "PenaltyDecided",
            conduct("general", date(2022, 5, 10), penalty_categories=["警告"]),
            Window(date(2022, 5, 10), date(2023, 5, 10)),
        ),
        # 令第58号 from 2023-05-01: 3-36 months whatever the severity; a warning alone unpublished
        (
            "PenaltyDecided",
            conduct("general", date(2023, 5, 1)),
            Window(date(2023, 5, 1), date(2026, 5, 1)),
        ),
        (
            "PenaltyDecided",
            conduct("general", date(2025, 5, 10), penalty_categories=["警告"]),
            None,
        ),
        ("PenaltyDecided", conduct("general", date(2025, 5, 10), procedure="simplified"), None),
        (
            "CommitmentBreached",
            conduct("general", date(2026, 3, 31)),
            Window(date(2026, 3, 31), date(2029, 3, 31)),
        ),
        # 令第36号 from 2026-04-01: simplified procedure, warnings and 通报批评 alone are minor
        ("PenaltyDecided", conduct("general", date(2026, 4, 1), procedure="simplified"), None),
        (
            "PenaltyDecided",
            conduct("serious", date(2026, 4, 1), penalty_categories=["警告", "通报批评"]),
            None,
        ),
        (
            "PenaltyDecided",
            conduct("general", date(2026, 4, 1), penalty_categories=["警告", "罚款"]),
            Window(date(2026, 4, 1), date(2027, 4, 1)),
        ),
        ("DishonestConductRecorded", conduct("minor", date(2026, 5, 1)), None),
        (
            "CommitmentBreached",
            conduct("serious", date(2026, 5, 1)),
            Window(date(2026, 5, 1), date(2029, 5, 1)),
        ),
        # 527号 keeps a licence revoked or a business suspended published for the whole maximum
        (
            "PenaltyDecided",
            conduct(
                "serious",
                date(2022, 6, 1),
                penalty_categories=["罚款"],
                licence_action="吊销道路运输经营许可证",
                declared_publication_end=date(2023, 6, 1),
            ),
            Window(date(2022, 6, 1), date(2025, 6, 1)),
        ),
        (
            "PenaltyDecided",
            conduct(
                "serious",
                date(2022, 6, 1),
                penalty_categories=["责令停业整顿"],
                declared_publication_end=date(2023, 6, 1),
            ),
            Window(date(2022, 6, 1), date(2025, 6, 1)),
        ),
        # ... 令第36号 does not: its declared end stands within 1-3 years
        (
            "PenaltyDecided",
            conduct(
                "serious",
                date(2026, 6, 1),
                penalty_categories=["吊销许可证件"],
                declared_publication_end=date(2027, 12, 1),
            ),
            Window(date(2026, 6, 1), date(2027, 12, 1)),
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
    periods = policy_version_data(data, "2026-36")["publication_periods"]
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
    assert earliest_repair_date("serious", date(2022, 6, 1), BOOK) == date(2022, 12, 1)
    assert earliest_repair_date("serious", date(2025, 6, 1), BOOK) == date(2025, 9, 1)
    assert earliest_repair_date("serious", date(2026, 6, 1), BOOK) == date(2027, 6, 1)
    assert earliest_repair_date("minor", date(2026, 6, 1), BOOK) is None
    assert earliest_repair_date("general", date(2026, 6, 1), BOOK, procedure="simplified") is None


def test_a_penalty_kept_for_the_whole_maximum_is_not_repaired_sooner():
    def earliest(decided: date) -> date | None:
        return earliest_repair_date(
            "serious", decided, BOOK, categories=["罚款"], licence_action="吊销道路运输经营许可证"
        )

    assert earliest(date(2022, 6, 1)) == date(2025, 6, 1)
    assert earliest(date(2023, 6, 1)) == date(2023, 9, 1)
    assert earliest(date(2026, 6, 1)) == date(2027, 6, 1)


@given(
    severity=st.sampled_from(["minor", "general", "serious"]),
    procedure=st.sampled_from(["general", "simplified"]),
    categories=st.lists(st.sampled_from(PENALTY_CATEGORIES), min_size=1, max_size=3),
    decided=st.dates(date(2015, 1, 1), date(2030, 12, 31)),
    declared=st.none() | st.dates(date(2014, 1, 1), date(2036, 12, 31)),
)
def test_a_conduct_window_never_exceeds_the_maximum_of_its_policy(
    severity, procedure, categories, decided, declared
):
    window = record_window(
        "PenaltyDecided",
        {
            "decision_date": decided,
            "severity": severity,
            "procedure": procedure,
            "penalty_categories": categories,
            "declared_publication_end": declared,
        },
        book=BOOK,
    )
    version = BOOK.for_day(decided)
    rules, kinds = version.penalty_severity, frozenset(categories)
    minor = (procedure == "simplified" and rules.simplified_procedure_is_minor.applies) or (
        kinds <= rules.minor_when_only.categories
    )
    period = version.publication.period_for("minor" if minor else severity)
    if window is None:
        assert not period.published
        return
    assert window.start == decided
    # Published conduct has both bounds, and its window ends by the maximum.
    assert period.minimum_months is not None and period.maximum_months is not None
    assert window.end is not None
    assert add_months(decided, period.minimum_months) <= window.end
    assert window.end <= add_months(decided, period.maximum_months)
    if kinds & version.publication.full_maximum.categories or declared is None:
        assert window.end == add_months(decided, period.maximum_months)


@pytest.mark.parametrize(
    ("severity", "decided", "extra", "declared", "note"),
    [
        ("general", date(2026, 5, 1), {}, None, None),
        ("general", date(2026, 5, 1), {}, date(2026, 12, 1), None),
        (
            "general",
            date(2026, 5, 1),
            {},
            date(2028, 5, 1),
            "CF_GSJZQ 2028-05-01 is beyond the maximum of 12 months for general conduct under "
            "policy 2026-36: published until 2027-05-01",
        ),
        (
            "serious",
            date(2026, 5, 1),
            {},
            date(2026, 9, 1),
            "CF_GSJZQ 2026-09-01 is before the minimum of 12 months for serious conduct under "
            "policy 2026-36: published until 2027-05-01",
        ),
        (
            "general",
            date(2026, 5, 1),
            {"categories": ["警告"]},
            date(2026, 9, 1),
            "CF_GSJZQ 2026-09-01: minor conduct is not published under policy 2026-36",
        ),
        (
            "serious",
            date(2022, 5, 1),
            {"licence_action": "吊销道路运输经营许可证"},
            date(2023, 5, 1),
            "CF_GSJZQ 2023-05-01: 吊销许可证件 keep the record published for the whole maximum of "
            "36 months under policy 2019-527: published until 2025-05-01",
        ),
    ],
)
def test_a_declared_end_the_law_does_not_allow_is_noted(severity, decided, extra, declared, note):
    publication = conduct_publication(severity, decided, BOOK, declared_end=declared, **extra)
    assert declared_end_note(publication, declared) == note


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
