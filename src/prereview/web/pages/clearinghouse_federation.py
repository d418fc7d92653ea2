"""The clearinghouse coordinators' federation page: each TAXII 2.1 peer and where each of its
collections stands, read-only.

It shows what ``GET /api/v1/clearinghouse/federation/peers`` answers, from the same use case
(:func:`prereview.clearinghouse.federation.peers_overview`), so the policy decides here as for
the API: the clearinghouse reads it, anyone else gets the API's 403. Declaring peers and pulling
stay on the server's command line (a pull is long outbound work no request should wait on).
Nothing of a peer's credential is read: it is in the vault only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from prereview.clearinghouse import federation
from prereview.web.render import guarded, page
from prereview.web.session import PageContext

router = APIRouter(prefix="/web/clearinghouse", include_in_schema=False)

# A digest is shown as its algorithm and this many hex digits; the full value is its title.
DIGEST_SHOWN = 12
STATES = {
    federation.IN_SYNC: "in sync",
    federation.DIFFERS: "differs",
    federation.PARTIAL: "partial (the last pull stopped before the end)",
    federation.UNCHECKED: "unchecked (the peer's manifest could not be read)",
    federation.NEVER_PULLED: "never pulled",
}
# What differs, in the words of the page: (count key, ids key, label).
DIFFERENCES = (
    ("missing", "missing_ids", "missing here"),
    ("version_mismatches", "version_mismatch_ids", "other version here"),
    ("not_at_peer", "not_at_peer_ids", "no longer at the peer"),
)


@dataclass(frozen=True)
class Digest:
    """A digest as the page shows it: shortened, with the full value kept for its title."""

    full: str
    short: str


def shorten(digest: str | None) -> Digest | None:
    if digest is None:
        return None
    algorithm, _, value = digest.rpartition(":")
    if len(value) <= DIGEST_SHOWN:
        return Digest(digest, digest)
    prefix = f"{algorithm}:" if algorithm else ""
    return Digest(digest, f"{prefix}{value[:DIGEST_SHOWN]}…")


def differences(found: dict[str, Any]) -> list[dict[str, Any]]:
    """Each kind of difference with its total and the ids listed (at most ``SHOWN`` each)."""
    shown = []
    for count, ids, label in DIFFERENCES:
        total = int(found.get(count) or 0)
        if not total:
            continue
        listed = [i if isinstance(i, dict) else {"id": i} for i in found.get(ids) or []]
        shown.append({"label": label, "total": total, "ids": listed})
    return shown


@router.get("/federation", response_model=None)
def federation_page(request: Request, ctx: PageContext) -> Response:
    """Every peer (name, API root, collections, landing label, private network) and each
    collection's sync: state, counts and digests of both sides, what differs, last pull, error,
    and whether a pull is running."""

    def build() -> Response:
        peers = federation.peers_overview(ctx.db, ctx.actor, ctx.now)
        return page(
            request,
            "clearinghouse/federation.html",
            peers=peers,
            states=STATES,
            shorten=shorten,
            differences=differences,
        )

    return guarded(request, build)
