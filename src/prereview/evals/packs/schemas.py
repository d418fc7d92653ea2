"""Request and response models of private task packs."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class PackShareCreate(BaseModel):
    """Share a pack with one agency, until ``ends_at`` if given."""

    model_config = ConfigDict(extra="forbid")

    agency_org_id: Annotated[str, Field(min_length=1, max_length=40)]
    ends_at: AwareDatetime | None = None


class PackShareOut(BaseModel):
    id: str
    pack_id: str
    agency_org_id: str
    created_at: datetime
    ends_at: datetime | None
    revoked_at: datetime | None
    live: bool


class PackOut(BaseModel):
    """A pack as the agencies that may read it see it (the developer never does)."""

    id: str
    owner_org_id: str
    name: str
    version: str
    reference: str = Field(description="name@version, as `prereview eval run --pack` takes it")
    description: str
    package: str
    tasks: list[str]
    filename: str
    size: int
    sha256: str
    created_at: datetime
    shares: list[PackShareOut] = Field(
        default_factory=list, description="whom the owner shares it with (the owner only)"
    )
