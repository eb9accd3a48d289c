"""The read engine's JSON decoder reads every column value as the standard library does."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.store.read_store import json_loads

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.dates().map(str),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=20,
)


@given(JSON_VALUES, st.booleans())
def test_it_reads_what_json_dumps_wrote_as_json_loads_does(value, ascii_only):
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert json_loads(text) == json.loads(text)
    assert repr(json_loads(text)) == repr(json.loads(text))  # ints stay ints, -0.0 stays


@pytest.mark.parametrize(
    "text",
    [
        "123456789012345678901234567890",  # past 64 bits: orjson would answer a float
        "-9223372036854775809",
        "18446744073709551616",
        '{"fine": 1e400}',  # orjson refuses these, the standard library reads them
        '"\\ud800"',
        "[NaN, Infinity]",
    ],
)
def test_what_orjson_reads_otherwise_is_read_by_the_standard_library(text):
    expected = json.loads(text)
    got = json_loads(text)
    assert repr(got) == repr(expected)
    assert type(got) is type(expected)


def test_a_nan_is_read_as_nan():
    [nan, inf] = json_loads("[NaN, Infinity]")
    assert math.isnan(nan) and inf == math.inf
