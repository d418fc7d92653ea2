"""Rendering pages: the templates, their filters, and the error page a person can act on.

Shared by every capability's page module (:mod:`prereview.web.pages`), so that all pages use
one template environment (``web/templates/<capability>/``, with ``base.html`` and
``error.html`` at the top) and answer a refusal with the same words as the API.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from prereview.core.errors import PrereviewError
from prereview.web.session import LoginRequired, who_is

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")

NOT_BLANK = r"\S"  # a form field that holds something other than white space


def countdown(seconds: int | None) -> str:
    if seconds is None:
        return ""
    left = timedelta(seconds=seconds)
    hours, rest = divmod(left.seconds, 3600)
    return f"{left.days}d {hours}h {rest // 60}m"


templates.env.filters["countdown"] = countdown


def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """The template ``name`` (relative to ``web/templates``) rendered with ``context``.

    A whole page for a signed-in person (one that extends ``base.html``) also gets ``me``, who
    they are, for the header; a fragment (``_name.html``, swapped into a page by htmx) has
    no header, so it does not ask.
    """
    ctx = getattr(request.state, "page_context", None)
    if ctx is not None and not Path(name).name.startswith("_"):
        context.setdefault("me", who_is(ctx))
    return templates.TemplateResponse(request, name, context, status_code=status)


def guarded(request: Request, build: Callable[[], Response]) -> Response:
    """Render a page, or the error a person can act on (the same words as the API's)."""
    try:
        return build()
    except LoginRequired:
        raise
    except PrereviewError as error:
        # A refusal raised while writing (a NUL in a text, found at the flush) leaves the
        # session to be rolled back; the error page reads through it (who is signed in), so
        # roll back first: else that read fails and the refusal becomes a 500.
        ctx = getattr(request.state, "page_context", None)
        if ctx is not None:
            ctx.db.rollback()
        return page(request, "error.html", error.status, error=error)
