"""Token signing keys (Ed25519, or SM2 with the 国密 suite): generated and rotated in the
database, wrapped at rest, and published as a JWKS. Rotation needs no downtime: a new key signs
from then on, the old one stays published until the tokens it signed have expired. Switching
the suite is a rotation to a key of the other kind."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from jwt.exceptions import InvalidKeyError
from sqlalchemy import Connection, Engine, insert, select, update

from service.access.secrets import KeyWrapper
from service.access.tables import signing_keys
from service.access.token_algorithms import (
    EDDSA_KEYS,
    TOKEN_KEY_KINDS,
    TokenKeyKind,
    TokenPrivateKey,
    TokenPublicKey,
)
from service.store.database import transaction, turn


@dataclass(frozen=True)
class KeyInUse:
    """A signing key as an administrator sees it (never its private part): what it signs, its
    id, when it was made and retired, until when a verifier still finds it published, and its
    age and state when it was listed, judged on the same clock as the JWKS (`listed`)."""

    signs: str  # "token" (access tokens) or "checkpoint" (checkpoints and exports)
    key_id: str
    created_at: datetime
    retired_at: datetime | None
    # A retired token key leaves the JWKS once the tokens it signed have expired; a checkpoint
    # key never does (what it signed must verify for as long as the records are kept): None.
    published_until: datetime | None
    age: timedelta
    # "signing" (the active key), "published" (retired, still verifies what it signed) or
    # "unpublished" (retired, what it signed no longer verifies).
    state: str

    @classmethod
    def listed(
        cls,
        signs: str,
        key_id: str,
        created_at: datetime,
        retired_at: datetime | None,
        published_until: datetime | None,
    ) -> KeyInUse:
        # The keys' times are written with the system clock, and `jwks` judges them on it.
        now = datetime.now(UTC)
        if retired_at is None:
            state = "signing"
        elif published_until is None or now < published_until:
            state = "published"
        else:
            state = "unpublished"
        return cls(signs, key_id, created_at, retired_at, published_until, now - created_at, state)


def utc(moment: datetime) -> datetime:
    """SQLite hands timestamps back naive; they were written in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class KeyCacheStale(Exception):
    """The in-memory set of published keys must be re-read before it can answer."""


@dataclass(frozen=True)
class PublishedKey:
    """A published token key, as a verifier takes it: the JWS `alg` it verifies and the key."""

    alg: str
    key: TokenPublicKey


class SigningKeys:
    def __init__(
        self,
        engine: Engine,
        wrapper: KeyWrapper,
        *,
        token_ttl_seconds: int,
        cache_seconds: float = 60.0,
        kind: TokenKeyKind = EDDSA_KEYS,
    ):
        self.engine = engine
        self.wrapper = wrapper
        self.token_ttl = timedelta(seconds=token_ttl_seconds)
        self.cache_seconds = cache_seconds
        self.kind = kind  # what new keys are (the suite's token scheme)
        self._public: dict[str, PublishedKey] = {}
        self._loaded_at = float("-inf")
        self._active: tuple[str, TokenPrivateKey] | None = None
        self._active_loaded_at = float("-inf")
        self._lock = threading.Lock()

    @property
    def algorithm(self) -> str:
        """The JWS `alg` of the tokens this service signs."""
        return self.kind.alg

    def active(self) -> tuple[str, TokenPrivateKey]:
        """The key that signs new tokens, created on first use. Re-read from the table once
        older than `cache_seconds`, so a rotation by another process is followed here well
        within the token lifetime that keeps the retired key published. An active key of the
        other kind (the suite was switched) is retired as a rotation retires it, so the tokens
        it signed verify until they expire and no longer."""
        with turn(self._lock, "the signing key's reload"):
            stale = time.monotonic() - self._active_loaded_at > self.cache_seconds
            if self._active is None or stale:
                with self.engine.begin() as conn:
                    row = conn.execute(
                        select(signing_keys)
                        .where(signing_keys.c.retired_at.is_(None))
                        .order_by(signing_keys.c.created_at.desc())
                    ).first()
                    if row is None:
                        self._active = self._create(conn)
                    elif row.public_jwk.get("alg") != self.kind.alg:
                        self._retire_all(conn)
                        self._active = self._create(conn)
                    elif self._active is None or self._active[0] != row.kid:
                        self._active = (row.kid, self._private(row))
                self._active_loaded_at = time.monotonic()
            return self._active

    def rotate(self, *, conn: Connection | None = None) -> str:
        """Start signing with a new key; the previous ones retire (but stay published). With
        `conn`, in the caller's transaction: the key is then re-read once that commits."""
        with self._lock, transaction(self.engine, conn) as tx:
            self._retire_all(tx)
            created = self._create(tx)
            if conn is None:
                self._active = created
                self._active_loaded_at = time.monotonic()
            else:  # not committed yet: the next use reads what did commit
                self._active_loaded_at = float("-inf")
            return created[0]

    def listing(self) -> list[KeyInUse]:
        """Every token signing key, newest first, with the moment a retired one leaves the
        JWKS (its retirement plus one token lifetime), as `jwks` decides it."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    signing_keys.c.kid, signing_keys.c.created_at, signing_keys.c.retired_at
                ).order_by(signing_keys.c.created_at.desc())
            ).all()
        return [
            KeyInUse.listed(
                "token",
                row.kid,
                utc(row.created_at),
                utc(row.retired_at) if row.retired_at else None,
                utc(row.retired_at) + self.token_ttl if row.retired_at else None,
            )
            for row in rows
        ]

    def jwks(self) -> dict:
        """Every key a valid token can have been signed with."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(signing_keys.c.public_jwk)
                .where(
                    (signing_keys.c.retired_at.is_(None))
                    | (signing_keys.c.retired_at > datetime.now(UTC) - self.token_ttl)
                )
                .order_by(signing_keys.c.created_at.desc())
            )
            return {"keys": [row.public_jwk for row in rows]}

    def public_key(self, kid: str, *, may_refresh: bool) -> PublishedKey | None:
        """A published key by id. The published set is re-read once it is older than
        `cache_seconds` (so a key retired past the token lifetime stops verifying everywhere)
        and, at most once a second, when a token names a key it does not know (another
        process may have rotated). Without `may_refresh` it raises KeyCacheStale instead of
        reading the database, so the request path can move that read off the event loop."""
        age = time.monotonic() - self._loaded_at
        must = age > self.cache_seconds or (kid not in self._public and age > 1.0)
        if must:
            if not may_refresh:
                raise KeyCacheStale
            self._public = {}
            for jwk in self.jwks()["keys"]:
                published = _published(jwk)
                if published is not None:
                    self._public[jwk["kid"]] = published
            self._loaded_at = time.monotonic()
        return self._public.get(kid)

    def _retire_all(self, conn: Connection) -> None:
        conn.execute(
            update(signing_keys)
            .where(signing_keys.c.retired_at.is_(None))
            .values(retired_at=datetime.now(UTC))
        )

    def _create(self, conn) -> tuple[str, TokenPrivateKey]:
        kid = uuid.uuid4().hex
        private, raw, jwk = self.kind.generate()
        public_jwk = {**jwk, "kid": kid, "use": "sig", "alg": self.kind.alg}
        conn.execute(
            insert(signing_keys).values(
                kid=kid,
                private_key=self.wrapper.wrap(raw, f"signing-key:{kid}"),
                public_jwk=public_jwk,
                created_at=datetime.now(UTC),
                retired_at=None,
            )
        )
        return kid, private

    def _private(self, row) -> TokenPrivateKey:
        raw = self.wrapper.unwrap(row.private_key, f"signing-key:{row.kid}")
        return self.kind.private_from(raw, row.public_jwk)


def _published(jwk: dict) -> PublishedKey | None:
    """A JWK this service published, as a key of the `alg` it names; None for one it could not
    have (an unknown `alg`, or a key that is not of its kind)."""
    kind = TOKEN_KEY_KINDS.get(jwk.get("alg", ""))
    if kind is None:
        return None
    try:
        return PublishedKey(kind.alg, kind.public_from_jwk(jwk))
    except (InvalidKeyError, ValueError):
        return None
