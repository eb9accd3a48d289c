"""The cryptographic suites (密码套件) the service can run with, and the primitives each names:
the hashes of its hash chains and Merkle trees, the signatures of its checkpoints and exports,
and the cipher that seals personal data. Code that hashes, signs or seals asks its suite.

- `standard`: SHA-256 (FIPS 180-4), Ed25519 (RFC 8032), AES-256-GCM (NIST SP 800-38D).
- `gm` (国密, for systems assessed under GB/T 39786-2021 商用密码应用安全性评估): everything of
  `standard`, and beside it SM3 (GB/T 32905-2016) for a second hash chain and Merkle tree (and
  in place of SHA-256 for new rows of the access and admin logs), SM2 (GB/T 32918.2-2016) for a
  second signature on every checkpoint and export and, instead of Ed25519, for access tokens,
  and SM4-GCM (GB/T 32907-2016 in NIST SP 800-38D's GCM mode, as RFC 8998 uses it) for sealing
  new personal data.

Both suites open and verify everything either of them ever wrote: a value names its algorithm
(a sealed value its prefix, a key its `algorithm`, a log row its `hash_algorithm`), so switching
the setting never strands data."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from gmalg import SM2 as _GmalgSM2

from domain.merkle import TreeHash

SuiteName = Literal["standard", "gm"]


# Hashes ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HashAlgorithm:
    """A 256-bit hash, by the name it carries in exports and checkpoints."""

    name: str  # "sha256" | "sm3"
    _new: Callable[[bytes], hashlib._Hash]
    label: str  # as a person reads it: "SHA-256" | "SM3"

    def digest(self, data: bytes) -> bytes:
        return self._new(data).digest()

    def new(self) -> hashlib._Hash:
        """An incremental hash (for digests of a stream of lines)."""
        return self._new(b"")

    @property
    def tree(self) -> TreeHash:
        """RFC 6962's leaf and node hashes over this hash."""
        return TreeHash(self.digest)


SHA256 = HashAlgorithm("sha256", hashlib.sha256, "SHA-256")
# SM3 comes from OpenSSL (3.0+, built with SM3, as every OpenSSL the service runs on is); the
# tests hold it to GB/T 32905's examples.
SM3 = HashAlgorithm("sm3", lambda data: hashlib.new("sm3", data), "SM3")
HASHES: dict[str, HashAlgorithm] = {SHA256.name: SHA256, SM3.name: SM3}


# Signatures -----------------------------------------------------------------------------------
class SignatureScheme(Protocol):
    name: str

    def generate(self) -> tuple[bytes, bytes]:
        """A new key pair: (raw private key, raw public key)."""

    def sign(self, private_key: bytes, message: bytes) -> bytes: ...

    def verify(self, public_key: bytes, signature: bytes, message: bytes) -> bool:
        """Whether the signature verifies; never raises on malformed input from outside."""


class _Ed25519:
    """RFC 8032 Ed25519: 32-byte raw keys, 64-byte signatures."""

    name = "Ed25519"

    def generate(self) -> tuple[bytes, bytes]:
        private = Ed25519PrivateKey.generate()
        raw = private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        public = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return raw, public

    def sign(self, private_key: bytes, message: bytes) -> bytes:
        return Ed25519PrivateKey.from_private_bytes(private_key).sign(message)

    def verify(self, public_key: bytes, signature: bytes, message: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
        except (InvalidSignature, ValueError, TypeError):
            return False
        return True


# GM/T 0009-2012 section 10's default user ID, which GB/T 35275 and TLCP use too: the Z value
# of GB/T 32918.2 section 5.5 binds the signer's ID, and a verifier must use the same one.
SM2_DEFAULT_ID = b"1234567812345678"


class _SM2:
    """GB/T 32918.2-2016 SM2 signatures with SM3, on the curve of GB/T 32918.5 (sm2p256v1):
    32-byte private keys, 65-byte uncompressed public keys (04 || x || y), 64-byte signatures
    (r || s, each 32 bytes big-endian), the user ID `SM2_DEFAULT_ID`."""

    name = "SM2"

    def generate(self) -> tuple[bytes, bytes]:
        private, public = _GmalgSM2().generate_keypair()
        return bytes(private).rjust(32, b"\0"), bytes(public)

    def sign(self, private_key: bytes, message: bytes) -> bytes:
        r, s = _GmalgSM2(private_key, SM2_DEFAULT_ID).sign(message)
        return bytes(r).rjust(32, b"\0") + bytes(s).rjust(32, b"\0")

    def verify(self, public_key: bytes, signature: bytes, message: bytes) -> bool:
        if not isinstance(signature, bytes | bytearray) or len(signature) != 64:
            return False
        if not isinstance(public_key, bytes | bytearray) or len(public_key) != 65:
            return False
        try:
            signer = _GmalgSM2(uid=SM2_DEFAULT_ID, pk=bytes(public_key))
            if not signer.verify_pk(bytes(public_key)):
                return False
            return bool(signer.verify(message, signature[:32], signature[32:]))
        except Exception:
            return False


ED25519: SignatureScheme = _Ed25519()
SM2: SignatureScheme = _SM2()
SIGNATURE_SCHEMES: dict[str, SignatureScheme] = {ED25519.name: ED25519, SM2.name: SM2}


def signature_valid(algorithm: str, public_key: bytes, signature: bytes, message: bytes) -> bool:
    """Whether a signature of the named scheme verifies; an unknown scheme never does."""
    scheme = SIGNATURE_SCHEMES.get(algorithm)
    return scheme is not None and scheme.verify(public_key, signature, message)


# Sealing personal data ------------------------------------------------------------------------
class SealOpenFailed(Exception):
    """The key is not the one the value was sealed with, or the value was changed."""


@dataclass(frozen=True)
class Sealer:
    """An authenticated cipher under a subject's 32-byte data key. A sealed value is
    `prefix` + base64(nonce || ciphertext || tag); the prefix names the cipher."""

    name: str
    prefix: str
    seal_raw: Callable[[bytes, bytes, bytes, bytes], bytes]  # key, nonce, plaintext, aad
    open_raw: Callable[[bytes, bytes, bytes, bytes], bytes]  # key, nonce, sealed, aad

    def seal(self, data_key: bytes, plaintext: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self.seal_raw(data_key, nonce, plaintext, aad)

    def open(self, data_key: bytes, raw: bytes, aad: bytes) -> bytes:
        try:
            return self.open_raw(data_key, raw[:12], raw[12:], aad)
        except (InvalidTag, ValueError) as error:
            raise SealOpenFailed(str(error)) from None


def _sm4_key(data_key: bytes) -> bytes:
    # SM4 keys are 128 bits; the subject's data key is 256. HKDF (RFC 5869) with SM3 derives
    # the SM4 key from it, so one stored key serves either cipher and erasing it erases both.
    return HKDF(hashes.SM3(), 16, salt=None, info=b"credit personal data SM4-GCM").derive(data_key)


def _sm4_gcm_seal(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    encryptor = Cipher(algorithms.SM4(_sm4_key(key)), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(aad)
    return encryptor.update(plaintext) + encryptor.finalize() + encryptor.tag


def _sm4_gcm_open(key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
    if len(sealed) < 16:
        raise ValueError("too short to hold a GCM tag")
    decryptor = Cipher(algorithms.SM4(_sm4_key(key)), modes.GCM(nonce, sealed[-16:])).decryptor()
    decryptor.authenticate_additional_data(aad)
    return decryptor.update(sealed[:-16]) + decryptor.finalize()


AES_256_GCM = Sealer(
    "AES-256-GCM",
    "sealed:v1:",
    lambda key, nonce, plaintext, aad: AESGCM(key).encrypt(nonce, plaintext, aad),
    lambda key, nonce, sealed, aad: AESGCM(key).decrypt(nonce, sealed, aad),
)
SM4_GCM = Sealer("SM4-GCM", "sealed:sm4:", _sm4_gcm_seal, _sm4_gcm_open)
SEALERS = (AES_256_GCM, SM4_GCM)


def sealer_of(value: str) -> Sealer | None:
    """The cipher a sealed value names by its prefix; None for a value never sealed."""
    for sealer in SEALERS:
        if value.startswith(sealer.prefix):
            return sealer
    return None


# Suites ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CryptoSuite:
    """What the service writes with. `hashes` and `signatures` are all computed, the first of
    each being the one every store has had since it began (SHA-256, Ed25519). `log_hash` is the
    one hash of the logs chained row by row (the access and admin logs): each row names the
    hash that made it, so a log hashed under either suite, or under both in turn, verifies.
    `tokens` signs new access tokens, which are short-lived: one scheme, not both."""

    name: SuiteName
    hashes: tuple[HashAlgorithm, ...]
    signatures: tuple[SignatureScheme, ...]
    sealer: Sealer
    log_hash: HashAlgorithm
    tokens: SignatureScheme

    @property
    def gm(self) -> bool:
        return SM3 in self.hashes


STANDARD = CryptoSuite("standard", (SHA256,), (ED25519,), AES_256_GCM, SHA256, ED25519)
# GB/T 39786-2021 at level 3 (8.3 设备和计算安全: 日志记录完整性; 8.4 应用和数据安全: 重要数据
# 存储完整性) asks that logs and important data be kept whole by commercial cryptography: under
# gm the chained logs' new rows are hashed with SM3, and access tokens are signed with SM2.
GM = CryptoSuite("gm", (SHA256, SM3), (ED25519, SM2), SM4_GCM, SM3, SM2)
SUITES: dict[str, CryptoSuite] = {STANDARD.name: STANDARD, GM.name: GM}
