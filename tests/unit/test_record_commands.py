"""Record commands: one per declared record type, with that event's fields, registered as they
are defined; the union that validates bodies and import rows follows the registrations."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any, Literal

import pytest
from pydantic import ValidationError
from pydantic_core import PydanticCustomError

from domain.events import RECORD_EVENT_TYPES, RecordEvent, RecordTraits, unregister_record_type
from service.commanding.commands import (
    MAX_NESTING,
    RECORD_COMMANDS,
    RecordCommand,
    _unstorable,
    record_command_adapter,
)
from tests.builders import follow_up

# Stored with every event, never sent in a command: its place in the stream, its id, who
# recorded it and under which Idempotency-Key.
PROVENANCE = {
    "originator_id",
    "originator_version",
    "timestamp",
    "record_id",
    "recorded_by",
    "request_key",
}


@pytest.mark.parametrize("name", list(RECORD_EVENT_TYPES))
def test_each_record_type_has_one_command_with_its_events_fields(name):
    command = RECORD_COMMANDS[name]
    event_fields = {f.name for f in dataclasses.fields(RECORD_EVENT_TYPES[name])}
    assert set(command.model_fields) - {"type"} == event_fields - PROVENANCE


def test_a_command_for_an_undeclared_type_or_a_second_one_for_a_type_is_refused():
    before = dict(RECORD_COMMANDS)
    with pytest.raises(TypeError, match="of an event declared in domain/events"):

        class Undeclared(RecordCommand):
            type: Literal["NothingDeclared"]

    with pytest.raises(TypeError, match="InterviewHeld already has its command"):

        class HoldAnotherInterview(RecordCommand):
            type: Literal["InterviewHeld"]

    assert dict(RECORD_COMMANDS) == before


def test_a_registered_command_joins_the_union_until_it_is_taken_out():
    before = dict(RECORD_COMMANDS)
    body = follow_up("TrainingAttended", "PX-1", course="危险货物运输安全")

    class TrainingAttended(RecordEvent):
        TOPIC = "credit:test:TrainingAttended"
        TRAITS = RecordTraits(family="training", summary=("course",))
        course: str

    try:

        class AttendTraining(RecordCommand):
            type: Literal["TrainingAttended"]
            course: str

        try:
            assert RECORD_COMMANDS["TrainingAttended"] is AttendTraining
            command = record_command_adapter.validate_python(body)
            assert isinstance(command, AttendTraining) and command.course == "危险货物运输安全"
        finally:
            RECORD_COMMANDS.unregister(AttendTraining)
    finally:
        unregister_record_type(TrainingAttended)

    assert dict(RECORD_COMMANDS) == before
    with pytest.raises(ValidationError, match="union_tag_invalid"):
        record_command_adapter.validate_python(body)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("罚款0.5万元", None),
        ("第一行\n第二行\t缩进", None),  # a free text keeps tab and line breaks
        ("a\x00b", "contains a NUL character"),
        ("a\ud800b", "contains a lone UTF-16 surrogate"),
        ("a\u200bb", "contains the invisible character U+200B"),
        ("a\x07b", "contains the control character U+0007"),
    ],
)
@pytest.mark.parametrize("where", ["value", "list", "key"])
def test_a_flat_body_is_refused_for_what_the_walk_refuses_and_no_more(text, problem, where):
    """A flat body of printable texts passes at once; any other text in it is named as the
    walk names it, in a value, in a list or in a key."""
    body: dict[str, Any] = {"type": "PenaltyDecided", "fine_amount": Decimal("0.5"), "x": None}
    if where == "value":
        body["facts"] = text
    elif where == "list":
        body["penalty_categories"] = ["罚款", text]
    else:
        body[text] = "罚款"
    found = _unstorable(body, "")
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_nesting_deeper_than_the_limit_is_still_refused():
    body: dict[str, Any] = {"changes": {}}
    inner = body["changes"]
    for _ in range(MAX_NESTING + 1):
        inner["a"] = {}
        inner = inner["a"]
    with pytest.raises(PydanticCustomError):
        _unstorable(body, "")


def _examples() -> list[tuple[str, dict[str, Any]]]:
    """Each record command's examples, as its documentation shows them."""
    examples = []
    for name, command in RECORD_COMMANDS.items():
        extra: Any = command.model_config.get("json_schema_extra") or {}
        examples += [(name, example) for example in extra.get("examples", [])]
    return examples


@pytest.mark.parametrize(("name", "body"), _examples())
def test_a_commands_event_fields_are_its_dump_but_its_type(name: str, body: dict[str, Any]):
    command = record_command_adapter.validate_python(body)
    assert command.type == name
    fields = command.event_fields()
    dumped = command.model_dump(exclude={"type"})
    assert list(fields.items()) == list(dumped.items())  # in the fields' order
    for field, value in fields.items():
        if isinstance(value, list | dict):  # a copy, as model_dump's, not the command's own
            assert value is not getattr(command, field)


def test_every_record_type_has_an_example_checked_above():
    assert {name for name, _ in _examples()} == set(RECORD_COMMANDS)
