"""The canonical encoding and the per-stream hash chain."""

import hashlib
import typing
from uuid import UUID

import orjson
import pytest
import rfc8785
from hypothesis import given
from hypothesis import strategies as st

from domain.integrity import canonical_json, event_hash, stored_event_hash

pytestmark = pytest.mark.domain

STREAM = UUID("0f0f0f0f-1234-5678-9abc-def012345678")

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_the_canonical_encoding_is_rfc_8785(value):
    assert canonical_json(value) == rfc8785.dumps(value)


def test_keys_beyond_the_bmp_sort_as_rfc_8785_sorts_them():
    value = {"\U0001f600": 1, "\ufb01": 2}  # UTF-16 puts the surrogate pair first
    assert canonical_json(value) == rfc8785.dumps(value)
    assert list(orjson.loads(canonical_json(value))) == ["\U0001f600", "\ufb01"]


def _event_classes(base):
    for cls in base.__subclasses__():
        yield cls
        yield from _event_classes(cls)


def test_no_stored_event_has_a_float_field():
    # The canonical encoding is RFC 8785 only for float-free payloads (see canonical_json).
    from domain.cases import CaseEvent
    from domain.events import RecordEvent, SubjectRegistered

    classes = [SubjectRegistered, *_event_classes(RecordEvent), *_event_classes(CaseEvent)]
    assert len(classes) > 20
    for cls in classes:
        for name, hint in typing.get_type_hints(cls).items():
            assert "float" not in str(hint), f"{cls.__name__}.{name}: {hint}"


def test_key_order_and_spacing_do_not_change_the_encoding():
    assert canonical_json({"b": 1, "a": [True, None, "交通"]}) == (
        '{"a":[true,null,"交通"],"b":1}'.encode()
    )


def test_a_hash_covers_every_field_and_the_hash_before_it():
    first = event_hash(None, STREAM, 1, "credit:SubjectRegistered", {"name": "甲"})
    expected = hashlib.sha256(
        b'{"prev":null,"state":{"name":"\xe7\x94\xb2"},'
        b'"stream":"0f0f0f0f-1234-5678-9abc-def012345678",'
        b'"topic":"credit:SubjectRegistered","version":1}'
    ).digest()
    assert first == expected
    second = event_hash(first, STREAM, 2, "credit:PenaltyDecided", {"fine": "2.5"})
    variants = [
        event_hash(None, STREAM, 2, "credit:PenaltyDecided", {"fine": "2.5"}),
        event_hash(first, UUID(int=1), 2, "credit:PenaltyDecided", {"fine": "2.5"}),
        event_hash(first, STREAM, 3, "credit:PenaltyDecided", {"fine": "2.5"}),
        event_hash(first, STREAM, 2, "credit:CommitmentMade", {"fine": "2.5"}),
        event_hash(first, STREAM, 2, "credit:PenaltyDecided", {"fine": "2.6"}),
    ]
    assert second not in variants
    assert len(set(variants)) == len(variants)


def test_stored_bytes_hash_as_their_json_whatever_their_spacing():
    assert stored_event_hash(None, STREAM, 1, "t", b'{ "b": 1,\n "a": 2 }') == event_hash(
        None, STREAM, 1, "t", {"a": 2, "b": 1}
    )
