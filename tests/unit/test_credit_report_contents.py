"""A credit report's period, its sections and the sums the public page shows, without a store."""

from __future__ import annotations

from datetime import date
from typing import Any, get_args

import pytest

from api.credit_reports.schemas import Section
from service.credit_reports.contents import SECTIONS, Period, checked_sections, summary


@pytest.mark.parametrize(
    ("end", "years", "start"),
    [
        (date(2026, 11, 20), 3, date(2023, 11, 21)),
        (date(2026, 11, 20), 1, date(2025, 11, 21)),
        (date(2028, 2, 29), 1, date(2027, 3, 1)),  # 2027 has no 29 February: from 1 March
        (date(2026, 1, 1), 5, date(2021, 1, 2)),
    ],
)
def test_a_period_of_whole_years_ends_on_the_report_day(end, years, start):
    period = Period.years_to(end, years)
    assert (period.start, period.end) == (start, end)
    assert period.holds(start) and period.holds(end)
    assert not period.holds(date.fromordinal(start.toordinal() - 1))


@pytest.mark.parametrize("years", [0, 6])
def test_a_period_covers_one_to_five_years(years):
    with pytest.raises(ValueError, match="1 to 5 years"):
        Period.years_to(date(2026, 11, 20), years)


def test_sections_are_printed_in_the_standard_order_whatever_was_asked():
    assert checked_sections("credit", ["lists", "penalties"]) == ("penalties", "lists")
    assert checked_sections("credit", None) == SECTIONS
    assert checked_sections("special", ["penalties"]) == ()
    with pytest.raises(ValueError, match="no such section: gossip"):
        checked_sections("credit", ["gossip", "lists"])


def test_the_api_offers_exactly_the_sections_a_report_has():
    assert set(get_args(Section)) == set(SECTIONS)


def test_the_public_page_shows_entries_per_section_or_each_statements_count():
    credit: dict[str, Any] = {
        "kind": "credit",
        "sections": ["penalties", "lists", "statement"],
        "penalties": [{}, {}],
        "lists": [],
        "statement": None,
    }
    assert summary(credit) == {"penalties": 2, "lists": 0}
    special = {
        "kind": "special",
        "special": {
            "statements": [
                {"topic": "penalties", "count": 1},
                {"topic": "serious_dishonesty", "count": 0},
            ]
        },
    }
    assert summary(special) == {"penalties": 1, "serious_dishonesty": 0}


def test_a_special_report_names_its_sectors_once_and_a_credit_report_none():
    from service.credit_reports.contents import checked_sectors

    assert checked_sectors("special", None) == ()  # the subject's own, when built
    assert checked_sectors("special", ["taxi", "road_transport", "taxi"]) == (
        "taxi",
        "road_transport",
    )
    assert checked_sectors("credit", None) is None
    with pytest.raises(ValueError, match="special report only"):
        checked_sectors("credit", ["road_transport"])
