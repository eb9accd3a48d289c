"""Record types declare their traits once, on the event: the declarations hold together, and
declaring a type registers it (and only a complete declaration does)."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from domain.events import (
    AMENDMENT_TYPES,
    CONDUCT_TYPES,
    FOLLOW_UP_TYPES,
    RECORD_EVENT_TYPES,
    ActsOn,
    BySeverity,
    NamedPeriod,
    RecordEvent,
    RecordTraits,
    Span,
    unregister_record_type,
)
from domain.publication import Window, record_window
from service.policy.loader import load_policy

pytestmark = pytest.mark.domain
BOOK = load_policy()


def field_names(record_type: type[RecordEvent]) -> set[str]:
    return {f.name for f in dataclasses.fields(record_type)}


def named_fields(traits: RecordTraits) -> set[str]:
    """Every field of its event a type's traits name."""
    named = set(traits.summary)
    rule = traits.published
    if isinstance(rule, BySeverity):
        named |= {
            name for name in ("severity", rule.procedure, rule.declared_end) if name is not None
        }
    elif isinstance(rule, Span):
        unless = rule.unless[0] if rule.unless else None
        named |= {name for name in (rule.start, rule.end, unless) if name is not None}
    elif isinstance(rule, NamedPeriod):
        named.add("decision_date")
    if traits.acts_on is not None:
        named.add(traits.acts_on.field)
    if traits.rests_on is not None:
        named.add(traits.rests_on.field)
    return named


@pytest.mark.parametrize("name", list(RECORD_EVENT_TYPES))
def test_the_traits_of_a_type_name_fields_and_types_that_exist(name):
    record_type = RECORD_EVENT_TYPES[name]
    traits = record_type.TRAITS
    assert named_fields(traits) <= field_names(record_type)
    if traits.acts_on is not None and traits.acts_on.types is not None:
        assert set(traits.acts_on.types) <= set(RECORD_EVENT_TYPES)


def test_the_views_follow_the_declarations():
    for name, record_type in RECORD_EVENT_TYPES.items():
        traits = record_type.TRAITS
        assert (name in CONDUCT_TYPES) == traits.conduct
        assert (name in FOLLOW_UP_TYPES) == traits.follow_up
        amends = traits.acts_on is not None and traits.acts_on.effect != "ends"
        assert (name in AMENDMENT_TYPES) == amends


@pytest.mark.parametrize(
    ("traits", "problem"),
    [
        (dict(conduct=True, published=BySeverity()), "rule input"),
        (dict(conduct=True, rule_input=True, published=Span()), "severity"),
        (dict(follow_up=True), "acts on"),
    ],
)
def test_traits_that_contradict_each_other_are_refused(traits, problem):
    with pytest.raises(ValueError, match=problem):
        RecordTraits(family="x", summary=(), **traits)


def test_a_record_type_without_its_own_traits_or_topic_is_refused():
    with pytest.raises(TypeError, match="must declare its own TOPIC and TRAITS"):

        class Untraited(RecordEvent):
            TOPIC = "credit:test:Untraited"
            note: str

    with pytest.raises(TypeError, match="must declare its own TOPIC and TRAITS"):

        class Untopical(RecordEvent):
            TRAITS = RecordTraits(family="x", summary=())

    assert "Untraited" not in RECORD_EVENT_TYPES and "Untopical" not in RECORD_EVENT_TYPES


def test_a_record_type_name_is_declared_once():
    before = dict(RECORD_EVENT_TYPES)
    with pytest.raises(TypeError, match="declared twice"):

        class InterviewHeld(RecordEvent):
            TOPIC = "credit:test:InterviewHeldAgain"
            TRAITS = RecordTraits(family="interview", summary=())

    assert before == RECORD_EVENT_TYPES


def test_a_declared_type_is_in_the_catalogue_until_it_is_taken_out():
    before = dict(RECORD_EVENT_TYPES)

    class CourseCompleted(RecordEvent):
        TOPIC = "credit:test:CourseCompleted"
        TRAITS = RecordTraits(
            family="training",
            summary=("course",),
            published=Span(end="valid_until"),
            acts_on=ActsOn("licence_record_id", ("LicenceGranted",), "close", "ends"),
        )
        course: str
        licence_record_id: str
        valid_until: date | None = None

    try:
        assert RECORD_EVENT_TYPES["CourseCompleted"] is CourseCompleted
        assert list(RECORD_EVENT_TYPES)[-1] == "CourseCompleted"
        fields = {"decision_date": date(2026, 1, 5), "valid_until": date(2027, 1, 5)}
        assert record_window("CourseCompleted", fields, book=BOOK) == Window(
            date(2026, 1, 5), date(2027, 1, 5)
        )
    finally:
        unregister_record_type(CourseCompleted)
    assert before == RECORD_EVENT_TYPES
    assert record_window("CourseCompleted", fields, book=BOOK) is None
