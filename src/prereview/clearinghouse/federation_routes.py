"""HTTP of the TAXII federation: a read-only status of the peers, for the clearinghouse.

Declaring peers and pulling stay on the command line (:mod:`.federation_commands`): a pull is
long outbound work that no HTTP request should wait on. This route only reads where each
peer's collections stand. It names no credential: a peer's token is in the vault only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from prereview.authz.request import Context
from prereview.authz.usecase import exercises
from prereview.clearinghouse import federation

router = APIRouter(prefix="/clearinghouse/federation", tags=["clearinghouse"])


class SideOut(BaseModel):
    count: int | None = Field(description="vulnerability objects (ids) on this side")
    digest: str | None = Field(description="sha256 over the sorted '<id> <version>' lines")


class CollectionSyncOut(BaseModel):
    collection: str
    state: str = Field(description="in_sync, differs, partial, unchecked or never_pulled")
    in_sync: bool
    partial: bool = Field(description="the last pull stopped before the end")
    pulled: int = Field(description="objects read by the last pull")
    peer_side: SideOut
    our_side: SideOut
    differences: dict[str, Any]
    error: str | None
    added_after: str | None = Field(description="the next pull asks for what was added after")
    last_pull: datetime | None


class PeerOut(BaseModel):
    id: str
    name: str
    api_root: str
    tlp: str = Field(description="the label its reports land under (never loosened)")
    private_network: bool
    created_at: datetime
    pulling: bool = Field(description="a pull of this peer is running now")
    collections: list[CollectionSyncOut]


class PeersOut(BaseModel):
    peers: list[PeerOut]


def _collection(status: federation.CollectionStatus) -> CollectionSyncOut:
    summary = status.summary()
    return CollectionSyncOut(
        collection=status.collection_id,
        state=status.state,
        in_sync=summary["in_sync"],
        partial=status.state == federation.PARTIAL,
        pulled=status.pulled,
        peer_side=SideOut(count=status.peer_count, digest=status.peer_digest),
        our_side=SideOut(count=status.our_count, digest=status.our_digest),
        differences=status.differences,
        error=status.error,
        added_after=status.added_after,
        last_pull=status.finished_at,
    )


@router.get("/peers", response_model=PeersOut, openapi_extra=exercises(federation.peers_overview))
def read_peers(ctx: Context) -> PeersOut:
    """Every federation peer and where each of its collections stands: counts and digests of
    both sides, what differs, whether the last pull was partial, and when it ended."""
    found = federation.peers_overview(ctx.db, ctx.actor, ctx.now)
    return PeersOut(
        peers=[
            PeerOut(
                id=p.id,
                name=p.name,
                api_root=p.api_root,
                tlp=p.tlp,
                private_network=p.allow_private,
                created_at=p.created_at,
                pulling=p.pulling,
                collections=[_collection(c) for c in p.collections],
            )
            for p in found
        ]
    )
