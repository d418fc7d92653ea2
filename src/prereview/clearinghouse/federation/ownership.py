"""Which reports a peer may write: only those its own pulls brought here.

Intake lets the organisation that stored a report update it, and every peer's reports are
stored as the same organisation (this clearinghouse's), so without this check a peer could
overwrite a report it does not own: one of ours, another peer's, or anyone's.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from prereview.clearinghouse.models import FederationObject, FederationPeer, VulnReport

# Our own report ids are at most this long (``ch_federation_objects.report_id``).
MAX_REPORT_ID = 128
# Ids per ``IN (...)`` query: well under every database's bound on bound parameters.
CHUNK = 500


def held_elsewhere(db: Session, peer: FederationPeer, report_ids: list[str]) -> set[str]:
    """Those of ``report_ids`` stored here that this peer's pulls did not create."""
    wanted = list(dict.fromkeys(report_ids))
    taken: set[str] = set()
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
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
