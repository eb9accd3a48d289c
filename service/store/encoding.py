"""Events encoded into the bytes the library's JSON transcoder makes, by orjson.

The library encodes with the standard json module's encoder, calling back into Python for each
value of a registered type (a datetime, a UUID, a decimal, a date): some 13 µs for a penalty's
event, a tenth of what an import does for the row, and once more for each event an append or a
snapshot writes. orjson writes the same compact JSON (the same separators, text as UTF-8, the
same escapes, keys in their order) in about a tenth of the json module's time; the registered
types are made the library's `{"_type_": ..., "_data_": ...}` objects first, as the library's
hook makes them, in a walk that is most of what remains: 7 µs for the same event. Decoding is
the library's."""

from __future__ import annotations

from typing import Any

import orjson
from eventsourcing.persistence import JSONTranscoder, Transcoding

# Values written as they are, by exact type: a subclass of any of them (an enum of str, say) the
# json module writes as its base type's value, which orjson may write otherwise.
_PLAIN = frozenset({str, int, bool, type(None)})
_JSON_TYPES = (str, int, float, list, tuple, dict)


class _WrittenByTheLibrary(Exception):
    """A value whose bytes orjson might write otherwise than the json module: a float (the two
    shorten differently), a subclass of a JSON type, a value of no registered type."""


class OrjsonTranscoder(JSONTranscoder):
    """The library's JSON transcoder, writing with orjson. What orjson cannot write as the
    library would (a float, a subclass of a JSON type, a key that is not a string, an integer
    beyond 64 bits, a text with a lone surrogate, nesting past orjson's depth) is written by the
    library's encoder, errors and all (tests/unit/test_event_encoding.py holds the bytes equal
    for any value)."""

    def __init__(self) -> None:
        super().__init__()
        # The registered types the json module hands to the library's hook: not those it
        # writes itself, as JSON types.
        self._hooked: dict[type, Transcoding] = {}

    def register(self, transcoding: Transcoding) -> None:
        super().register(transcoding)
        if not issubclass(transcoding.type, _JSON_TYPES):
            self._hooked[transcoding.type] = transcoding

    def encode(self, obj: Any) -> bytes:
        try:
            return orjson.dumps(self._plain(obj))
        except (_WrittenByTheLibrary, orjson.JSONEncodeError, RecursionError):
            return super().encode(obj)

    def _plain(self, value: Any) -> Any:
        kind = type(value)
        if kind in _PLAIN:
            return value
        transcoding = self._hooked.get(kind)
        if transcoding is not None:
            data = transcoding.encode(value)
            return {
                "_type_": transcoding.name,
                "_data_": data if type(data) in _PLAIN else self._plain(data),
            }
        if kind is dict:
            return {
                key: item if type(item) in _PLAIN else self._plain(item)
                for key, item in value.items()
            }
        if kind is list or kind is tuple:
            return [item if type(item) in _PLAIN else self._plain(item) for item in value]
        raise _WrittenByTheLibrary
