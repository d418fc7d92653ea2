"""HTTP routes of identity: thin, they parse, call the service and shape the answer."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status

from prereview.authz.kinds import OrgKind
from prereview.authz.permissions import Permission, route_permission
from prereview.authz.request import DB, CurrentActor
from prereview.core.context import get_context
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


@router.get("/me", response_model=Me, openapi_extra=route_permission(Permission.ME_READ))
def read_me(db: DB, actor: CurrentActor) -> Me:
    user = service.get_user(db, actor.user_id)
    return Me(
        user=UserOut.model_validate(user),
        organisation=OrganisationOut.model_validate(user.organisation),
    )


@router.post(
    "/organisations",
    status_code=status.HTTP_201_CREATED,
    response_model=OrganisationOut,
    openapi_extra=route_permission(Permission.ORG_CREATE),
)
def create_organisation(
    request: Request, data: OrganisationCreate, db: DB, actor: CurrentActor
) -> OrganisationOut:
    org = service.create_organisation(db, actor, data, get_context(request).clock.now())
    return OrganisationOut.model_validate(org)


@router.get(
    "/organisations",
    response_model=Page[OrganisationOut],
    openapi_extra=route_permission(Permission.ORG_LIST),
)
def list_organisations(
    db: DB, actor: CurrentActor, page: Paging, kind: Annotated[OrgKind | None, Query()] = None
) -> Page[OrganisationOut]:
    found = service.list_organisations(db, actor, page, kind)
    return Page(
        items=[OrganisationOut.model_validate(o) for o in found.rows],
        total=found.total,
        limit=found.limit,
        offset=found.offset,
    )


@router.get(
    "/organisations/{org_id}",
    response_model=OrganisationOut,
    openapi_extra=route_permission(Permission.ORG_READ),
)
def read_organisation(org_id: str, db: DB, actor: CurrentActor) -> OrganisationOut:
    return OrganisationOut.model_validate(service.get_organisation(db, actor, org_id))


@router.post(
    "/organisations/{org_id}/users",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    openapi_extra=route_permission(Permission.USER_CREATE),
)
def create_user(
    request: Request, org_id: str, data: UserCreate, db: DB, actor: CurrentActor
) -> UserOut:
    user = service.create_user(db, actor, org_id, data, get_context(request).clock.now())
    return UserOut.model_validate(user)


@router.get(
    "/organisations/{org_id}/users",
    response_model=Page[UserOut],
    openapi_extra=route_permission(Permission.USER_LIST),
)
def list_users(org_id: str, db: DB, actor: CurrentActor, page: Paging) -> Page[UserOut]:
    found = service.list_users(db, actor, org_id, page)
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
    openapi_extra=route_permission(Permission.TOKEN_CREATE),
)
def create_token(request: Request, data: TokenCreate, db: DB, actor: CurrentActor) -> TokenCreated:
    context = get_context(request)
    issued = service.issue_token(
        db, actor, data, context.clock.now(), timedelta(days=context.settings.token_ttl_days)
    )
    out = TokenOut.model_validate(issued.token)
    return TokenCreated(**out.model_dump(), token=issued.plaintext)


@router.get(
    "/tokens", response_model=Page[TokenOut], openapi_extra=route_permission(Permission.TOKEN_LIST)
)
def list_tokens(db: DB, actor: CurrentActor, page: Paging) -> Page[TokenOut]:
    found = service.list_tokens(db, actor, page)
    return Page(
        items=[TokenOut.model_validate(t) for t in found.rows],
        total=found.total,
        limit=found.limit,
        offset=found.offset,
    )


@router.post(
    "/tokens/{token_id}/revoke",
    response_model=TokenOut,
    openapi_extra=route_permission(Permission.TOKEN_REVOKE),
)
def revoke_token(request: Request, token_id: str, db: DB, actor: CurrentActor) -> TokenOut:
    token = service.revoke_token(db, actor, token_id, get_context(request).clock.now())
    return TokenOut.model_validate(token)


@router.post(
    "/users/{user_id}/deactivate",
    response_model=UserOut,
    openapi_extra=route_permission(Permission.USER_DEACTIVATE),
)
def deactivate_user(request: Request, user_id: str, db: DB, actor: CurrentActor) -> UserOut:
    """Switch an account of your organisation off: its tokens and sessions stop at once."""
    now = get_context(request).clock.now()
    return UserOut.model_validate(service.set_user_active(db, actor, user_id, False, now))


@router.post(
    "/users/{user_id}/reactivate",
    response_model=UserOut,
    openapi_extra=route_permission(Permission.USER_REACTIVATE),
)
def reactivate_user(request: Request, user_id: str, db: DB, actor: CurrentActor) -> UserOut:
    """Switch an account back on; its unexpired, unrevoked tokens work again."""
    now = get_context(request).clock.now()
    return UserOut.model_validate(service.set_user_active(db, actor, user_id, True, now))


@router.post(
    "/organisations/{org_id}/invitations",
    status_code=status.HTTP_201_CREATED,
    response_model=InvitationCreated,
    openapi_extra=route_permission(Permission.INVITATION_CREATE),
)
def create_invitation(
    request: Request, org_id: str, data: InvitationCreate, db: DB, actor: CurrentActor
) -> InvitationCreated:
    """A one-time invitation into an organisation; its secret is shown in this answer only."""
    context = get_context(request)
    issued = invitations.create_invitation(
        db,
        actor,
        org_id,
        data,
        context.clock.now(),
        timedelta(days=context.settings.invitation_ttl_days),
    )
    out = InvitationOut.model_validate(issued.invitation)
    return InvitationCreated(**out.model_dump(), secret=issued.secret)


@router.post(
    "/invitations/redeem",
    status_code=status.HTTP_201_CREATED,
    response_model=Redeemed,
    openapi_extra={"x-permission": "public"},
)
def redeem_invitation(request: Request, data: InvitationRedeem, db: DB) -> Redeemed:
    """Redeem an invitation (no token needed: the secret is the credential). Creates the
    account and answers with its first API token, shown this once."""
    context = get_context(request)
    done = invitations.redeem_invitation(
        db,
        data.secret,
        data.name,
        context.clock.now(),
        timedelta(days=context.settings.token_ttl_days),
    )
    token = TokenOut.model_validate(done.token.token)
    return Redeemed(
        user=UserOut.model_validate(done.user),
        organisation=OrganisationOut.model_validate(done.user.organisation),
        token=TokenCreated(**token.model_dump(), token=done.token.plaintext),
    )
