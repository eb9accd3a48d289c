"""Personal data of individuals, sealed at rest: each subject has its own data key, wrapped by
the key-encryption key, under which each value is sealed with the suite's cipher (AES-256-GCM,
or SM4-GCM with the 国密 suite; a sealed value names its cipher, so both always open).
Destroying that key (crypto-shredding) makes the sealed fields unreadable for good, while every
event stays in place and the rest stays readable."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from domain.crypto_suite import AES_256_GCM, Sealer, SealOpenFailed, sealer_of
from service.access.secrets import KeyWrapper
from service.access.tables import subject_keys
from service.store.database import transaction


class PersonalDataErased(Exception):
    """The subject's data key was destroyed; its sealed fields cannot be read any more."""


def is_sealed(value: str | None) -> bool:
    return value is not None and sealer_of(value) is not None


class PersonalDataVault:
    def __init__(self, engine: Engine, wrapper: KeyWrapper, sealer: Sealer = AES_256_GCM):
        self.engine = engine
        self.wrapper = wrapper
        self.sealer = sealer  # seals new values; any value opens with the cipher it names

    def seal(self, subject_id: UUID, plaintext: str) -> str:
        key = self._key(subject_id, create=True)
        sealed = self.sealer.seal(key, plaintext.encode(), subject_id.bytes)
        return self.sealer.prefix + base64.b64encode(sealed).decode()

    def open(self, subject_id: UUID, value: str) -> str:
        """The plaintext of a sealed value (a value that was never sealed is returned as is)."""
        sealer = sealer_of(value)
        if sealer is None:
            return value
        key = self._key(subject_id, create=False)
        raw = base64.b64decode(value[len(sealer.prefix) :])
        try:
            return sealer.open(key, raw, subject_id.bytes).decode()
        except SealOpenFailed:
            raise PersonalDataErased(
                f"subject {subject_id}: the sealed value does not open"
            ) from None

    def erasable(self, subject_id: UUID) -> bool:
        """Whether the subject has a data key left to destroy."""
        with self.engine.connect() as conn:
            return (
                conn.execute(
                    select(subject_keys.c.subject_id).where(
                        subject_keys.c.subject_id == subject_id,
                        subject_keys.c.wrapped_key.is_not(None),
                    )
                ).first()
                is not None
            )

    def erase(self, subject_id: UUID, *, conn: Connection | None = None) -> bool:
        """Destroy the subject's data key; True if there was one to destroy."""
        with transaction(self.engine, conn) as tx:
            return bool(
                tx.execute(
                    update(subject_keys)
                    .where(
                        subject_keys.c.subject_id == subject_id,
                        subject_keys.c.wrapped_key.is_not(None),
                    )
                    .values(wrapped_key=None, erased_at=datetime.now(UTC))
                ).rowcount
            )

    def _key(self, subject_id: UUID, *, create: bool) -> bytes:
        """Read from the table every time (no cache), so an erasure holds in every process."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(subject_keys).where(subject_keys.c.subject_id == subject_id)
            ).first()
        if row is None and create:
            try:
                with self.engine.begin() as conn:
                    conn.execute(
                        insert(subject_keys).values(
                            subject_id=subject_id,
                            created_at=datetime.now(UTC),
                            wrapped_key=self.wrapper.wrap(
                                os.urandom(32), f"subject-key:{subject_id}"
                            ),
                        )
                    )
            except IntegrityError:
                pass  # another writer created it first: use theirs
            return self._key(subject_id, create=False)
        if row is None or row.wrapped_key is None:
            raise PersonalDataErased(f"subject {subject_id}: personal data was erased")
        return self.wrapper.unwrap(row.wrapped_key, f"subject-key:{subject_id}")
