"""Data keys, wrapped keys and the key provider interface.

Envelope encryption: every submission has its own 256-bit data key (DEK) that encrypts its
materials and secrets. The DEK is never stored in clear; a :class:`KeyProvider` wraps it under
a master key, and the database keeps only the :class:`WrappedKey`. A local keyring file
(:class:`prereview.vault.keyring.LocalKeyProvider`) is the one provider today; a cloud KMS or an
HSM can implement the same protocol later, since the caller only sees ``wrap``/``unwrap``.

Every wrap is bound to a *context* (for example ``submission_wrap_context(submission_id)``),
used as associated data, so a wrapped key copied onto another submission's row does not unwrap.

Crypto-shredding: deleting the wrapped key destroys the only copy of the DEK, after which the
ciphertext is random bytes to everyone. Backups still hold the old wrapped key, so shredding is
complete once the master key it was wrapped under is retired too (rotate, re-wrap every live
key, then retire the old master key).
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from typing import Protocol

from prereview.vault.errors import KeyShredded, VaultIntegrityError

DATA_KEY_SIZE = 32


class DataKey(bytes):
    """A 256-bit data key. It is ``bytes`` (so every crypto call takes it) whose repr hides it.

    Python cannot reliably wipe memory, so a DataKey should live only as long as one request
    or one stream needs it; nothing in the vault caches one.
    """

    def __new__(cls, material: bytes) -> DataKey:
        if len(material) != DATA_KEY_SIZE:
            raise ValueError(f"a data key is {DATA_KEY_SIZE} bytes")
        return super().__new__(cls, material)

    @classmethod
    def generate(cls) -> DataKey:
        """A fresh random data key from the operating system's CSPRNG."""
        return cls(os.urandom(DATA_KEY_SIZE))

    def __repr__(self) -> str:
        return "DataKey(<redacted>)"

    def __str__(self) -> str:
        return "DataKey(<redacted>)"


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A data key encrypted under a master key.

    ``key_id`` names the master key (so rotation knows what to re-wrap and unwrap knows which
    key to use), ``algorithm`` the wrapping scheme, ``ciphertext`` the provider's opaque blob.
    Store it as two columns (``key_id`` and ``to_text()``) or just the text.
    """

    key_id: str
    ciphertext: bytes
    algorithm: str = "A256GCM"

    def __post_init__(self) -> None:
        if not self.key_id or not self.algorithm or ":" in self.algorithm:
            raise ValueError("a wrapped key needs a key id and an algorithm without ':'")

    def to_text(self) -> str:
        """``v1:<algorithm>:<key_id>:<base64url ciphertext>``, for a text column."""
        blob = base64.urlsafe_b64encode(self.ciphertext).decode("ascii").rstrip("=")
        return f"v1:{self.algorithm}:{self.key_id}:{blob}"

    @classmethod
    def from_text(cls, text: str) -> WrappedKey:
        """Parse :meth:`to_text`'s output; raises :class:`VaultIntegrityError` if malformed."""
        try:
            version, algorithm, rest = text.split(":", 2)
            key_id, blob = rest.rsplit(":", 1)
            if version != "v1":
                raise ValueError(version)
            ciphertext = base64.urlsafe_b64decode(blob + "=" * (-len(blob) % 4))
            return cls(key_id=key_id, ciphertext=ciphertext, algorithm=algorithm)
        except (ValueError, binascii.Error):
            raise VaultIntegrityError("The stored wrapped key is malformed.") from None

    def __repr__(self) -> str:
        return f"WrappedKey(key_id={self.key_id!r}, algorithm={self.algorithm!r})"


class KeyProvider(Protocol):
    """Wraps and unwraps data keys under master keys it holds and never hands out."""

    @property
    def current_key_id(self) -> str:
        """The id of the master key that new wraps use."""
        ...

    def wrap(self, dek: bytes, context: bytes) -> WrappedKey:
        """Encrypt ``dek`` under the current master key, bound to ``context``."""
        ...

    def unwrap(self, wrapped: WrappedKey, context: bytes) -> DataKey:
        """Decrypt a wrapped key; raises :class:`VaultIntegrityError` if it does not verify
        (altered, or presented with another context) and :class:`MasterKeyUnknown` if the
        master key it names is not held."""
        ...

    def rewrap(self, wrapped: WrappedKey, context: bytes) -> WrappedKey:
        """The same data key wrapped under the current master key (after a rotation); the data
        it encrypts is untouched. Returns ``wrapped`` itself when it is already current."""
        ...


def submission_wrap_context(submission_id: object) -> bytes:
    """The wrap context of a submission's data key: the bytes a :class:`KeyProvider` binds
    into the wrapped key, so that it unwraps for that submission only.

    Not :func:`prereview.vault.service.submission_key_context`, the name (a ``str``) the
    vault's use cases store a submission's data key under.
    """
    return f"prereview:submission:{submission_id}".encode()


def new_data_key(provider: KeyProvider, context: bytes) -> tuple[DataKey, WrappedKey]:
    """A fresh data key and its wrapped form; store the wrapped one, use and drop the other."""
    dek = DataKey.generate()
    return dek, provider.wrap(dek, context)


def unwrap_or_shredded(
    provider: KeyProvider, wrapped: WrappedKey | None, context: bytes
) -> DataKey:
    """Unwrap the data key the database holds for ``context``, or raise :class:`KeyShredded`
    when the row's wrapped key was deleted (crypto-shredded on withdrawal).

    The database layer keeps the row with its wrapped key set to NULL as a tombstone, so that
    a shredded submission answers 410 Gone rather than 404.
    """
    if wrapped is None:
        raise KeyShredded(
            "The data key was destroyed when the developer withdrew this material; "
            "it can no longer be decrypted."
        )
    return provider.unwrap(wrapped, context)
