"""Web sessions: the cookie holds a session secret, never the API token; sign-out revokes it on
the server; it ends when idle, at its absolute lifetime, and never outlives its token."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from prereview.core.clock import FixedClock
from prereview.identity.models import WebSession
from prereview.identity.service import hash_token
from prereview.web.session import COOKIE
from support.factories import Platform
from support.factories.identity import token_for

SITE = {"origin": "http://testserver"}


def sign_in(client: TestClient, token: str) -> str:
    """Sign in; the session secret the server set."""
    client.cookies.clear()
    response = client.post(
        "/web/login", data={"token": token}, headers=SITE, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    secret = response.cookies.get(COOKIE)
    assert secret
    return secret


def signed_in(client: TestClient) -> bool:
    page = client.get("/web/", follow_redirects=False)
    assert page.status_code in (200, 303)
    return page.status_code == 200


def test_the_cookie_holds_a_session_not_the_api_token(platform: Platform) -> None:
    """Attack: the API token in a cookie is a long-lived bearer credential for the whole API
    that any page-level leak (a copied cookie jar, a proxy log) hands over."""
    token = platform["developer"].token
    client = platform.client
    client.cookies.clear()
    response = client.post(
        "/web/login", data={"token": token}, headers=SITE, follow_redirects=False
    )
    cookie = response.headers["set-cookie"]
    assert token not in cookie
    secret = response.cookies[COOKIE]
    assert secret.startswith("prs_")
    lowered = cookie.lower()
    assert "httponly" in lowered and "samesite=strict" in lowered and "path=/web" in lowered
    assert "secure" not in lowered  # plain http in tests; see the https test
    with platform.context.sessions() as db:
        stored = db.scalars(select(WebSession)).one()
        assert stored.secret_hash == hash_token(secret)
        every_column = " ".join(str(getattr(stored, c.key)) for c in WebSession.__table__.columns)
        assert secret not in every_column and token not in every_column
    # The session secret is no API token, and the API token is no session.
    api = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert api.status_code == 401
    client.cookies.clear()
    client.cookies.set(COOKIE, token, path="/web")
    assert not signed_in(client)


@pytest.fixture
def https_client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://testserver") as client:
        yield client


def test_the_cookie_is_secure_over_https(platform: Platform, https_client: TestClient) -> None:
    response = https_client.post(
        "/web/login",
        data={"token": platform["agency"].token},
        headers={"origin": "https://testserver"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert "secure" in response.headers["set-cookie"].lower()
    assert response.headers["strict-transport-security"].startswith("max-age=")


def test_sign_out_revokes_the_session_on_the_server(platform: Platform) -> None:
    """Attack: a copy of the cookie taken before sign-out keeps working after it."""
    client = platform.client
    secret = sign_in(client, platform["developer"].token)
    assert signed_in(client)
    out = client.post("/web/logout", headers=SITE, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/web/login"
    client.cookies.clear()
    client.cookies.set(COOKIE, secret, path="/web")  # the copied cookie
    assert not signed_in(client)
    with platform.context.sessions() as db:
        assert db.scalars(select(WebSession)).one().revoked_at is not None
    # Signing out again, or with no session at all, is harmless.
    assert client.post("/web/logout", headers=SITE, follow_redirects=False).status_code == 303


def test_a_session_ends_when_idle(platform: Platform, clock: FixedClock) -> None:
    client = platform.client
    sign_in(client, platform["developer"].token)
    idle = timedelta(minutes=platform.context.settings.web_session_idle_minutes)
    clock.advance(idle - timedelta(minutes=2))
    assert signed_in(client)  # use moves the idle clock on
    clock.advance(idle - timedelta(minutes=2))
    assert signed_in(client)
    clock.advance(idle)
    assert not signed_in(client)


def test_a_session_ends_at_its_absolute_lifetime(platform: Platform, clock: FixedClock) -> None:
    client = platform.client
    sign_in(client, platform["developer"].token)
    lifetime = timedelta(hours=platform.context.settings.web_session_hours)
    step = timedelta(minutes=20)
    used = timedelta(0)
    while used + step < lifetime:
        clock.advance(step)
        used += step
        assert signed_in(client)
    clock.advance(lifetime - used)
    assert not signed_in(client)


def test_a_session_never_outlives_its_token(platform: Platform, clock: FixedClock) -> None:
    """Attack: sign in with a token about to expire (or soon revoked) and keep browsing."""
    now = clock.now()
    developer = platform["developer"].user_id
    short = token_for(platform, developer, "short", timedelta(hours=1))
    other = token_for(platform, developer, "other", timedelta(days=30))
    client = platform.client
    sign_in(client, short.plaintext)
    with platform.context.sessions() as db:
        session = db.scalars(select(WebSession)).one()
        assert session.expires_at == now + timedelta(hours=1)
    for _ in range(5):
        clock.advance(timedelta(minutes=10))
        assert signed_in(client)
    clock.advance(timedelta(minutes=10))
    assert not signed_in(client)

    sign_in(client, other.plaintext)
    assert signed_in(client)
    platform.call("developer", "POST", f"/tokens/{other.token.id}/revoke", 200)
    assert not signed_in(client)
