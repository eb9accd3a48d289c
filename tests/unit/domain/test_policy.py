"""The credit policy: the shipped file loads, picks the version in force, and a broken policy is
refused at start-up with the exact place of the mistake."""

from __future__ import annotations

import copy
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from domain.policy import PolicyError, RiseCap, parse_policy
from service.policy import DEFAULT_POLICY_PATH, load_policy, read_policy_data
from tests.builders import policy_data_without_scheme

pytestmark = pytest.mark.domain

SHIPPED = read_policy_data()
BOOK = load_policy()
HIGHWAY = "schemes.highway_construction"
DRIVER = "schemes.driver_integrity"


def test_the_shipped_file_holds_three_versions_in_order():
    assert [version.id for version in BOOK.versions] == ["2019-527", "2023-58", "2026-36"]
    assert [version.effective_from for version in BOOK.versions] == [
        date(2019, 7, 16),
        date(2023, 5, 1),
        date(2026, 4, 1),
    ]
    assert BOOK.by_id("2023-58") is BOOK.versions[1]
    assert BOOK.by_id("2026-36") is BOOK.versions[2]


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2019, 7, 16), "2019-527"),
        (date(2023, 4, 30), "2019-527"),
        (date(2023, 5, 1), "2023-58"),
        (date(2026, 3, 31), "2023-58"),
        (date(2026, 4, 1), "2026-36"),
        (date(2030, 1, 1), "2026-36"),
    ],
)
def test_the_version_in_force_is_the_latest_that_took_effect(day, expected):
    assert BOOK.in_force(day).id == expected


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        (date(2026, 3, 1), date(2026, 3, 31), ["2023-58"]),
        (date(2026, 3, 31), date(2026, 4, 1), ["2023-58", "2026-36"]),  # both in force
        (date(2026, 4, 1), date(2026, 4, 30), ["2026-36"]),
        (date(2019, 1, 1), date(2026, 4, 1), ["2019-527", "2023-58", "2026-36"]),
    ],
)
def test_the_versions_in_force_during_a_period(first, last, expected):
    assert [v.id for v in BOOK.in_force_during(first, last)] == expected


def test_no_version_is_in_force_before_the_first():
    with pytest.raises(PolicyError) as refused:
        BOOK.in_force(date(2019, 7, 15))
    assert refused.value.location == "version[0].effective_from"
    assert "no policy in force on 2019-07-15" in refused.value.reason


def periods(version_id: str) -> dict[str, tuple[int | None, int | None]]:
    rules = BOOK.by_id(version_id).publication.periods
    return {name: (p.minimum_months, p.maximum_months) for name, p in rules.items()}


def test_each_era_publishes_for_its_own_periods():
    # 527号: general 3-12, serious 6-36; 令第58号: 3-36 whatever the severity; 令第36号: 3-12, 12-36
    assert periods("2019-527") == {"minor": (None, None), "general": (3, 12), "serious": (6, 36)}
    assert periods("2023-58") == {"minor": (None, None), "general": (3, 36), "serious": (3, 36)}
    assert periods("2026-36") == {"minor": (None, None), "general": (3, 12), "serious": (12, 36)}
    assert "令第58号" in BOOK.by_id("2023-58").publication.source
    assert "令第36号" in BOOK.by_id("2026-36").publication.source


def test_serious_conduct_is_published_at_least_6_months_then_3_then_12():
    eras = [BOOK.in_force(day) for day in (date(2023, 4, 30), date(2026, 3, 31), date(2026, 4, 1))]
    assert [era.publication.periods["serious"].minimum_months for era in eras] == [6, 3, 12]
    assert all(era.publication.periods["minor"].published is False for era in eras)


def test_how_each_era_decides_a_penalty_s_severity():
    old, middle, new = BOOK.versions
    assert [v.penalty_severity.simplified_procedure_is_minor.applies for v in BOOK.versions] == [
        True,
        True,
        True,
    ]
    assert old.penalty_severity.minor_when_only.categories == frozenset()
    assert middle.penalty_severity.minor_when_only.categories == {"警告", "通报批评"}
    assert new.penalty_severity.minor_when_only.categories == {"警告", "通报批评"}
    assert old.penalty_severity.serious_when_any.categories == {"吊销许可证件", "责令停产停业"}
    serious_36 = {"吊销许可证件", "限制开展生产经营活动", "责令停产停业", "责令关闭", "限制从业"}
    assert new.penalty_severity.serious_when_any.categories == serious_36
    assert "service default" in middle.penalty_severity.serious_when_any.source
    assert "令第36号" in new.penalty_severity.serious_when_any.source
    # only 527号 keeps some penalties published for the whole maximum
    assert old.publication.full_maximum.categories == {"吊销许可证件", "责令停产停业"}
    assert middle.publication.full_maximum.categories == frozenset()
    assert new.publication.full_maximum.categories == frozenset()
    assert "art. 2" in new.publication.full_maximum.source


def test_scores_outside_the_scale_have_no_grade():
    highway = BOOK.versions[0].schemes["highway_construction"]
    with pytest.raises(ValueError, match="outside"):
        highway.grade_for(Decimal("100.5"))
    with pytest.raises(ValueError, match="negative"):
        BOOK.versions[0].schemes["driver_integrity"].grade_for(-1)


def test_scheme_rules_carry_their_figures_and_sources():
    version = BOOK.versions[1]
    highway = version.schemes["highway_construction"]
    assert highway.grades == ("AA", "A", "B", "C", "D")
    assert highway.lowest_grade == "D"
    assert highway.validity_months == 12
    assert highway.rise_cap is not None
    assert (highway.rise_cap.grades_per_cycle, highway.rise_cap.cycle_months) == (1, 12)
    assert "每年只能上升一个等级" in highway.rise_cap.source
    assert version.schemes["road_transport_quality"].rise_cap is None
    assert highway.source.startswith("交公路发〔2009〕733号")
    assert highway.adjustments.black_list_forces_lowest_grade is True
    driver = version.schemes["driver_integrity"]
    assert sorted(driver.violation_points.values()) == [1, 3, 5, 10, 20]
    assert "to be confirmed" in driver.source
    assert "set per province" in version.schemes["road_transport_quality"].source
    assert set(version.schemes) == {
        "highway_construction",
        "road_transport_quality",
        "driver_integrity",
        "sector_default",
    }


def test_rating_cycles_are_calendar_cycles_from_the_first_of_january():
    yearly = RiseCap(grades_per_cycle=1, cycle_months=12, source="733号")
    assert yearly.cycle_of(date(2025, 12, 31)) + 1 == yearly.cycle_of(date(2026, 1, 1))
    assert yearly.cycle_of(date(2026, 1, 1)) == yearly.cycle_of(date(2026, 12, 31))
    half_yearly = RiseCap(grades_per_cycle=1, cycle_months=6, source="service default")
    assert half_yearly.cycle_of(date(2026, 6, 30)) + 1 == half_yearly.cycle_of(date(2026, 7, 1))
    assert half_yearly.cycle_of(date(2026, 1, 1)) + 2 == half_yearly.cycle_of(date(2027, 1, 1))


def test_lists_warnings_and_deadlines():
    version = BOOK.versions[0]
    assert (version.lists.watch.minor_repeats, version.lists.watch.window_months) == (3, 12)
    assert version.lists.red.requires_top_grade and version.lists.red.clean_months == 12
    deadlines = version.deadlines
    assert (deadlines.repair_decision.days, deadlines.repair_decision.working_days) == (3, True)
    assert (deadlines.repair_case.days, deadlines.repair_case.working_days) == (10, True)
    assert (deadlines.objection.days, deadlines.objection.working_days) == (20, False)
    assert "征信业管理条例" in deadlines.objection.source
    assert (deadlines.publication.days, deadlines.publication.working_days) == (7, True)
    assert version.warnings.grade_margin_points["road_transport_quality"] == 30


def test_every_version_names_the_overload_list_by_conduct_and_by_list_name():
    for version in BOOK.versions:
        overload = version.lists.overload
        assert "关于界定严重违法失信超限超载运输行为和相关责任主体有关事项的通知" in overload.source
        assert overload.names_conduct("超限超载") and overload.names_conduct("超限运输")
        assert not overload.names_conduct("拒载") and not overload.names_conduct(None)
        assert overload.names_list("因超限，经认定列入严重违法超限超载运输失信当事人名单")
        assert not overload.names_list("列入严重失信主体名单") and not overload.names_list(None)


def test_the_figures_count_licences_and_penalties_complete_at_sixty_percent_inclusive():
    for version in BOOK.versions:
        reporting = version.reporting
        assert reporting.timeliness.families == ("licence", "penalty")
        assert reporting.completeness.threshold == Decimal("0.6")
        assert "以上" in reporting.completeness.source
        assert "包括本数" in reporting.completeness.source
        assert (reporting.rates.decimal_places, reporting.rates.rounding) == (2, "ROUND_HALF_UP")
    latest = BOOK.versions[-1].reporting
    completeness, rates = latest.completeness, latest.rates
    assert completeness.reached_by(3, 5)  # exactly 60 %
    assert not completeness.reached_by(149, 250)  # 59.6 %
    assert not completeness.reached_by(0, 0)  # nothing to measure is not complete
    assert rates.percentage(1, 3) == Decimal("33.33")
    assert rates.percentage(2, 3) == Decimal("66.67")
    assert rates.percentage(1, 8) == Decimal("12.50")
    assert rates.percentage(1, 800) == Decimal("0.13")  # 0.125: the half rounds up
    assert rates.percentage(0, 0) is None


def test_the_further_administrative_kinds_are_published_as_each_version_says():
    for version in BOOK.versions:
        periods = version.publication_periods
        assert set(periods) == {
            "administrative_coercion",
            "administrative_confirmation",
            "administrative_adjudication",
            "administrative_reward",
            "administrative_inspection",
        }
        for unpublished in ("administrative_coercion", "administrative_adjudication"):
            assert (periods[unpublished].published, periods[unpublished].months) == (False, None)
        for published in (
            "administrative_confirmation",
            "administrative_reward",
            "administrative_inspection",
        ):
            assert (periods[published].published, periods[published].months) == (True, 36)
            assert "service default" in periods[published].source
        assert "行政强制法 art. 2" in periods["administrative_coercion"].source
        assert "secondary source" in periods["administrative_inspection"].source


@pytest.mark.parametrize(
    ("state", "tier", "ratio"),
    [
        ({}, "trustworthy", "0.01"),
        ({"grades": {"highway_construction": "A"}}, "trustworthy", "0.01"),
        ({"grades": {"sector_default": "B"}}, "warned", "0.10"),
        ({"grades": {"driver_integrity": "B"}}, "warned", "0.10"),
        ({"published_conduct": ["general"]}, "warned", "0.10"),
        ({"published_conduct": ["minor"]}, "trustworthy", "0.01"),
        ({"published_conduct": ["general", "serious"]}, "dishonest", "0.50"),
        ({"lists": ["watch"], "grades": {"sector_default": "D"}}, "dishonest", "0.50"),
        ({"lists": ["red", "black"]}, "seriously_dishonest", "0.80"),
    ],
)
def test_supervision_tier_is_the_worst_whose_criteria_are_met(state, tier, ratio):
    chosen = BOOK.versions[1].supervision_tier(**state)
    assert chosen.name == tier
    assert chosen.sampling_ratio == Decimal(ratio)


# --- Broken policies ---------------------------------------------------------------------------


def put(path: tuple, value: Any):
    """Set one place in a copy of the shipped data; path starts with the version index."""

    def change(data: dict) -> None:
        node: Any = data["version"]
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value

    return change


def drop(path: tuple):
    def change(data: dict) -> None:
        node: Any = data["version"]
        for step in path[:-1]:
            node = node[step]
        del node[path[-1]]

    return change


def swap_versions(data: dict) -> None:
    data["version"].reverse()


BROKEN = [
    (
        "a new scheme without its rules",
        put((0, "schemes", "bridge_building"), {}),
        "version[0].schemes.bridge_building.measure",
        "missing",
    ),
    (
        "a scheme name that is no code",
        put((0, "schemes", "Bridge Building"), {}),
        "version[0].schemes.Bridge Building",
        "must be lower-case letters, digits and _",
    ),
    (
        "a grade longer than a grade code",
        put((0, "schemes", "highway_construction", "grades", 4), "DDDDD"),
        f"version[0].{HIGHWAY}.grades[4]",
        "'DDDDD' is longer than 4 characters",
    ),
    (
        "criteria on a scheme the version does not have",
        drop((1, "schemes", "driver_integrity")),
        "version[1].supervision.tiers[1].when.grade_at_or_below.driver_integrity",
        "scheme 'driver_integrity' is not in this version's schemes (highway_construction, "
        "road_transport_quality, sector_default)",
    ),
    (
        "a warning margin for a scheme the version does not have",
        put((0, "warnings", "grade_margin_points", "bridge_building"), 3),
        "version[0].warnings.grade_margin_points.bridge_building",
        "scheme 'bridge_building' is not in this version's schemes",
    ),
    (
        "a scheme in force without its warning margin",
        drop((0, "warnings", "grade_margin_points", "sector_default")),
        "version[0].warnings.grade_margin_points.sector_default",
        "missing",
    ),
    (
        "unknown key in a band",
        put((0, "schemes", "highway_construction", "bands", 2, "colour"), "red"),
        f"version[0].{HIGHWAY}.bands[2].colour",
        "unknown key 'colour'",
    ),
    (
        "unknown section",
        put((1, "penalties"), {"source": "x"}),
        "version[1].penalties",
        "unknown key",
    ),
    (
        "a version without its penalty severity rules",
        drop((1, "penalty_severity")),
        "version[1].penalty_severity",
        "missing",
    ),
    (
        "a penalty category outside the national vocabulary",
        put((2, "penalty_severity", "minor_when_only", "categories"), ["警告", "口头警告"]),
        "version[2].penalty_severity.minor_when_only.categories[1]",
        "unknown penalty category '口头警告' (known: 警告, 通报批评, 罚款,",
    ),
    (
        "a penalty category listed twice",
        put((0, "publication", "full_maximum", "categories"), ["吊销许可证件", "吊销许可证件"]),
        "version[0].publication.full_maximum.categories[1]",
        "'吊销许可证件' is listed twice",
    ),
    (
        "a category that would make a penalty minor and serious",
        put((2, "penalty_severity", "serious_when_any", "categories"), ["吊销许可证件", "警告"]),
        "version[2].penalty_severity.serious_when_any.categories",
        "警告 also make a penalty minor (minor_when_only)",
    ),
    (
        "a category rule without its list",
        drop((0, "penalty_severity", "serious_when_any", "categories")),
        "version[0].penalty_severity.serious_when_any.categories",
        "missing",
    ),
    (
        "a publication without its full-maximum rule",
        drop((1, "publication", "full_maximum")),
        "version[1].publication.full_maximum",
        "missing",
    ),
    (
        "a switch that is not true or false",
        put((1, "penalty_severity", "simplified_procedure_is_minor", "applies"), "yes"),
        "version[1].penalty_severity.simplified_procedure_is_minor.applies",
        "must be true or false, not a string",
    ),
    (
        "a penalty severity rule without its source",
        drop((2, "penalty_severity", "minor_when_only", "source")),
        "version[2].penalty_severity.minor_when_only.source",
        "missing: every rule value needs its legal source",
    ),
    (
        "a declared-end rule where general conduct is not published",
        put((0, "publication", "general"), {"published": False}),
        "version[0].penalty_severity.declared_end_beyond_general_maximum_is_serious.applies",
        "needs general and serious conduct published",
    ),
    (
        "typo in a period key",
        put((0, "publication", "general", "minimum_month"), 3),
        "version[0].publication.general.minimum_month",
        "unknown key",
    ),
    (
        "missing source",
        drop((0, "deadlines", "objection", "source")),
        "version[0].deadlines.objection.source",
        "missing: every rule value needs its legal source",
    ),
    (
        "empty source",
        put((1, "warnings", "source"), "  "),
        "version[1].warnings.source",
        "non-empty string",
    ),
    (
        "source missing from a whole section",
        drop((1, "publication", "source")),
        "version[1].publication.minor.source",
        "legal source",
    ),
    (
        "zero period",
        put((0, "publication", "general", "minimum_months"), 0),
        "version[0].publication.general.minimum_months",
        "at least 1, not 0",
    ),
    (
        "negative period",
        put((1, "publication", "serious", "maximum_months"), -36),
        "version[1].publication.serious.maximum_months",
        "at least 1",
    ),
    (
        "minimum above maximum",
        put((1, "publication", "serious", "minimum_months"), 40),
        "version[1].publication.serious",
        "minimum_months 40 is above maximum_months 36",
    ),
    (
        "a period for an unpublished severity",
        put((0, "publication", "minor", "maximum_months"), 3),
        "version[0].publication.minor.maximum_months",
        "unpublished",
    ),
    (
        "a version without a period a record type names",
        drop((1, "publication_periods", "administrative_reward")),
        "version[1].publication_periods.administrative_reward",
        "missing",
    ),
    (
        "a period no record type names",
        put((0, "publication_periods", "administrative_payment"), {"months": 12}),
        "version[0].publication_periods.administrative_payment",
        "unknown period 'administrative_payment' (expected one of: administrative_coercion,",
    ),
    (
        "a published kind without its months",
        drop((0, "publication_periods", "administrative_inspection", "months")),
        "version[0].publication_periods.administrative_inspection.months",
        "missing",
    ),
    (
        "months for an unpublished kind",
        put((1, "publication_periods", "administrative_coercion", "months"), 6),
        "version[1].publication_periods.administrative_coercion.months",
        "an unpublished kind has no period",
    ),
    (
        "zero months for a named period",
        put((0, "publication_periods", "administrative_confirmation", "months"), 0),
        "version[0].publication_periods.administrative_confirmation.months",
        "at least 1, not 0",
    ),
    (
        "typo in a named period's key",
        put((1, "publication_periods", "administrative_reward", "month"), 36),
        "version[1].publication_periods.administrative_reward.month",
        "unknown key 'month'",
    ),
    (
        "whole named-period section missing",
        drop((0, "publication_periods")),
        "version[0].publication_periods",
        "missing",
    ),
    (
        "overlapping score bands",
        put((1, "schemes", "highway_construction", "bands", 2, "max_score"), 86),
        f"version[1].{HIGHWAY}.bands[2]",
        "overlaps bands[1]",
    ),
    (
        "gap between score bands",
        put((1, "schemes", "highway_construction", "bands", 2, "max_score"), 84),
        f"version[1].{HIGHWAY}.bands[2]",
        "gap: scores from 84 to 85",
    ),
    (
        "worst band short of the scale",
        put((0, "schemes", "sector_default", "bands", 4, "min_score"), 10),
        "version[0].schemes.sector_default.bands[4]",
        "gap: scores from 0 to 10",
    ),
    (
        "best band short of the top",
        put((0, "schemes", "highway_construction", "bands", 0, "max_score"), 99),
        f"version[0].{HIGHWAY}.bands[0]",
        "gap: scores from 99 to 100",
    ),
    (
        "band grade not in the grades",
        put((1, "schemes", "highway_construction", "bands", 0, "grade"), "AAA"),
        f"version[1].{HIGHWAY}.bands[0].grade",
        "'AAA' is not one of the grades AA, A, B, C, D",
    ),
    (
        "bands graded out of order",
        put((0, "schemes", "highway_construction", "bands", 3, "grade"), "A"),
        f"version[0].{HIGHWAY}.bands[3].grade",
        "better than bands[2]",
    ),
    (
        "lowest grade not the last",
        put((0, "schemes", "highway_construction", "lowest_grade"), "C"),
        f"version[0].{HIGHWAY}.lowest_grade",
        "not the last of the grades",
    ),
    (
        "gap between points bands",
        put((0, "schemes", "driver_integrity", "bands", 2, "min_points"), 12),
        f"version[0].{DRIVER}.bands[2]",
        "gap: points 11 fall in no band",
    ),
    (
        "worst points band closed",
        put((1, "schemes", "driver_integrity", "bands", 3, "max_points"), 99),
        f"version[1].{DRIVER}.bands[3].max_points",
        "points above 99 fall in no band",
    ),
    (
        "points band open in the middle",
        drop((1, "schemes", "driver_integrity", "bands", 1, "max_points")),
        f"version[1].{DRIVER}.bands[1]",
        "only the worst band may be",
    ),
    (
        "score key in a points scheme",
        put((0, "schemes", "driver_integrity", "score_max"), 100),
        f"version[0].{DRIVER}.score_max",
        'only for schemes with measure = "score"',
    ),
    (
        "a rating cycle that is no calendar cycle",
        put((1, "schemes", "highway_construction", "rise_cap", "cycle_months"), 5),
        f"version[1].{HIGHWAY}.rise_cap.cycle_months",
        "5 does not divide 12",
    ),
    (
        "a rise cap without its cycle",
        drop((0, "schemes", "highway_construction", "rise_cap", "cycle_months")),
        f"version[0].{HIGHWAY}.rise_cap.cycle_months",
        "missing",
    ),
    (
        "text where an integer belongs",
        put((0, "schemes", "highway_construction", "validity_months"), "12"),
        f"version[0].{HIGHWAY}.validity_months",
        "must be an integer, not a string",
    ),
    (
        "boolean where an integer belongs",
        put((1, "warnings", "repeat_count"), True),
        "version[1].warnings.repeat_count",
        "must be an integer, not a boolean",
    ),
    (
        "negative deduction",
        put((0, "schemes", "sector_default", "adjustments", "deduction", "serious"), -5),
        "version[0].schemes.sector_default.adjustments.deduction.serious",
        "at least 0",
    ),
    (
        "sampling ratio above 1",
        put((0, "supervision", "tiers", 3, "sampling_ratio"), 1.5),
        "version[0].supervision.tiers[3].sampling_ratio",
        "1.5 is not between 0 and 1",
    ),
    (
        "sampling ratio not increasing with worse tiers",
        put((1, "supervision", "tiers", 2, "sampling_ratio"), 0.05),
        "version[1].supervision.tiers[2].sampling_ratio",
        "is not above tiers[1]'s 0.1",
    ),
    (
        "unknown list type in criteria",
        put((0, "supervision", "tiers", 3, "when", "lists"), ["grey"]),
        "version[0].supervision.tiers[3].when.lists[0]",
        "unknown list type 'grey'",
    ),
    (
        "criteria grade not in the scheme",
        put(
            (0, "supervision", "tiers", 1, "when", "grade_at_or_below", "driver_integrity"),
            "C",
        ),
        "version[0].supervision.tiers[1].when.grade_at_or_below.driver_integrity",
        "'C' is not one of the grades AAA, AA, A, B",
    ),
    (
        "criteria on the default tier",
        put((0, "supervision", "tiers", 0, "when"), {"lists": ["red"]}),
        "version[0].supervision.tiers[0].when",
        "takes no criteria",
    ),
    (
        "deadline in two kinds of days",
        put((1, "deadlines", "objection", "working_days"), 15),
        "version[1].deadlines.objection",
        "exactly one of working_days or calendar_days",
    ),
    (
        "a timeliness family no record type has",
        put((2, "reporting", "timeliness", "families"), ["licence", "penalties"]),
        "version[2].reporting.timeliness.families[1]",
        "unknown record family 'penalties'",
    ),
    (
        "a completeness threshold given in percent",
        put((1, "reporting", "completeness", "threshold"), 60),
        "version[1].reporting.completeness.threshold",
        "is not a share above 0 and at most 1",
    ),
    (
        "a rounding the decimal module does not name",
        put((0, "reporting", "rates", "rounding"), "half_up"),
        "version[0].reporting.rates.rounding",
        "'half_up' is not one of",
    ),
    (
        "a version without the figures' rules",
        drop((2, "reporting")),
        "version[2].reporting",
        "missing",
    ),
    (
        "repair decision longer than the case",
        put((0, "deadlines", "repair_decision", "working_days"), 12),
        "version[0].deadlines.repair_decision",
        "longer than repair_case's 10",
    ),
    (
        "effective date with a time",
        put((1, "effective_from"), datetime(2026, 4, 1, 8, 0)),
        "version[1].effective_from",
        "must be a date",
    ),
    (
        "versions out of order",
        swap_versions,
        "version[1].effective_from",
        "2023-05-01 is not after version[0]'s 2026-04-01",
    ),
    (
        "same effective date twice",
        put((1, "effective_from"), date(2019, 7, 16)),
        "version[1].effective_from",
        "not after",
    ),
    (
        "an overload list that names nothing",
        put(
            (2, "lists", "overload"),
            {"source": "service default", "conduct_types": [], "list_names": []},
        ),
        "version[2].lists.overload",
        "names nothing",
    ),
    (
        "an overload list without its list names",
        drop((0, "lists", "overload", "list_names")),
        "version[0].lists.overload.list_names",
        "missing",
    ),
    (
        "duplicate id",
        put((1, "id"), "2019-527"),
        "version[1].id",
        "duplicate id '2019-527': also version[0]",
    ),
]


@pytest.mark.parametrize(
    ("change", "location", "reason"),
    [case[1:] for case in BROKEN],
    ids=[case[0] for case in BROKEN],
)
def test_a_broken_policy_is_refused_with_its_exact_place(change, location, reason):
    data = copy.deepcopy(SHIPPED)
    change(data)
    with pytest.raises(PolicyError) as refused:
        parse_policy(data)
    assert refused.value.location == location
    assert reason in refused.value.reason
    assert str(refused.value) == f"{location}: {refused.value.reason}"
    assert isinstance(refused.value, ValueError)


def test_the_broken_cases_leave_the_shipped_data_alone():
    assert parse_policy(SHIPPED) == BOOK


def test_a_version_names_only_the_schemes_in_force_in_it():
    book = parse_policy(policy_data_without_scheme(SHIPPED, "2019-527", "driver_integrity"))
    before, after = book.versions[0], book.versions[-1]
    assert "driver_integrity" not in before.schemes
    assert "driver_integrity" not in before.warnings.grade_margin_points
    assert "driver_integrity" in after.schemes
    assert before.supervision_tier(grades={"driver_integrity": "B"}).name == "trustworthy"
    assert after.supervision_tier(grades={"driver_integrity": "B"}).name == "warned"


def test_a_version_may_have_no_rating_scheme_at_all():
    data = copy.deepcopy(SHIPPED)
    for name in list(data["version"][0]["schemes"]):
        data = policy_data_without_scheme(data, "2019-527", name)
    assert parse_policy(data).versions[0].schemes == {}


@pytest.mark.parametrize(
    ("data", "location", "reason"),
    [
        ({}, "version", "missing"),
        ({"version": []}, "version", "must not be empty"),
        ({"version": [], "extra": 1}, "extra", "unknown key"),
        ({"version": ["2019"]}, "version[0]", "must be a table, not a string"),
    ],
)
def test_the_top_of_the_file_is_checked_too(data, location, reason):
    with pytest.raises(PolicyError) as refused:
        parse_policy(data)
    assert refused.value.location == location
    assert reason in refused.value.reason


# --- The file on disk --------------------------------------------------------------------------


def test_a_toml_syntax_error_names_its_line(tmp_path: Path):
    broken = tmp_path / "broken.toml"
    broken.write_text('[[version]]\nid = "2019-527"\neffective_from = 2019-07-16\ntitle = \n')
    with pytest.raises(PolicyError) as refused:
        load_policy(broken)
    assert refused.value.location == "broken.toml:4:9"
    assert refused.value.reason.startswith("TOML syntax: ")
    assert "(at line" not in refused.value.reason


def test_a_validation_error_names_the_file(tmp_path: Path):
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    broken = tmp_path / "province.toml"
    broken.write_text(text.replace("minimum_months = 12", "minimum_months = 48", 1))
    with pytest.raises(PolicyError) as refused:
        load_policy(broken)
    assert refused.value.location == "province.toml:version[2].publication.serious"
    assert "minimum_months 48 is above maximum_months 36" in refused.value.reason


def test_a_missing_file_is_refused(tmp_path: Path):
    with pytest.raises(PolicyError) as refused:
        load_policy(tmp_path / "absent.toml")
    assert refused.value.location == "absent.toml"


def test_a_file_read_again_gives_the_same_book_until_its_bytes_change(tmp_path: Path):
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    policy = tmp_path / "province.toml"
    policy.write_text(text, encoding="utf-8")
    first = load_policy(policy)
    assert load_policy(policy) is first  # parsed and checked once
    policy.write_text(text.replace("minimum_months = 12", "minimum_months = 13", 1))
    changed = load_policy(policy)
    assert changed is not first  # the file is read every time: an edit is seen
    assert changed != first
    policy.write_text(text.replace("minimum_months = 12", "minimum_months = 48", 1))
    for _ in range(2):  # a refusal is not kept: it is made again, naming the file each time
        with pytest.raises(PolicyError) as refused:
            load_policy(policy)
        assert refused.value.location == "province.toml:version[2].publication.serious"


def _unsourced(node: Any, where: str, source: str | None) -> list[str]:
    """Places of values with no source of their own or from an enclosing table."""
    if isinstance(node, dict):
        own = node.get("source")
        source = own if isinstance(own, str) and own.strip() else source
        return [
            place
            for key, value in node.items()
            if key != "source"
            for place in _unsourced(value, f"{where}.{key}", source)
        ]
    if isinstance(node, list) and any(isinstance(item, dict) for item in node):
        return [
            place
            for index, item in enumerate(node)
            for place in _unsourced(item, f"{where}[{index}]", source)
        ]
    return [] if source else [where]


def test_every_value_in_the_shipped_file_has_a_source():
    metadata = {"id", "effective_from", "title"}
    unsourced = [
        place
        for index, version in enumerate(SHIPPED["version"])
        for key, section in version.items()
        if key not in metadata
        for place in _unsourced(section, f"version[{index}].{key}", None)
    ]
    assert unsourced == []
    # and the walk does find an unsourced value
    assert _unsourced({"a": {"b": 1}}, "x", None) == ["x.a.b"]
