"""Sealed small secrets: credentials and short records."""

from __future__ import annotations

import os

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st

from prereview.vault.errors import UnsupportedVaultFormat, VaultIntegrityError
from prereview.vault.keys import DataKey
from prereview.vault.seal import open_, seal


@pytest.fixture
def dek() -> DataKey:
    return DataKey.generate()


@given(plaintext=st.binary(max_size=300), aad=st.binary(max_size=40))
def test_round_trip(plaintext: bytes, aad: bytes) -> None:
    dek = DataKey.generate()
    sealed = seal(dek, plaintext, aad)
    assert len(sealed) == 1 + 12 + len(plaintext) + 16
    assert open_(dek, sealed, aad) == plaintext


def test_sealing_twice_differs(dek: DataKey) -> None:
    assert seal(dek, b"api-key-123") != seal(dek, b"api-key-123")


def test_every_altered_byte_is_detected(dek: DataKey) -> None:
    sealed = seal(dek, b"sk-upstream-credential", b"endpoint:7")
    for at in range(len(sealed)):
        altered = bytearray(sealed)
        altered[at] ^= 0x04
        with pytest.raises(VaultIntegrityError):
            open_(dek, bytes(altered), b"endpoint:7")


def test_wrong_key_or_context_is_detected(dek: DataKey) -> None:
    sealed = seal(dek, b"sk-upstream-credential", b"endpoint:7")
    with pytest.raises(VaultIntegrityError, match="failed authentication"):
        open_(DataKey.generate(), sealed, b"endpoint:7")
    with pytest.raises(VaultIntegrityError, match="failed authentication"):
        open_(dek, sealed, b"endpoint:8")


def test_short_or_future_records_are_refused(dek: DataKey) -> None:
    with pytest.raises(VaultIntegrityError, match="too short"):
        open_(dek, b"\x01" + os.urandom(20))
    with pytest.raises(UnsupportedVaultFormat):
        open_(dek, b"\x02" + seal(dek, b"x")[1:])


def test_seal_does_not_use_the_data_key_directly(dek: DataKey) -> None:
    sealed = seal(dek, b"secret")
    with pytest.raises(InvalidTag):
        AESGCM(dek).decrypt(sealed[1:13], sealed[13:], sealed[:1])
