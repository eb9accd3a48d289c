"""Keys at rest: wrapped with AES-256-GCM, or SM4-GCM with the 国密 suite, and either opened
by a wrapper of either suite, bound to its purpose."""

from __future__ import annotations

import os
from unittest import mock

import pytest
from cryptography.exceptions import InvalidTag

from domain.crypto_suite import AES_256_GCM, SM4_GCM
from service.access.secrets import SM4_WRAPPED, KeyWrapper

KEK = "a-long-random-key-encryption-key"


def test_a_key_wrapped_by_either_suite_opens_with_both() -> None:
    standard, gm = KeyWrapper(KEK, AES_256_GCM), KeyWrapper(KEK, SM4_GCM)
    key = os.urandom(32)
    with_aes = standard.wrap(key, "checkpoint-key:1")
    with_sm4 = gm.wrap(key, "checkpoint-key:1")
    assert with_sm4.startswith(SM4_WRAPPED) and key not in with_sm4
    for wrapper in (standard, gm):
        assert wrapper.unwrap(with_aes, "checkpoint-key:1") == key
        assert wrapper.unwrap(with_sm4, "checkpoint-key:1") == key


@pytest.mark.parametrize("sealer", [AES_256_GCM, SM4_GCM], ids=lambda s: s.name)
def test_a_wrapped_key_opens_only_for_its_purpose_and_its_kek(sealer) -> None:
    wrapped = KeyWrapper(KEK, sealer).wrap(b"k" * 32, "subject-key:a")
    with pytest.raises(InvalidTag):
        KeyWrapper(KEK, sealer).unwrap(wrapped, "subject-key:b")
    with pytest.raises(InvalidTag):
        KeyWrapper("another-kek", sealer).unwrap(wrapped, "subject-key:a")


def test_an_aes_wrapped_key_whose_nonce_starts_like_the_sm4_mark_still_opens() -> None:
    nonce = SM4_WRAPPED + os.urandom(8)
    with mock.patch("service.access.secrets.os.urandom", return_value=nonce):
        wrapped = KeyWrapper(KEK, AES_256_GCM).wrap(b"k" * 32, "signing-key:x")
    assert wrapped.startswith(SM4_WRAPPED)
    assert KeyWrapper(KEK, SM4_GCM).unwrap(wrapped, "signing-key:x") == b"k" * 32
