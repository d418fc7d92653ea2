"""The platform's attestation key: kept as the audit checkpoint key is, used through DSSE.

A key of its own (``settings.attestation_key_file``, an unencrypted PKCS#8 PEM only its owner
may read, created on first use), so that rotating it touches neither the log's checkpoints nor
anything the log's witnesses hold. Signing goes through securesystemslib's DSSE
:class:`~securesystemslib.dsse.Envelope` and :class:`~securesystemslib.signer.CryptoSigner`;
the signature's ``keyid`` is :func:`prereview.attestation.verify.key_id` of the public key, so
the offline verifier finds it without securesystemslib.
"""

from __future__ import annotations

import contextlib
import os
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from securesystemslib.dsse import Envelope
from securesystemslib.signer import CryptoSigner, SSlibKey

from prereview.attestation.errors import AttestationKeyInvalid
from prereview.attestation.figures import PAYLOAD_TYPE
from prereview.attestation.verify import key_id
from prereview.core.files import private_dir, write_new_private
from prereview.core.settings import Settings


@dataclass(frozen=True, slots=True)
class AttestationKey:
    """The attestation signing key. Holds a secret: never log it."""

    private: Ed25519PrivateKey

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def key_id(self) -> str:
        return key_id(self.public)

    def public_pem(self) -> str:
        """The public key as PEM (SubjectPublicKeyInfo): what verifiers are given."""
        return self.public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")

    def sign(self, payload: bytes) -> dict[str, Any]:
        """A DSSE envelope of an in-toto Statement ``payload``, as its JSON object."""
        public = SSlibKey.from_crypto(self.public, keyid=self.key_id)
        envelope = Envelope(payload, PAYLOAD_TYPE, {})
        envelope.sign(CryptoSigner(self.private, public))
        signed: dict[str, Any] = envelope.to_dict()
        return signed


_keys: dict[Path, AttestationKey] = {}
_lock = threading.Lock()


def _write_new(path: Path, key: Ed25519PrivateKey) -> None:
    """Create the key file exclusively, mode 0600: a concurrent creator's key wins."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with contextlib.suppress(FileExistsError):
        write_new_private(path, pem)


def read_key(path: Path) -> AttestationKey:
    """Load the key file; refuse one that its group or others may read, as ssh does."""
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except OSError as exc:
        raise AttestationKeyInvalid(
            f"Cannot read the attestation key {path}: {exc.strerror}."
        ) from None
    if os.name == "posix" and stat.S_IMODE(mode) & 0o077:
        raise AttestationKeyInvalid(
            f"The attestation key {path} is accessible to other users "
            f"(mode {stat.S_IMODE(mode):04o}); run 'chmod 600 {path}'."
        )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise AttestationKeyInvalid(
            f"The attestation key {path} is not an unencrypted PEM private key."
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise AttestationKeyInvalid(f"The attestation key {path} is not an Ed25519 key.")
    return AttestationKey(key)


def load_key(settings: Settings) -> AttestationKey:
    """The attestation key from ``settings.attestation_key_file``, created (0600) on first use."""
    path = settings.attestation_key_file
    with _lock:
        cached = _keys.get(path)
        if cached is not None:
            return cached
        if not path.exists():
            private_dir(path.parent)
            _write_new(path, Ed25519PrivateKey.generate())
        key = read_key(path)
        _keys[path] = key
        return key
