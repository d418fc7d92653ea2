"""HTTP routes of the gateway's administration: upstreams, keys, limits, transcripts.

The model calls themselves are served by the engine mounted at ``/gateway`` (see
:mod:`prereview.gateway.mount`); these routes only manage who may make them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status

from prereview.authz.request import Context, RequestContext
from prereview.authz.usecase import exercises
from prereview.core.context import get_context
from prereview.core.pagination import Page, PageRequest, page_of_list, page_request
from prereview.gateway import service
from prereview.gateway.engine.upstreams import UpstreamGuard
from prereview.gateway.models import GatewayKey, GatewayTranscript, GatewayUpstream
from prereview.gateway.mount import GATEWAY_PATH
from prereview.gateway.schemas import (
    KeyCreate,
    KeyIssued,
    KeyOut,
    LimitsOut,
    LimitsSet,
    TranscriptItem,
    TranscriptOut,
    UpstreamOut,
    UpstreamSet,
)
from prereview.review.service import Rules
from prereview.vault.deps import VaultDep

router = APIRouter(tags=["gateway"])
Paging = Annotated[PageRequest, Depends(page_request)]


def rules(ctx: RequestContext) -> Rules:
    """The review rules of this request's settings."""
    return Rules.from_settings(ctx.settings)


def upstream_guard(request: Request) -> UpstreamGuard:
    """The mounted gateway's guard (the one its connections use), or one from the settings."""
    mounted = getattr(request.app.state, "gateway", None)
    if mounted is not None:
        guard: UpstreamGuard = mounted.upstreams
        return guard
    return UpstreamGuard.from_settings(get_context(request).settings)


def upstream_out(upstream: GatewayUpstream) -> UpstreamOut:
    return UpstreamOut(
        submission_id=upstream.submission_id,
        public_model=upstream.public_model,
        upstream_model=upstream.upstream_model,
        credential_headers=list(upstream.credential_header_names),
        keep_transcripts=upstream.keep_transcripts,
        version=upstream.version,
        updated_at=upstream.updated_at,
    )


def key_out(key: GatewayKey) -> KeyOut:
    return KeyOut(
        id=key.id,
        submission_id=key.submission_id,
        org_id=key.org_id,
        access=service.key_access_kind(key),
        access_id=key.access_id,
        name=key.name,
        prefix=key.prefix,
        created_at=key.created_at,
        revoked_at=key.revoked_at,
    )


def limits_out(view: service.LimitsView) -> LimitsOut:
    return LimitsOut(
        access_id=view.access_id,
        submission_id=view.submission_id,
        requests_per_minute=view.requests_per_minute,
        tokens_per_day=view.tokens_per_day,
        concurrent_streams=view.concurrent_streams,
        updated_at=view.updated_at,
    )


def transcript_item(row: GatewayTranscript) -> TranscriptItem:
    return TranscriptItem(
        call_id=row.call_id,
        submission_id=row.submission_id,
        access_id=row.access_id,
        org_id=row.org_id,
        endpoint=row.endpoint,
        request_size=row.request_size,
        response_size=row.response_size,
        started_at=row.started_at,
    )


@router.put(
    "/submissions/{submission_id}/gateway/upstream",
    response_model=UpstreamOut,
    openapi_extra=exercises(service.set_upstream),
)
def set_upstream(
    request: Request,
    submission_id: str,
    data: UpstreamSet,
    ctx: Context,
    vault: VaultDep,
) -> UpstreamOut:
    """Register the model's endpoint (the developer). The URL and credentials are sealed in
    the vault and never shown again; the answer names the credential headers only. Loopback,
    private, link-local and the platform's own addresses are refused (422) unless allow-listed."""
    guard = upstream_guard(request)
    upstream = service.set_upstream(
        ctx.db, vault, ctx.actor, submission_id, data, ctx.now, rules(ctx), guard
    )
    return upstream_out(upstream)


@router.get(
    "/submissions/{submission_id}/gateway/upstream",
    response_model=UpstreamOut,
    openapi_extra=exercises(service.get_upstream),
)
def read_upstream(submission_id: str, ctx: Context) -> UpstreamOut:
    return upstream_out(service.get_upstream(ctx.db, ctx.actor, submission_id, ctx.now, rules(ctx)))


@router.post(
    "/submissions/{submission_id}/gateway/keys",
    status_code=status.HTTP_201_CREATED,
    response_model=KeyIssued,
    openapi_extra=exercises(service.create_key),
)
def create_key(request: Request, submission_id: str, data: KeyCreate, ctx: Context) -> KeyIssued:
    """A gateway key for your organisation's live grant or consented nomination; the key is
    in this answer only."""
    key, plaintext = service.create_key(ctx.db, ctx.actor, submission_id, data, ctx.now, rules(ctx))
    base_url = str(request.base_url).rstrip("/") + GATEWAY_PATH + "/v1"
    return KeyIssued(**key_out(key).model_dump(), key=plaintext, base_url=base_url)


@router.get(
    "/submissions/{submission_id}/gateway/keys",
    response_model=Page[KeyOut],
    openapi_extra=exercises(service.list_keys),
)
def list_keys(submission_id: str, ctx: Context, page: Paging) -> Page[KeyOut]:
    found = service.list_keys(ctx.db, ctx.actor, submission_id, ctx.now, rules(ctx))
    return page_of_list([key_out(k) for k in found], page)


@router.post(
    "/submissions/{submission_id}/gateway/keys/{key_id}/revoke",
    response_model=KeyOut,
    openapi_extra=exercises(service.revoke_key),
)
def revoke_key(submission_id: str, key_id: str, ctx: Context) -> KeyOut:
    """Revoke a key: its next call is refused and its streams end."""
    return key_out(
        service.revoke_key(ctx.db, ctx.actor, submission_id, key_id, ctx.now, rules(ctx))
    )


@router.get(
    "/submissions/{submission_id}/gateway/limits",
    response_model=Page[LimitsOut],
    openapi_extra=exercises(service.list_limits),
)
def list_limits(submission_id: str, ctx: Context, page: Paging) -> Page[LimitsOut]:
    found = service.list_limits(ctx.db, ctx.actor, submission_id, ctx.now, rules(ctx))
    return page_of_list([limits_out(v) for v in found], page)


@router.put(
    "/submissions/{submission_id}/grants/{grant_id}/limits",
    response_model=LimitsOut,
    openapi_extra=exercises(service.set_limits),
)
def set_grant_limits(submission_id: str, grant_id: str, data: LimitsSet, ctx: Context) -> LimitsOut:
    """Limits of an agency's grant (the developer); omitted or null means unlimited."""
    view = service.set_limits(
        ctx.db, ctx.actor, submission_id, "grant", grant_id, data, ctx.now, rules(ctx)
    )
    return limits_out(view)


@router.put(
    "/submissions/{submission_id}/nominations/{nomination_id}/limits",
    response_model=LimitsOut,
    openapi_extra=exercises(service.set_limits),
)
def set_nomination_limits(
    submission_id: str, nomination_id: str, data: LimitsSet, ctx: Context
) -> LimitsOut:
    """Limits of a trusted partner's access (the developer)."""
    view = service.set_limits(
        ctx.db, ctx.actor, submission_id, "nomination", nomination_id, data, ctx.now, rules(ctx)
    )
    return limits_out(view)


@router.get(
    "/submissions/{submission_id}/gateway/transcripts",
    response_model=Page[TranscriptItem],
    openapi_extra=exercises(service.list_transcripts),
)
def list_transcripts(submission_id: str, ctx: Context, page: Paging) -> Page[TranscriptItem]:
    rows = service.list_transcripts(ctx.db, ctx.actor, submission_id, ctx.now, rules(ctx))
    return page_of_list([transcript_item(r) for r in rows], page)


@router.get(
    "/submissions/{submission_id}/gateway/transcripts/{call_id}",
    response_model=TranscriptOut,
    openapi_extra=exercises(service.read_transcript),
)
def read_transcript(
    submission_id: str, call_id: str, ctx: Context, vault: VaultDep
) -> TranscriptOut:
    """One kept prompt and completion, decrypted; the read is audited."""
    row, request_body, response_body = service.read_transcript(
        ctx.db, vault, ctx.actor, submission_id, call_id, ctx.now, rules(ctx)
    )
    return TranscriptOut(
        **transcript_item(row).model_dump(),
        request=request_body.decode("utf-8", errors="replace"),
        response=response_body.decode("utf-8", errors="replace"),
    )
