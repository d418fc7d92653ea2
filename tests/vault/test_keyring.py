"""The local master keyring: the file, wrapping, rotation and retirement."""

from __future__ import annotations

import base64
import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from prereview.core.clock import FixedClock
from prereview.vault.errors import (
    KeyringInvalid,
    MasterKeyInUse,
    MasterKeyUnknown,
    UnsupportedVaultFormat,
    VaultIntegrityError,
)
from prereview.vault.keyring import LocalKeyProvider
from prereview.vault.keys import (
    DataKey,
    KeyProvider,
    WrappedKey,
    new_data_key,
    submission_wrap_context,
)
from prereview.vault.stream import decrypt_iter, encrypt_iter

CTX = submission_wrap_context("sub-1")


@pytest.fixture
def keyring_path(tmp_path: Path) -> Path:
    return tmp_path / "secrets" / "master-keys.json"


@pytest.fixture
def provider(keyring_path: Path) -> LocalKeyProvider:
    return LocalKeyProvider.generate(keyring_path)


def master_keys_in(path: Path) -> dict[str, bytes]:
    doc = json.loads(path.read_text())
    return {k["id"]: base64.b64decode(k["key"]) for k in doc["keys"]}


# -- the file -------------------------------------------------------------------------------


def test_generate_creates_a_0600_keyring(keyring_path: Path) -> None:
    old_umask = os.umask(0)  # even a permissive umask must not widen the mode
    try:
        provider = LocalKeyProvider.generate(keyring_path)
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(keyring_path.stat().st_mode) == 0o600
    doc = json.loads(keyring_path.read_text())
    assert doc["format"] == "prereview-keyring"
    assert doc["current"] == provider.current_key_id
    assert [k["id"] for k in doc["keys"]] == [provider.current_key_id]
    assert len(base64.b64decode(doc["keys"][0]["key"])) == 32


def test_generate_never_overwrites(keyring_path: Path) -> None:
    first = LocalKeyProvider.generate(keyring_path)
    content = keyring_path.read_bytes()
    second = LocalKeyProvider.generate(keyring_path)
    assert second.current_key_id == first.current_key_id
    assert keyring_path.read_bytes() == content


def test_key_ids_come_from_the_clock(keyring_path: Path) -> None:
    clock = FixedClock(datetime(2026, 11, 22, 22, 30, tzinfo=UTC))
    provider = LocalKeyProvider.generate(keyring_path, clock=clock)
    assert provider.current_key_id.startswith("mk-20261122T223000Z-")


def test_load_of_a_missing_keyring_fails(keyring_path: Path) -> None:
    with pytest.raises(KeyringInvalid, match="No master keyring"):
        LocalKeyProvider.load(keyring_path)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda doc: doc.update(current="mk-nope"),
        lambda doc: doc.update(version=2),
        lambda doc: doc["keys"][0].update(key=base64.b64encode(b"short").decode()),
        lambda doc: doc["keys"][0].update(key="not base64!"),
        lambda doc: doc["keys"][0].update(created_at="2026-11-22T22:30:00"),  # naive
        lambda doc: doc["keys"].append(dict(doc["keys"][0])),  # duplicate id
        lambda doc: doc.pop("keys"),
    ],
)
def test_malformed_keyring_is_refused_without_quoting_it(
    provider: LocalKeyProvider, keyring_path: Path, mutate: object
) -> None:
    doc = json.loads(keyring_path.read_text())
    secret = doc["keys"][0]["key"]
    mutate(doc)  # type: ignore[operator]
    keyring_path.write_text(json.dumps(doc))
    with pytest.raises(KeyringInvalid) as caught:
        LocalKeyProvider.load(keyring_path)
    assert secret not in str(caught.value)


def test_keyring_that_is_not_json_is_refused(keyring_path: Path) -> None:
    keyring_path.parent.mkdir()
    keyring_path.write_text("{not json")
    with pytest.raises(KeyringInvalid, match="malformed"):
        LocalKeyProvider.load(keyring_path)


def test_reprs_hide_key_material(provider: LocalKeyProvider, keyring_path: Path) -> None:
    dek = DataKey.generate()
    shown = repr(provider) + repr(dek) + str(dek) + f"{dek}" + repr(provider.wrap(dek, CTX))
    for material in [dek, *master_keys_in(keyring_path).values()]:
        assert material.hex() not in shown
        assert base64.b64encode(material).decode() not in shown
        assert repr(bytes(material)) not in shown


# -- wrapping -------------------------------------------------------------------------------


def test_wrap_unwrap_round_trip(provider: LocalKeyProvider) -> None:
    dek, wrapped = new_data_key(provider, CTX)
    assert wrapped.key_id == provider.current_key_id
    assert bytes(dek) not in wrapped.ciphertext
    unwrapped = provider.unwrap(wrapped, CTX)
    assert isinstance(unwrapped, DataKey)
    assert unwrapped == dek


def test_provider_satisfies_the_protocol(provider: LocalKeyProvider) -> None:
    as_protocol: KeyProvider = provider
    dek, wrapped = new_data_key(as_protocol, CTX)
    assert as_protocol.unwrap(wrapped, CTX) == dek


def test_wrapped_key_moved_to_another_context_does_not_unwrap(provider: LocalKeyProvider) -> None:
    _, wrapped = new_data_key(provider, CTX)
    with pytest.raises(VaultIntegrityError, match="this context"):
        provider.unwrap(wrapped, submission_wrap_context("sub-2"))


@pytest.mark.parametrize("at", [0, 11, 12, 30, 59])
def test_altered_wrapped_key_does_not_unwrap(provider: LocalKeyProvider, at: int) -> None:
    _, wrapped = new_data_key(provider, CTX)
    blob = bytearray(wrapped.ciphertext)
    blob[at] ^= 0x80
    with pytest.raises(VaultIntegrityError):
        provider.unwrap(WrappedKey(wrapped.key_id, bytes(blob)), CTX)


def test_wrapped_key_of_wrong_length_or_algorithm(provider: LocalKeyProvider) -> None:
    _, wrapped = new_data_key(provider, CTX)
    with pytest.raises(VaultIntegrityError, match="length"):
        provider.unwrap(WrappedKey(wrapped.key_id, wrapped.ciphertext[:-1]), CTX)
    with pytest.raises(UnsupportedVaultFormat):
        provider.unwrap(WrappedKey(wrapped.key_id, wrapped.ciphertext, "A256KW"), CTX)


def test_wrapped_key_relabelled_to_another_master_key_does_not_unwrap(
    provider: LocalKeyProvider,
) -> None:
    _, wrapped = new_data_key(provider, CTX)
    new_id = provider.rotate()
    with pytest.raises(VaultIntegrityError):
        provider.unwrap(WrappedKey(new_id, wrapped.ciphertext), CTX)


def test_unknown_master_key(provider: LocalKeyProvider) -> None:
    _, wrapped = new_data_key(provider, CTX)
    with pytest.raises(MasterKeyUnknown, match="mk-elsewhere"):
        provider.unwrap(WrappedKey("mk-elsewhere", wrapped.ciphertext), CTX)


def test_wrap_refuses_a_key_of_the_wrong_size(provider: LocalKeyProvider) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        provider.wrap(b"too short", CTX)


def test_wrapped_key_text_round_trip(provider: LocalKeyProvider) -> None:
    _, wrapped = new_data_key(provider, CTX)
    text = wrapped.to_text()
    assert text.startswith(f"v1:A256GCM:{wrapped.key_id}:")
    assert WrappedKey.from_text(text) == wrapped
    odd = WrappedKey("arn:aws:kms:eu-west-1:1:key/abc", b"\x00\xff" * 9, "KMS")
    assert WrappedKey.from_text(odd.to_text()) == odd


@pytest.mark.parametrize("text", ["", "v1:A256GCM", "v2:A256GCM:mk:AAAA", "v1:A256GCM:mk:A"])
def test_malformed_wrapped_key_text(text: str) -> None:
    with pytest.raises(VaultIntegrityError, match="malformed"):
        WrappedKey.from_text(text)


# -- rotation -------------------------------------------------------------------------------


def test_rotation_then_rewrap_keeps_the_data_readable(
    provider: LocalKeyProvider, keyring_path: Path
) -> None:
    dek, wrapped = new_data_key(provider, CTX)
    blob = b"".join(encrypt_iter(dek, b"model card " * 1000, chunk_size=256))
    old_id = provider.current_key_id

    new_id = provider.rotate()
    assert new_id != old_id
    assert provider.current_key_id == new_id
    assert provider.key_ids == (old_id, new_id)
    assert stat.S_IMODE(keyring_path.stat().st_mode) == 0o600
    assert provider.unwrap(wrapped, CTX) == dek  # old wraps still work before re-wrapping

    rewrapped = provider.rewrap(wrapped, CTX)
    assert rewrapped.key_id == new_id
    assert rewrapped.ciphertext != wrapped.ciphertext
    assert provider.rewrap(rewrapped, CTX) is rewrapped  # already current: nothing to do
    again = provider.unwrap(rewrapped, CTX)
    assert b"".join(decrypt_iter(again, blob)) == b"model card " * 1000

    provider.retire(old_id, still_in_use=0)
    assert set(provider.key_ids) == {new_id}
    assert set(master_keys_in(keyring_path)) == {new_id}
    assert LocalKeyProvider.load(keyring_path).unwrap(rewrapped, CTX) == dek
    with pytest.raises(MasterKeyUnknown):
        provider.unwrap(wrapped, CTX)


def test_rewrap_checks_the_context(provider: LocalKeyProvider) -> None:
    _, wrapped = new_data_key(provider, CTX)
    provider.rotate()
    with pytest.raises(VaultIntegrityError):
        provider.rewrap(wrapped, submission_wrap_context("sub-2"))


def test_retire_refuses_the_current_or_a_used_key(provider: LocalKeyProvider) -> None:
    old_id = provider.current_key_id
    with pytest.raises(MasterKeyInUse, match="current"):
        provider.retire(old_id, still_in_use=0)
    provider.rotate()
    with pytest.raises(MasterKeyInUse, match="3 data key"):
        provider.retire(old_id, still_in_use=3)
    with pytest.raises(MasterKeyUnknown):
        provider.retire("mk-nope", still_in_use=0)
    assert old_id in provider.key_ids


def test_a_rotation_by_another_process_is_picked_up(keyring_path: Path) -> None:
    api = LocalKeyProvider.generate(keyring_path)
    admin = LocalKeyProvider.load(keyring_path)
    admin.rotate()
    dek, wrapped = new_data_key(admin, CTX)
    assert api.unwrap(wrapped, CTX) == dek  # reloads on meeting the unknown key id
    assert api.current_key_id == admin.current_key_id


def test_rotation_keeps_keys_added_by_another_process(keyring_path: Path) -> None:
    first = LocalKeyProvider.generate(keyring_path)
    second = LocalKeyProvider.load(keyring_path)
    added_by_first = first.rotate()
    second.rotate()  # must not drop the key `first` added
    assert added_by_first in master_keys_in(keyring_path)


def test_data_keys_are_256_bits_and_contexts_differ() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        DataKey(b"\x00" * 16)
    assert DataKey.generate() != DataKey.generate()
    assert submission_wrap_context("a") != submission_wrap_context("b")
