"""HTTP routes of participation attestations: thin, they parse, call the service and answer."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from prereview.attestation import service
from prereview.attestation.schemas import AttestationRequest, DsseEnvelope
from prereview.authz.request import Context
from prereview.authz.usecase import exercises

router = APIRouter(tags=["attestation"])


@router.post(
    "/submissions/{submission_id}/attestation",
    response_model=DsseEnvelope,
    openapi_extra=exercises(service.attest_participation),
)
def attest_participation(
    submission_id: str,
    ctx: Context,
    data: Annotated[AttestationRequest | None, Body()] = None,
) -> DsseEnvelope:
    """A participation attestation of the developer's submission: an in-toto Statement v1 in
    a DSSE envelope signed with the platform's attestation key (Ed25519). Check it offline
    with `prereview attest verify`."""
    envelope = service.attest_participation(
        ctx.db, ctx.actor, submission_id, data or AttestationRequest(), ctx.settings, ctx.now
    )
    return DsseEnvelope.model_validate(envelope)
