"""Errors of the vault.

None of these carries key material, nonces or plaintext: the detail says what failed and where
(which chunk, which master key id), never with what. Key ids are labels, not secrets.
"""

from __future__ import annotations

from prereview.core.errors import PrereviewError


class VaultError(PrereviewError):
    """Base of every vault error."""

    slug = "vault-error"
    status = 500
    title = "Vault error"


class VaultIntegrityError(VaultError):
    """Encrypted data or a wrapped key failed authentication.

    Raised for a tampered, reordered, dropped, truncated or extended chunk, an altered header,
    a wrong data key, and a wrapped key presented with another context. These cases are
    deliberately not told apart beyond the position of the failure: the cipher cannot tell a
    wrong key from altered bytes, and saying more would help nobody but an attacker.
    """

    slug = "vault-integrity"
    status = 422
    title = "Encrypted data failed verification"


class UnsupportedVaultFormat(VaultIntegrityError):
    """The data is not a vault stream, or is one of a format version this code does not read."""

    slug = "vault-format-unsupported"
    title = "Unsupported encrypted data format"


class KeyShredded(VaultError):
    """The data key was destroyed (crypto-shredded): the data can never be decrypted again."""

    slug = "vault-key-shredded"
    status = 410
    title = "The material was destroyed"


class MasterKeyUnknown(VaultError):
    """A wrapped key names a master key that the keyring does not hold (retired or never there).

    This is an operational fault, not the caller's: the service cannot reach the key it needs.
    """

    slug = "vault-master-key-unknown"
    status = 503
    title = "Master key unavailable"


class MasterKeyInUse(VaultError):
    """Refused to retire a master key that is current or still wraps data keys."""

    slug = "vault-master-key-in-use"
    status = 409
    title = "Master key still in use"


class KeyringInvalid(VaultError):
    """The master keyring file is missing, unreadable or malformed."""

    slug = "vault-keyring-invalid"
    status = 503
    title = "Master keyring unavailable"
