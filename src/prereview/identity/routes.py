"""HTTP routes of identity: thin, they parse, call the service and shape the answer."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from prereview.authz.kinds import OrgKind
from prereview.authz.request import DB, Context, Now
from prereview.authz.usecase import exercises
from prereview.core.pagination import Page, PageRequest, page_request
from prereview.identity import invitations, service
from prereview.identity.schemas import (
    InvitationCreate,
    InvitationCreated,
    InvitationOut,
    InvitationRedeem,
    Me,
    OrganisationCreate,
    OrganisationOut,
    Redeemed,
    TokenCreate,
    TokenCreated,
    TokenOut,
    UserCreate,
    UserOut,
)

router = APIRouter(tags=["identity"])
Paging = Annotated[PageRequest, Depends(page_request)]


@router.get("/me", response_model=Me, openapi_extra=exercises(service.read_me))
def read_me(ctx: Context) -> Me:
    user = service.read_me(ctx.db, ctx.actor)
    return Me(
        user=UserOut.model_validate(user),
        organisation=OrganisationOut.model_validate(user.organisation),
    )


@router.post(
    "/organisations",
    status_code=status.HTTP_201_CREATED,
    response_model=OrganisationOut,
    openapi_extra=exercises(service.create_organisation),
)
def create_organisation(data: OrganisationCreate, ctx: Context) -> OrganisationOut:
    org = service.create_organisation(ctx.db, ctx.actor, data, ctx.now)
    return OrganisationOut.model_validate(org)


@router.get(
    "/organisations",
    response_model=Page[OrganisationOut],
    openapi_extra=exercises(service.list_organisations),
)
def list_organisations(
    ctx: Context, page: Paging, kind: Annotated[OrgKind | None, Query()] = None
) -> Page[OrganisationOut]:
    found = service.list_organisations(ctx.db, ctx.actor, page, kind)
    return Page(
        items=[OrganisationOut.model_validate(o) for o in found.rows],
        total=found.total,
        limit=found.limit,
        offset=found.offset,
    )


@router.get(
    "/organisations/{org_id}",
    response_model=OrganisationOut,
    openapi_extra=exercises(service.get_organisation),
)
def read_organisation(org_id: str, ctx: Context) -> OrganisationOut:
    return OrganisationOut.model_validate(service.get_organisation(ctx.db, ctx.actor, org_id))


@router.post(
    "/organisations/{org_id}/users",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    openapi_extra=exercises(service.create_user),
)
def create_user(org_id: str, data: UserCreate, ctx: Context) -> UserOut:
    user = service.create_user(ctx.db, ctx.actor, org_id, data, ctx.now)
    return UserOut.model_validate(user)


@router.get(
    "/organisations/{org_id}/users",
    response_model=Page[UserOut],
    openapi_extra=exercises(service.list_users),
)
def list_users(org_id: str, ctx: Context, page: Paging) -> Page[UserOut]:
    found = service.list_users(ctx.db, ctx.actor, org_id, page)
    return Page(
        items=[UserOut.model_validate(u) for u in found.rows],
        total=found.total,
        limit=found.limit,
        offset=found.offset,
    )


@router.post(
    "/tokens",
    status_code=status.HTTP_201_CREATED,
    response_model=TokenCreated,
    openapi_extra=exercises(service.issue_token),
)
def create_token(data: TokenCreate, ctx: Context) -> TokenCreated:
    max_ttl = timedelta(days=ctx.settings.token_ttl_days)
    issued = service.issue_token(ctx.db, ctx.actor, data, ctx.now, max_ttl)
    out = TokenOut.model_validate(issued.token)
    return TokenCreated(**out.model_dump(), token=issued.plaintext)


@router.get("/tokens", response_model=Page[TokenOut], openapi_extra=exercises(service.list_tokens))
def list_tokens(ctx: Context, page: Paging) -> Page[TokenOut]:
    found = service.list_tokens(ctx.db, ctx.actor, page)
    return Page(
        items=[TokenOut.model_validate(t) for t in found.rows],
        total=found.total,
        limit=found.limit,
        offset=found.offset,
    )


@router.post(
    "/tokens/{token_id}/revoke",
    response_model=TokenOut,
    openapi_extra=exercises(service.revoke_token),
)
def revoke_token(token_id: str, ctx: Context) -> TokenOut:
    token = service.revoke_token(ctx.db, ctx.actor, token_id, ctx.now)
    return TokenOut.model_validate(token)


@router.post(
    "/users/{user_id}/deactivate",
    response_model=UserOut,
    openapi_extra=exercises(service.deactivate_user),
)
def deactivate_user(user_id: str, ctx: Context) -> UserOut:
    """Switch an account of your organisation off: its tokens and sessions stop at once."""
    return UserOut.model_validate(service.deactivate_user(ctx.db, ctx.actor, user_id, ctx.now))


@router.post(
    "/users/{user_id}/reactivate",
    response_model=UserOut,
    openapi_extra=exercises(service.reactivate_user),
)
def reactivate_user(user_id: str, ctx: Context) -> UserOut:
    """Switch an account back on; its unexpired, unrevoked tokens work again."""
    return UserOut.model_validate(service.reactivate_user(ctx.db, ctx.actor, user_id, ctx.now))


@router.post(
    "/organisations/{org_id}/invitations",
    status_code=status.HTTP_201_CREATED,
    response_model=InvitationCreated,
    openapi_extra=exercises(invitations.create_invitation),
)
def create_invitation(org_id: str, data: InvitationCreate, ctx: Context) -> InvitationCreated:
    """A one-time invitation into an organisation; its secret is shown in this answer only."""
    ttl = timedelta(days=ctx.settings.invitation_ttl_days)
    issued = invitations.create_invitation(ctx.db, ctx.actor, org_id, data, ctx.now, ttl)
    out = InvitationOut.model_validate(issued.invitation)
    return InvitationCreated(**out.model_dump(), secret=issued.secret)


@router.post(
    "/invitations/redeem",
    status_code=status.HTTP_201_CREATED,
    response_model=Redeemed,
    # No use case's permission: the secret is the credential, and there is no caller yet.
    openapi_extra={"x-permission": "public"},
)
def redeem_invitation(data: InvitationRedeem, db: DB, at: Now) -> Redeemed:
    """Redeem an invitation (no token needed: the secret is the credential). Creates the
    account and answers with its first API token, shown this once."""
    ttl = timedelta(days=at.settings.token_ttl_days)
    done = invitations.redeem_invitation(db, data.secret, data.name, at.now, ttl)
    token = TokenOut.model_validate(done.token.token)
    return Redeemed(
        user=UserOut.model_validate(done.user),
        organisation=OrganisationOut.model_validate(done.user.organisation),
        token=TokenCreated(**token.model_dump(), token=done.token.plaintext),
    )
