"""Request and response models of participation attestations."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Sha256Hex = Annotated[
    str,
    StringConstraints(to_lower=True, pattern=r"^[0-9a-fA-F]{64}$", min_length=64, max_length=64),
]


class AttestationRequest(BaseModel):
    """What the developer chooses; every figure comes from the server's records."""

    model_config = ConfigDict(extra="forbid")

    name_reviewers: bool = Field(
        default=False,
        description="Name the agencies and trusted partners that had access (by default only "
        "how many).",
    )
    weights_digest: Sha256Hex | None = Field(
        default=None,
        description="SHA-256 (hex) of the model's weights: the statement's subject. The "
        "attestation says whether a weights upload on record has this digest.",
    )
    model_card_digest: Sha256Hex | None = Field(
        default=None,
        description="SHA-256 (hex) of the endpoint's model card: the statement's subject. The "
        "attestation says whether an upload on record has this digest.",
    )


class DsseSignature(BaseModel):
    keyid: str
    sig: str = Field(description="Base64 Ed25519 signature over PAE(payloadType, payload).")


class DsseEnvelope(BaseModel):
    """A DSSE envelope (https://github.com/secure-systems-lab/dsse) of an in-toto Statement."""

    payload: str = Field(description="Base64 of the in-toto Statement v1 (JSON).")
    payloadType: str
    signatures: list[DsseSignature]
