"""Security headers on every answer: strict ones for the pages, sensible ones for the API.

A pure ASGI middleware (not Starlette's ``BaseHTTPMiddleware``), so streamed downloads pass
through untouched: it only adds headers to the start of each answer, never replacing one that
a route set itself.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The pages load htmx and the style sheet from /web/static and nothing else: no inline script
# or style (htmx is told not to inject its own style, see base.html), no eval, no framing.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# JSON needs no resources at all.
API_CSP = "default-src 'none'; frame-ancestors 'none'"
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def docs_csp(script_hashes: Iterable[str] = ()) -> str:
    """The policy of the interactive API documentation: everything from the site itself.

    Swagger UI's script, style sheet and icon are served under the docs path; the page starts
    it with one inline script, allowed by its hash (``script_hashes``, from
    :func:`inline_script_hashes`) and by nothing looser. Its style sheet draws its icons as
    ``data:`` images; it fetches the OpenAPI document and runs "try it out" on this site.
    """
    scripts = " ".join(["'self'", *(f"'{h}'" for h in script_hashes)])
    return (
        f"default-src 'none'; script-src {scripts}; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )


def inline_script_hashes(page: bytes) -> tuple[str, ...]:
    """The CSP source hashes (``sha256-...``) of the inline scripts of an HTML page."""
    return tuple(
        "sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode()
        for script in _INLINE_SCRIPT.findall(page)
    )


DOCS_CSP = docs_csp()

_COMMON = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}
# Pages send their Referer to the site itself and nowhere else, so submission ids in their
# addresses still never leave it. Not "no-referrer": under that policy a browser sends
# ``Origin: null`` with a same-site form post, which :func:`~prereview.web.session.same_origin`
# must refuse, and no form of the site would work in a real browser.
PAGE_REFERRER_POLICY = "same-origin"


def headers_for(
    path: str, https: bool, docs_prefix: str, docs_policy: str = DOCS_CSP
) -> dict[str, str]:
    """The security headers for an answer to ``path`` (``docs_policy`` under ``docs_prefix``)."""
    headers = dict(_COMMON)
    if path == "/web" or path.startswith("/web/"):
        headers["content-security-policy"] = PAGE_CSP
        headers["referrer-policy"] = PAGE_REFERRER_POLICY
        if not path.startswith("/web/static/"):
            # Pages show confidential work: no copy in shared or browser caches.
            headers["cache-control"] = "no-store"
    elif path.startswith(docs_prefix):
        headers["content-security-policy"] = docs_policy
    else:
        headers["content-security-policy"] = API_CSP
        # The API answers with confidential work too (reports, findings, materials): no
        # copy in a proxy's or client's cache, unless a route says otherwise (the public
        # tiles of the audit log set their own caching).
        headers["cache-control"] = "no-store"
    if https:
        headers["strict-transport-security"] = "max-age=31536000"
    return headers


class SecurityHeaders:
    """Adds :func:`headers_for` to every HTTP answer of the wrapped app.

    ``docs_script_hashes`` are the hashes of the docs page's inline scripts (see
    :func:`docs_csp`).
    """

    def __init__(
        self,
        app: ASGIApp,
        docs_prefix: str = "/api/v1/docs",
        docs_script_hashes: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.docs_prefix = docs_prefix
        self.docs_policy = docs_csp(docs_script_hashes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        wanted = headers_for(
            scope["path"], scope.get("scheme") == "https", self.docs_prefix, self.docs_policy
        )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in wanted.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
