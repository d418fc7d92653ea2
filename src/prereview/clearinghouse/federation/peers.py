"""Declaring a federation peer, and finding one: its credential is sealed in the vault under
``federation-peer:<id>`` and is in no table, no log, no audit entry and no error."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from prereview.audit import service as audit
from prereview.authz.actor import Actor
from prereview.authz.permissions import Permission
from prereview.authz.policy import authorize
from prereview.authz.usecase import use_case
from prereview.clearinghouse.federation.errors import PeerExists, PeerNotFound
from prereview.clearinghouse.federation.guards import check_spec
from prereview.clearinghouse.models import FederationPeer
from prereview.core.ids import new_id
from prereview.core.markings import Tlp
from prereview.vault import service as vault_service
from prereview.vault.service import Vault

CREDENTIAL = "credential"


def secret_context(peer_id: str) -> str:
    return f"federation-peer:{peer_id}"


@dataclass(frozen=True)
class PeerSpec:
    """A peer as an analyst declares it."""

    name: str
    api_root: str
    token: str
    collections: Sequence[str]
    tlp: Tlp = Tlp.AMBER
    username: str | None = None
    # The operator's word that the peer is on a private network (private and loopback
    # addresses allowed, and plain http to loopback, for tests and demos).
    allow_private: bool = False


@use_case(Permission.CH_FEDERATION_MANAGE)
def add_peer(db: Session, vault: Vault, actor: Actor, spec: PeerSpec, now: datetime) -> str:
    """Declare a peer; its token is sealed in the vault. Returns the peer's id."""
    authorize(actor, Permission.CH_FEDERATION_MANAGE)
    api_root = check_spec(spec)
    if db.scalar(select(FederationPeer.id).where(FederationPeer.name == spec.name)):
        raise PeerExists(f"a peer named {spec.name!r} exists")
    peer_id = new_id("peer")
    db.add(
        FederationPeer(
            id=peer_id,
            name=spec.name,
            api_root=api_root,
            username=spec.username,
            collections=list(dict.fromkeys(spec.collections)),
            tlp=str(spec.tlp),
            allow_private=spec.allow_private,
            org_id=actor.organisation_id,
            created_by=actor.user_id,
            created_at=now,
        )
    )
    db.flush()
    vault_service.put_secret(
        db, vault, secret_context(peer_id), CREDENTIAL, spec.token.encode(), now
    )
    audit.record(
        db,
        actor=actor,
        action=Permission.CH_FEDERATION_MANAGE,
        object_type="federation_peer",
        object_id=peer_id,
        at=now,
        detail={
            "name": spec.name,
            "api_root": api_root,
            "collections": list(spec.collections),
            "allow_private": spec.allow_private,
        },
    )
    db.commit()
    return peer_id


def find_peer(db: Session, name_or_id: str) -> FederationPeer:
    """The peer of this id or name, or :class:`PeerNotFound`."""
    found = db.get(FederationPeer, name_or_id) or db.scalar(
        select(FederationPeer).where(FederationPeer.name == name_or_id)
    )
    if found is None:
        raise PeerNotFound(f"no federation peer {name_or_id!r}")
    return found


def credential(db: Session, vault: Vault, peer: FederationPeer, now: datetime) -> str:
    """The peer's token, unsealed for one pull (never stored or shown elsewhere)."""
    return vault_service.get_secret(db, vault, secret_context(peer.id), CREDENTIAL, now).decode()
