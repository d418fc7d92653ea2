"""The gateway's pages: the developer registers its endpoint, sets limits and sees the keys and
transcripts of its submission; a reviewer (a granted agency, a consented partner) makes its
gateway keys, sees them, and revokes them. Kept transcripts are listed, and read (an audited
read), by the developer and by the organisation that made the call.

Each page asks the gateway's published service, as the API's routes do, so the policy decides.
A new key is shown once, on the answer to the form that made it (never in an address, nor
again): with JavaScript a button copies it, without it the text is there to select. Revoking a
key cannot be undone, so it confirms first: ``hx-confirm`` with JavaScript, a confirmation page
(``GET`` on the action's own address) without it.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from prereview.authz.request import RequestContext
from prereview.core.context import get_context
from prereview.core.errors import InvalidInput
from prereview.gateway import service as gateway
from prereview.gateway.engine.upstreams import UpstreamGuard
from prereview.gateway.errors import GatewayKeyNotFound, UpstreamNotFound
from prereview.gateway.mount import GATEWAY_PATH
from prereview.gateway.schemas import KeyCreate, LimitsSet, UpstreamSet
from prereview.identity import service as identity
from prereview.review import service as review
from prereview.vault.deps import VaultDep
from prereview.web.render import guarded, page
from prereview.web.session import PageContext, same_origin

router = APIRouter(prefix="/web", include_in_schema=False)

REVOKE_WORDS = (
    "Revoke this gateway key? Its next call is refused and its open streams end. "
    "This cannot be undone: make a new key to call the model again."
)


class GatewayFormInvalid(InvalidInput):
    slug = "gateway-form-invalid"
    title = "The form is not valid"


def _rules(ctx: RequestContext) -> review.Rules:
    return review.Rules.from_settings(ctx.settings)


def _valid(build: Any, **fields: Any) -> Any:
    """A request model built from a form, or a 422 with what is wrong (never the values:
    a base URL or a key must not be repeated in an error)."""
    try:
        return build(**fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'form'}: {error['msg']}"
            for error in exc.errors(include_input=False, include_url=False)
        )
        raise GatewayFormInvalid(problems) from None


def _guard(request: Request) -> UpstreamGuard:
    """The mounted gateway's guard (the one its connections use), or one from the settings,
    as the API's upstream route takes it."""
    mounted = getattr(request.app.state, "gateway", None)
    if mounted is not None:
        guard: UpstreamGuard = mounted.upstreams
        return guard
    return UpstreamGuard.from_settings(get_context(request).settings)


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + GATEWAY_PATH + "/v1"


def _back_to(submission_id: str, request: Request) -> Response:
    target = f"/web/submissions/{submission_id}/gateway"
    if request.headers.get("hx-request") == "true":
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def _gateway_page(request: Request, submission_id: str, ctx: RequestContext, **extra: Any) -> Any:
    db, actor, now, rules = ctx.db, ctx.actor, ctx.now, _rules(ctx)
    submission = review.get_submission(db, actor, submission_id, now, rules)
    owner = submission.developer_org_id == actor.organisation_id
    keys = gateway.list_keys(db, actor, submission_id, now, rules)
    limits = gateway.list_limits(db, actor, submission_id, now, rules)
    transcripts = gateway.list_transcripts(db, actor, submission_id, now, rules)
    upstream = None
    accesses: list[tuple[str, str, str]] = []  # (form value, whose, kind) of each access
    if owner:
        try:
            upstream = gateway.get_upstream(db, actor, submission_id, now, rules)
        except UpstreamNotFound:
            upstream = None
        _, grants = review.list_grants(db, actor, submission_id, now, rules)
        nominations = [
            n
            for n in review.list_nominations(db, actor, submission_id, now, rules)
            if n.status.value == "consented"
        ]
        org_ids = [g.agency_org_id for g in grants] + [n.partner_org_id for n in nominations]
    else:
        org_ids = []
    names = identity.organisation_names(
        db, [*org_ids, *(k.org_id for k in keys), *(t.org_id for t in transcripts)]
    )
    if owner:
        accesses = [
            (f"grant:{g.id}", names.get(g.agency_org_id, g.agency_org_id), "agency grant")
            for g in grants
        ] + [
            (f"nomination:{n.id}", names.get(n.partner_org_id, n.partner_org_id), "partner")
            for n in nominations
        ]
    whose = {value.split(":", 1)[1]: who for value, who, _ in accesses}
    return page(
        request,
        "gateway/gateway.html",
        submission=submission,
        window=review.window(submission, now, rules),
        owner=owner,
        upstream=upstream,
        public_model=gateway.public_model(db, submission.id),
        keys=keys,
        limits=limits,
        transcripts=transcripts,
        accesses=accesses,
        whose=whose,
        names=names,
        base_url=_base_url(request),
        revoke_words=REVOKE_WORDS,
        **extra,
    )


@router.get("/submissions/{submission_id}/gateway", response_model=None)
def gateway_page(request: Request, submission_id: str, ctx: PageContext) -> Response:
    """The submission's gateway as the caller may see it."""
    return guarded(request, lambda: _gateway_page(request, submission_id, ctx))


@router.post("/submissions/{submission_id}/gateway/upstream", response_model=None)
def register_upstream(
    request: Request,
    submission_id: str,
    ctx: PageContext,
    vault: VaultDep,
    base_url: Annotated[str, Form(max_length=2000)],
    upstream_model: Annotated[str, Form(max_length=200)],
    public_model: Annotated[str, Form(max_length=200)] = "",
    api_key: Annotated[str, Form(max_length=8000)] = "",
    keep_transcripts: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Register (or replace) the model's endpoint, as the API's ``PUT .../gateway/upstream``."""
    same_origin(request)

    def build() -> Response:
        data = _valid(
            UpstreamSet,
            base_url=base_url.strip(),
            upstream_model=upstream_model.strip(),
            public_model=public_model.strip() or None,
            api_key=api_key.strip() or None,
            keep_transcripts=keep_transcripts == "on",
        )
        gateway.set_upstream(
            ctx.db, vault, ctx.actor, submission_id, data, ctx.now, _rules(ctx), _guard(request)
        )
        return _back_to(submission_id, request)

    return guarded(request, build)


def _limit(value: str, what: str) -> int | None:
    if not value.strip():
        return None  # blank: unlimited
    try:
        return int(value)
    except ValueError:
        raise GatewayFormInvalid(f"{what}: '{value}' is not a whole number") from None


@router.post("/submissions/{submission_id}/gateway/limits", response_model=None)
def set_limits(
    request: Request,
    submission_id: str,
    ctx: PageContext,
    access: Annotated[str, Form(max_length=100)],
    requests_per_minute: Annotated[str, Form(max_length=20)] = "",
    tokens_per_day: Annotated[str, Form(max_length=20)] = "",
    concurrent_streams: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Set the limits of one grant or consented nomination (blank means unlimited)."""
    same_origin(request)

    def build() -> Response:
        kind, _, access_id = access.partition(":")
        if kind not in ("grant", "nomination") or not access_id:
            raise GatewayFormInvalid("access: choose a grant or a nomination of this submission")
        data = _valid(
            LimitsSet,
            requests_per_minute=_limit(requests_per_minute, "requests per minute"),
            tokens_per_day=_limit(tokens_per_day, "tokens per day"),
            concurrent_streams=_limit(concurrent_streams, "concurrent streams"),
        )
        gateway.set_limits(
            ctx.db,
            ctx.actor,
            submission_id,
            "grant" if kind == "grant" else "nomination",
            access_id,
            data,
            ctx.now,
            _rules(ctx),
        )
        return _back_to(submission_id, request)

    return guarded(request, build)


@router.post("/submissions/{submission_id}/gateway/keys", response_model=None)
def create_key(
    request: Request,
    submission_id: str,
    ctx: PageContext,
    name: Annotated[str, Form(max_length=200)],
) -> Response:
    """Make a key for the caller's organisation; the answer is the only place it is shown."""
    same_origin(request)

    def build() -> Response:
        data = _valid(KeyCreate, name=name)
        key, secret = gateway.create_key(
            ctx.db, ctx.actor, submission_id, data, ctx.now, _rules(ctx)
        )
        return page(
            request,
            "gateway/key_issued.html",
            key=key,
            secret=secret,
            submission_id=submission_id,
            base_url=_base_url(request),
            public_model=gateway.public_model(ctx.db, submission_id),
        )

    return guarded(request, build)


@router.get("/submissions/{submission_id}/gateway/keys/{key_id}/revoke", response_model=None)
def confirm_revoke(request: Request, submission_id: str, key_id: str, ctx: PageContext) -> Response:
    """The confirmation page of revoking a key, for a browser without JavaScript."""

    def build() -> Response:
        db, actor, now, rules = ctx.db, ctx.actor, ctx.now, _rules(ctx)
        submission = review.get_submission(db, actor, submission_id, now, rules)
        found = [
            k for k in gateway.list_keys(db, actor, submission_id, now, rules) if k.id == key_id
        ]
        if not found:
            raise GatewayKeyNotFound(f"no gateway key '{key_id}' on this submission")
        return page(
            request,
            "gateway/confirm_revoke.html",
            submission=submission,
            key=found[0],
            words=REVOKE_WORDS,
        )

    return guarded(request, build)


@router.post("/submissions/{submission_id}/gateway/keys/{key_id}/revoke", response_model=None)
def revoke_key(request: Request, submission_id: str, key_id: str, ctx: PageContext) -> Response:
    same_origin(request)

    def build() -> Response:
        gateway.revoke_key(ctx.db, ctx.actor, submission_id, key_id, ctx.now, _rules(ctx))
        return _back_to(submission_id, request)

    return guarded(request, build)


def _readable(body: bytes) -> str:
    """A kept request or completion as text: JSON indented when it is JSON (escaped by the
    template either way)."""
    text = body.decode("utf-8", errors="replace")
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


@router.get("/submissions/{submission_id}/gateway/transcripts/{call_id}", response_model=None)
def transcript_page(
    request: Request, submission_id: str, call_id: str, ctx: PageContext, vault: VaultDep
) -> Response:
    """One kept prompt and completion, decrypted for the developer or the calling organisation;
    the read is audited, as the API's."""

    def build() -> Response:
        db, actor, now, rules = ctx.db, ctx.actor, ctx.now, _rules(ctx)
        submission = review.get_submission(db, actor, submission_id, now, rules)
        row, request_body, response_body = gateway.read_transcript(
            db, vault, actor, submission_id, call_id, now, rules
        )
        names = identity.organisation_names(db, [row.org_id])
        return page(
            request,
            "gateway/transcript.html",
            submission=submission,
            row=row,
            caller=names.get(row.org_id, row.org_id),
            prompt=_readable(request_body),
            completion=_readable(response_body),
        )

    return guarded(request, build)
