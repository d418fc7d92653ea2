"""An organisation's administration: its people, invitations, your API tokens, and (for the
clearinghouse) admitting organisations.

Every page asks identity's published service, as identity's API routes do, so the policy decides
here too: anyone lists the people of their own organisation, its administrators add, invite,
deactivate and reactivate them; everyone manages their own tokens; the clearinghouse's
administrators admit organisations and invite their first administrator.

A secret (a new token, an invitation) is shown once, on the page that answers the form: it is
never put in an address, and only its hash is kept. Deactivating a person and revoking a token
confirm first: with JavaScript the button asks (``hx-confirm``); without, it opens a
confirmation page (``GET`` on the action's address) that says what will happen.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ValidationError

from prereview.authz.kinds import OrgKind, Role, Sector
from prereview.authz.permissions import Permission
from prereview.authz.policy import Access, allowed, authorize
from prereview.authz.request import RequestContext
from prereview.core.errors import InvalidInput
from prereview.core.pagination import MAX_LIMIT, PageRequest
from prereview.identity import errors as identity_errors
from prereview.identity import invitations
from prereview.identity import service as identity
from prereview.identity.schemas import (
    InvitationCreate,
    OrganisationCreate,
    TokenCreate,
    UserCreate,
)
from prereview.web.render import guarded, page
from prereview.web.session import PageContext, same_origin

router = APIRouter(prefix="/web/admin", include_in_schema=False)

PER_PAGE = 50
Offset = Annotated[int, Query(ge=0, le=10_000_000)]

# What each irreversible (or disruptive) action does, in the words of its confirmation.
DEACTIVATE_WORDS = (
    "Deactivate this account? Every API token and browser session of the person stops working "
    "at once. An administrator can reactivate the account later: its unexpired tokens then work "
    "again, but its browser sessions stay signed out."
)
REACTIVATE_WORDS = (
    "Reactivate this account? Its unexpired, unrevoked API tokens work again at once, with the "
    "role it had."
)
REVOKE_WORDS = (
    "Revoke this API token? Every program and browser session using it is refused from now on. "
    "This cannot be undone: create a new token if you need one."
)


def _valid(model: type[BaseModel], **fields: Any) -> Any:
    """The form's fields as the API's request model, or the API's 422 with what is wrong."""
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        problems = [
            {"path": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        detail = "; ".join(f"{p['path']}: {p['message']}" for p in problems)
        raise InvalidInput(f"the form is not valid: {detail}", errors=problems) from None


def _back(request: Request, target: str) -> Response:
    """After a form, the page it came from (htmx is told to load it: a redirect would be
    followed inside the request and the page swapped into the form)."""
    if request.headers.get("hx-request") == "true":
        return Response(status_code=200, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


# --- people -------------------------------------------------------------------------------


def _is_admin(ctx: RequestContext, permission: Permission) -> bool:
    """Whether the policy lets the caller do ``permission`` in its own organisation (which
    buttons to show; the action itself decides again)."""
    return allowed(ctx.actor, permission, Access(same_org=True))


def _users_page(
    request: Request, ctx: RequestContext, offset: int = 0, status: int = 200, **context: Any
) -> Response:
    org_id = ctx.actor.organisation_id
    found = identity.list_users(ctx.db, ctx.actor, org_id, PageRequest(PER_PAGE, offset))
    return page(
        request,
        "admin/users.html",
        status,
        users=found.rows,
        total=found.total,
        offset=offset,
        per_page=PER_PAGE,
        me_id=ctx.actor.user_id,
        org_id=org_id,
        may_add=_is_admin(ctx, Permission.USER_CREATE),
        may_switch=_is_admin(ctx, Permission.USER_DEACTIVATE),
        may_invite=_is_admin(ctx, Permission.INVITATION_CREATE),
        roles=list(Role),
        deactivate_words=DEACTIVATE_WORDS,
        reactivate_words=REACTIVATE_WORDS,
        **context,
    )


@router.get("/users", response_model=None)
def users(request: Request, ctx: PageContext, offset: Offset = 0) -> Response:
    """The people of your organisation; its administrators add, invite and switch them."""
    return guarded(request, lambda: _users_page(request, ctx, offset))


@router.post("/users", response_model=None)
def create_user(
    request: Request,
    ctx: PageContext,
    email: Annotated[str, Form(max_length=320)],
    name: Annotated[str, Form(max_length=200)],
    role: Annotated[str, Form(max_length=20)] = Role.MEMBER.value,
) -> Response:
    """Add a person to your organisation at once (they get a token from an administrator, or
    sign in after one is made for them with ``prereview admin``); invite them to let them
    create their own account instead."""
    same_origin(request)

    def build() -> Response:
        data = _valid(UserCreate, email=email.strip(), name=name, role=role)
        identity.create_user(ctx.db, ctx.actor, ctx.actor.organisation_id, data, ctx.now)
        return _back(request, "/web/admin/users")

    return guarded(request, build)


def _user_of_mine(ctx: RequestContext, user_id: str, permission: Permission) -> Any:
    """A user of the caller's organisation, with the same answers as the action on it: a user of
    another organisation is not found; a member who is not an administrator is refused."""
    try:
        user = identity.get_user(ctx.db, user_id)
    except identity_errors.UserNotFound:
        user = None
    if user is None or user.organisation_id != ctx.actor.organisation_id:
        raise identity_errors.UserNotFound(f"no user '{user_id}' in your organisation")
    authorize(ctx.actor, permission, Access(same_org=True))
    return user


def _confirm_switch(request: Request, ctx: RequestContext, user_id: str, active: bool) -> Response:
    permission = Permission.USER_REACTIVATE if active else Permission.USER_DEACTIVATE

    def build() -> Response:
        user = _user_of_mine(ctx, user_id, permission)
        if not active and user.id == ctx.actor.user_id:
            raise identity_errors.CannotDeactivateSelf(
                "you cannot deactivate yourself; another administrator of your organisation can"
            )
        return page(
            request,
            "admin/confirm_user.html",
            user=user,
            active=active,
            consequence=REACTIVATE_WORDS if active else DEACTIVATE_WORDS,
        )

    return guarded(request, build)


@router.get("/users/{user_id}/deactivate", response_model=None)
def confirm_deactivate(request: Request, user_id: str, ctx: PageContext) -> Response:
    return _confirm_switch(request, ctx, user_id, active=False)


@router.get("/users/{user_id}/reactivate", response_model=None)
def confirm_reactivate(request: Request, user_id: str, ctx: PageContext) -> Response:
    return _confirm_switch(request, ctx, user_id, active=True)


@router.post("/users/{user_id}/deactivate", response_model=None)
def deactivate(request: Request, user_id: str, ctx: PageContext) -> Response:
    same_origin(request)

    def build() -> Response:
        identity.deactivate_user(ctx.db, ctx.actor, user_id, ctx.now)
        return _back(request, "/web/admin/users")

    return guarded(request, build)


@router.post("/users/{user_id}/reactivate", response_model=None)
def reactivate(request: Request, user_id: str, ctx: PageContext) -> Response:
    same_origin(request)

    def build() -> Response:
        identity.reactivate_user(ctx.db, ctx.actor, user_id, ctx.now)
        return _back(request, "/web/admin/users")

    return guarded(request, build)


@router.post("/organisations/{organisation_id}/invitations", response_model=None)
def invite(
    request: Request,
    organisation_id: str,
    ctx: PageContext,
    email: Annotated[str, Form(max_length=320)],
    role: Annotated[str, Form(max_length=20)] = Role.ADMIN.value,
) -> Response:
    """A one-time invitation into ``organisation_id`` (your own organisation, or for the
    clearinghouse the first administrator of one it admitted); its secret is on this answer
    only."""
    same_origin(request)

    def build() -> Response:
        data = _valid(InvitationCreate, email=email.strip(), role=role)
        ttl = timedelta(days=ctx.settings.invitation_ttl_days)
        issued = invitations.create_invitation(
            ctx.db, ctx.actor, organisation_id, data, ctx.now, ttl
        )
        names = identity.organisation_names(ctx.db, [organisation_id])
        return page(
            request,
            "admin/invited.html",
            invitation=issued.invitation,
            secret=issued.secret,
            organisation=names.get(organisation_id, organisation_id),
            back="/web/admin/users"
            if organisation_id == ctx.actor.organisation_id
            else "/web/admin/organisations",
        )

    return guarded(request, build)


# --- tokens -------------------------------------------------------------------------------


def _my_tokens(ctx: RequestContext) -> list[Any]:
    """All the caller's own tokens, newest first (the API's list, page by page)."""
    found: list[Any] = []
    while True:
        batch = identity.list_tokens(ctx.db, ctx.actor, PageRequest(MAX_LIMIT, len(found)))
        found.extend(batch.rows)
        if not batch.rows or len(found) >= batch.total:
            return sorted(found, key=lambda t: t.created_at, reverse=True)


def _tokens_page(request: Request, ctx: RequestContext, **context: Any) -> Response:
    return page(
        request,
        "admin/tokens.html",
        tokens=_my_tokens(ctx),
        now=ctx.now,
        current=ctx.actor.token_id,
        max_days=ctx.settings.token_ttl_days,
        revoke_words=REVOKE_WORDS,
        **context,
    )


@router.get("/tokens", response_model=None)
def tokens(request: Request, ctx: PageContext) -> Response:
    """Your API tokens (for the command line and programs), with their last use."""
    return guarded(request, lambda: _tokens_page(request, ctx))


@router.post("/tokens", response_model=None)
def create_token(
    request: Request,
    ctx: PageContext,
    name: Annotated[str, Form(max_length=200)] = "api",
    ttl_days: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """A new token for you; the answer shows it this once (only its hash is kept)."""
    same_origin(request)

    def build() -> Response:
        days = ttl_days.strip()
        if days and not days.isdigit():
            raise InvalidInput(f"ttl_days: '{days}' is not a whole number of days")
        data = _valid(TokenCreate, name=name, ttl_days=int(days) if days else None)
        max_ttl = timedelta(days=ctx.settings.token_ttl_days)
        issued = identity.issue_token(ctx.db, ctx.actor, data, ctx.now, max_ttl)
        return _tokens_page(request, ctx, created=issued.token, secret=issued.plaintext)

    return guarded(request, build)


def _my_token(ctx: RequestContext, token_id: str) -> Any:
    for token in _my_tokens(ctx):
        if token.id == token_id:
            return token
    raise identity_errors.TokenNotFound(f"no token '{token_id}' of yours")


@router.get("/tokens/{token_id}/revoke", response_model=None)
def confirm_revoke(request: Request, token_id: str, ctx: PageContext) -> Response:
    def build() -> Response:
        return page(
            request,
            "admin/confirm_token.html",
            token=_my_token(ctx, token_id),
            current=token_id == ctx.actor.token_id,
            consequence=REVOKE_WORDS,
        )

    return guarded(request, build)


@router.post("/tokens/{token_id}/revoke", response_model=None)
def revoke(request: Request, token_id: str, ctx: PageContext) -> Response:
    same_origin(request)

    def build() -> Response:
        identity.revoke_token(ctx.db, ctx.actor, token_id, ctx.now)
        return _back(request, "/web/admin/tokens")

    return guarded(request, build)


# --- organisations ------------------------------------------------------------------------


def _organisations_page(
    request: Request,
    ctx: RequestContext,
    offset: int = 0,
    kind: OrgKind | None = None,
    status: int = 200,
    **context: Any,
) -> Response:
    found = identity.list_organisations(ctx.db, ctx.actor, PageRequest(PER_PAGE, offset), kind)
    may_admit = allowed(ctx.actor, Permission.ORG_CREATE)
    return page(
        request,
        "admin/organisations.html",
        status,
        organisations=found.rows,
        total=found.total,
        offset=offset,
        per_page=PER_PAGE,
        kind=kind,
        kinds=list(OrgKind),
        sectors=list(Sector),
        roles=list(Role),
        may_admit=may_admit,
        **context,
    )


@router.get("/organisations", response_model=None)
def organisations(
    request: Request,
    ctx: PageContext,
    offset: Offset = 0,
    # "every kind" sends kind= (empty): the same as no filter, not a 422.
    kind: Annotated[OrgKind | Literal[""] | None, Query()] = None,
    admitted: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """The organisations taking part (not confidential); the clearinghouse admits new ones."""

    def build() -> Response:
        # The one just admitted, named, with the form that invites its first administrator.
        just = identity.get_organisation(ctx.db, ctx.actor, admitted) if admitted else None
        return _organisations_page(request, ctx, offset, kind or None, admitted=just)

    return guarded(request, build)


@router.post("/organisations", response_model=None)
def admit(
    request: Request,
    ctx: PageContext,
    name: Annotated[str, Form(max_length=200)],
    kind: Annotated[str, Form(max_length=40)],
    sector: Annotated[str, Form(max_length=60)] = "",
) -> Response:
    """Admit an organisation of a kind (a trusted partner names its sector); then invite its
    first administrator from the list."""
    same_origin(request)

    def build() -> Response:
        data = _valid(OrganisationCreate, name=name, kind=kind, sector=sector or None)
        org = identity.create_organisation(ctx.db, ctx.actor, data, ctx.now)
        return _back(request, f"/web/admin/organisations?admitted={org.id}")

    return guarded(request, build)
