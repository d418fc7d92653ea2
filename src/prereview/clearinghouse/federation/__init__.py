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

Inside: :mod:`.peers` (declaring and finding a peer), :mod:`.guards` (the API root's checks and
the pull's lease), :mod:`.ownership` (which reports a peer may write), :mod:`.pull` (the pull
loop through intake), :mod:`.sync` (both sides, their digests and what differs) and
:mod:`.status` (where each collection stands). What other modules use is re-exported here.
"""

from __future__ import annotations

from prereview.clearinghouse.federation.errors import (
    InvalidPeer,
    LeaseLost,
    PeerExists,
    PeerNotFound,
    PullInProgress,
)
from prereview.clearinghouse.federation.guards import LEASE
from prereview.clearinghouse.federation.ownership import MAX_REPORT_ID
from prereview.clearinghouse.federation.peers import (
    CREDENTIAL,
    PeerSpec,
    add_peer,
    secret_context,
)
from prereview.clearinghouse.federation.pull import PAGE_SIZE, pull
from prereview.clearinghouse.federation.status import (
    DIFFERS,
    IN_SYNC,
    NEVER_PULLED,
    PARTIAL,
    UNCHECKED,
    CollectionStatus,
    PeerOverview,
    peers_overview,
    status,
)
from prereview.clearinghouse.federation.sync import (
    MAX_PAGE_SIZE,
    SHOWN,
    compare,
    latest_versions,
    our_side,
    peer_side,
    sync_digest,
)

__all__ = [
    "CREDENTIAL",
    "DIFFERS",
    "IN_SYNC",
    "LEASE",
    "MAX_PAGE_SIZE",
    "MAX_REPORT_ID",
    "NEVER_PULLED",
    "PAGE_SIZE",
    "PARTIAL",
    "SHOWN",
    "UNCHECKED",
    "CollectionStatus",
    "InvalidPeer",
    "LeaseLost",
    "PeerExists",
    "PeerNotFound",
    "PeerOverview",
    "PeerSpec",
    "PullInProgress",
    "add_peer",
    "compare",
    "latest_versions",
    "our_side",
    "peer_side",
    "peers_overview",
    "pull",
    "secret_context",
    "status",
    "sync_digest",
]
