"""Events written by orjson into the library's bytes (service/store/encoding.py): for any value,
the same bytes as the library's JSON transcoder, or the same error."""

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import IntEnum, StrEnum
from typing import Any

from eventsourcing.persistence import JSONTranscoder
from hypothesis import given, settings
from hypothesis import strategies as st

from service.store.encoding import OrjsonTranscoder
from service.store.ledger import CreditLedger, register_transcodings


class Colour(StrEnum):
    RED = "red"


class Level(IntEnum):
    HIGH = 3


def transcoders() -> tuple[JSONTranscoder, JSONTranscoder]:
    library, fast = JSONTranscoder(), OrjsonTranscoder()
    register_transcodings(library)
    register_transcodings(fast)
    return library, fast


LIBRARY, FAST = transcoders()

zones = st.sampled_from([UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-3))])
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),  # past 64 bits too
    st.floats(),  # nan and infinities too
    st.text(),  # control characters and lone surrogates too
    st.text(alphabet=st.characters(codec="utf-8")),
    st.uuids(),
    st.decimals(allow_nan=False),
    st.dates(),
    st.datetimes(timezones=zones),
    st.sampled_from([Colour.RED, Level.HIGH, object()]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(st.text(max_size=6), inner, max_size=4),
        st.dictionaries(st.integers(-3, 3), inner, max_size=2),  # keys json makes strings
    ),
    max_leaves=12,
)


def outcome(transcoder: JSONTranscoder, value: Any) -> bytes | type[BaseException]:
    try:
        return transcoder.encode(value)
    except Exception as error:  # the same error as the library's, by type
        return type(error)


@settings(max_examples=1500, deadline=None)
@given(values)
def test_any_value_is_written_as_the_librarys_transcoder_writes_it(value: Any):
    assert outcome(FAST, value) == outcome(LIBRARY, value)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=8), values, max_size=8))
def test_any_events_state_is_written_as_the_library_writes_it_and_read_back_alike(
    state: dict[str, Any],
):
    written = outcome(FAST, state)
    assert written == outcome(LIBRARY, state)
    if isinstance(written, bytes):
        assert FAST.decode(written) == LIBRARY.decode(written)


def test_a_penalty_is_written_by_orjson_and_a_float_by_the_library(monkeypatch):
    """The common event takes orjson's path; a float, which orjson shortens otherwise, the
    library's (its repr: 1e-05 where orjson writes 1e-5)."""
    state = {
        "timestamp": datetime(2026, 12, 7, 4, 17, 37, 351093, tzinfo=UTC),
        "decision_date": date(2024, 1, 27),
        "source_ref": "郑交执罚〔2025〕0000026号\n",
        "fine_amount": Decimal("0.2"),
        "penalty_categories": ["罚款"],
        "remarks": None,
    }
    calls: list[Any] = []
    library_encode = JSONTranscoder.encode

    def counted(self: JSONTranscoder, obj: Any) -> bytes:
        calls.append(obj)
        return library_encode(self, obj)

    monkeypatch.setattr(JSONTranscoder, "encode", counted)
    assert FAST.encode(state) == library_encode(LIBRARY, state)
    assert calls == []
    assert FAST.encode({"x": 1e-05}) == b'{"x":1e-05}'
    assert calls == [{"x": 1e-05}]


def test_the_ledger_writes_with_it():
    assert isinstance(
        CreditLedger.construct_transcoder(CreditLedger.__new__(CreditLedger)), OrjsonTranscoder
    )
