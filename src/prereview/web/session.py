"""Who is looking at a page: a web session, opened by signing in with an API token.

The cookie holds a random session secret (HttpOnly, SameSite=Strict, Secure over https), never
the API token; the server keeps the secret's hash and revokes the session at sign-out. Pages ask
the same services as the API, so the policy module decides for pages too. State-changing forms
must also show that they come from this site: an ``Origin`` header naming it or, when a browser
sends none, a ``Referer`` on it; a request with neither is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from prereview.authz.actor import Actor
from prereview.authz.kinds import OrgKind
from prereview.authz.request import RequestContext
from prereview.core.context import get_context, get_db
from prereview.core.errors import Forbidden, Unauthenticated
from prereview.core.settings import Settings
from prereview.identity import service as identity
from prereview.identity import sessions

COOKIE = "prereview_session"


class LoginRequired(Unauthenticated):
    slug = "login-required"


class CrossSiteForm(Forbidden):
    slug = "cross-site-form"


def session_limits(settings: Settings) -> sessions.SessionLimits:
    return sessions.SessionLimits(
        lifetime=timedelta(hours=settings.web_session_hours),
        idle=timedelta(minutes=settings.web_session_idle_minutes),
    )


def _signed_in(request: Request, db: Session, now: datetime, settings: Settings) -> Actor:
    secret = request.cookies.get(COOKIE)
    if not secret:
        raise LoginRequired("sign in with an API token")
    try:
        return sessions.authenticate_session(db, secret, now, session_limits(settings))
    except Unauthenticated as exc:
        raise LoginRequired(exc.detail) from None


@dataclass(frozen=True)
class Me:
    """Who is signed in, as every page's header shows it: the person and their organisation
    by name (never its id) and kind."""

    name: str
    email: str
    organisation: str
    kind: OrgKind


def who_is(ctx: RequestContext) -> Me:
    """The signed-in person of ``ctx``, with the organisation's name from identity."""
    user = identity.get_user(ctx.db, ctx.actor.user_id)
    org_id = ctx.actor.organisation_id
    names = identity.organisation_names(ctx.db, [org_id])
    return Me(user.name, user.email, names.get(org_id, org_id), ctx.actor.org_kind)


def page_context(request: Request, db: Annotated[Session, Depends(get_db)]) -> RequestContext:
    """The API's request context, with the caller from the session cookie: one instant read
    once, for checking the session and for the page alike. It is kept on the request too, so
    that every page rendered for it (an error page included) heads with who is signed in."""
    context = get_context(request)
    now = context.clock.now()
    actor = _signed_in(request, db, now, context.settings)
    ctx = RequestContext(db=db, actor=actor, now=now, settings=context.settings)
    request.state.page_context = ctx
    return ctx


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def same_origin(request: Request) -> None:
    """Refuse a form post that does not show it comes from this site.

    Browsers send ``Origin`` on every POST (``null`` from sandboxed or privacy-sensitive
    contexts, which is refused); a missing one falls back to the ``Referer``; with neither
    the request is refused, as one that a forged page could have sent.
    """
    expected = f"{request.url.scheme}://{request.url.netloc}"
    origin = request.headers.get("origin")
    if origin is not None:
        if origin != expected:
            raise CrossSiteForm("this form must be sent from the prereview site itself")
        return
    referer = request.headers.get("referer")
    if referer is None:
        raise CrossSiteForm(
            "this form was sent without an Origin or Referer header, so it cannot be told "
            "apart from one sent by another site; send it from the prereview site itself"
        )
    if _origin_of(referer) != expected:
        raise CrossSiteForm("this form must be sent from the prereview site itself")


PageContext = Annotated[RequestContext, Depends(page_context)]
