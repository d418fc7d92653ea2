"""The request context every route depends on: database session, clock, settings and caller.

Routes in every capability, audit and identity included, need the caller, but only identity
can turn a bearer token into one. The app therefore installs identity's authenticator
(:func:`install_authenticator`) and this module, below every capability, only calls it: no
capability imports identity to authenticate, and identity's own routes use the same context.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from prereview.authz.actor import Actor
from prereview.core.context import get_context, get_db
from prereview.core.settings import Settings

Authenticator = Callable[[Session, str | None, datetime], Actor]
"""Turns a presented bearer token (or none) into the actor, or raises ``Unauthenticated``."""

_bearer = HTTPBearer(auto_error=False, description="An API token: `Authorization: Bearer prv_...`")


def install_authenticator(app: FastAPI, authenticate: Authenticator) -> None:
    """Name the function that authenticates bearer tokens for every route of ``app``."""
    app.state.authenticate = authenticate


def current_actor(
    request: Request,
    db: Annotated[Session, Depends(get_db)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    authenticate: Authenticator = request.app.state.authenticate
    presented = credentials.credentials if credentials else None
    return authenticate(db, presented, get_context(request).clock.now())


DB = Annotated[Session, Depends(get_db)]
CurrentActor = Annotated[Actor, Depends(current_actor)]


@dataclass(frozen=True, slots=True)
class RequestContext:
    """What one API request runs with. ``now`` is read once, so a request sees one instant."""

    db: Session
    actor: Actor
    now: datetime
    settings: Settings


def request_context(request: Request, db: DB, actor: CurrentActor) -> RequestContext:
    context = get_context(request)
    return RequestContext(db=db, actor=actor, now=context.clock.now(), settings=context.settings)


@dataclass(frozen=True, slots=True)
class Clocked:
    """The instant and settings of a request, for routes that need them without a caller."""

    now: datetime
    settings: Settings


def clocked(request: Request) -> Clocked:
    context = get_context(request)
    return Clocked(now=context.clock.now(), settings=context.settings)


Context = Annotated[RequestContext, Depends(request_context)]
Now = Annotated[Clocked, Depends(clocked)]
