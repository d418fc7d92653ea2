"""Request and response models of identity."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StrictInt, StringConstraints

from prereview.authz.kinds import OrgKind, Role, Sector

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class OrganisationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    kind: OrgKind
    sector: Sector | None = Field(
        default=None, description="Required for trusted partners, refused for other kinds."
    )


class OrganisationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    kind: OrgKind
    sector: Sector | None
    created_at: datetime


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    name: Name
    role: Role = Role.MEMBER


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    organisation_id: str
    email: str
    name: str
    role: Role
    created_at: datetime
    deactivated_at: datetime | None = None


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = "api"
    ttl_days: StrictInt | None = Field(
        default=None,
        ge=1,
        le=366,
        description="Lifetime in days: at most the platform's PREREVIEW_TOKEN_TTL_DAYS (also the "
        "default), and never beyond the expiry of the token making the request.",
    )


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    display_prefix: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class TokenCreated(TokenOut):
    token: str = Field(description="The bearer token. Shown this once; only its hash is kept.")


class Me(BaseModel):
    user: UserOut
    organisation: OrganisationOut


class InvitationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr = Field(description="Who is invited; the new account gets this email.")
    role: Role = Field(default=Role.ADMIN, description="The role the new account gets.")


class InvitationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    organisation_id: str
    email: str
    role: Role
    created_at: datetime
    expires_at: datetime
    redeemed_at: datetime | None


class InvitationCreated(InvitationOut):
    secret: str = Field(
        description="The invitation. Shown this once; only its hash is kept. Give it to the "
        "person by a channel you trust; it works once, until it expires."
    )


class InvitationRedeem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    secret: str = Field(min_length=1, max_length=200, description="The invitation's secret.")
    name: Name = Field(description="Your name, as others on the platform will see it.")


class Redeemed(BaseModel):
    user: UserOut
    organisation: OrganisationOut
    token: TokenCreated
