"""The JWS algorithms access tokens are signed with, one per token signature scheme of the suites
(domain/crypto_suite.py `CryptoSuite.tokens`): `EdDSA` (RFC 8037) for Ed25519, and `SM2SM3` for
SM2 with SM3 (GB/T 32918.2-2016), which JOSE registers no name for and which is registered with
PyJWT here. Each kind says how its keys are made, published as JWKs and read back.

`SM2SM3` is the name fibjs's JWS library (fib-jws) gives SM2 with SM3, with public keys as
`{"kty": "EC", "crv": "SM2", "x", "y"}`; the DNSSEC algorithm registry gives SM2 with SM3 the
same mnemonic (RFC 9563, algorithm 17). docs/security.md §3 says what else is in use."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, overload

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jwt.algorithms import Algorithm, OKPAlgorithm
from jwt.exceptions import InvalidKeyError
from jwt.types import JWKDict

from domain.crypto_suite import ED25519, SM2, SignatureScheme
from service.access.secrets import new_ed25519_key

SM2_JWS_ALGORITHM = "SM2SM3"
_COORDINATE = 32  # bytes of x and of y on sm2p256v1


@dataclass(frozen=True)
class SM2PrivateKey:
    """An SM2 signing key: the 32-byte private scalar and its public point `04 || x || y`."""

    private: bytes = field(repr=False)
    public: bytes

    def public_key(self) -> SM2PublicKey:
        return SM2PublicKey(self.public)


@dataclass(frozen=True)
class SM2PublicKey:
    """An SM2 public key: the 65-byte uncompressed point `04 || x || y` on sm2p256v1."""

    point: bytes


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SM2SM3Algorithm(Algorithm):
    """SM2 signatures with SM3 over the JWS signing input, as `domain.crypto_suite.SM2` makes
    them: the Z value of GB/T 32918.2 §5.5 with GM/T 0009's default ID `1234567812345678`, and
    the signature `r || s`, 32 bytes each (as ES256 puts ECDSA's, RFC 7518 §3.4). Only SM2 keys
    are taken: a string or bytes (an HMAC secret, a PEM) is refused, whatever the header says."""

    def prepare_key(self, key: Any) -> SM2PrivateKey | SM2PublicKey:
        if isinstance(key, SM2PrivateKey | SM2PublicKey):
            return key
        raise InvalidKeyError(f"SM2SM3 takes an SM2 key, not {type(key).__name__}")

    def sign(self, msg: bytes, key: SM2PrivateKey | SM2PublicKey) -> bytes:
        if not isinstance(key, SM2PrivateKey):
            raise InvalidKeyError("SM2SM3 signs with an SM2 private key")
        return SM2.sign(key.private, msg)

    def verify(self, msg: bytes, key: SM2PrivateKey | SM2PublicKey, sig: bytes) -> bool:
        public = key.public if isinstance(key, SM2PrivateKey) else key.point
        return SM2.verify(public, sig, msg)

    @overload
    @staticmethod
    def to_jwk(key_obj: SM2PrivateKey | SM2PublicKey, as_dict: Literal[True]) -> JWKDict: ...

    @overload
    @staticmethod
    def to_jwk(key_obj: SM2PrivateKey | SM2PublicKey, as_dict: Literal[False] = False) -> str: ...

    @staticmethod
    def to_jwk(key_obj: SM2PrivateKey | SM2PublicKey, as_dict: bool = False) -> JWKDict | str:
        """The public key only: a private key's scalar is never written into a JWK here."""
        point = key_obj.public if isinstance(key_obj, SM2PrivateKey) else key_obj.point
        jwk = {
            "kty": "EC",
            "crv": "SM2",
            "x": _b64(point[1 : 1 + _COORDINATE]),
            "y": _b64(point[1 + _COORDINATE :]),
        }
        return jwk if as_dict else json.dumps(jwk)

    @staticmethod
    def from_jwk(jwk: str | JWKDict) -> SM2PublicKey:
        try:
            parsed = json.loads(jwk) if isinstance(jwk, str) else jwk
            if parsed.get("kty") != "EC" or parsed.get("crv") != "SM2":
                raise InvalidKeyError("not an SM2 key")
            x, y = _unb64(parsed["x"]), _unb64(parsed["y"])
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise InvalidKeyError(f"not an SM2 JWK: {error}") from None
        if len(x) != _COORDINATE or len(y) != _COORDINATE:
            raise InvalidKeyError("an SM2 JWK's x and y are 32 bytes each")
        return SM2PublicKey(b"\x04" + x + y)


# PyJWT's module-level encode and decode use one registry. Adding SM2SM3 to it widens nothing:
# every decode in the service names the algorithms it takes (tokens the one of the key named,
# the console's OpenID sign-in its own list).
try:
    jwt.get_algorithm_by_name(SM2_JWS_ALGORITHM)
except NotImplementedError:
    jwt.register_algorithm(SM2_JWS_ALGORITHM, SM2SM3Algorithm())


TokenPrivateKey = Ed25519PrivateKey | SM2PrivateKey
TokenPublicKey = Ed25519PublicKey | SM2PublicKey


@dataclass(frozen=True)
class TokenKeyKind:
    """What a token signing key of one signature scheme is, to the JWS layer: its `alg`, how a
    new key is made (the key, its raw private bytes to wrap at rest, its public JWK without
    `kid`), how a stored one is read back (its raw bytes and public JWK), and how a published
    JWK becomes a key that verifies. A `slow` kind's check is kept off the event loop."""

    scheme: SignatureScheme
    alg: str
    generate: Callable[[], tuple[TokenPrivateKey, bytes, dict[str, Any]]]
    private_from: Callable[[bytes, dict[str, Any]], TokenPrivateKey]
    public_from_jwk: Callable[[dict[str, Any]], TokenPublicKey]
    slow: bool


def _new_ed25519() -> tuple[Ed25519PrivateKey, bytes, dict[str, Any]]:
    private, raw = new_ed25519_key()
    return private, raw, json.loads(OKPAlgorithm.to_jwk(private.public_key()))


def _ed25519_public(jwk: dict[str, Any]) -> Ed25519PublicKey:
    key = OKPAlgorithm.from_jwk(json.dumps(jwk))
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidKeyError("not an Ed25519 public key")
    return key


def _new_sm2() -> tuple[SM2PrivateKey, bytes, dict[str, Any]]:
    raw, public = SM2.generate()
    key = SM2PrivateKey(raw, public)
    return key, raw, SM2SM3Algorithm.to_jwk(key, as_dict=True)


def _sm2_private(raw: bytes, jwk: dict[str, Any]) -> SM2PrivateKey:
    return SM2PrivateKey(raw, SM2SM3Algorithm.from_jwk(jwk).point)


EDDSA_KEYS = TokenKeyKind(
    ED25519,
    "EdDSA",
    _new_ed25519,
    lambda raw, jwk: Ed25519PrivateKey.from_private_bytes(raw),
    _ed25519_public,
    slow=False,  # about 50 µs
)
SM2_KEYS = TokenKeyKind(
    SM2,
    SM2_JWS_ALGORITHM,
    _new_sm2,
    _sm2_private,
    SM2SM3Algorithm.from_jwk,
    slow=True,  # pure Python: about 20 ms
)
TOKEN_KEY_KINDS: dict[str, TokenKeyKind] = {kind.alg: kind for kind in (EDDSA_KEYS, SM2_KEYS)}


def token_key_kind(scheme: SignatureScheme) -> TokenKeyKind:
    """The kind of token key a suite's token scheme signs with."""
    return next(kind for kind in TOKEN_KEY_KINDS.values() if kind.scheme is scheme)
