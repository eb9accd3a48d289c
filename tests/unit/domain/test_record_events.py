"""A record's event as `Subject.record` makes it: the library's event, key for key."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest

from domain.events import RECORD_EVENT_TYPES
from domain.subject import _event_fields, _record_fields, content_digest

pytestmark = pytest.mark.domain


@pytest.mark.parametrize("name", list(RECORD_EVENT_TYPES))
def test_a_record_event_made_at_once_equals_the_one_the_library_constructs(name):
    """`Subject._trigger_record` sets an event's state in one update (the library's identity
    fields, then the record's fields in `_complete`'s order) instead of calling the frozen
    dataclass's constructor: the state is the same, in the same order, which the stored
    event's bytes follow."""
    record_type = RECORD_EVENT_TYPES[name]
    _, given = _record_fields(record_type)
    fields: dict[str, Any] = {field: f"value of {field}" for field, _ in given}
    identity: dict[str, Any] = {
        "originator_id": uuid4(),
        "originator_version": 7,
        "timestamp": datetime(2026, 11, 20, 4, tzinfo=UTC),
        "record_id": uuid4(),
    }
    constructed = record_type(**identity, **fields)
    made = record_type.__new__(record_type)
    made.__dict__.update(identity)
    made.__dict__.update(fields)
    assert list(vars(made).items()) == list(vars(constructed).items())
    assert list(vars(made)) == [f.name for f in dataclasses.fields(record_type)]
    assert made == constructed


@pytest.mark.parametrize("name", list(RECORD_EVENT_TYPES))
def test_a_replayed_record_digests_its_content_as_every_field_of_its_event_says(name):
    """On replay a record's digest is taken over the fields `_record_fields` names for its type
    (read once per type), where it was taken over `dataclasses.fields` of each event: the same
    digest, for an event with every field and for one stored before its optional fields existed
    (they read as their defaults)."""
    record_type = RECORD_EVENT_TYPES[name]
    _, given = _record_fields(record_type)
    identity: dict[str, Any] = {
        "originator_id": uuid4(),
        "originator_version": 3,
        "timestamp": datetime(2026, 11, 20, 4, tzinfo=UTC),
        "record_id": uuid4(),
    }
    full = record_type.__new__(record_type)
    full.__dict__.update(identity, **{field: f"value of {field}" for field, _ in given})
    older = record_type.__new__(record_type)
    older.__dict__.update(
        identity,
        **{
            field: f"value of {field}" for field, default in given if default is dataclasses.MISSING
        },
    )
    for event in (full, older):
        every_field = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
        assert content_digest(_event_fields(event)) == content_digest(every_field)
