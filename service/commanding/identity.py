"""Stream ids from codes: a keyed hash, so a personal ID number never shows in an id or URL."""

from __future__ import annotations

import hashlib
import hmac
from uuid import UUID


class SubjectIds:
    def __init__(self, key: str):
        self._key = key.encode()

    def for_code(self, normalised_code: str) -> UUID:
        """The same code always maps to the same subject, which makes registration idempotent."""
        # hmac.digest: the same HMAC in one call, without an HMAC object per code
        digest = hmac.digest(self._key, b"subject:" + normalised_code.encode(), hashlib.sha256)
        raw = bytearray(digest[:16])
        raw[6] = (raw[6] & 0x0F) | 0x80  # RFC 9562 version 8 (custom)
        raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 9562 variant
        return UUID(bytes=bytes(raw))


# RFC 9562's name-based UUID, version 5: the SHA-1's first 128 bits with the version and the
# variant set. As `uuid.uuid5` makes it, at less than half its cost (which sets the bits on a
# UUID it made first, then makes another): a few per cent of an import's CPU.
_NOT_VERSION_OR_VARIANT = ~((0xF000 << 64) | (0xC000 << 48))
_VERSION_5_RFC_VARIANT = (5 << 76) | (0x8000 << 48)


def record_id_for(subject_id: UUID, natural_key: str) -> UUID:
    """Deterministic, so a re-sent record maps onto the record it repeats: `uuid.uuid5` of the
    subject's id and the natural key."""
    digest = hashlib.sha1(subject_id.bytes + natural_key.encode(), usedforsecurity=False).digest()
    return UUID(int=int.from_bytes(digest[:16]) & _NOT_VERSION_OR_VARIANT | _VERSION_5_RFC_VARIANT)
