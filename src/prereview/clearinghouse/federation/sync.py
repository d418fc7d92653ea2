"""The check after a pull: both sides of a peer collection, computed the same way from a TAXII
manifest's view, counted, digested and compared.

The peer's side is read from its ``manifest`` endpoint, which every TAXII 2.1 server has, so
no extension is needed; ours from what we hold of what it sent (the version each stored report
is served at by our own TAXII server).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from prereview.clearinghouse.federation.guards import keep_lease
from prereview.clearinghouse.federation.status import (
    DIFFERS,
    IN_SYNC,
    PARTIAL,
    UNCHECKED,
    sync_row,
)
from prereview.clearinghouse.intake.stix import VULNERABILITY, normal_version, report_version
from prereview.clearinghouse.models import FederationObject, FederationPeer, VulnReport
from prereview.clearinghouse.taxii_client import FederationError, TaxiiPeer
from prereview.core.clock import Clock

# The most objects a page may hold, asked of the peer (the manifest's pages are this size).
MAX_PAGE_SIZE = 1000
# Differences listed in a status, per kind (the totals are always given).
SHOWN = 100


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


def check_collection(
    db: Session,
    peer: FederationPeer,
    taxii: TaxiiPeer,
    collection_id: str,
    clock: Clock,
    holder: str,
) -> None:
    """Compute both sides of the collection and store them, with what differs, on its sync
    row (committed only while ``holder`` still holds the peer's lease)."""
    try:
        theirs: dict[str, str] | None = peer_side(taxii, collection_id)
        error = None
    except FederationError as exc:
        theirs, error = None, taxii.scrub(exc.detail)
    ours, ledger = our_side(db, peer.id, collection_id)
    sync = sync_row(db, peer.id, collection_id, clock.now())
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
    keep_lease(db, peer.id, holder, clock.now())
    db.commit()
