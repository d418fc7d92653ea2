"""Use cases of the gateway: upstreams, gateway keys, limits, call records and transcripts.

The developer registers its endpoint per submission (sealed in the vault), sets limits per
access, and sees every call; an agency with a live grant, or a partner the developer consented
to, makes gateway keys for itself. The functions at the end serve the engine: they write call
records and transcripts in batches, and read back what the audit log kept of the calls. What
the resolver reads on every call is in :mod:`prereview.gateway.snapshots`.

Every use case has one shape: the submission is reached through review's published
``reach_submission`` (built on :func:`~prereview.audit.usecase.reach`), and a change is
audited and committed as one unit (:func:`~prereview.audit.usecase.commit_audited`). What the
gateway must know of grants and nominations it asks :mod:`prereview.review.model_access`.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from prereview.audit import service as audit
from prereview.audit.usecase import commit_audited, reach
from prereview.authz import events
from prereview.authz.actor import Actor
from prereview.authz.permissions import Permission
from prereview.authz.policy import Access
from prereview.authz.usecase import use_case
from prereview.core.ids import new_id
from prereview.gateway.engine.interfaces import CallRecord, TranscriptRecord
from prereview.gateway.engine.upstreams import UpstreamGuard
from prereview.gateway.errors import (
    GatewayAccessNotLive,
    GatewayKeyNotFound,
    TranscriptNotFound,
    UpstreamAddressRefused,
    UpstreamNotFound,
)
from prereview.gateway.models import GatewayKey, GatewayLimit, GatewayTranscript, GatewayUpstream
from prereview.gateway.schemas import KeyCreate, LimitsSet, UpstreamSet
from prereview.gateway.snapshots import UPSTREAM_SECRET, hash_key
from prereview.review import errors as review_errors
from prereview.review import model_access
from prereview.review import service as review
from prereview.review.model_access import AccessKind
from prereview.vault import service as vault_service
from prereview.vault.errors import KeyShredded
from prereview.vault.service import Vault, submission_key_context

log = logging.getLogger(__name__)

#: Audit action of one model call through the gateway.
CALL_ACTION = "gateway:call:complete"
KEY_PREFIX = "pgw_"

# -- loading and authorizing ---------------------------------------------------------------


class SubmissionRef(Protocol):
    """What the gateway reads of a submission review hands it: its id and its withdrawal."""

    @property
    def id(self) -> str: ...
    @property
    def withdrawn_at(self) -> datetime | None: ...


# -- the developer's upstream --------------------------------------------------------------


@use_case(Permission.GATEWAY_UPSTREAM_WRITE)
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
    :mod:`prereview.gateway.engine.upstreams`); without a guard, nothing is allow-listed. The
    audit entry names the models and the header names, never the URL or a header value.
    Without ``public_model``, reviewers see :func:`default_public_model` of the submission's
    model name, never the upstream's own (internal) name.
    """
    submission, _ = review.reach_submission(
        db, actor, submission_id, Permission.GATEWAY_UPSTREAM_WRITE, now, rules
    )
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
        db, vault, submission_key_context(submission.id), UPSTREAM_SECRET, sealed, now
    )
    upstream = db.get(GatewayUpstream, submission.id)
    if upstream is None:
        upstream = GatewayUpstream(
            submission_id=submission.id, version=0, created_at=now, updated_by=actor.user_id
        )
        db.add(upstream)
    # Never the upstream's id by default: that is the lab's internal name for the model.
    upstream.public_model = data.public_model or default_public_model(submission.model_name)
    upstream.upstream_model = data.upstream_model
    upstream.credential_header_names = sorted(headers)
    upstream.keep_transcripts = data.keep_transcripts
    upstream.version = (upstream.version or 0) + 1
    upstream.updated_by = actor.user_id
    upstream.updated_at = now
    db.flush()
    events.access_changed(db)
    commit_audited(
        db,
        actor,
        Permission.GATEWAY_UPSTREAM_WRITE,
        object_type="gateway_upstream",
        object_id=submission.id,
        at=now,
        submission_id=submission.id,
        detail={
            "public_model": upstream.public_model,
            "upstream_model": upstream.upstream_model,
            "credential_headers": upstream.credential_header_names,
            "keep_transcripts": upstream.keep_transcripts,
            "version": upstream.version,
        },
    )
    return upstream


@use_case(Permission.GATEWAY_UPSTREAM_READ)
def get_upstream(
    db: Session, actor: Actor, submission_id: str, now: datetime, rules: review.Rules
) -> GatewayUpstream:
    """The registration as the developer may see it (no URL, no credential values)."""
    submission, _ = review.reach_submission(
        db, actor, submission_id, Permission.GATEWAY_UPSTREAM_READ, now, rules
    )
    upstream = db.get(GatewayUpstream, submission.id)
    if upstream is None:
        raise UpstreamNotFound("no endpoint is registered for this submission yet")
    return upstream


# -- gateway keys --------------------------------------------------------------------------


@use_case(Permission.GATEWAY_KEY_CREATE)
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
    submission, _ = review.reach_submission(
        db, actor, submission_id, Permission.GATEWAY_KEY_CREATE, now, rules
    )
    live = model_access.live_access_of(db, submission.id, actor.organisation_id, actor.org_kind)
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
    events.access_changed(db)
    commit_audited(
        db,
        actor,
        Permission.GATEWAY_KEY_CREATE,
        object_type="gateway_key",
        object_id=key.id,
        at=now,
        submission_id=submission.id,
        detail={"access": kind, "access_id": access_id, "name": key.name, "prefix": key.prefix},
    )
    return key, plaintext


@use_case(Permission.GATEWAY_KEY_LIST)
def list_keys(
    db: Session, actor: Actor, submission_id: str, now: datetime, rules: review.Rules
) -> Sequence[GatewayKey]:
    """Every key of the submission for its developer; an organisation's own keys otherwise."""
    submission, access = review.reach_submission(
        db, actor, submission_id, Permission.GATEWAY_KEY_LIST, now, rules
    )
    query = (
        select(GatewayKey)
        .where(GatewayKey.submission_id == submission.id)
        .order_by(GatewayKey.created_at, GatewayKey.id)
    )
    if not access.owner:
        query = query.where(GatewayKey.org_id == actor.organisation_id)
    return db.scalars(query).all()


def _in_own_org(actor: Actor, access: Access, org_id: str) -> Access:
    """The actor's access to something of ``org_id`` inside a submission it knows."""
    return Access(
        owner=access.owner,
        had_access=access.had_access,
        same_org=org_id == actor.organisation_id,
    )


def _owner_or_same_org(access: Access) -> bool:
    # Another organisation's key or transcript: not even its existence is told.
    return access.owner or access.same_org


@use_case(Permission.GATEWAY_KEY_REVOKE)
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
    submission, access = review.visible_submission(db, actor, submission_id, now, rules)
    found = db.get(GatewayKey, key_id)
    key, _ = reach(
        actor,
        Permission.GATEWAY_KEY_REVOKE,
        found if found is not None and found.submission_id == submission.id else None,
        lambda key: _in_own_org(actor, access, key.org_id),
        hidden=lambda: GatewayKeyNotFound(f"no gateway key '{key_id}' on this submission"),
        knows=_owner_or_same_org,
    )
    if key.revoked_at is None:
        key.revoked_at = now
        key.revoked_by = actor.user_id
        events.access_changed(db)
        commit_audited(
            db,
            actor,
            Permission.GATEWAY_KEY_REVOKE,
            object_type="gateway_key",
            object_id=key.id,
            at=now,
            submission_id=submission.id,
        )
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


@use_case(Permission.GATEWAY_LIMITS_WRITE)
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
    submission, _ = review.reach_submission(
        db, actor, submission_id, Permission.GATEWAY_LIMITS_WRITE, now, rules
    )
    if not model_access.access_exists(db, submission.id, kind, access_id):
        if kind == "grant":
            raise review_errors.GrantNotFound(f"no grant '{access_id}' on this submission")
        raise review_errors.NominationNotFound(f"no nomination '{access_id}' on this submission")
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
    events.access_changed(db)
    commit_audited(
        db,
        actor,
        Permission.GATEWAY_LIMITS_WRITE,
        object_type="gateway_limits",
        object_id=access_id,
        at=now,
        submission_id=submission.id,
        detail={"access": kind, **data.model_dump()},
    )
    return _view(row)


@use_case(Permission.GATEWAY_LIMITS_READ)
def list_limits(
    db: Session, actor: Actor, submission_id: str, now: datetime, rules: review.Rules
) -> list[LimitsView]:
    """The limits set on the submission; a reviewer sees those of its own access only."""
    submission, access = review.reach_submission(
        db, actor, submission_id, Permission.GATEWAY_LIMITS_READ, now, rules
    )
    query = select(GatewayLimit).where(GatewayLimit.submission_id == submission.id)
    if not access.owner:
        own = model_access.access_ids_of(submission.id, actor.organisation_id)
        query = query.where(or_(*(GatewayLimit.access_id.in_(ids) for ids in own)))
    return [_view(row) for row in db.scalars(query.order_by(GatewayLimit.access_id))]


# -- transcripts ---------------------------------------------------------------------------


@use_case(Permission.GATEWAY_TRANSCRIPT_LIST)
def list_transcripts(
    db: Session, actor: Actor, submission_id: str, now: datetime, rules: review.Rules
) -> Sequence[GatewayTranscript]:
    """Kept transcripts: all for the developer, the organisation's own calls otherwise."""
    submission, access = review.reach_submission(
        db, actor, submission_id, Permission.GATEWAY_TRANSCRIPT_LIST, now, rules
    )
    query = (
        select(GatewayTranscript)
        .where(GatewayTranscript.submission_id == submission.id)
        .order_by(GatewayTranscript.started_at, GatewayTranscript.call_id)
    )
    if not access.owner:
        query = query.where(GatewayTranscript.org_id == actor.organisation_id)
    return db.scalars(query.limit(1000)).all()


@use_case(Permission.GATEWAY_TRANSCRIPT_READ)
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
    submission, access = review.visible_submission(db, actor, submission_id, now, rules)
    found = db.get(GatewayTranscript, call_id)
    row, _ = reach(
        actor,
        Permission.GATEWAY_TRANSCRIPT_READ,
        found if found is not None and found.submission_id == submission.id else None,
        lambda row: _in_own_org(actor, access, row.org_id),
        hidden=lambda: TranscriptNotFound(f"no transcript '{call_id}' on this submission"),
        knows=_owner_or_same_org,
    )
    chunks = vault_service.open_blob(
        db, vault, submission_key_context(submission.id), _blob_id(call_id), now
    )
    plain = b"".join(chunks)
    commit_audited(
        db,
        actor,
        Permission.GATEWAY_TRANSCRIPT_READ,
        object_type="gateway_transcript",
        object_id=call_id,
        at=now,
        submission_id=submission.id,
        detail={"access_id": row.access_id, "org_id": row.org_id},
    )
    return row, plain[: row.request_size], plain[row.request_size :]


def _blob_id(call_id: str) -> str:
    return f"transcript-{call_id}"


def store_transcripts(
    db: Session, vault: Vault, records: Sequence[TranscriptRecord], now: datetime
) -> int:
    """Encrypt a batch of transcripts into the vault (the engine's transcript sink).

    A transcript of a submission withdrawn meanwhile is dropped: its key is shredded, and
    nothing of it may be kept. Returns how many were stored; the caller commits.
    """
    stored = 0
    for record in records:
        org_id = model_access.org_of_access(db, record.access_id)
        if org_id is None or db.get(GatewayTranscript, record.call_id) is not None:
            continue
        context = submission_key_context(record.submission_id)
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
                access_id=record.access_id,
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
        "access_id": call.access_id,
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


def default_public_model(model_name: str) -> str:
    """The name reviewers use when the developer names none: the submission's model name,
    with each run of white space made one ``-`` (a model name in the OpenAI API has none)."""
    return "-".join(model_name.split())[:200]


def public_model(db: Session, submission_id: str) -> str | None:
    """The model name the gateway serves for ``submission_id``, if an endpoint is registered."""
    upstream = db.get(GatewayUpstream, submission_id)
    return upstream.public_model if upstream is not None else None
