"""Attestation's page action: the developer downloads a participation attestation.

A plain form on the submission's page (no JavaScript needed) posts here; the answer is the
signed DSSE envelope as a file, from the same use case the API calls, so the policy decides
for the page as for ``POST /api/v1/submissions/{id}/attestation``. Nothing is irreversible, so
nothing asks for confirmation; the request is audited like the API's.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from prereview.attestation import service as attestation
from prereview.attestation.schemas import AttestationRequest
from prereview.core.filenames import content_disposition
from prereview.web.render import guarded
from prereview.web.session import PageContext, same_origin

router = APIRouter(prefix="/web", include_in_schema=False)

# Empty, or a SHA-256 in hex: the form's digest fields are optional.
_DIGEST = r"^\s*([0-9a-fA-F]{64})?\s*$"


@router.post("/submissions/{submission_id}/attestation", response_model=None)
def download(
    request: Request,
    submission_id: str,
    ctx: PageContext,
    name_reviewers: Annotated[str, Form(max_length=10)] = "",
    weights_digest: Annotated[str, Form(pattern=_DIGEST)] = "",
    model_card_digest: Annotated[str, Form(pattern=_DIGEST)] = "",
) -> Response:
    same_origin(request)

    def build() -> Response:
        data = AttestationRequest(
            name_reviewers=bool(name_reviewers),
            weights_digest=weights_digest.strip() or None,
            model_card_digest=model_card_digest.strip() or None,
        )
        envelope = attestation.attest_participation(
            ctx.db, ctx.actor, submission_id, data, ctx.settings, ctx.now
        )
        return Response(
            json.dumps(envelope, indent=2, sort_keys=True) + "\n",
            media_type="application/json",
            headers={"Content-Disposition": content_disposition(f"{submission_id}.intoto.json")},
        )

    return guarded(request, build)
