"""The audit log served read-only in the C2SP tlog-tiles layout, at ``/audit/log/``.

Public and unauthenticated, as a transparency log is: the signed checkpoint and the hash tiles
(:mod:`prereview.audit.tiles`), so that anyone's tlog-tiles client can compute and check
inclusion and consistency proofs without this platform's code. No entry bundles: the entries
are confidential. Mounted at the site's root (a capability's ``root_routers``), outside the
REST API, because the layout is the specification's, not ours.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from prereview.audit import tiles
from prereview.audit.routes import Publisher
from prereview.authz.request import DB, Now
from prereview.core.problems import PROBLEM_RESPONSES

PREFIX = "/audit/log"

router = APIRouter(prefix=PREFIX, tags=["audit"], responses=PROBLEM_RESPONSES)

_PUBLIC: dict[str, Any] = {"x-permission": "public"}
# Public data, no credentials: any site's script may fetch it, as from a static tile bucket.
_ANY_ORIGIN = {"Access-Control-Allow-Origin": "*"}
# The specification: the checkpoint is mutable (cache it a few seconds at most), tiles are not.
_CHECKPOINT_CACHE = {"Cache-Control": "no-cache"} | _ANY_ORIGIN
# A tile's bytes never change, full or partial (N.p/W is always the same W stored nodes).
_TILE_CACHE = {"Cache-Control": "public, max-age=31536000, immutable"} | _ANY_ORIGIN


class CheckpointResponse(Response):
    media_type = "text/plain; charset=utf-8"


class TileResponse(Response):
    media_type = "application/octet-stream"


@router.get(
    "/checkpoint",
    response_class=CheckpointResponse,
    openapi_extra=_PUBLIC,
    responses={
        200: {
            "description": "The latest checkpoint: a C2SP tlog-checkpoint in a signed note",
            "content": {"text/plain; charset=utf-8": {"schema": {"type": "string"}}},
        }
    },
)
def read_checkpoint(db: DB, at: Now, publisher: Publisher) -> CheckpointResponse:
    """The log's latest signed checkpoint (C2SP tlog-checkpoint), signed afresh when it grew
    and cosigned by the configured witnesses."""
    note = tiles.checkpoint_note(db, at.settings, at.now, publisher)
    return CheckpointResponse(note, headers=_CHECKPOINT_CACHE)


@router.get(
    "/tile/{tile_path:path}",
    response_class=TileResponse,
    openapi_extra=_PUBLIC,
    responses={
        200: {
            "description": "A hash tile: its hashes, 32 bytes each (256 in a full tile)",
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
        }
    },
)
def read_tile(tile_path: str, db: DB) -> TileResponse:
    """A hash tile, `tile/<L>/<N>[.p/<W>]` as C2SP tlog-tiles writes it (`N` in `x`-prefixed
    3-digit groups: 1234067 is `x001/x234/067`). Entry bundles (`tile/entries/...`) are not
    served: the entries are confidential."""
    tile = tiles.parse_tile_path(tile_path)
    return TileResponse(tiles.read_tile(db, tile), headers=_TILE_CACHE)
