"""Web pages (Jinja2 and htmx) over the same services and policy as the API.

:func:`install` mounts every capability's pages (:mod:`prereview.web.pages`), their static
files, the redirect to sign in, and the site's root.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from prereview.core.problems import problem_response
from prereview.web.pages import ROUTERS
from prereview.web.render import HERE
from prereview.web.session import LoginRequired

__all__ = ["install"]


def _to_login(request: Request, exc: Exception) -> Response:
    if request.url.path.startswith("/web"):
        if request.headers.get("hx-request") == "true":
            # A poll or an htmx form after the session ended: a redirect would be followed
            # inside the request and the sign-in page swapped into the countdown; have htmx
            # load it as the page instead.
            return Response(status_code=200, headers={"HX-Redirect": "/web/login"})
        return RedirectResponse("/web/login", status_code=303)
    assert isinstance(exc, LoginRequired)
    return problem_response(exc.problem(instance=request.url.path))


def install(app: FastAPI) -> None:
    """Mount the pages and their static files on ``app``."""
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/web/static", StaticFiles(directory=HERE / "static"), name="web-static")
    app.add_exception_handler(LoginRequired, _to_login)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/web/", status_code=307)
