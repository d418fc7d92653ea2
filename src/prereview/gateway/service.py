"""Use cases of the gateway: upstreams, gateway keys, limits, call records and transcripts.

The developer registers its endpoint per submission (sealed in the vault), sets limits per
access, and sees every call; an agency with a live grant, or a partner the developer consented
to, makes gateway keys for itself. The functions at the end serve the engine: they load what a
key may do (:func:`key_snapshot`), decide whether it may do it now (:func:`refusal`), and write
call records and transcripts in batches.

The gateway reads review's tables (submissions, grants, nominations) read-only, as the audit
capability does: the resolver runs on every model call, without an :class:`Actor`, and needs
the dates and revocations in one cheap query, which no review use case offers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from prereview.audit import service as audit
from prereview.authz import events
from prereview.authz.actor import Actor
from prereview.authz.kinds import OrgKind
from prereview.authz.permissions import Permission
from prereview.authz.policy import Access, authorize
from prereview.core.ids import new_id
from prereview.gateway.errors import (
    GatewayAccessNotLive,
    GatewayKeyNotFound,
    TranscriptNotFound,
    UpstreamAddressRefused,
    UpstreamNotFound,
)
from prereview.gateway.interfaces import CallRecord, GrantLimits, TranscriptRecord
from prereview.gateway.models import GatewayKey, GatewayLimit, GatewayTranscript, GatewayUpstream
from prereview.gateway.schemas import KeyCreate, LimitsSet, UpstreamSet
from prereview.gateway.upstreams import UpstreamGuard
from prereview.review import errors as review_errors
from prereview.review import service as review
from prereview.review.kinds import NominationStatus
from prereview.review.models import Grant, Nomination, Submission
from prereview.review.window import WindowState, window_of
from prereview.vault import service as vault_service
from prereview.vault.errors import KeyShredded
from prereview.vault.service import Vault, submission_context

log = logging.getLogger(__name__)

#: Name of the sealed upstream secret (base URL and credential headers) in the vault.
UPSTREAM_SECRET = "gateway:upstream"  # noqa: S105 - a name, not a secret
#: Audit action of one model call through the gateway.
CALL_ACTION = "gateway:call:complete"
KEY_PREFIX = "pgw_"

AccessKind = Literal["grant", "nomination"]


def hash_key(presented: str) -> str:
    """The SHA-256 (hex) under which a gateway key is stored and looked up."""
    return hashlib.sha256(presented.encode()).hexdigest()


# -- loading and authorizing ---------------------------------------------------------------


def _submission(
    db: Session, actor: Actor, submission_id: str, now: datetime, rules: review.Rules
) -> tuple[Submission, Access]:
    """The submission and the actor's relation to it; outsiders learn nothing of it (404)."""
    submission = db.get(Submission, submission_id)
    if submission is None:
        raise review_errors.SubmissionNotFound(f"no submission '{submission_id}'")
    access = review.access_to(db, actor, submission, now, rules)
    if not (access.owner or access.had_access):
        raise review_errors.SubmissionNotFound(f"no submission '{submission_id}'")
    return submission, access


def _record(
    db: Session,
    actor: Actor,
    action: Permission,
    submission_id: str,
    object_type: str,
    object_id: str,
    now: datetime,
    detail: dict[str, Any] | None = None,
) -> None:
    audit.record(
        db,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        submission_id=submission_id,
        at=now,
        detail=detail,
    )


# -- the developer's upstream --------------------------------------------------------------


def set_upstream(
    db: Session,
    vault: Vault,
    actor: Actor,
    submission_id: str,
    data: UpstreamSet,
    now: datetime,
    rules: review.Rules,
    guard: UpstreamGuard | None = None,
) -> GatewayUpstream:
    """Register or replace the developer's endpoint; the URL and credentials are sealed.

    The base URL must not be (or resolve to) a loopback, private, link-local or this machine's
    own address unless ``guard`` allow-lists its exact origin (see
    :mod:`prereview.gateway.upstreams`); without a guard, nothing is allow-listed. The audit
    entry names the models and the header names, never the URL or a header value.
    """
    submission, access = _submission(db, actor, submission_id, now, rules)
    authorize(actor, Permission.GATEWAY_UPSTREAM_WRITE, access)
    if submission.withdrawn_at is not None:
        raise GatewayAccessNotLive("the submission was withdrawn; its gateway stays closed")
    reason = (guard or UpstreamGuard()).check_registration(data.base_url.get_secret_value())
    if reason is not None:
        raise UpstreamAddressRefused(
            f"The base URL is refused: {reason}. The gateway does not connect to loopback, "
            "private, link-local or the platform's own addresses; register the endpoint's "
            "public address (an operator can allow-list one exact origin with "
            "PREREVIEW_GATEWAY_UPSTREAM_ALLOW)."
        )
    headers = data.credential_headers()
    sealed = json.dumps({"base_url": data.base_url.get_secret_value(), "headers": headers}).encode()
    vault_service.put_secret(
        db, vault, submission_context(submission.id), UPSTREAM_SECRET, sealed, now
    )
    upstream = db.get(GatewayUpstream, submission.id)
    if upstream is None:
        upstream = GatewayUpstream(
            submission_id=submission.id, version=0, created_at=now, updated_by=actor.user_id
        )
        db.add(upstream)
    upstream.public_model = data.public_model or data.upstream_model
    upstream.upstream_model = data.upstream_model
    upstream.credential_header_names = sorted(headers)
    upstream.keep_transcripts = data.keep_transcripts
    upstream.version = (upstream.version or 0) + 1
    upstream.updated_by = actor.user_id
    upstream.updated_at = now
    db.flush()
    _record(
        db,
        actor,
        Permission.GATEWAY_UPSTREAM_WRITE,
        submission.id,
        "gateway_upstream",
        submission.id,
        now,
        {
            "public_model": upstream.public_model,
            "upstream_model": upstream.upstream_model,
            "credential_headers": upstream.credential_header_names,
            "keep_transcripts": upstream.keep_transcripts,
            "version": upstream.version,
        },
    )
    events.access_changed(db)
    db.commit()
    return upstream


def get_upstream(
    db: Session, actor: Actor, submission_id: str, now: datetime, rules: review.Rules
) -> GatewayUpstream:
    """The registration as the developer may see it (no URL, no credential values)."""
    submission, access = _submission(db, actor, submission_id, now, rules)
    authorize(actor, Permission.GATEWAY_UPSTREAM_READ, access)
    upstream = db.get(GatewayUpstream, submission.id)
    if upstream is None:
        raise UpstreamNotFound("no endpoint is registered for this submission yet")
    return upstream


# -- gateway keys --------------------------------------------------------------------------


def _live_access(
    db: Session, actor: Actor, submission: Submission
) -> tuple[AccessKind, str] | None:
    """The actor's organisation's live grant (agency) or consented nomination (partner)."""
    if actor.org_kind is OrgKind.AGENCY:
        grant_id = db.scalar(
            select(Grant.id)
            .where(
                Grant.submission_id == submission.id,
                Grant.agency_org_id == actor.organisation_id,
                Grant.revoked_at.is_(None),
            )
            .order_by(Grant.granted_at)
            .limit(1)
        )
        return ("grant", grant_id) if grant_id else None
    if actor.org_kind is OrgKind.TRUSTED_PARTNER:
        nomination_id = db.scalar(
            select(Nomination.id)
            .where(
                Nomination.submission_id == submission.id,
                Nomination.partner_org_id == actor.organisation_id,
                Nomination.status == NominationStatus.CONSENTED,
            )
            .order_by(Nomination.created_at)
            .limit(1)
        )
        return ("nomination", nomination_id) if nomination_id else None
    return None


def create_key(
    db: Session,
    actor: Actor,
    submission_id: str,
    data: KeyCreate,
    now: datetime,
    rules: review.Rules,
) -> tuple[GatewayKey, str]:
    """A new gateway key for the actor's organisation, while its access is live.

    Returns the row and the key itself, which is shown once: only its SHA-256 is stored.
    """
    submission, access = _submission(db, actor, submission_id, now, rules)
    authorize(actor, Permission.GATEWAY_KEY_CREATE, access)
    live = _live_access(db, actor, submission)
    if live is None:  # pragma: no cover - the policy already required live access
        raise GatewayAccessNotLive("your organisation holds no live access to this submission")
    kind, access_id = live
    plaintext = KEY_PREFIX + secrets.token_urlsafe(32)
    key = GatewayKey(
        id=new_id("gwk"),
        submission_id=submission.id,
        org_id=actor.organisation_id,
        grant_id=access_id if kind == "grant" else None,
        nomination_id=access_id if kind == "nomination" else None,
        access_id=access_id,
        name=data.name,
        key_hash=hash_key(plaintext),
        prefix=plaintext[:10],
        created_by=actor.user_id,
        created_at=now,
        revoked_at=None,
        revoked_by=None,
    )
    db.add(key)
    db.flush()
    _record(
        db,
        actor,
        Permission.GATEWAY_KEY_CREATE,
        submission.id,
        "gateway_key",
        key.id,
        now,
        {"access": kind, "access_id": access_id, "name": key.name, "prefix": key.prefix},
    )
    events.access_changed(db)
    db.commit()
    return key, plaintext


def list_keys(
    db: Session, actor: Actor, submission_id: str, now: datetime, rules: review.Rules
) -> Sequence[GatewayKey]:
    """Every key of the submission for its developer; an organisation's own keys otherwise."""
    submission, access = _submission(db, actor, submission_id, now, rules)
    authorize(actor, Permission.GATEWAY_KEY_LIST, access)
    query = (
        select(GatewayKey)
        .where(GatewayKey.submission_id == submission.id)
        .order_by(GatewayKey.created_at, GatewayKey.id)
    )
    if not access.owner:
        query = query.where(GatewayKey.org_id == actor.organisation_id)
    return db.scalars(query).all()


def revoke_key(
    db: Session,
    actor: Actor,
    submission_id: str,
    key_id: str,
    now: datetime,
    rules: review.Rules,
) -> GatewayKey:
    """Revoke a key (its organisation or the developer); idempotent. The next call with it
    is refused, and its streams end at their next liveness check."""
    submission, access = _submission(db, actor, submission_id, now, rules)
    key = db.get(GatewayKey, key_id)
    if key is None or key.submission_id != submission.id:
        raise GatewayKeyNotFound(f"no gateway key '{key_id}' on this submission")
    same_org = key.org_id == actor.organisation_id
    if not (access.owner or same_org):
        # Another organisation's key: not even its existence is told.
        raise GatewayKeyNotFound(f"no gateway key '{key_id}' on this submission")
    authorize(
        actor,
        Permission.GATEWAY_KEY_REVOKE,
        Access(owner=access.owner, had_access=access.had_access, same_org=same_org),
    )
    if key.revoked_at is None:
        key.revoked_at = now
        key.revoked_by = actor.user_id
        _record(db, actor, Permission.GATEWAY_KEY_REVOKE, submission.id, "gateway_key", key.id, now)
        events.access_changed(db)
        db.commit()
    return key


def key_access_kind(key: GatewayKey) -> AccessKind:
    return "grant" if key.grant_id is not None else "nomination"


# -- limits --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LimitsView:
    access_id: str
    submission_id: str
    requests_per_minute: int | None
    tokens_per_day: int | None
    concurrent_streams: int | None
    updated_at: datetime | None


def _view(row: GatewayLimit) -> LimitsView:
    return LimitsView(
        row.access_id,
        row.submission_id,
        row.requests_per_minute,
        row.tokens_per_day,
        row.concurrent_streams,
        row.updated_at,
    )


def set_limits(
    db: Session,
    actor: Actor,
    submission_id: str,
    kind: AccessKind,
    access_id: str,
    data: LimitsSet,
    now: datetime,
    rules: review.Rules,
) -> LimitsView:
    """Set the limits of one grant or nomination (the developer); null means unlimited.

    They apply from the next call: the change is seen by the gateway at once.
    """
    submission, access = _submission(db, actor, submission_id, now, rules)
    authorize(actor, Permission.GATEWAY_LIMITS_WRITE, access)
    if kind == "grant":
        grant = db.get(Grant, access_id)
        if grant is None or grant.submission_id != submission.id:
            raise review_errors.GrantNotFound(f"no grant '{access_id}' on this submission")
    else:
        nomination = db.get(Nomination, access_id)
        if nomination is None or nomination.submission_id != submission.id:
            raise review_errors.NominationNotFound(
                f"no nomination '{access_id}' on this submission"
            )
    row = db.get(GatewayLimit, access_id)
    if row is None:
        row = GatewayLimit(access_id=access_id, submission_id=submission.id)
        db.add(row)
    row.requests_per_minute = data.requests_per_minute
    row.tokens_per_day = data.tokens_per_day
    row.concurrent_streams = data.concurrent_streams
    row.updated_by = actor.user_id
    row.updated_at = now
    db.flush()
    _record(
        db,
        actor,
        Permission.GATEWAY_LIMITS_WRITE,
        submission.id,
        "gateway_limits",
        access_id,
        now,
        {"access": kind, **data.model_dump()},
    )
    events.access_changed(db)
    db.commit()
    return _view(row)


def list_limits(
    db: Session, actor: Actor, submission_id: str, now: datetime, rules: review.Rules
) -> list[LimitsView]:
    """The limits set on the submission; a reviewer sees those of its own access only."""
    submission, access = _submission(db, actor, submission_id, now, rules)
    authorize(actor, Permission.GATEWAY_LIMITS_READ, access)
    query = select(GatewayLimit).where(GatewayLimit.submission_id == submission.id)
    if not access.owner:
        own_grants = select(Grant.id).where(
            Grant.submission_id == submission.id, Grant.agency_org_id == actor.organisation_id
        )
        own_nominations = select(Nomination.id).where(
            Nomination.submission_id == submission.id,
            Nomination.partner_org_id == actor.organisation_id,
        )
        query = query.where(
            or_(
                GatewayLimit.access_id.in_(own_grants),
                GatewayLimit.access_id.in_(own_nominations),
            )
        )
    return [_view(row) for row in db.scalars(query.order_by(GatewayLimit.access_id))]


# -- transcripts ---------------------------------------------------------------------------


def list_transcripts(
    db: Session, actor: Actor, submission_id: str, now: datetime, rules: review.Rules
) -> Sequence[GatewayTranscript]:
    """Kept transcripts: all for the developer, the organisation's own calls otherwise."""
    submission, access = _submission(db, actor, submission_id, now, rules)
    authorize(actor, Permission.GATEWAY_TRANSCRIPT_LIST, access)
    query = (
        select(GatewayTranscript)
        .where(GatewayTranscript.submission_id == submission.id)
        .order_by(GatewayTranscript.started_at, GatewayTranscript.call_id)
    )
    if not access.owner:
        query = query.where(GatewayTranscript.org_id == actor.organisation_id)
    return db.scalars(query.limit(1000)).all()


def read_transcript(
    db: Session,
    vault: Vault,
    actor: Actor,
    submission_id: str,
    call_id: str,
    now: datetime,
    rules: review.Rules,
) -> tuple[GatewayTranscript, bytes, bytes]:
    """Decrypt one transcript for the developer or the calling organisation; audited first."""
    submission, access = _submission(db, actor, submission_id, now, rules)
    row = db.get(GatewayTranscript, call_id)
    same_org = row is not None and row.org_id == actor.organisation_id
    if row is None or row.submission_id != submission.id or not (access.owner or same_org):
        raise TranscriptNotFound(f"no transcript '{call_id}' on this submission")
    authorize(
        actor,
        Permission.GATEWAY_TRANSCRIPT_READ,
        Access(owner=access.owner, had_access=access.had_access, same_org=same_org),
    )
    chunks = vault_service.open_blob(
        db, vault, submission_context(submission.id), _blob_id(call_id), now
    )
    plain = b"".join(chunks)
    _record(
        db,
        actor,
        Permission.GATEWAY_TRANSCRIPT_READ,
        submission.id,
        "gateway_transcript",
        call_id,
        now,
        {"access_id": row.access_id, "org_id": row.org_id},
    )
    db.commit()
    return row, plain[: row.request_size], plain[row.request_size :]


def _blob_id(call_id: str) -> str:
    return f"transcript-{call_id}"


def _org_of_access(db: Session, access_id: str) -> str | None:
    grant = db.get(Grant, access_id)
    if grant is not None:
        return grant.agency_org_id
    nomination = db.get(Nomination, access_id)
    return nomination.partner_org_id if nomination is not None else None


def store_transcripts(
    db: Session, vault: Vault, records: Sequence[TranscriptRecord], now: datetime
) -> int:
    """Encrypt a batch of transcripts into the vault (the engine's transcript sink).

    A transcript of a submission withdrawn meanwhile is dropped: its key is shredded, and
    nothing of it may be kept. Returns how many were stored; the caller commits.
    """
    stored = 0
    for record in records:
        org_id = _org_of_access(db, record.grant_id)
        if org_id is None or db.get(GatewayTranscript, record.call_id) is not None:
            continue
        context = submission_context(record.submission_id)
        blob_id = _blob_id(record.call_id)
        try:
            vault_service.store_blob(
                db, vault, context, blob_id, [record.request_body, record.response_body], now
            )
        except KeyShredded:
            log.info("transcript of call %s dropped: submission withdrawn", record.call_id)
            continue
        db.add(
            GatewayTranscript(
                call_id=record.call_id,
                submission_id=record.submission_id,
                access_id=record.grant_id,
                org_id=org_id,
                endpoint=record.endpoint,
                request_size=len(record.request_body),
                response_size=len(record.response_body),
                started_at=record.started_at,
                stored_at=now,
            )
        )
        stored += 1
    db.flush()
    return stored


# -- call records --------------------------------------------------------------------------


def call_detail(call: CallRecord) -> dict[str, Any]:
    """What the audit log keeps of a call: who, which access, model, tokens, time, outcome.

    Never a prompt, a completion, the upstream's address or a credential.
    """
    return {
        "call_id": call.call_id,
        "access_id": call.grant_id,
        "org_id": call.org_id,
        "key_id": call.key_id,
        "endpoint": call.endpoint,
        "model": call.model,
        "stream": call.stream,
        "status": call.status,
        "error": call.error,
        "prompt_tokens": call.prompt_tokens,
        "completion_tokens": call.completion_tokens,
        "usage_estimated": call.usage_estimated,
        "latency_ms": round(call.latency_ms, 2),
        "ttft_ms": None if call.ttft_ms is None else round(call.ttft_ms, 2),
        "client_disconnected": call.client_disconnected,
        "cut_off": call.cut_off,
    }


def record_calls(db: Session, calls: Sequence[CallRecord], now: datetime) -> int:
    """Append a batch of calls to the audit log in the caller's transaction.

    Calls that presented no key, or one nobody issued, concern no submission and are not
    logged here (an attacker guessing keys must not be able to fill the log).
    """
    entries = [
        audit.NewEntry(
            actor=None,
            action=CALL_ACTION,
            object_type="gateway_call",
            object_id=call.call_id,
            at=now,
            submission_id=call.submission_id,
            detail=call_detail(call),
        )
        for call in calls
        if call.submission_id is not None
    ]
    audit.record_many(db, entries)
    return len(entries)


@dataclass(frozen=True, slots=True)
class AuditedCall:
    """A completed gateway call as the audit log keeps it, for checking evaluation logs."""

    call_id: str
    at: datetime  # when the entry was written: at or after the call's end
    model: str | None
    status: int
    prompt_tokens: int
    completion_tokens: int


def audited_calls(db: Session, submission_id: str, org_id: str) -> list[AuditedCall]:
    """The gateway calls that ``org_id``'s keys made on ``submission_id``, from the audit log."""
    calls = []
    for entry in audit.entries_with_action(db, submission_id, CALL_ACTION):
        detail = json.loads(entry.leaf).get("detail") or {}
        if detail.get("org_id") != org_id:
            continue
        calls.append(
            AuditedCall(
                call_id=str(detail.get("call_id")),
                at=entry.at,
                model=detail.get("model"),
                status=int(detail.get("status") or 0),
                prompt_tokens=int(detail.get("prompt_tokens") or 0),
                completion_tokens=int(detail.get("completion_tokens") or 0),
            )
        )
    return calls


def public_model(db: Session, submission_id: str) -> str | None:
    """The model name the gateway serves for ``submission_id``, if an endpoint is registered."""
    upstream = db.get(GatewayUpstream, submission_id)
    return upstream.public_model if upstream is not None else None


# -- what the resolver needs ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubmissionDates:
    """The dates a window depends on, copied out of the row (implements ``WindowDates``)."""

    window_opened_at: datetime | None
    window_ends_at: datetime | None
    planned_release_at: datetime | None
    released_at: datetime | None
    withdrawn_at: datetime | None


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
    submission = db.get(Submission, key.submission_id)
    assert submission is not None
    if key.grant_id is not None:
        grant = db.get(Grant, key.grant_id)
        access_revoked = grant is None or grant.revoked_at is not None
    else:
        nomination = db.get(Nomination, key.nomination_id)
        # A partner's access hangs on its nominating agency's grant (review.nomination_is_live).
        access_revoked = nomination is None or not review.nomination_is_live(db, nomination)
    upstream = db.get(GatewayUpstream, key.submission_id)
    limit = db.get(GatewayLimit, key.access_id)
    return KeySnapshot(
        key_id=key.id,
        submission_id=key.submission_id,
        org_id=key.org_id,
        access_id=key.access_id,
        key_revoked=key.revoked_at is not None,
        access_revoked=access_revoked,
        dates=SubmissionDates(
            submission.window_opened_at,
            submission.window_ends_at,
            submission.planned_release_at,
            submission.released_at,
            submission.withdrawn_at,
        ),
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
        db, vault, submission_context(submission_id), UPSTREAM_SECRET, now
    )
    value = json.loads(raw)
    return str(value["base_url"]), {str(k): str(v) for k, v in value["headers"].items()}
