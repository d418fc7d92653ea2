"""A pull: each collection of a peer asked for its ``vulnerability`` objects added after the
last complete pull's ``X-TAXII-Date-Added-Last``, a bounded page at a time, following
``more``/``next``, with retries (:mod:`.taxii_client`).

Each page goes through the clearinghouse's normal intake (:func:`.intake.store.import_reports`:
validation, updates by ``modified``, duplicates, audit), as reports whose reporter is the peer;
an object intake rejects is recorded with its reasons, and the rest of the page is kept. After
each page, where the pull stands is committed, so a pull cut short (the peer died, a page did
not come) resumes where it stopped. No database transaction is open while the peer is asked
anything, and every page's writes commit only with the peer's lease still held
(:mod:`.guards`).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from prereview.audit import service as audit
from prereview.authz.actor import Actor
from prereview.authz.permissions import Permission
from prereview.authz.policy import authorize
from prereview.authz.usecase import use_case
from prereview.clearinghouse.federation.errors import InvalidPeer, LeaseLost, PullInProgress
from prereview.clearinghouse.federation.guards import keep_lease, release_lease, take_lease
from prereview.clearinghouse.federation.ownership import held_elsewhere
from prereview.clearinghouse.federation.peers import credential, find_peer
from prereview.clearinghouse.federation.status import (
    PARTIAL,
    UNCHECKED,
    CollectionStatus,
    sync_row,
)
from prereview.clearinghouse.federation.status import status as statuses_of
from prereview.clearinghouse.federation.sync import MAX_PAGE_SIZE, check_collection
from prereview.clearinghouse.intake.formats import IntakeFormat, ItemStatus
from prereview.clearinghouse.intake.stix import (
    VULNERABILITY,
    Converted,
    normal_version,
    stix_to_report,
)
from prereview.clearinghouse.intake.store import import_reports
from prereview.clearinghouse.models import FederationObject, FederationPeer
from prereview.clearinghouse.taxii_client import (
    RETRIES,
    FederationError,
    PeerRefused,
    Resolver,
    TaxiiPeer,
)
from prereview.core.clock import Clock
from prereview.core.errors import PrereviewError
from prereview.core.ids import new_id
from prereview.core.markings import Tlp
from prereview.vault.service import Vault

PAGE_SIZE = 500


def _record(
    db: Session,
    peer_id: str,
    collection_id: str,
    outcomes: list[tuple[Converted, str, str | None, list[Any]]],
    now: datetime,
) -> None:
    """The ledger rows of one page: what each object became (its report, or why none)."""
    ids = list(dict.fromkeys(c.stix_id for c, _, _, _ in outcomes))
    existing = {
        row.stix_id: row
        for row in db.scalars(
            select(FederationObject).where(
                FederationObject.peer_id == peer_id,
                FederationObject.collection_id == collection_id,
                FederationObject.stix_id.in_(ids),
            )
        )
    }
    for converted, status, report_id, problems in outcomes:
        row = existing.get(converted.stix_id)
        if row is None:
            row = FederationObject(
                peer_id=peer_id,
                collection_id=collection_id,
                stix_id=converted.stix_id,
                report_id=None,
            )
            db.add(row)
            existing[converted.stix_id] = row
        elif status == str(ItemStatus.DUPLICATE) and row.peer_version == converted.version:
            continue  # sent again: what the first copy became stands
        row.peer_version = converted.version
        row.status = status
        row.problems = problems
        row.report_id = report_id or row.report_id
        row.pulled_at = now


def _import_page(
    db: Session,
    vault: Vault,
    actor: Actor,
    peer: FederationPeer,
    collection_id: str,
    objects: list[Any],
    now: datetime,
) -> int:
    """One page through intake; returns how many objects it read.

    An object naming a report that this peer did not bring here (one of ours, another
    peer's, or anyone's) is refused before intake: intake lets the organisation that stored a
    report update it, and every peer's reports are stored as the same organisation, so
    without this a peer could overwrite what it does not own."""
    converted = [stix_to_report(o, peer.name, Tlp(peer.tlp)) for o in objects]
    outcomes: list[tuple[Converted, str, str | None, list[Any]]] = []
    taken = held_elsewhere(db, peer, [c.data["id"] for c in converted if c.data is not None])
    wanted: list[Converted] = []
    for c in converted:
        if c.skipped is not None:
            continue
        if c.data is not None and c.data["id"] in taken:
            problem = {
                "path": "$.external_references",
                "message": f"names report {c.data['id']!r}, which this clearinghouse holds "
                "from another source: a peer never overwrites it",
            }
            outcomes.append((c, str(ItemStatus.REJECTED), None, [problem]))
        elif c.data is not None:
            wanted.append(c)
        elif c.stix_id:
            outcomes.append((c, str(ItemStatus.REJECTED), None, list(c.problems)))
    if wanted:
        payload = "\n".join(json.dumps(c.data) for c in wanted).encode()
        result = import_reports(
            db, vault, actor, payload, now, intake_format=IntakeFormat.JSON_LINES
        )
        for c, item in zip(wanted, result.items, strict=True):
            report_id = item.report.id if item.report is not None else None
            problems: list[Any] = list(item.problems)
            if item.note and item.status is ItemStatus.DUPLICATE:
                problems.append({"path": "$", "message": item.note})
            outcomes.append((c, str(item.status), report_id, problems))
    if outcomes:
        _record(db, peer.id, collection_id, outcomes, now)
    return len(objects)


def _added_last(headers: Any, path: str) -> str | None:
    """The page's ``X-TAXII-Date-Added-Last``, checked and written one way (None if absent)."""
    value = headers.get("X-TAXII-Date-Added-Last")
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or len(value) > 40:
        raise FederationError(f"GET {path}: X-TAXII-Date-Added-Last is not a timestamp")
    return normal_version(value)


def _later(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return a or b
    return max(a, b, key=lambda v: datetime.fromisoformat(v.replace("Z", "+00:00")))


def _pull_collection(
    db: Session,
    vault: Vault,
    actor: Actor,
    peer: FederationPeer,
    taxii: TaxiiPeer,
    collection_id: str,
    clock: Clock,
    page_size: int,
    holder: str,
) -> None:
    path = f"collections/{collection_id}/objects/"
    sync = sync_row(db, peer.id, collection_id, clock.now())
    resuming = sync.resume_added_after is not None or sync.resume_next is not None
    after = sync.resume_added_after if resuming else sync.added_after
    start_next = sync.resume_next if resuming else None
    last = sync.resume_last if resuming else None
    sync.started_at, sync.error = clock.now(), None
    pulled = sync.pulled if resuming else 0
    db.commit()  # nothing is held while the peer answers
    params = {"limit": str(page_size), "match[type]": VULNERABILITY}
    if after:
        params["added_after"] = after
    try:
        try:
            pages = taxii.pages(path, params, start_next)
            page = next(pages, None)
        except PeerRefused:
            if start_next is None:
                raise
            # The peer no longer knows the token: start the interrupted pull over (intake is
            # idempotent, so what was stored already comes back as duplicates).
            pages = taxii.pages(path, params, None)
            page = next(pages, None)
        while page is not None:
            body, headers, following = page
            objects = body.get("objects") or []
            if not isinstance(objects, list):
                raise FederationError(f"GET {path}: 'objects' is not a list")
            if len(objects) > page_size:
                raise FederationError(f"GET {path}: more objects than the {page_size} asked")
            added_last = _added_last(headers, path)
            keep_lease(db, peer.id, holder, clock.now())
            db.commit()
            pulled += _import_page(db, vault, actor, peer, collection_id, objects, clock.now())
            last = _later(last, added_last)
            sync = sync_row(db, peer.id, collection_id, clock.now())
            sync.resume_added_after = after or ""
            sync.resume_next, sync.resume_last, sync.pulled = following, last, pulled
            sync.state = PARTIAL
            keep_lease(db, peer.id, holder, clock.now())
            db.commit()
            page = next(pages, None)
    except LeaseLost:
        raise
    except PrereviewError as exc:
        # The peer failed, or sent what intake refused whole: where the pull stands (the last
        # committed page) is kept, and the next pull resumes there.
        db.rollback()
        sync = sync_row(db, peer.id, collection_id, clock.now())
        sync.state, sync.error = PARTIAL, taxii.scrub(exc.detail)
        sync.finished_at = clock.now()
        keep_lease(db, peer.id, holder, clock.now())
        db.commit()
        return
    sync = sync_row(db, peer.id, collection_id, clock.now())
    sync.added_after = _later(sync.added_after, last)
    sync.resume_added_after = sync.resume_next = sync.resume_last = None
    sync.pulled, sync.state, sync.finished_at = pulled, UNCHECKED, clock.now()
    keep_lease(db, peer.id, holder, clock.now())
    db.commit()


@use_case(Permission.CH_FEDERATION_MANAGE, also=(Permission.CH_REPORT_IMPORT,))
def pull(
    db: Session,
    vault: Vault,
    actor: Actor,
    name_or_id: str,
    clock: Clock,
    *,
    page_size: int = PAGE_SIZE,
    retries: int = RETRIES,
    backoff: float = 0.5,
    resolver: Resolver | None = None,
) -> list[CollectionStatus]:
    """Pull every collection of a peer through intake, then check both sides of each.

    One pull of a peer runs at a time: it takes the peer's lease (compare-and-set, committed
    before the peer is asked anything) or raises :class:`PullInProgress`; every page's writes
    commit only with the lease still held. No transaction is open while the peer answers."""
    authorize(actor, Permission.CH_FEDERATION_MANAGE)
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidPeer(f"the page size is 1 to {MAX_PAGE_SIZE}")
    peer = find_peer(db, name_or_id)
    holder = new_id("pull")
    if not take_lease(db, peer.id, holder, clock.now()):
        db.rollback()
        raise PullInProgress(f"a pull of peer {peer.name!r} is running; try again when it ends")
    db.commit()
    try:
        return _pull_leased(
            db, vault, actor, peer, clock, holder, page_size, retries, backoff, resolver
        )
    finally:
        release_lease(db, peer.id, holder)


def _pull_leased(
    db: Session,
    vault: Vault,
    actor: Actor,
    peer: FederationPeer,
    clock: Clock,
    holder: str,
    page_size: int,
    retries: int,
    backoff: float,
    resolver: Resolver | None,
) -> list[CollectionStatus]:
    token = credential(db, vault, peer, clock.now())
    collections = list(peer.collections)
    db.commit()
    taxii = TaxiiPeer(
        peer.api_root,
        token,
        peer.username,
        allow_private=peer.allow_private,
        retries=retries,
        backoff=backoff,
        resolver=resolver,
    )
    try:
        for collection_id in collections:
            _pull_collection(db, vault, actor, peer, taxii, collection_id, clock, page_size, holder)
            check_collection(db, peer, taxii, collection_id, clock, holder)
            sync = sync_row(db, peer.id, collection_id, clock.now())
            audit.record(
                db,
                actor=actor,
                action=Permission.CH_FEDERATION_MANAGE,
                object_type="federation_peer",
                object_id=peer.id,
                at=clock.now(),
                detail={"pulled": collection_id, "state": sync.state, "objects": sync.pulled},
            )
            db.commit()
    finally:
        taxii.close()
    return statuses_of(db, actor, peer.id)
