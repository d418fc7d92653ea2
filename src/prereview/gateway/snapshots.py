"""What one gateway key may do, read for the resolver: :class:`KeySnapshot` and its verdict.

The resolver (:mod:`prereview.gateway.resolver`) runs on every model call without an
:class:`~prereview.authz.actor.Actor`, so it cannot go through a use case: it needs the key,
its access's revocation, the submission's window dates, the upstream and the limits in one
cheap read (:func:`key_snapshot`), then decides with the clock alone (:func:`refusal`). What
it needs of review is asked through :mod:`prereview.review.model_access`, never its tables.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from prereview.gateway.engine.interfaces import GrantLimits
from prereview.gateway.models import GatewayKey, GatewayLimit, GatewayUpstream
from prereview.review import model_access
from prereview.review.model_access import SubmissionDates
from prereview.review.window import WindowState, window_of
from prereview.vault import service as vault_service
from prereview.vault.service import Vault, submission_key_context

#: Name of the sealed upstream secret (base URL and credential headers) in the vault.
UPSTREAM_SECRET = "gateway:upstream"  # noqa: S105 - a name, not a secret


def hash_key(presented: str) -> str:
    """The SHA-256 (hex) under which a gateway key is stored and looked up."""
    return hashlib.sha256(presented.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class UpstreamView:
    public_model: str
    upstream_model: str
    keep_transcripts: bool
    version: int


@dataclass(frozen=True, slots=True)
class KeySnapshot:
    """Everything about one gateway key that decides whether, and how, it is served."""

    key_id: str
    submission_id: str
    org_id: str
    access_id: str
    key_revoked: bool
    access_revoked: bool
    dates: SubmissionDates
    upstream: UpstreamView | None
    limits: GrantLimits


def key_snapshot(db: Session, key_hash: str) -> KeySnapshot | None:
    """What the key with this SHA-256 may do, read in one transaction; None if unknown."""
    key = db.scalar(select(GatewayKey).where(GatewayKey.key_hash == key_hash))
    if key is None:
        return None
    dates = model_access.submission_dates(db, key.submission_id)
    assert dates is not None
    # A partner's access hangs on its nominating agency's grant (review.nomination_is_live).
    access_revoked = model_access.access_revoked(db, key.grant_id, key.nomination_id)
    upstream = db.get(GatewayUpstream, key.submission_id)
    limit = db.get(GatewayLimit, key.access_id)
    return KeySnapshot(
        key_id=key.id,
        submission_id=key.submission_id,
        org_id=key.org_id,
        access_id=key.access_id,
        key_revoked=key.revoked_at is not None,
        access_revoked=access_revoked,
        dates=dates,
        upstream=None
        if upstream is None
        else UpstreamView(
            upstream.public_model,
            upstream.upstream_model,
            upstream.keep_transcripts,
            upstream.version,
        ),
        limits=GrantLimits()
        if limit is None
        else GrantLimits(limit.requests_per_minute, limit.tokens_per_day, limit.concurrent_streams),
    )


_CLOSED_BY_WINDOW = {
    WindowState.CLOSED_WITHDRAWN: "withdrawn",
    WindowState.CLOSED_RELEASED: "released",
    WindowState.CLOSED_EXPIRED: "expired",
    WindowState.NOT_OPENED: "not-yet-open",
}


def refusal(snapshot: KeySnapshot, now: datetime) -> str | None:
    """Why the key may not reach the model at ``now`` (a ``GatewayAccessClosed`` reason), or
    None. Pure and cheap: the resolver runs it on every call, with the clock."""
    state = window_of(snapshot.dates, now, timedelta(0)).state
    if state in (
        WindowState.CLOSED_WITHDRAWN,
        WindowState.CLOSED_RELEASED,
        WindowState.CLOSED_EXPIRED,
    ):
        return _CLOSED_BY_WINDOW[state]
    if snapshot.key_revoked or snapshot.access_revoked:
        return "revoked"
    if not state.is_open:
        return _CLOSED_BY_WINDOW.get(state, "grant-ended")
    return None


def upstream_secret(
    db: Session, vault: Vault, submission_id: str, now: datetime
) -> tuple[str, dict[str, str]]:
    """The sealed base URL and credential headers; for the resolver only, never an answer."""
    raw = vault_service.get_secret(
        db, vault, submission_key_context(submission_id), UPSTREAM_SECRET, now
    )
    value = json.loads(raw)
    return str(value["base_url"]), {str(k): str(v) for k, v in value["headers"].items()}
