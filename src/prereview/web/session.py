"""Who is looking at a page: the API token kept in an HttpOnly, SameSite=Strict cookie.

Pages authenticate exactly as the API does (the same token, checked by the same service) and
ask the same services, so the policy module decides for pages too. State-changing forms also
check that the request's Origin is this server, on top of SameSite=Strict.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from prereview.core.context import get_context, get_db
from prereview.core.errors import Forbidden, Unauthenticated
from prereview.identity import service as identity
from prereview.identity.actor import Actor

COOKIE = "prereview_token"


class LoginRequired(Unauthenticated):
    slug = "login-required"


def page_actor(request: Request, db: Annotated[Session, Depends(get_db)]) -> Actor:
    token = request.cookies.get(COOKIE)
    if not token:
        raise LoginRequired("sign in with an API token")
    try:
        return identity.authenticate(db, token, get_context(request).clock.now())
    except Unauthenticated as exc:
        raise LoginRequired(exc.detail) from None


def same_origin(request: Request) -> None:
    """Refuse a form post that comes from another site."""
    origin = request.headers.get("origin")
    expected = f"{request.url.scheme}://{request.url.netloc}"
    if origin is not None and origin != expected:
        raise Forbidden("this form must be sent from the prereview site itself")


PageActor = Annotated[Actor, Depends(page_actor)]
