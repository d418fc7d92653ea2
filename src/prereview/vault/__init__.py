"""The vault: envelope encryption of materials and secrets at rest.

One data key per submission, wrapped by a master key (:class:`KeyProvider`); materials are
encrypted as chunked, individually authenticated streams (:mod:`prereview.vault.stream`) and
short secrets are sealed in one piece (:func:`seal`). Withdrawal destroys the wrapped key
(crypto-shredding); master keys rotate without re-encrypting data (:meth:`KeyProvider.rewrap`).
"""

from prereview.vault.errors import (
    KeyringInvalid,
    KeyShredded,
    MasterKeyInUse,
    MasterKeyUnknown,
    UnsupportedVaultFormat,
    VaultError,
    VaultIntegrityError,
)
from prereview.vault.keyring import LocalKeyProvider
from prereview.vault.keys import (
    DataKey,
    KeyProvider,
    WrappedKey,
    new_data_key,
    submission_wrap_context,
    unwrap_or_shredded,
)
from prereview.vault.seal import open_, seal
from prereview.vault.stream import (
    CHUNK_SIZE,
    StreamHeader,
    ciphertext_size,
    decrypt_iter,
    decrypt_stream,
    encrypt_iter,
    encrypt_stream,
    plaintext_size,
)

__all__ = [
    "CHUNK_SIZE",
    "DataKey",
    "KeyProvider",
    "KeyShredded",
    "KeyringInvalid",
    "LocalKeyProvider",
    "MasterKeyInUse",
    "MasterKeyUnknown",
    "StreamHeader",
    "UnsupportedVaultFormat",
    "VaultError",
    "VaultIntegrityError",
    "WrappedKey",
    "ciphertext_size",
    "decrypt_iter",
    "decrypt_stream",
    "encrypt_iter",
    "encrypt_stream",
    "new_data_key",
    "open_",
    "plaintext_size",
    "seal",
    "submission_wrap_context",
    "unwrap_or_shredded",
]
