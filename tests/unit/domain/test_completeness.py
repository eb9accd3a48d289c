"""合格率 of one record: the share of the national standard's indicator fields it fills."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from domain.completeness import Completeness, Indicator, Measure, measure
from domain.policy import CompletenessRules

pytestmark = pytest.mark.domain
FIVE = (
    Indicator("CF_XDR_MC", "行政相对人名称", "subject.name"),
    Indicator("CF_WSH", "行政处罚决定书文号", "source_ref"),
    Indicator("CF_NR_FK", "罚款金额（万元）", "fine_amount"),
    Indicator("CF_CFLB", "处罚类别", "penalty_categories"),
    Indicator("CF_GSJZQ", "公示截止期", "declared_publication_end"),
)
SIXTY_PERCENT = CompletenessRules(Decimal("0.6"), "test")


def test_a_record_exactly_at_sixty_percent_is_complete():
    found = measure(
        FIVE,
        {"source_ref": "罚-1", "fine_amount": Decimal("0"), "penalty_categories": []},
        {"name": "宏达运输"},
    )
    # A fine of 0 is a value; an empty list of categories and an absent end are not.
    assert found == Completeness(3, 5, ("CF_CFLB", "CF_GSJZQ"))
    assert SIXTY_PERCENT.reached_by(found.filled, found.total)


def test_blank_text_fills_nothing_and_below_sixty_percent_is_incomplete():
    found = measure(
        FIVE,
        {"source_ref": "罚-1", "fine_amount": None, "declared_publication_end": date(2027, 1, 1)},
        {"name": "  "},
    )
    assert found == Completeness(2, 5, ("CF_XDR_MC", "CF_NR_FK", "CF_CFLB"))
    assert not SIXTY_PERCENT.reached_by(found.filled, found.total)


def test_an_indicator_of_organisations_only_is_not_one_of_a_persons_record():
    representative = Indicator(
        "CF_FRDB", "法定代表人", "legal_representative", frozenset({"enterprise", "public_body"})
    )
    indicators = (*FIVE[:3], representative)
    record = {"source_ref": "罚-1", "fine_amount": None}
    # A company's record lacks its legal representative: 2 of 4, below 60 %.
    company = measure(indicators, record, {"name": "宏达运输", "kind": "enterprise"})
    assert company == Completeness(2, 4, ("CF_NR_FK", "CF_FRDB"))
    assert not SIXTY_PERCENT.reached_by(company.filled, company.total)
    # A person has none to lack: 2 of 3, complete.
    person = measure(indicators, record, {"name": "王建国", "kind": "individual"})
    assert person == Completeness(2, 3, ("CF_NR_FK",))
    assert SIXTY_PERCENT.reached_by(person.filled, person.total)


def test_a_measure_made_once_for_a_kind_measures_each_record_as_measure_does():
    representative = Indicator(
        "CF_FRDB", "法定代表人", "legal_representative", frozenset({"enterprise"})
    )
    indicators = (*FIVE, representative)
    records: list[dict[str, object]] = [
        {"source_ref": "罚-1", "fine_amount": Decimal("0"), "legal_representative": "王"},
        {"source_ref": " ", "penalty_categories": ["罚款"], "declared_publication_end": None},
        {},
    ]
    for kind, name in (("enterprise", "宏达运输"), ("individual", ""), (None, "x")):
        subject = {"name": name, "kind": kind}
        once = Measure.of(indicators, kind)
        assert len(once.sources) == (6 if kind == "enterprise" else 5)
        for record in records:
            assert once(record, subject) == measure(indicators, record, subject)
    # The subject's name fills CF_XDR_MC, the record's fields the rest.
    company = Measure.of(indicators, "enterprise")(records[0], {"name": "宏达运输"})
    assert company == Completeness(4, 6, ("CF_CFLB", "CF_GSJZQ"))
