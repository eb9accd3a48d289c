"""Stream ids from codes: a keyed hash, so a personal ID number never shows in an id or URL."""

from __future__ import annotations

import hashlib
import hmac
from uuid import UUID

# An id made from a hash (RFC 9562): the hash's first 128 bits with the version and the variant
# set, the UUID built once from the integer (the standard library's uuid5 builds one, then sets
# the bits on another: twice the cost, a few per cent of an import's CPU).
_NOT_VERSION_OR_VARIANT = ~((0xF000 << 64) | (0xC000 << 48))
_RFC_VARIANT = 0x8000 << 48


def _hashed_id(digest: bytes, version: int) -> UUID:
    return UUID(
        int=int.from_bytes(digest[:16]) & _NOT_VERSION_OR_VARIANT | version << 76 | _RFC_VARIANT
    )


class SubjectIds:
    def __init__(self, key: str):
        # The keyed hash of the prefix every code's message begins with, copied for each code:
        # the hmac module's way to hash messages that share a beginning, without the key's
        # padding hashed again (a third of hmac.digest's cost a code, which an import pays at
        # every row).
        self._prefix_hashed = hmac.new(key.encode(), b"subject:", hashlib.sha256)

    def for_code(self, normalised_code: str) -> UUID:
        """The same code always maps to the same subject, which makes registration idempotent:
        HMAC-SHA256 of "subject:" and the code, as an RFC 9562 version 8 (custom) UUID."""
        keyed = self._prefix_hashed.copy()
        keyed.update(normalised_code.encode())
        return _hashed_id(keyed.digest(), 8)


def record_id_for(subject_id: UUID, natural_key: str) -> UUID:
    """Deterministic, so a re-sent record maps onto the record it repeats: `uuid.uuid5` of the
    subject's id and the natural key."""
    digest = hashlib.sha1(subject_id.bytes + natural_key.encode(), usedforsecurity=False).digest()
    return _hashed_id(digest, 5)
