"""Crypto-shredding: once the wrapped data key is gone, the ciphertext gives nothing back."""

from __future__ import annotations

import base64
import json
import os
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from prereview.core.errors import PrereviewError
from prereview.vault import errors
from prereview.vault.errors import KeyShredded, MasterKeyUnknown, VaultIntegrityError
from prereview.vault.keyring import LocalKeyProvider
from prereview.vault.keys import (
    DataKey,
    WrappedKey,
    new_data_key,
    submission_wrap_context,
    unwrap_or_shredded,
)
from prereview.vault.seal import open_, seal
from prereview.vault.stream import decrypt_iter, encrypt_iter

CTX = submission_wrap_context("sub-withdrawn")
MARKER = b"MODEL-CARD: covered frontier model, internal codename BLUEFIN-7. "
Stored = tuple[DataKey, WrappedKey, bytes]
PLAINTEXT = MARKER * 2000 + bytes(range(256)) * 40 + b"\x00" * 50_000


@pytest.fixture
def provider(tmp_path: Path) -> LocalKeyProvider:
    return LocalKeyProvider.generate(tmp_path / "keys.json")


@pytest.fixture
def stored(provider: LocalKeyProvider) -> Stored:
    """A submission as the database would hold it: its wrapped key and one material."""
    dek, wrapped = new_data_key(provider, CTX)
    blob = b"".join(encrypt_iter(dek, PLAINTEXT, chunk_size=4096, associated_data=b"m1"))
    return dek, wrapped, blob


def master_keys(provider: LocalKeyProvider, path: Path) -> list[bytes]:
    doc = json.loads(path.read_text())
    return [base64.b64decode(k["key"]) for k in doc["keys"]]


def test_shredded_key_answers_410(provider: LocalKeyProvider, stored: Stored) -> None:
    dek, wrapped, _ = stored
    assert unwrap_or_shredded(provider, wrapped, CTX) == dek
    with pytest.raises(KeyShredded) as caught:
        unwrap_or_shredded(provider, None, CTX)  # the row's wrapped key was deleted
    problem = caught.value.problem()
    assert problem["status"] == 410
    assert problem["type"] == "urn:prereview:problem:vault-key-shredded"


def test_ciphertext_holds_no_plaintext(stored: Stored) -> None:
    _, _, blob = stored
    windows = {PLAINTEXT[i : i + 8] for i in range(0, len(PLAINTEXT) - 8, 3)}
    assert not any(w in blob for w in windows)
    assert b"BLUEFIN" not in blob
    # The plaintext is highly redundant; the ciphertext must not be.
    assert len(zlib.compress(PLAINTEXT, 9)) < len(PLAINTEXT) // 20
    assert len(zlib.compress(blob, 9)) > len(blob) * 0.99


def test_ciphertext_and_wrapped_key_hold_no_key_material(
    provider: LocalKeyProvider, stored: Stored, tmp_path: Path
) -> None:
    dek, wrapped, blob = stored
    for key in [dek, *master_keys(provider, tmp_path / "keys.json")]:
        for fragment in (key[:8], key[8:16], key[16:24], key[24:]):
            assert fragment not in blob
            assert fragment not in wrapped.ciphertext


def test_without_the_data_key_nothing_decrypts(
    provider: LocalKeyProvider, stored: Stored, tmp_path: Path
) -> None:
    """Every key still on the system after shredding (the master keys, other submissions'
    data keys) and fresh guesses fail on the very first chunk: no plaintext comes out."""
    _, _, blob = stored
    other_dek, _ = new_data_key(provider, submission_wrap_context("sub-other"))
    candidates = [*master_keys(provider, tmp_path / "keys.json"), other_dek, os.urandom(32)]
    for candidate in candidates:
        received: list[bytes] = []
        with pytest.raises(VaultIntegrityError, match="Chunk 0 "):
            received.extend(decrypt_iter(candidate, blob, associated_data=b"m1"))
        assert received == []


def test_sealed_secrets_die_with_the_key(provider: LocalKeyProvider) -> None:
    dek, _ = new_data_key(provider, CTX)
    sealed = seal(dek, b"sk-live-upstream-token", b"credential")
    assert b"sk-live" not in sealed
    with pytest.raises(VaultIntegrityError):
        open_(DataKey.generate(), sealed, b"credential")


def test_a_backup_of_the_wrapped_key_dies_with_its_master_key(
    provider: LocalKeyProvider, stored: Stored
) -> None:
    """Shredding deletes the live row; a database backup still holds the wrapped key. Rotating,
    re-wrapping the keys still alive and retiring the old master key makes the backup useless."""
    _, wrapped, _ = stored
    backup = WrappedKey.from_text(wrapped.to_text())
    other = submission_wrap_context("sub-still-open")
    other_dek, other_wrapped = new_data_key(provider, other)

    old_id = provider.current_key_id
    provider.rotate()
    other_wrapped = provider.rewrap(other_wrapped, other)  # the live key moves on
    provider.retire(old_id, still_in_use=0)  # the shredded one is not counted: it is gone

    with pytest.raises(MasterKeyUnknown):
        provider.unwrap(backup, CTX)
    assert provider.unwrap(other_wrapped, other) == other_dek


def test_errors_name_stable_slugs_and_hide_keys(provider: LocalKeyProvider, stored: Stored) -> None:
    dek, wrapped, blob = stored
    expected = {
        errors.VaultIntegrityError: ("vault-integrity", 422),
        errors.UnsupportedVaultFormat: ("vault-format-unsupported", 422),
        errors.KeyShredded: ("vault-key-shredded", 410),
        errors.MasterKeyUnknown: ("vault-master-key-unknown", 503),
        errors.MasterKeyInUse: ("vault-master-key-in-use", 409),
        errors.KeyringInvalid: ("vault-keyring-invalid", 503),
    }
    for cls, (slug, status) in expected.items():
        assert issubclass(cls, PrereviewError)
        assert (cls.slug, cls.status) == (slug, status)

    messages: list[str] = []
    attempts: list[Callable[[], object]] = [
        lambda: b"".join(decrypt_iter(dek, blob[:-1], associated_data=b"m1")),
        lambda: b"".join(decrypt_iter(dek, blob, associated_data=b"m2")),
        lambda: provider.unwrap(wrapped, submission_wrap_context("elsewhere")),
    ]
    for attempt in attempts:
        with pytest.raises(VaultIntegrityError) as caught:
            attempt()
        messages.append(str(caught.value) + json.dumps(caught.value.problem()))
    for message in messages:
        assert dek.hex() not in message
        assert base64.b64encode(dek).decode() not in message
        assert repr(bytes(dek)) not in message
