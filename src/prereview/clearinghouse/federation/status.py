"""Where each peer collection stands: the sync row a pull writes, and the reads of it (the
command line's ``status`` and the read-only overview behind the API route and the web page)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from prereview.authz.actor import Actor
from prereview.authz.permissions import Permission
from prereview.authz.policy import authorize
from prereview.authz.usecase import use_case
from prereview.clearinghouse.federation.guards import lease_held
from prereview.clearinghouse.federation.peers import find_peer
from prereview.clearinghouse.models import FederationPeer, FederationSync

IN_SYNC = "in_sync"
DIFFERS = "differs"
PARTIAL = "partial"
UNCHECKED = "unchecked"
NEVER_PULLED = "never_pulled"


@dataclass(frozen=True)
class CollectionStatus:
    """Where one peer collection stands: the last pull and the last check of both sides."""

    peer: str
    collection_id: str
    state: str
    pulled: int
    peer_count: int | None
    peer_digest: str | None
    our_count: int | None
    our_digest: str | None
    differences: dict[str, Any]
    error: str | None
    added_after: str | None
    finished_at: datetime | None

    def summary(self) -> dict[str, Any]:
        return {
            "peer": self.peer,
            "collection": self.collection_id,
            "state": self.state,
            "in_sync": self.state == IN_SYNC,
            "pulled": self.pulled,
            "peer_side": {"count": self.peer_count, "digest": self.peer_digest},
            "our_side": {"count": self.our_count, "digest": self.our_digest},
            "differences": self.differences,
            "error": self.error,
            "added_after": self.added_after,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


def collection_status(peer: FederationPeer, sync: FederationSync) -> CollectionStatus:
    return CollectionStatus(
        peer.name,
        sync.collection_id,
        sync.state,
        sync.pulled,
        sync.peer_count,
        sync.peer_digest,
        sync.our_count,
        sync.our_digest,
        dict(sync.differences or {}),
        sync.error,
        sync.added_after,
        sync.finished_at,
    )


def sync_row(db: Session, peer_id: str, collection_id: str, now: datetime) -> FederationSync:
    """The collection's sync row, made (unchecked, nothing pulled) on its first pull."""
    sync = db.get(FederationSync, (peer_id, collection_id))
    if sync is None:
        sync = FederationSync(
            peer_id=peer_id,
            collection_id=collection_id,
            state=UNCHECKED,
            pulled=0,
            differences={},
            started_at=now,
        )
        db.add(sync)
        db.flush()
    return sync


@use_case(Permission.CH_FEDERATION_MANAGE)
def status(db: Session, actor: Actor, name_or_id: str | None = None) -> list[CollectionStatus]:
    """Where every collection of one peer (or of every peer) stands."""
    authorize(actor, Permission.CH_FEDERATION_MANAGE)
    return statuses(db, name_or_id)


def statuses(db: Session, name_or_id: str | None = None) -> list[CollectionStatus]:
    """Every collection's status, without authorizing: each caller has (:func:`status`,
    :func:`peers_overview`)."""
    peers = [find_peer(db, name_or_id)] if name_or_id else list(db.scalars(select(FederationPeer)))
    shown: list[CollectionStatus] = []
    for peer in sorted(peers, key=lambda p: p.name):
        for collection_id in peer.collections:
            sync = db.get(FederationSync, (peer.id, collection_id))
            if sync is None:
                shown.append(
                    CollectionStatus(
                        peer.name,
                        collection_id,
                        NEVER_PULLED,
                        0,
                        None,
                        None,
                        None,
                        None,
                        {},
                        None,
                        None,
                        None,
                    )
                )
            else:
                shown.append(collection_status(peer, sync))
    return shown


@dataclass(frozen=True)
class PeerOverview:
    """A peer as its status route shows it: where it is, and where each collection stands.
    Nothing of its credential (which is in the vault only)."""

    id: str
    name: str
    api_root: str
    tlp: str
    allow_private: bool
    created_at: datetime
    pulling: bool
    collections: list[CollectionStatus]


@use_case(Permission.CH_FEDERATION_READ)
def peers_overview(db: Session, actor: Actor, now: datetime) -> list[PeerOverview]:
    """Every peer and the sync status of its collections (read-only, for the status route and
    the clearinghouse's federation page)."""
    authorize(actor, Permission.CH_FEDERATION_READ)
    by_peer: dict[str, list[CollectionStatus]] = {}
    for found in statuses(db):
        by_peer.setdefault(found.peer, []).append(found)
    return [
        PeerOverview(
            id=peer.id,
            name=peer.name,
            api_root=peer.api_root,
            tlp=peer.tlp,
            allow_private=peer.allow_private,
            created_at=peer.created_at,
            pulling=lease_held(peer, now),
            collections=by_peer.get(peer.name, []),
        )
        for peer in sorted(db.scalars(select(FederationPeer)), key=lambda p: p.name)
    ]
