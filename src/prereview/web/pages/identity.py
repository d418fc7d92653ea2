"""Identity's pages: signing in with an API token and signing out.

Signing in opens a web session (:mod:`prereview.identity.sessions`); the cookie holds the
session's secret, never the token.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from prereview.authz.request import DB, Now
from prereview.core.errors import PrereviewError
from prereview.identity import sessions
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
