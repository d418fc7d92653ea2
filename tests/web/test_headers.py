"""Security headers on every answer, pages with no inline script or style for the CSP to
allow, and forms that must show they come from this site."""

from __future__ import annotations

import re

import pytest

from support.factories import Platform

SITE = {"origin": "http://testserver"}
PAGE_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    # Not no-referrer: under it a browser sends Origin: null with the site's own form posts.
    "referrer-policy": "same-origin",
}
# The API has no forms and no links to follow: it sends no Referer at all.
API_HEADERS = PAGE_HEADERS | {"referrer-policy": "no-referrer"}


def sign_in(platform: Platform, who: str) -> None:
    platform.client.cookies.clear()
    response = platform.client.post(
        "/web/login", data={"token": platform[who].token}, headers=SITE, follow_redirects=False
    )
    assert response.status_code == 303


def assert_page_headers(headers: dict[str, str] | object, path: str) -> None:
    assert hasattr(headers, "get")
    for name, value in PAGE_HEADERS.items():
        assert headers.get(name) == value, (path, name)  # type: ignore[attr-defined]
    csp = headers.get("content-security-policy", "")  # type: ignore[attr-defined]
    assert "frame-ancestors 'none'" in csp, path
    assert "default-src 'none'" in csp and "script-src 'self'" in csp, path
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, path


def test_every_page_carries_the_security_headers(platform: Platform) -> None:
    """Attack: framing a page to click-jack 'Release now', sniffing a file as script, leaking
    submission ids through the Referer."""
    sub = platform.submit(model_name="Helios")
    platform.client.cookies.clear()
    anonymous = ["/web/login", "/web/", "/web/no-such-page", "/web/static/site.css"]
    for path in anonymous:
        response = platform.client.get(path, follow_redirects=False)
        assert_page_headers(response.headers, path)
    sign_in(platform, "developer")
    for path in ["/web/", f"/web/submissions/{sub['id']}", f"/web/submissions/{sub['id']}/window"]:
        response = platform.client.get(path)
        assert response.status_code == 200, path
        assert_page_headers(response.headers, path)
        assert response.headers["cache-control"] == "no-store"
    refused = platform.client.post(f"/web/submissions/{sub['id']}/release")
    assert_page_headers(refused.headers, "forged post")


def test_pages_have_no_inline_script_or_style(platform: Platform) -> None:
    """The CSP allows no inline script or style, so none may be needed: every page renders
    with its script and styles from /web/static only."""
    sub = platform.submit(model_name="Helios")
    platform.grant(sub["id"])
    pages = []
    platform.client.cookies.clear()
    pages.append(platform.client.get("/web/login").text)
    for who in ("developer", "agency"):
        sign_in(platform, who)
        pages.append(platform.client.get("/web/").text)
        pages.append(platform.client.get(f"/web/submissions/{sub['id']}").text)
    for html in pages:
        assert "<style" not in html
        assert not re.search(r"\sstyle\s*=", html)
        assert not re.search(r"\son[a-z]+\s*=", html)  # no inline event handlers
        for script in re.findall(r"<script\b[^>]*>(.*?)</script>", html, flags=re.S):
            assert script.strip() == ""  # only <script src=...></script>
        assert 'href="/web/static/site.css"' in html
    css = platform.client.get("/web/static/site.css")
    assert css.status_code == 200 and "--accent" in css.text


def test_the_api_carries_sensible_headers(platform: Platform) -> None:
    sub = platform.submit()
    material_id = platform.call(
        "developer",
        "POST",
        f"/submissions/{sub['id']}/materials",
        201,
        params={"filename": "card.pdf", "kind": "system_card"},
        content=b"%PDF-1.7 card",
    ).json()["id"]
    for response in (
        platform.call("developer", "GET", "/me", 200),
        platform.call(None, "GET", "/me", 401),
        # A streamed download passes through the middleware whole.
        platform.call("developer", "GET", f"/materials/{material_id}/content", 200),
    ):
        for name, value in API_HEADERS.items():
            assert response.headers[name] == value
        assert response.headers["content-security-policy"] == (
            "default-src 'none'; frame-ancestors 'none'"
        )
        # confidential answers are never kept in a shared or client cache
        assert response.headers["cache-control"] == "no-store"
    assert response.content == b"%PDF-1.7 card"
    docs = platform.client.get("/api/v1/docs")
    # Swagger UI is served by the site itself: its page allows no other origin.
    policy = docs.headers["content-security-policy"]
    assert policy.startswith("default-src 'none'; script-src 'self' 'sha256-")
    assert "frame-ancestors 'none'" in policy
    assert "http" not in policy
    assert docs.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        ({}, False),  # neither Origin nor Referer: could be any site's form
        ({"origin": "null"}, False),  # sandboxed frame or privacy-stripped
        ({"origin": "https://evil.example"}, False),
        ({"referer": "https://evil.example/page"}, False),
        ({"referer": "http://testserver.evil.example/"}, False),
        ({"origin": "http://testserver"}, True),
        ({"referer": "http://testserver/web/submissions/x"}, True),
    ],
)
def test_forms_must_come_from_this_site(
    platform: Platform, headers: dict[str, str], allowed: bool
) -> None:
    """Attack: another site's page posts a form to release the developer's model (or to sign
    the victim in as the attacker). Today's check passed requests without an Origin."""
    sub = platform.submit()
    sign_in(platform, "developer")
    response = platform.client.post(
        f"/web/submissions/{sub['id']}/release", headers=headers, follow_redirects=False
    )
    released = platform.call("developer", "GET", f"/submissions/{sub['id']}", 200).json()
    if allowed:
        assert response.status_code == 303
        assert released["released_at"] is not None
        return
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == "urn:prereview:problem:cross-site-form"
    assert released["released_at"] is None
    login = platform.client.post(
        "/web/login", data={"token": platform["developer"].token}, headers=headers
    )
    assert login.status_code == 403
