"""What guards a federation peer: the checks of its API root before it is stored, and the
lease that lets one pull of it run at a time.

The API root is checked as written here (scheme, port, a literal address's range); its host
name is checked again, resolved, at every connection (:meth:`.TaxiiPeer._target`), so a name
that later resolves to a private address is still refused.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sqlalchemy import or_, update
from sqlalchemy.orm import Session

from prereview.clearinghouse.federation.errors import InvalidPeer, LeaseLost
from prereview.clearinghouse.models import FederationPeer
from prereview.clearinghouse.taxii_client import is_loopback, literal_address, refused_address

if TYPE_CHECKING:
    from prereview.clearinghouse.federation.peers import PeerSpec

# A pull's lease on its peer lasts this long past its last page: longer than one page can take
# (timeouts, retries and back-off included), so a live pull keeps it; a dead one frees it.
LEASE = timedelta(minutes=15)


def check_url(spec: PeerSpec) -> list[dict[str, str]]:
    """What is wrong with the API root as written (its host name is checked again, resolved,
    at every connection: :meth:`.TaxiiPeer._target`)."""
    parts = urlsplit(spec.api_root)
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return [{"path": "$.api_root", "message": "has a port that is not a number"}]
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        return [{"path": "$.api_root", "message": "must be an https URL"}]
    literal = literal_address(host)
    if literal is not None:
        why = refused_address(literal, allow_private=spec.allow_private)
        if why is not None:
            return [{"path": "$.api_root", "message": why}]
    if parts.scheme == "http":
        # A name is resolved, and must be loopback, at each connection (_target).
        loopback = literal is None or is_loopback(literal)
        if not (loopback and spec.allow_private):
            return [
                {
                    "path": "$.api_root",
                    "message": "must be https (plain http only to a loopback address of a "
                    "peer declared on a private network)",
                }
            ]
    return []


def check_spec(spec: PeerSpec) -> str:
    """The peer's API root, ending in ``/``, or :class:`InvalidPeer` naming every problem."""
    problems = check_url(spec)
    parts = urlsplit(spec.api_root)
    if parts.username or parts.password:
        problems.append(
            {"path": "$.api_root", "message": "must not carry credentials: give the token apart"}
        )
    if parts.query or parts.fragment:
        problems.append({"path": "$.api_root", "message": "must have no query or fragment"})
    if not spec.name.strip() or len(spec.name) > 200:
        problems.append({"path": "$.name", "message": "1 to 200 characters"})
    if not spec.token:
        problems.append({"path": "$.token", "message": "is required"})
    if not spec.collections or any(not c or "/" in c or len(c) > 200 for c in spec.collections):
        problems.append({"path": "$.collections", "message": "one or more collection ids"})
    if problems:
        raise InvalidPeer("the peer is not valid", errors=problems)
    return spec.api_root if spec.api_root.endswith("/") else spec.api_root + "/"


def take_lease(db: Session, peer_id: str, holder: str, now: datetime) -> bool:
    """Compare-and-set: the peer's lease for ``holder``, if free, expired, or its own."""
    taken = db.execute(
        update(FederationPeer)
        .where(
            FederationPeer.id == peer_id,
            or_(
                FederationPeer.lease_holder.is_(None),
                FederationPeer.lease_until.is_(None),
                FederationPeer.lease_until <= now,
                FederationPeer.lease_holder == holder,
            ),
        )
        .values(lease_holder=holder, lease_until=now + LEASE)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(taken, "rowcount", 0) == 1)


def keep_lease(db: Session, peer_id: str, holder: str, now: datetime) -> None:
    """Extend this pull's lease, in the transaction about to commit its writes; if another
    pull took the peer meanwhile, nothing of this one is committed any more."""
    kept = db.execute(
        update(FederationPeer)
        .where(FederationPeer.id == peer_id, FederationPeer.lease_holder == holder)
        .values(lease_until=now + LEASE)
        .execution_options(synchronize_session=False)
    )
    if getattr(kept, "rowcount", 0) != 1:
        db.rollback()
        raise LeaseLost("another pull took this peer: this one stopped")


def release_lease(db: Session, peer_id: str, holder: str) -> None:
    db.rollback()
    db.execute(
        update(FederationPeer)
        .where(FederationPeer.id == peer_id, FederationPeer.lease_holder == holder)
        .values(lease_holder=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    db.commit()


def lease_held(peer: FederationPeer, now: datetime) -> bool:
    """Whether a pull holds the peer's lease now (a pull is running)."""
    return peer.lease_holder is not None and peer.lease_until is not None and peer.lease_until > now
