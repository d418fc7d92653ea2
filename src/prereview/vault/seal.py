"""Small secrets sealed in one piece: upstream credentials, short records, transcripts.

``seal(dek, plaintext, aad)`` gives ``0x01 || nonce (12) || ciphertext || tag (16)``: AES-256-GCM
under a key derived from the data key with HKDF-SHA256 (info ``b"prereview/vault/seal/v1"``), so
sealed records and streams never use the same key, with a random 96-bit nonce and the version
byte plus the caller's ``aad`` as associated data. Random nonces keep one data key safe for
2**32 sealed records, far more than one submission has. For anything large, use the streams of
:mod:`prereview.vault.stream`: a sealed record is held in memory whole.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from prereview.vault.errors import UnsupportedVaultFormat, VaultIntegrityError
from prereview.vault.keys import DATA_KEY_SIZE

SEAL_VERSION = 1
_NONCE_SIZE = 12
_TAG_SIZE = 16
_INFO = b"prereview/vault/seal/v1"


def _aead(dek: bytes) -> AESGCM:
    if len(dek) != DATA_KEY_SIZE:
        raise ValueError(f"a data key is {DATA_KEY_SIZE} bytes")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO)
    return AESGCM(hkdf.derive(dek))


def seal(dek: bytes, plaintext: bytes, aad: bytes = b"") -> bytes:
    """Encrypt and authenticate a short ``plaintext`` under ``dek``; ``aad`` (for example the
    record's id and column) is authenticated, not stored, and must be given again to open."""
    nonce = os.urandom(_NONCE_SIZE)
    version = bytes([SEAL_VERSION])
    return version + nonce + _aead(dek).encrypt(nonce, plaintext, version + aad)


def open_(dek: bytes, sealed: bytes, aad: bytes = b"") -> bytes:
    """Decrypt what :func:`seal` gave; raises :class:`VaultIntegrityError` if ``sealed`` was
    altered, or ``dek`` or ``aad`` is not the one it was sealed with."""
    if len(sealed) < 1 + _NONCE_SIZE + _TAG_SIZE:
        raise VaultIntegrityError("The sealed record is too short.")
    if sealed[0] != SEAL_VERSION:
        raise UnsupportedVaultFormat(f"Sealed record version {sealed[0]} is not supported.")
    nonce = sealed[1 : 1 + _NONCE_SIZE]
    try:
        return _aead(dek).decrypt(nonce, sealed[1 + _NONCE_SIZE :], sealed[:1] + aad)
    except InvalidTag:
        raise VaultIntegrityError(
            "The sealed record failed authentication: wrong data key, wrong context, "
            "or the record was altered."
        ) from None
