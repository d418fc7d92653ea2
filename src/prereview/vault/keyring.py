"""The local master keyring: a JSON file of 256-bit master keys, one of them current.

The file (named by ``PREREVIEW_MASTER_KEY_FILE``) looks like::

    {"format": "prereview-keyring", "version": 1, "current": "mk-20261122T223000Z-a1b2c3",
     "keys": [{"id": "mk-20261122T223000Z-a1b2c3", "created_at": "2026-11-22T22:30:00+00:00",
               "key": "<base64 of 32 bytes>"}]}

It is created with mode 0600 and rewritten atomically (temporary file, then rename).

Wrapping is AES-256-GCM with a random 96-bit nonce, the wrapped blob being
``nonce (12) || encrypted DEK (32) || tag (16)``. AES-GCM rather than AES-KW (RFC 3394) because
the wrap must be bound to a context (the submission), and GCM takes associated data while
AES-KW does not (it would need a per-context key derivation on top). Random nonces are safe far
beyond the number of data keys one master key will ever wrap (NIST's bound is 2**32 wraps).
The associated data is ``"prereview/vault/wrap/v1" || len(key_id) (u16) || key_id || context``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import secrets
import stat
import struct
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from prereview.core.clock import Clock, SystemClock
from prereview.core.files import replace_private, write_new_private
from prereview.vault.errors import (
    KeyringInvalid,
    MasterKeyInUse,
    MasterKeyUnknown,
    UnsupportedVaultFormat,
    VaultIntegrityError,
)
from prereview.vault.keys import DATA_KEY_SIZE, DataKey, WrappedKey

log = logging.getLogger(__name__)

KEYRING_FORMAT = "prereview-keyring"
KEYRING_VERSION = 1
MASTER_KEY_SIZE = 32
WRAP_ALGORITHM = "A256GCM"
_NONCE_SIZE = 12
_WRAP_LABEL = b"prereview/vault/wrap/v1"


@dataclass(frozen=True, slots=True)
class MasterKey:
    """One master key of the keyring; its repr shows the id only."""

    key_id: str
    created_at: datetime
    material: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.material) != MASTER_KEY_SIZE:
            raise ValueError(f"a master key is {MASTER_KEY_SIZE} bytes")
        if self.created_at.tzinfo is None:
            raise ValueError("created_at must be timezone-aware")


def _new_key_id(clock: Clock) -> str:
    return f"mk-{clock.now():%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def _wrap_aad(key_id: str, context: bytes) -> bytes:
    encoded = key_id.encode()
    return _WRAP_LABEL + struct.pack(">H", len(encoded)) + encoded + context


class LocalKeyProvider:
    """A :class:`~prereview.vault.keys.KeyProvider` over a local keyring file.

    Build it with :meth:`load` (the file must exist) or :meth:`generate` (creates the file on
    first run). Several processes may share the file: one that meets a key id it does not know
    reads the file again before giving up, so a rotation done elsewhere is picked up.
    """

    def __init__(
        self, path: Path, keys: list[MasterKey], current: str, clock: Clock | None = None
    ) -> None:
        if current not in {k.key_id for k in keys}:
            raise KeyringInvalid("The keyring's current key is not among its keys.")
        self._path = path
        self._clock: Clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._keys = {k.key_id: k for k in keys}
        self._current = current

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path, *, clock: Clock | None = None) -> LocalKeyProvider:
        """Read the keyring at ``path``; raises :class:`KeyringInvalid` if missing or bad."""
        keys, current = _read_keyring(path)
        return cls(path, keys, current, clock)

    @classmethod
    def generate(cls, path: Path, *, clock: Clock | None = None) -> LocalKeyProvider:
        """Create a keyring with one fresh current key at ``path`` (mode 0600) if there is
        none, then load it. An existing keyring is loaded, never overwritten."""
        clock = clock or SystemClock()
        if not path.exists():
            key = MasterKey(_new_key_id(clock), clock.now(), os.urandom(MASTER_KEY_SIZE))
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:
                write_new_private(path, _encode_keyring([key], key.key_id))
                log.info("created master keyring %s with key %s", path, key.key_id)
            except FileExistsError:
                pass  # another process created it between the check and the open
        return cls.load(path, clock=clock)

    # -- KeyProvider ----------------------------------------------------------------------

    @property
    def current_key_id(self) -> str:
        """The id of the master key that new wraps use."""
        return self._current

    @property
    def key_ids(self) -> tuple[str, ...]:
        """The ids of every master key held, oldest first."""
        with self._lock:
            keys = sorted(self._keys.values(), key=lambda k: (k.created_at, k.key_id))
        return tuple(k.key_id for k in keys)

    def wrap(self, dek: bytes, context: bytes) -> WrappedKey:
        """Encrypt ``dek`` under the current master key, bound to ``context``."""
        if len(dek) != DATA_KEY_SIZE:
            raise ValueError(f"a data key is {DATA_KEY_SIZE} bytes")
        with self._lock:
            key = self._keys[self._current]
        nonce = os.urandom(_NONCE_SIZE)
        sealed = AESGCM(key.material).encrypt(nonce, dek, _wrap_aad(key.key_id, context))
        return WrappedKey(key_id=key.key_id, ciphertext=nonce + sealed, algorithm=WRAP_ALGORITHM)

    def unwrap(self, wrapped: WrappedKey, context: bytes) -> DataKey:
        """Decrypt a wrapped key. Raises :class:`VaultIntegrityError` if it was altered or is
        presented with another context, :class:`MasterKeyUnknown` if its master key is gone."""
        if wrapped.algorithm != WRAP_ALGORITHM:
            raise UnsupportedVaultFormat(
                f"Wrapped keys of algorithm {wrapped.algorithm!r} are not supported."
            )
        key = self._key(wrapped.key_id)
        blob = wrapped.ciphertext
        if len(blob) != _NONCE_SIZE + DATA_KEY_SIZE + 16:
            raise VaultIntegrityError("The wrapped data key has the wrong length.")
        try:
            dek = AESGCM(key.material).decrypt(
                blob[:_NONCE_SIZE], blob[_NONCE_SIZE:], _wrap_aad(key.key_id, context)
            )
        except InvalidTag:
            raise VaultIntegrityError(
                f"The wrapped data key does not verify under master key {key.key_id} "
                "for this context (altered, or moved from another record)."
            ) from None
        return DataKey(dek)

    def rewrap(self, wrapped: WrappedKey, context: bytes) -> WrappedKey:
        """The same data key wrapped under the current master key; the data is untouched.
        Returns ``wrapped`` itself when it is already under the current key."""
        if wrapped.key_id == self._current:
            return wrapped
        return self.wrap(self.unwrap(wrapped, context), context)

    # -- rotation -------------------------------------------------------------------------

    def rotate(self) -> str:
        """Add a fresh master key, make it current and save the keyring; returns its id.

        Existing wrapped keys keep working (their master key stays); re-wrap them with
        :meth:`rewrap`, then :meth:`retire` the old key.
        """
        key = MasterKey(_new_key_id(self._clock), self._clock.now(), os.urandom(MASTER_KEY_SIZE))
        with self._lock:
            # Start from the file, not memory, so a key another process added is kept.
            keys, _ = _read_keyring(self._path)
            keys.append(key)
            replace_private(self._path, _encode_keyring(keys, key.key_id))
            self._keys = {k.key_id: k for k in keys}
            self._current = key.key_id
        log.info("rotated master keyring %s: current key is now %s", self._path, key.key_id)
        return key.key_id

    def retire(self, key_id: str, *, still_in_use: int) -> None:
        """Remove a master key from the keyring for good.

        ``still_in_use`` is the caller's count of wrapped keys that name ``key_id`` (the
        database knows, the keyring does not); anything but 0 is refused, as is the current key.
        Once retired, every copy of a key wrapped under it (backups included) is unreadable.
        """
        with self._lock:
            file_keys, self._current = _read_keyring(self._path)
            self._keys = {k.key_id: k for k in file_keys}
            if key_id not in self._keys:
                raise MasterKeyUnknown(f"The keyring holds no master key {key_id}.")
            if key_id == self._current:
                raise MasterKeyInUse(f"Master key {key_id} is current; rotate before retiring.")
            if still_in_use:
                raise MasterKeyInUse(
                    f"Master key {key_id} still wraps {still_in_use} data key(s); "
                    "re-wrap them first."
                )
            keys = [k for k in self._keys.values() if k.key_id != key_id]
            replace_private(self._path, _encode_keyring(keys, self._current))
            del self._keys[key_id]
        log.info("retired master key %s from %s", key_id, self._path)

    def reload(self) -> None:
        """Read the keyring file again (picks up a rotation done by another process)."""
        keys, current = _read_keyring(self._path)
        with self._lock:
            self._keys = {k.key_id: k for k in keys}
            self._current = current

    def _key(self, key_id: str) -> MasterKey:
        with self._lock:
            key = self._keys.get(key_id)
        if key is None:
            self.reload()
            with self._lock:
                key = self._keys.get(key_id)
        if key is None:
            raise MasterKeyUnknown(
                f"The keyring holds no master key {key_id}: it was retired or never here."
            )
        return key

    def __repr__(self) -> str:
        return (
            f"LocalKeyProvider(path={str(self._path)!r}, current={self._current!r}, "
            f"keys={len(self._keys)})"
        )


# -- the file ----------------------------------------------------------------------------


def _encode_keyring(keys: list[MasterKey], current: str) -> bytes:
    doc = {
        "format": KEYRING_FORMAT,
        "version": KEYRING_VERSION,
        "current": current,
        "keys": [
            {
                "id": k.key_id,
                "created_at": k.created_at.isoformat(),
                "key": base64.b64encode(k.material).decode("ascii"),
            }
            for k in keys
        ],
    }
    return (json.dumps(doc, indent=2) + "\n").encode()


def _read_keyring(path: Path) -> tuple[list[MasterKey], str]:
    try:
        mode = path.stat().st_mode
        raw = path.read_bytes()
    except FileNotFoundError:
        raise KeyringInvalid(f"No master keyring at {path}.") from None
    except OSError as exc:
        raise KeyringInvalid(f"Cannot read the master keyring at {path}: {exc.strerror}.") from None
    if stat.S_IMODE(mode) & 0o077:
        log.warning("master keyring %s is readable by others; chmod 600 it", path)
    try:
        doc: Any = json.loads(raw)
        if doc.get("format") != KEYRING_FORMAT or doc.get("version") != KEYRING_VERSION:
            raise ValueError("format")
        keys = [
            MasterKey(
                key_id=str(entry["id"]),
                created_at=datetime.fromisoformat(entry["created_at"]),
                material=base64.b64decode(entry["key"], validate=True),
            )
            for entry in doc["keys"]
        ]
        current = str(doc["current"])
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
        # The parse error could quote the file, and the file holds keys: say nothing more.
        raise KeyringInvalid(f"The master keyring at {path} is malformed.") from None
    if len({k.key_id for k in keys}) != len(keys) or current not in {k.key_id for k in keys}:
        raise KeyringInvalid(f"The master keyring at {path} is inconsistent.")
    return keys, current
