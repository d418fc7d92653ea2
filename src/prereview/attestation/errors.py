"""Errors of participation attestations (the server's side; the verifier has its own)."""

from __future__ import annotations

from prereview.core.errors import PrereviewError


class AttestationKeyInvalid(PrereviewError):
    """The server's attestation key file cannot be used (unreadable, too open, not Ed25519)."""

    slug = "attestation-key-invalid"
    status = 500
    title = "The attestation key cannot be used"
