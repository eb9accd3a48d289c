"""The suites' primitives against the examples their standards print: SM3 (GB/T 32905-2016
appendix A), SM4 (GB/T 32907-2016 appendix A), SM2 signatures (GB/T 32918.2-2016 appendix A,
reproduced with the standard's curve, key and k), SM2 against OpenSSL's, and the round trips
the service relies on."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess

import pytest
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from gmalg import ellipticcurve
from gmalg.sm2 import SM2Core
from gmalg.sm3 import SM3 as GmalgSM3

from domain.crypto_suite import (
    AES_256_GCM,
    ED25519,
    GM,
    SHA256,
    SM2,
    SM3,
    SM4_GCM,
    STANDARD,
    SealOpenFailed,
    sealer_of,
    signature_valid,
)


def test_sm3_gives_the_two_examples_of_gb_t_32905() -> None:
    assert SM3.digest(b"abc").hex() == (
        "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    )
    assert SM3.digest(b"abcd" * 16).hex() == (
        "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    )


def test_sm4_gives_the_examples_of_gb_t_32907() -> None:
    key = bytes.fromhex("0123456789abcdeffedcba9876543210")
    encryptor = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()
    assert encryptor.update(key).hex() == "681edf34d206965e86b3e94f536e4246"
    block = key
    for _ in range(1_000_000):  # example 2: the plaintext encrypted 1,000,000 times
        block = encryptor.update(block)
    assert block.hex() == "595298c7c6fd271f0402f804c33d3f66"


# GB/T 32918.2-2016 appendix A (= GM/T 0003.2-2012 A.2): the 256-bit example curve over F_p.
_EXAMPLE_CURVE = ellipticcurve.ECDLP(
    int("8542D69E4C044F18E8B92435BF6FF7DE457283915C45517D722EDB8B08F1DFC3", 16),
    int("787968B4FA32C3FD2417842E73BBFEFF2F3C848B6831D7E0EC65228B3937E498", 16),
    int("63E4C6D3B23B0C849CF84241484BFE48F61D59A5B16BA06E6E12D1DA27C5249A", 16),
    (
        int("421DEBD61B62EAB6746434EBC3CC315E32220B3BADD50BDC4C4E6C147FEDD43D", 16),
        int("0680512BCBB42C07D47349D2153B70C4E5D7FDFCBFA36EA1A85841B9E46E09A2", 16),
    ),
    int("8542D69E4C044F18E8B92435BF6FF7DD297720630485628D5AE74EE7C32E79B7", 16),
)


def test_the_sm2_implementation_reproduces_the_signature_example_of_gb_t_32918_2() -> None:
    private = int("128B2FA8BD433C6C068C8D803DFF79792A519A55171B1B650C23661D15897263", 16)
    k = int("6CB28D99385C175C94F94E934817663FC176D925DD72B727260DBAAE1FB2F96F", 16)
    core = SM2Core(_EXAMPLE_CURVE, GmalgSM3(), lambda bits: k)
    public = core.generate_pk(private)
    assert public == (
        int("0AE4C7798AA0F119471BEE11825BE46202BB79E2A5844495E97C04FF4DF2548A", 16),
        int("7C0240F88F1CD4E16352A73C17B7F16F07353E53A176D684A9FE0C6BB798E857", 16),
    )
    r, s = core.sign(b"message digest", private, b"ALICE123@YAHOO.COM", public)
    assert (r, s) == (
        int("40F1EC59F793D9F49E09DCEF49130D4194F79FB1EED2CAA55BACDB49C4E755D1", 16),
        int("6FC6DAC32C5D5CF10C77DFB20F7C2EB667A457872FB09EC56327A67EC7DEEBE7", 16),
    )
    assert core.verify(b"message digest", r, s, b"ALICE123@YAHOO.COM", public)
    assert not core.verify(b"message digesT", r, s, b"ALICE123@YAHOO.COM", public)
    assert not core.verify(b"message digest", r, s, b"BOB123@YAHOO.COM", public)


@pytest.mark.parametrize("scheme", [ED25519, SM2], ids=lambda s: s.name)
def test_a_signature_verifies_only_with_its_key_and_message(scheme) -> None:
    private, public = scheme.generate()
    _, other = scheme.generate()
    signature = scheme.sign(private, b"checkpoint")
    assert signature_valid(scheme.name, public, signature, b"checkpoint")
    assert not signature_valid(scheme.name, public, signature, b"checkpoinT")
    assert not signature_valid(scheme.name, other, signature, b"checkpoint")
    assert not signature_valid(scheme.name, public, signature[:-1], b"checkpoint")
    assert not signature_valid(scheme.name, b"\x04" + bytes(64), signature, b"checkpoint")
    assert not signature_valid("RSA", public, signature, b"checkpoint")


def test_sm2_keys_and_signatures_have_the_standard_sizes() -> None:
    private, public = SM2.generate()
    assert (len(private), len(public), public[0]) == (32, 65, 4)
    assert len(SM2.sign(private, b"x")) == 64
    # Ed25519 and SM2 signatures never pass for one another.
    assert not signature_valid("Ed25519", public, SM2.sign(private, b"x"), b"x")


@pytest.mark.parametrize("sealer", [AES_256_GCM, SM4_GCM], ids=lambda s: s.name)
def test_a_sealed_value_opens_with_its_key_and_binding_only(sealer) -> None:
    key = os.urandom(32)
    sealed = sealer.seal(key, "张三 身份证 110101199003078515".encode(), b"subject-1")
    assert sealer.open(key, sealed, b"subject-1").decode() == "张三 身份证 110101199003078515"
    with pytest.raises(SealOpenFailed):
        sealer.open(os.urandom(32), sealed, b"subject-1")
    with pytest.raises(SealOpenFailed):
        sealer.open(key, sealed, b"subject-2")
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(SealOpenFailed):
        sealer.open(key, tampered, b"subject-1")


def test_sm4_gcm_is_sm4_in_gcm_mode_under_a_key_derived_with_sm3() -> None:
    # The cipher is SM4, not AES under another name: AES-GCM cannot open it with any key the
    # data key gives, and the ciphertext is SM4-GCM's under the HKDF-SM3 derived key.
    key = os.urandom(32)
    sealed = SM4_GCM.seal(key, b"plain", b"aad")
    with pytest.raises(SealOpenFailed):
        AES_256_GCM.open(key, sealed, b"aad")
    from domain.crypto_suite import _sm4_key

    nonce, body = sealed[:12], sealed[12:]
    decryptor = Cipher(algorithms.SM4(_sm4_key(key)), modes.GCM(nonce, body[-16:])).decryptor()
    decryptor.authenticate_additional_data(b"aad")
    assert decryptor.update(body[:-16]) + decryptor.finalize() == b"plain"


def test_each_suite_names_its_primitives_and_values_name_their_cipher() -> None:
    assert [h.name for h in STANDARD.hashes] == ["sha256"]
    assert [h.name for h in GM.hashes] == ["sha256", "sm3"]
    assert [s.name for s in GM.signatures] == ["Ed25519", "SM2"]
    assert (STANDARD.log_hash, GM.log_hash) == (SHA256, SM3)  # the access and admin logs'
    assert (STANDARD.sealer, GM.sealer) == (AES_256_GCM, SM4_GCM)
    assert sealer_of("sealed:v1:abc") is AES_256_GCM
    assert sealer_of("sealed:sm4:abc") is SM4_GCM
    assert sealer_of("plain") is None
    assert SM3.digest(b"") != hashlib.sha256(b"").digest()


# A SubjectPublicKeyInfo prefix for an SM2 point: id-ecPublicKey with the curve sm2p256v1
# (OID 1.2.156.10197.1.301, GB/T 33560), then the 65-byte uncompressed point.
_SM2_SPKI_PREFIX = bytes.fromhex("3059301306072a8648ce3d020106082a811ccf5501822d034200")


def _openssl(*args: str, cwd) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, timeout=60)


@pytest.fixture
def openssl_sm2(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("no openssl command")
    made = _openssl(
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:SM2",
        "-out",
        "k.pem",
        cwd=tmp_path,
    )
    if made.returncode != 0:
        pytest.skip(f"this openssl has no SM2: {made.stderr.decode()[:200]}")
    return tmp_path


def test_sm2_signatures_interoperate_with_openssl_both_ways(openssl_sm2) -> None:
    """The signatures are GB/T 32918.2's with GM/T 0009's default ID, as OpenSSL makes them:
    OpenSSL verifies ours, and ours verifies OpenSSL's."""
    folder = openssl_sm2
    sm3_with_id = ("-rawin", "-digest", "sm3", "-pkeyopt", "distid:1234567812345678")
    private, public = SM2.generate()
    signature = SM2.sign(private, b"checkpoint bytes")
    (folder / "pub.pem").write_text(
        "-----BEGIN PUBLIC KEY-----\n"
        + base64.encodebytes(_SM2_SPKI_PREFIX + public).decode()
        + "-----END PUBLIC KEY-----\n"
    )
    (folder / "message").write_bytes(b"checkpoint bytes")
    (folder / "other").write_bytes(b"checkpoint byteS")
    r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    (folder / "ours.der").write_bytes(encode_dss_signature(r, s))
    verify = ("pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", *sm3_with_id)
    assert _openssl(*verify, "-in", "message", "-sigfile", "ours.der", cwd=folder).returncode == 0
    assert _openssl(*verify, "-in", "other", "-sigfile", "ours.der", cwd=folder).returncode != 0

    sign = ("pkeyutl", "-sign", "-inkey", "k.pem", *sm3_with_id, "-in", "message")
    assert _openssl(*sign, "-out", "theirs.der", cwd=folder).returncode == 0
    point = _openssl("pkey", "-in", "k.pem", "-pubout", "-outform", "DER", cwd=folder).stdout[-65:]
    r, s = decode_dss_signature((folder / "theirs.der").read_bytes())
    theirs = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    assert signature_valid("SM2", point, theirs, b"checkpoint bytes")
    assert not signature_valid("SM2", point, theirs, b"checkpoint byteS")
