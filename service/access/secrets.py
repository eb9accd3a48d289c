"""Secrets at rest: client secrets as scrypt hashes, keys wrapped with AES-256-GCM (SM4-GCM
with the 国密 suite)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from domain.crypto_suite import AES_256_GCM, SM3, SM4_GCM, Sealer, SealOpenFailed

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_secret(secret: str, n: int = SCRYPT_N) -> str:
    """The cost parameters are stored with the hash, so verifying needs no configuration."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=n, r=SCRYPT_R, p=SCRYPT_P)
    return f"scrypt${n}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_secret(secret: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(secret.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p))
    return hmac.compare_digest(candidate, _unb64(digest))


def new_secret() -> str:
    return _b64(os.urandom(32))


def new_ed25519_key() -> tuple[Ed25519PrivateKey, bytes]:
    """A fresh signing key and its raw private bytes (what gets wrapped at rest)."""
    private = Ed25519PrivateKey.generate()
    raw = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return private, raw


# Marks a key wrapped with SM4-GCM; one wrapped with AES-GCM starts with its nonce.
SM4_WRAPPED = b"sm4\x00"


class KeyWrapper:
    """Encrypts key material under the operator's key-encryption key (CREDIT_KEY_ENCRYPTION_KEY);
    `purpose` is bound as associated data, so a wrapped key cannot be swapped for another.

    Wraps with the suite's cipher: AES-256-GCM under SHA-256 of the setting, or (国密 suite)
    SM4-GCM under a key derived from SM3 of it, marked `SM4_WRAPPED`. Unwraps either, so keys
    wrapped before a switch keep opening."""

    def __init__(self, key_encryption_key: str, sealer: Sealer = AES_256_GCM):
        secret = key_encryption_key.encode()
        self._aead = AESGCM(hashlib.sha256(secret).digest())
        self._sm4_key = SM3.digest(secret)
        self._sealer = sealer

    def wrap(self, plaintext: bytes, purpose: str) -> bytes:
        if self._sealer is SM4_GCM:
            return SM4_WRAPPED + SM4_GCM.seal(self._sm4_key, plaintext, purpose.encode())
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, plaintext, purpose.encode())

    def unwrap(self, wrapped: bytes, purpose: str) -> bytes:
        if wrapped.startswith(SM4_WRAPPED):
            try:
                return SM4_GCM.open(self._sm4_key, wrapped[len(SM4_WRAPPED) :], purpose.encode())
            except SealOpenFailed:
                pass  # an AES-GCM nonce that happens to start with the mark: its tag decides
        return self._aead.decrypt(wrapped[:12], wrapped[12:], purpose.encode())
