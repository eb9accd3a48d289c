"""Access tokens: OAuth2 client-credentials grant, RFC 9068 JWT claims, signed with the suite's
token key (Ed25519, `EdDSA`; SM2 with the 国密 suite, `SM2SM3`) and verified with PyJWT: a token
verifies only with the `alg` of the published key its `kid` names, so 'none' and HMAC tokens,
and a token whose `alg` is not its key's, never do."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import jwt
from pydantic import BaseModel, ConfigDict, ValidationError

from service.access.clients import Client
from service.access.keys import SigningKeys
from service.access.token_algorithms import TOKEN_KEY_KINDS

TOKEN_TYPE = "at+jwt"


class InvalidToken(Exception):
    """Why a token was refused (said to the caller in general terms only)."""


class SlowToVerify(Exception):
    """The token's signature is of a kind too slow to check on the event loop (SM2 in pure
    Python, about 20 ms): verify it again off the loop."""


class ScopeNotGranted(Exception):
    """The client asked for a scope its role does not have."""


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    scope: str


@dataclass(frozen=True)
class VerifiedToken:
    client_id: str
    scopes: frozenset[str]
    jti: str
    expires_at: int


# A client sends the same token with every request until it expires; checking its signature
# and claims again each time cost more than the status query it guards (an SM2 check in pure
# Python takes about 20 ms: once per token, not once per request).
VERIFIED_CACHE_SIZE = 10_000


class Tokens:
    def __init__(self, keys: SigningKeys, *, issuer: str, audience: str, ttl_seconds: int):
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.ttl_seconds = ttl_seconds
        # token text -> (signing key id, what it proved); bounded, oldest first out
        self._verified: dict[str, tuple[str, VerifiedToken]] = {}

    def issue(
        self, client: Client, requested_scope: str | None = None, now: float | None = None
    ) -> IssuedToken:
        granted = set(client.scopes)
        if requested_scope:
            wanted = set(requested_scope.split())
            if not wanted <= granted:
                raise ScopeNotGranted(" ".join(sorted(wanted - granted)))
            granted = wanted
        issued_at = int(now if now is not None else time.time())
        scope = " ".join(sorted(granted))
        kid, key = self.keys.active()
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": client.client_id,
            "client_id": client.client_id,
            "iat": issued_at,
            "nbf": issued_at,
            "exp": issued_at + self.ttl_seconds,
            "jti": uuid.uuid4().hex,
            "scope": scope,
        }
        token = jwt.encode(
            claims,
            key,  # type: ignore[arg-type]  # an SM2 key is PyJWT's only by registration
            algorithm=self.keys.algorithm,
            headers={"kid": kid, "typ": TOKEN_TYPE},
        )
        return IssuedToken(token, self.ttl_seconds, scope)

    def verify(
        self, token: str, *, may_refresh: bool = True, may_be_slow: bool = True
    ) -> VerifiedToken:
        """The token's claims, once its signature, type, issuer, audience and times check out.
        A token verified before is answered from memory while it has not expired and the key
        that signed it is still published (a retired key stops its tokens here too). Without
        `may_be_slow`, a signature of a slow kind not checked before raises SlowToVerify, once
        the cheap checks (header, key, algorithm) have passed."""
        remembered = self._verified.get(token)
        if remembered is not None:
            kid, verified = remembered
            if time.time() < verified.expires_at and self.keys.public_key(
                kid, may_refresh=may_refresh
            ):
                return verified
            self._verified.pop(token, None)
        kid, verified = self._verify_signed(token, may_refresh=may_refresh, may_be_slow=may_be_slow)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified.pop(next(iter(self._verified)), None)
        self._verified[token] = (kid, verified)
        return verified

    def _verify_signed(
        self, token: str, *, may_refresh: bool, may_be_slow: bool
    ) -> tuple[str, VerifiedToken]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise InvalidToken(f"malformed token: {error}") from None
        alg = header.get("alg")
        if alg not in TOKEN_KEY_KINDS or header.get("typ") != TOKEN_TYPE:
            raise InvalidToken("wrong token type or algorithm")
        kid = str(header.get("kid", ""))
        published = self.keys.public_key(kid, may_refresh=may_refresh)
        if published is None:
            raise InvalidToken("unknown signing key")
        # Under either suite, a key of the other kind is published only while the tokens it
        # signed before a switch live (it was retired then): those verify until they expire.
        if alg != published.alg:
            raise InvalidToken("the token's algorithm is not its signing key's")
        if not may_be_slow and TOKEN_KEY_KINDS[alg].slow:
            raise SlowToVerify
        try:
            claims = jwt.decode(
                token,
                published.key,  # type: ignore[arg-type]  # an SM2 key is PyJWT's only by registration
                algorithms=[published.alg],
                audience=self.audience,
                issuer=self.issuer,
                options={
                    "require": ["exp", "iat", "iss", "aud", "sub", "jti", "client_id", "scope"]
                },
            )
        except jwt.PyJWTError as error:
            raise InvalidToken(str(error)) from None
        try:
            typed = _Claims.model_validate(claims)
        except ValidationError as error:
            wrong = ", ".join(sorted({str(problem["loc"][0]) for problem in error.errors()}))
            raise InvalidToken(f"claims of the wrong type: {wrong}") from None
        if typed.sub != typed.client_id:
            raise InvalidToken("sub and client_id differ")
        return kid, VerifiedToken(
            typed.client_id, frozenset(typed.scope.split()), typed.jti, typed.exp
        )


class _Claims(BaseModel):
    """What the service reads from a token, with the types RFC 9068 gives them. PyJWT checks
    the times and the issuer and audience, but not that `scope` is a string, say: a list there
    (in a token signed by a leaked key, or a future issuer) must be refused, not crash."""

    model_config = ConfigDict(strict=True, extra="allow")

    sub: str
    client_id: str
    jti: str
    scope: str
    exp: int
