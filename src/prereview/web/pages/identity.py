"""Identity's pages: signing in with an API token, signing out, and redeeming an invitation.

Signing in opens a web session (:mod:`prereview.identity.sessions`); the cookie holds the
session's secret, never the token. Redeeming an invitation needs no session (the secret is the
credential, as for the API's ``POST /invitations/redeem``): it creates the account and shows
its first API token once, to sign in with.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from prereview.authz.request import DB, Now
from prereview.core.errors import InvalidInput, PrereviewError
from prereview.identity import invitations, sessions
from prereview.identity.schemas import InvitationRedeem
from prereview.web.render import page
from prereview.web.session import COOKIE, same_origin, session_limits

router = APIRouter(prefix="/web", include_in_schema=False)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    return page(request, "identity/login.html")


@router.post("/login", response_model=None)
def login(
    request: Request, db: DB, at: Now, token: Annotated[str, Form(max_length=200)]
) -> Response:
    """Check the API token and open a web session; the cookie holds the session, not the token."""
    same_origin(request)
    try:
        opened = sessions.open_session(db, token.strip(), at.now, session_limits(at.settings))
    except PrereviewError as error:
        return page(request, "identity/login.html", 401, error=error)
    response = RedirectResponse("/web/", status_code=303)
    response.set_cookie(
        COOKIE,
        opened.secret,
        # The browser forgets it when the session ends on the server at the latest.
        max_age=max(1, int((opened.session.expires_at - at.now).total_seconds())),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/web",
    )
    return response


@router.post("/logout")
def logout(request: Request, db: DB, at: Now) -> RedirectResponse:
    """Sign out: the session is revoked on the server, so a copied cookie is useless too."""
    same_origin(request)
    sessions.close_session(db, request.cookies.get(COOKIE), at.now)
    response = RedirectResponse("/web/login", status_code=303)
    response.delete_cookie(
        COOKIE,
        path="/web",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/invitations/redeem", response_class=HTMLResponse)
def redeem_form(request: Request) -> HTMLResponse:
    return page(request, "identity/redeem.html")


@router.post("/invitations/redeem", response_model=None)
def redeem(
    request: Request,
    db: DB,
    at: Now,
    secret: Annotated[str, Form(max_length=200)],
    name: Annotated[str, Form(max_length=200)],
) -> Response:
    """Redeem an invitation: the account is created and its first token shown this once."""
    same_origin(request)
    try:
        data = InvitationRedeem(secret=secret.strip(), name=name)
    except ValidationError:
        error = InvalidInput("give the invitation's secret and your name (up to 200 characters)")
        return page(request, "identity/redeem.html", error.status, error=error, typed_name=name)
    ttl = timedelta(days=at.settings.token_ttl_days)
    try:
        done = invitations.redeem_invitation(db, data.secret, data.name, at.now, ttl)
    except PrereviewError as error:
        return page(request, "identity/redeem.html", error.status, error=error, typed_name=name)
    return page(
        request,
        "identity/redeemed.html",
        user=done.user,
        organisation=done.user.organisation,
        token=done.token.token,
        secret=done.token.plaintext,
    )
