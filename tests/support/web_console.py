"""The objects that the developer console's pages (materials, gateway keys) act on, for the web
matrix: each made on demand in the scenario's own submission (only for a route whose path names
it) through the API, as its owner would.

- ``material_id``: a TLP:AMBER material the developer uploaded, so that the granted agency and
  the consented partner may download it and nobody else;
- ``key_id``: a gateway key the granted agency made for itself;
- ``call_id``: a kept transcript of a call the granted agency made, stored as the gateway's
  transcript sink stores it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Protocol

from prereview.core.db import transaction
from prereview.gateway.engine.interfaces import TranscriptRecord
from prereview.gateway.service import store_transcripts
from prereview.vault.service import Vault
from support.factories import Platform


class InSubmission(Protocol):
    """What these helpers read of a web matrix scenario (``support.web_matrix.WebScenario``)."""

    platform: Platform
    submission_id: str


# The bytes of the material (any will do).
MATERIAL_TEXT = "Lodestar system card, confidential section"


def _material(platform: Platform, submission_id: str) -> str:
    made = platform.call(
        "developer",
        "POST",
        f"/submissions/{submission_id}/materials",
        201,
        params={"filename": "system-card.md", "tlp": "TLP:AMBER", "kind": "system_card"},
        content=MATERIAL_TEXT.encode(),
    ).json()
    return str(made["id"])


def _gateway_key(platform: Platform, submission_id: str) -> str:
    made = platform.call(
        "agency",
        "POST",
        f"/submissions/{submission_id}/gateway/keys",
        201,
        json={"name": "matrix runner"},
    ).json()
    return str(made["id"])


def store_transcript(
    platform: Platform, submission_id: str, request: bytes, response: bytes
) -> str:
    """Keep one transcript of a call by the granted agency (its grant on ``submission_id``)."""
    path = f"/submissions/{submission_id}/grants"
    (grant,) = platform.call("developer", "GET", path, 200).json()["items"]
    call_id = f"call-{uuid.uuid4().hex[:12]}"
    settings = platform.context.settings
    with transaction(platform.context.sessions) as db:
        store_transcripts(
            db,
            Vault.local(settings.master_key_file, settings.blob_dir),
            [
                TranscriptRecord(
                    call_id=call_id,
                    started_at=platform.context.clock.now(),
                    access_id=grant["id"],
                    submission_id=submission_id,
                    endpoint="chat.completions",
                    request_body=request,
                    response_body=response,
                )
            ],
            platform.context.clock.now(),
        )
    return call_id


SUBMISSION_IDS: dict[str, Callable[[Platform, str], str]] = {
    "material_id": _material,
    "key_id": _gateway_key,
    "call_id": lambda platform, sid: store_transcript(
        platform, sid, b'{"messages":[]}', b'{"choices":[]}'
    ),
}


def upload_form(_: object, __: str | None) -> dict[str, object]:
    """The materials page's upload form: fields first, then the file."""
    return {"data": {"kind": "other", "tlp": "TLP:AMBER"}, "files": {"file": ("m.txt", b"matrix")}}


def limits_form(scenario: InSubmission, __: str | None) -> dict[str, object]:
    """The gateway page's limits form for the scenario's grant (the agency's)."""
    path = f"/submissions/{scenario.submission_id}/grants"
    grants = scenario.platform.call("developer", "GET", path, 200).json()["items"]
    return {"data": {"access": f"grant:{grants[0]['id']}", "requests_per_minute": "60"}}


UPSTREAM_FORM = {
    "base_url": "https://models.internal.example-lab.com/v1",
    "upstream_model": "lodestar-rc1",
    "api_key": "sk-matrix",
}
