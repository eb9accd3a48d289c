"""The SM2SM3 JWS algorithm registered with PyJWT: it signs with the suite's SM2 (one definition,
domain/crypto_suite.py), takes SM2 keys only, publishes and reads EC/SM2 JWKs, and registering it
lets no decode take it that does not name it."""

from __future__ import annotations

import base64

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.exceptions import InvalidAlgorithmError, InvalidKeyError

from domain.crypto_suite import SM2, signature_valid
from service.access.token_algorithms import (
    SM2_KEYS,
    SM2PrivateKey,
    SM2PublicKey,
    SM2SM3Algorithm,
)


@pytest.fixture(scope="module")
def key() -> SM2PrivateKey:
    return SM2PrivateKey(*SM2.generate())


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_an_sm2sm3_token_carries_the_suites_sm2_signature_over_the_signing_input(key):
    token = jwt.encode({"sub": "a"}, key, algorithm="SM2SM3")
    signing_input, _, signature = token.rpartition(".")
    assert jwt.get_unverified_header(token)["alg"] == "SM2SM3"
    assert signature_valid("SM2", key.public, unb64(signature), signing_input.encode())
    decoded = jwt.decode(token, key.public_key(), algorithms=["SM2SM3"])
    assert decoded == {"sub": "a"}
    other = SM2PrivateKey(*SM2.generate()).public_key()
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, other, algorithms=["SM2SM3"])  # type: ignore[arg-type]


def test_a_decode_that_does_not_name_sm2sm3_refuses_it(key):
    token = jwt.encode({"sub": "a"}, key, algorithm="SM2SM3")
    with pytest.raises(InvalidAlgorithmError):
        jwt.decode(token, key.public_key(), algorithms=["EdDSA"])


@pytest.mark.parametrize(
    "wrong",
    [b"a shared secret", "a shared secret", Ed25519PrivateKey.generate()],
    ids=["bytes", "str", "ed25519"],
)
def test_only_sm2_keys_are_taken(wrong):
    with pytest.raises(InvalidKeyError):
        SM2SM3Algorithm().prepare_key(wrong)


def test_a_public_key_cannot_sign(key):
    with pytest.raises(InvalidKeyError):
        SM2SM3Algorithm().sign(b"message", key.public_key())


def test_the_jwk_holds_the_public_point_only_and_reads_back(key):
    _, raw, jwk = SM2_KEYS.generate()
    assert set(jwk) == {"kty", "crv", "x", "y"}
    assert (jwk["kty"], jwk["crv"]) == ("EC", "SM2")
    assert raw not in unb64(jwk["x"]) + unb64(jwk["y"])
    published = SM2SM3Algorithm.to_jwk(key, as_dict=True)
    assert SM2SM3Algorithm.from_jwk(published) == SM2PublicKey(key.public)
    assert SM2_KEYS.private_from(key.private, published) == key


@pytest.mark.parametrize(
    "jwk",
    [
        {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"},
        {"kty": "OKP", "crv": "SM2", "x": "AAAA"},
        {"kty": "EC", "crv": "SM2", "x": "AAAA", "y": "AAAA"},
        {"kty": "EC", "crv": "SM2"},
    ],
    ids=["another-curve", "another-type", "short-coordinates", "no-coordinates"],
)
def test_a_jwk_that_is_not_an_sm2_key_is_refused(jwk):
    with pytest.raises(InvalidKeyError):
        SM2SM3Algorithm.from_jwk(jwk)
