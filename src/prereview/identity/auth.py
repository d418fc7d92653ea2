"""The FastAPI dependency that turns a bearer token into an :class:`Actor`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from prereview.core.context import get_context, get_db
from prereview.identity import service
from prereview.identity.actor import Actor

_bearer = HTTPBearer(auto_error=False, description="An API token: `Authorization: Bearer prv_...`")


def current_actor(
    request: Request,
    db: Annotated[Session, Depends(get_db)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    presented = credentials.credentials if credentials else None
    return service.authenticate(db, presented, get_context(request).clock.now())


CurrentActor = Annotated[Actor, Depends(current_actor)]
DB = Annotated[Session, Depends(get_db)]
