"""Federation: pull other clearinghouses' TAXII 2.1 collections, with a sync anyone can check.

A **peer** is a TAXII 2.1 API root (another prereview, or any TAXII 2.1 server), the
collections to pull from it and the TLP label what it sends lands under here (never looser
than an object's own marking). Its credential (an API token, sent as Bearer, or as the HTTP
Basic password when a user name is set) is sealed in the vault under ``federation-peer:<id>``,
like the gateway's upstream keys: it is in no table, no log, no audit entry and no error.

A **pull** asks each collection for its ``vulnerability`` objects added after the last complete
pull's ``X-TAXII-Date-Added-Last``, a bounded page at a time, following ``more``/``next``, with
retries (:mod:`.taxii_client`). Each page goes through the clearinghouse's normal intake
(:func:`.intake.store.import_reports`: validation, updates by ``modified``, duplicates, audit),
as reports whose reporter is the peer; an object intake rejects is recorded with its reasons,
and the rest of the page is kept. After each page, where the pull stands is committed, so a
pull cut short (the peer died, a page did not come) resumes where it stopped. No database
transaction is open while the peer is asked anything.

The **check**: after a pull, both sides of each collection are computed the same way, from a
TAXII manifest's view: the set of (object id, version) pairs of its vulnerability objects,
the latest version of each id, counted and digested (:func:`sync_digest`). The peer's side is
read from its ``manifest`` endpoint, which every TAXII 2.1 server has, so no extension is
needed; ours from what we hold of what it sent (the version each stored report is served at
by our own TAXII server). The status says "in sync" or exactly what differs: ids we lack (with
intake's reason when it rejected them), versions that differ, ids the peer no longer lists,
and whether the last pull was partial.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from prereview.audit import service as audit
from prereview.authz.actor import Actor
from prereview.authz.permissions import Permission
from prereview.authz.policy import authorize
from prereview.authz.usecase import use_case
from prereview.clearinghouse.intake.formats import IntakeFormat, ItemStatus
from prereview.clearinghouse.intake.stix import (
    VULNERABILITY,
    Converted,
    normal_version,
    report_version,
    stix_to_report,
)
from prereview.clearinghouse.intake.store import import_reports
from prereview.clearinghouse.models import (
    FederationObject,
    FederationPeer,
    FederationSync,
    VulnReport,
)
from prereview.clearinghouse.taxii_client import (
    RETRIES,
    FederationError,
    PeerRefused,
    Resolver,
    TaxiiPeer,
    is_loopback,
    literal_address,
    refused_address,
)
from prereview.core.clock import Clock
from prereview.core.errors import Conflict, InvalidInput, NotFound, PrereviewError
from prereview.core.ids import new_id
from prereview.core.markings import Tlp
from prereview.vault import service as vault_service
from prereview.vault.service import Vault

PAGE_SIZE = 500
MAX_PAGE_SIZE = 1000
# Differences listed in a status, per kind (the totals are always given).
SHOWN = 100
CREDENTIAL = "credential"

# A pull's lease on its peer lasts this long past its last page: longer than one page can take
# (timeouts, retries and back-off included), so a live pull keeps it; a dead one frees it.
LEASE = timedelta(minutes=15)
# Our own report ids are at most this long (``ch_federation_objects.report_id``).
MAX_REPORT_ID = 128

IN_SYNC = "in_sync"
DIFFERS = "differs"
PARTIAL = "partial"
UNCHECKED = "unchecked"


class InvalidPeer(InvalidInput):
    slug = "federation-invalid-peer"
    title = "The federation peer is not valid"


class PeerNotFound(NotFound):
    slug = "federation-peer-not-found"
    title = "No such federation peer"


class PeerExists(Conflict):
    slug = "federation-peer-exists"
    title = "A federation peer of this name exists"


class PullInProgress(Conflict):
    slug = "federation-pull-in-progress"
    title = "A pull of this federation peer is running"


class LeaseLost(FederationError):
    """This pull's lease expired and another pull took the peer: this one stops writing."""

    slug = "federation-pull-lease-lost"
    title = "The pull lost its lease on the federation peer"


def secret_context(peer_id: str) -> str:
    return f"federation-peer:{peer_id}"


def sync_digest(pairs: Iterable[tuple[str, str]]) -> str:
    """The digest of a collection's (object id, version) pairs, computed the same way on both
    sides: SHA-256 over the sorted lines ``<id> <version>\\n``, versions written by
    :func:`normal_version`. Order and repeats do not matter."""
    lines = sorted({f"{stix_id} {normal_version(version)}\n" for stix_id, version in pairs})
    return "sha256:" + hashlib.sha256("".join(lines).encode()).hexdigest()


def latest_versions(entries: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Each vulnerability id's latest version, from manifest entries (id, version)."""
    latest: dict[str, str] = {}
    for stix_id, version in entries:
        if not stix_id.startswith(f"{VULNERABILITY}--"):
            continue
        normal = normal_version(version)
        if stix_id not in latest or normal > latest[stix_id]:
            latest[stix_id] = normal
    return latest


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


def _check_url(spec: PeerSpec) -> list[dict[str, str]]:
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


def _check_spec(spec: PeerSpec) -> str:
    problems = _check_url(spec)
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


@use_case(Permission.CH_FEDERATION_MANAGE)
def add_peer(db: Session, vault: Vault, actor: Actor, spec: PeerSpec, now: datetime) -> str:
    """Declare a peer; its token is sealed in the vault. Returns the peer's id."""
    authorize(actor, Permission.CH_FEDERATION_MANAGE)
    api_root = _check_spec(spec)
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


def _peer(db: Session, name_or_id: str) -> FederationPeer:
    found = db.get(FederationPeer, name_or_id) or db.scalar(
        select(FederationPeer).where(FederationPeer.name == name_or_id)
    )
    if found is None:
        raise PeerNotFound(f"no federation peer {name_or_id!r}")
    return found


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


def _status(peer: FederationPeer, sync: FederationSync) -> CollectionStatus:
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


def _sync_row(db: Session, peer_id: str, collection_id: str, now: datetime) -> FederationSync:
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
    taken = _held_elsewhere(db, peer, [c.data["id"] for c in converted if c.data is not None])
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


def _held_elsewhere(db: Session, peer: FederationPeer, report_ids: list[str]) -> set[str]:
    """Those of ``report_ids`` stored here that this peer's pulls did not create."""
    wanted = list(dict.fromkeys(report_ids))
    taken: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        reporters = {
            report_id: reporter
            for report_id, reporter in db.execute(
                select(VulnReport.id, VulnReport.document["reporter"].as_string()).where(
                    VulnReport.id.in_(chunk)
                )
            )
        }
        stored = set(reporters)
        if not stored:
            continue
        # A report this peer brought is one its ledger names and no other peer's does (a
        # report first stored by another source and later named by this peer never is), or,
        # when no ledger names it (a pull stopped between intake's commit and the ledger's),
        # one that names this peer as its reporter.
        owners: dict[str, set[str]] = {}
        for report_id, owner in db.execute(
            select(FederationObject.report_id, FederationObject.peer_id).where(
                FederationObject.report_id.in_(list(stored))
            )
        ):
            owners.setdefault(str(report_id), set()).add(str(owner))
        taken |= {
            r
            for r in stored
            if owners.get(r, set()) - {peer.id} or (r not in owners and reporters[r] != peer.name)
        }
    return taken


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


def _take_lease(db: Session, peer_id: str, holder: str, now: datetime) -> bool:
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


def _keep_lease(db: Session, peer_id: str, holder: str, now: datetime) -> None:
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


def _release_lease(db: Session, peer_id: str, holder: str) -> None:
    db.rollback()
    db.execute(
        update(FederationPeer)
        .where(FederationPeer.id == peer_id, FederationPeer.lease_holder == holder)
        .values(lease_holder=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    db.commit()


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
    sync = _sync_row(db, peer.id, collection_id, clock.now())
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
            _keep_lease(db, peer.id, holder, clock.now())
            db.commit()
            pulled += _import_page(db, vault, actor, peer, collection_id, objects, clock.now())
            last = _later(last, added_last)
            sync = _sync_row(db, peer.id, collection_id, clock.now())
            sync.resume_added_after = after or ""
            sync.resume_next, sync.resume_last, sync.pulled = following, last, pulled
            sync.state = PARTIAL
            _keep_lease(db, peer.id, holder, clock.now())
            db.commit()
            page = next(pages, None)
    except LeaseLost:
        raise
    except PrereviewError as exc:
        # The peer failed, or sent what intake refused whole: where the pull stands (the last
        # committed page) is kept, and the next pull resumes there.
        db.rollback()
        sync = _sync_row(db, peer.id, collection_id, clock.now())
        sync.state, sync.error = PARTIAL, taxii.scrub(exc.detail)
        sync.finished_at = clock.now()
        _keep_lease(db, peer.id, holder, clock.now())
        db.commit()
        return
    sync = _sync_row(db, peer.id, collection_id, clock.now())
    sync.added_after = _later(sync.added_after, last)
    sync.resume_added_after = sync.resume_next = sync.resume_last = None
    sync.pulled, sync.state, sync.finished_at = pulled, UNCHECKED, clock.now()
    _keep_lease(db, peer.id, holder, clock.now())
    db.commit()


def peer_side(
    taxii: TaxiiPeer, collection_id: str, page_size: int = MAX_PAGE_SIZE
) -> dict[str, str]:
    """The peer's side of a collection, from its manifest: each vulnerability id's latest
    version."""
    path = f"collections/{collection_id}/manifest/"
    entries: list[tuple[str, str]] = []
    params = {"limit": str(page_size), "match[type]": VULNERABILITY}
    for body, _, _ in taxii.pages(path, params):
        for entry in body.get("objects") or []:
            if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                # Bounded, so that a lying manifest cannot make the stored differences huge.
                entries.append((entry["id"][:200], str(entry.get("version") or "")[:40]))
    return latest_versions(entries)


def our_side(
    db: Session, peer_id: str, collection_id: str
) -> tuple[dict[str, str], dict[str, Any]]:
    """Our side of a peer collection: for each object it sent that is stored here, the version
    our own TAXII server serves it at (read from the stored report, not from the ledger); and
    the ledger rows, for the reasons of what is missing."""
    rows = list(
        db.scalars(
            select(FederationObject).where(
                FederationObject.peer_id == peer_id,
                FederationObject.collection_id == collection_id,
            )
        )
    )
    report_ids = list({r.report_id for r in rows if r.report_id})
    documents: dict[str, dict[str, Any]] = {}
    for start in range(0, len(report_ids), 500):
        chunk = report_ids[start : start + 500]
        for report_id, document in db.execute(
            select(VulnReport.id, VulnReport.document).where(VulnReport.id.in_(chunk))
        ):
            documents[report_id] = document
    ours = {
        r.stix_id: report_version(documents[r.report_id])
        for r in rows
        if r.report_id and r.report_id in documents
    }
    return ours, {r.stix_id: r for r in rows}


def compare(peer: dict[str, str], ours: dict[str, str], ledger: dict[str, Any]) -> dict[str, Any]:
    """What differs between the two sides (empty lists when in sync)."""
    missing = sorted(set(peer) - set(ours))
    extra = sorted(set(ours) - set(peer))
    mismatched = sorted(i for i in set(peer) & set(ours) if peer[i] != ours[i])

    def reason(stix_id: str) -> list[Any]:
        row = ledger.get(stix_id)
        if row is None:
            return [{"path": "$", "message": "not pulled yet"}]
        return list(row.problems or []) or [{"path": "$", "message": f"intake: {row.status}"}]

    return {
        "missing": len(missing),
        "missing_ids": [
            {"id": i, "version": peer[i], "reasons": reason(i)} for i in missing[:SHOWN]
        ],
        "version_mismatches": len(mismatched),
        "version_mismatch_ids": [
            {"id": i, "peer": peer[i], "ours": ours[i], "reasons": reason(i)}
            for i in mismatched[:SHOWN]
        ],
        "not_at_peer": len(extra),
        "not_at_peer_ids": extra[:SHOWN],
    }


def _check(
    db: Session,
    peer: FederationPeer,
    taxii: TaxiiPeer,
    collection_id: str,
    clock: Clock,
    holder: str,
) -> None:
    try:
        theirs: dict[str, str] | None = peer_side(taxii, collection_id)
        error = None
    except FederationError as exc:
        theirs, error = None, taxii.scrub(exc.detail)
    ours, ledger = our_side(db, peer.id, collection_id)
    sync = _sync_row(db, peer.id, collection_id, clock.now())
    sync.our_count, sync.our_digest = len(ours), sync_digest(ours.items())
    if theirs is None:
        sync.peer_count = sync.peer_digest = None
        sync.differences = {}
        sync.error = sync.error or f"the manifest could not be read: {error}"
        if sync.state != PARTIAL:
            sync.state = UNCHECKED
    else:
        sync.peer_count, sync.peer_digest = len(theirs), sync_digest(theirs.items())
        sync.differences = compare(theirs, ours, ledger)
        if sync.state != PARTIAL:
            same = sync.peer_digest == sync.our_digest and sync.peer_count == sync.our_count
            sync.state = IN_SYNC if same else DIFFERS
    _keep_lease(db, peer.id, holder, clock.now())
    db.commit()


def _credential(db: Session, vault: Vault, peer: FederationPeer, now: datetime) -> str:
    return vault_service.get_secret(db, vault, secret_context(peer.id), CREDENTIAL, now).decode()


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
    peer = _peer(db, name_or_id)
    holder = new_id("pull")
    if not _take_lease(db, peer.id, holder, clock.now()):
        db.rollback()
        raise PullInProgress(f"a pull of peer {peer.name!r} is running; try again when it ends")
    db.commit()
    try:
        return _pull_leased(
            db, vault, actor, peer, clock, holder, page_size, retries, backoff, resolver
        )
    finally:
        _release_lease(db, peer.id, holder)


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
    token = _credential(db, vault, peer, clock.now())
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
            _check(db, peer, taxii, collection_id, clock, holder)
            sync = _sync_row(db, peer.id, collection_id, clock.now())
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
    return status(db, actor, peer.id)


@use_case(Permission.CH_FEDERATION_MANAGE)
def status(db: Session, actor: Actor, name_or_id: str | None = None) -> list[CollectionStatus]:
    """Where every collection of one peer (or of every peer) stands."""
    authorize(actor, Permission.CH_FEDERATION_MANAGE)
    return _statuses(db, name_or_id)


def _statuses(db: Session, name_or_id: str | None = None) -> list[CollectionStatus]:
    peers = [_peer(db, name_or_id)] if name_or_id else list(db.scalars(select(FederationPeer)))
    shown: list[CollectionStatus] = []
    for peer in sorted(peers, key=lambda p: p.name):
        for collection_id in peer.collections:
            sync = db.get(FederationSync, (peer.id, collection_id))
            if sync is None:
                shown.append(
                    CollectionStatus(
                        peer.name,
                        collection_id,
                        "never_pulled",
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
                shown.append(_status(peer, sync))
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
    """Every peer and the sync status of its collections (read-only, for the status route)."""
    authorize(actor, Permission.CH_FEDERATION_READ)
    statuses: dict[str, list[CollectionStatus]] = {}
    for found in _statuses(db):
        statuses.setdefault(found.peer, []).append(found)
    return [
        PeerOverview(
            id=peer.id,
            name=peer.name,
            api_root=peer.api_root,
            tlp=peer.tlp,
            allow_private=peer.allow_private,
            created_at=peer.created_at,
            pulling=peer.lease_holder is not None
            and peer.lease_until is not None
            and peer.lease_until > now,
            collections=statuses.get(peer.name, []),
        )
        for peer in sorted(db.scalars(select(FederationPeer)), key=lambda p: p.name)
    ]
