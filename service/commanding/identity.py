"""Stream ids from codes: a keyed hash, so a personal ID number never shows in an id or URL."""

from __future__ import annotations

import hashlib
import hmac
from uuid import UUID, uuid5


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


def record_id_for(subject_id: UUID, natural_key: str) -> UUID:
    """Deterministic, so a re-sent record maps onto the record it repeats."""
    return uuid5(subject_id, natural_key)
