"""Record commands: one per declared record type, with that event's fields, registered as they
are defined; the union that validates bodies and import rows follows the registrations."""

from __future__ import annotations

import dataclasses
from typing import Literal

import pytest
from pydantic import ValidationError

from domain.events import RECORD_EVENT_TYPES, RecordEvent, RecordTraits, unregister_record_type
from service.commanding.commands import RECORD_COMMANDS, RecordCommand, record_command_adapter
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
