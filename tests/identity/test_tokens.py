"""API tokens: shown once, stored hashed, expiring, revocable, listed with last use."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from prereview.core.clock import FixedClock
from prereview.identity.models import ApiToken
from prereview.identity.service import hash_token
from support.factories import Platform


def test_token_is_shown_once_and_stored_only_as_hash(platform: Platform) -> None:
    created = platform.call("agency", "POST", "/tokens", 201, json={"name": "laptop"}).json()
    token = created["token"]
    assert token.startswith("prv_") and len(token) > 40
    with platform.context.sessions() as db:
        stored = db.scalars(select(ApiToken).where(ApiToken.id == created["id"])).one()
        assert stored.token_hash == hash_token(token)
        every_column = " ".join(str(getattr(stored, c.key)) for c in ApiToken.__table__.columns)
        assert token not in every_column
    listed = platform.call("agency", "GET", "/tokens", 200).json()
    assert all("token" not in item for item in listed["items"])
    assert created["id"] in {item["id"] for item in listed["items"]}
    me = platform.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200
    assert me.json()["organisation"]["id"] == platform["agency"].org_id


def test_revoked_and_expired_tokens_are_refused_with_reason(
    platform: Platform, clock: FixedClock
) -> None:
    short = platform.call("agency", "POST", "/tokens", 201, json={"ttl_days": 1}).json()
    revoked = platform.call("agency", "POST", "/tokens", 201, json={}).json()
    platform.call("agency", "POST", f"/tokens/{revoked['id']}/revoke", 200)

    def who(token: str) -> dict[str, str]:
        response = platform.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401
        assert response.headers["content-type"].startswith("application/problem+json")
        return response.json()  # type: ignore[no-any-return]

    assert who(revoked["token"])["type"].endswith("token-revoked")
    clock.advance(timedelta(days=1, seconds=1))
    assert who(short["token"])["type"].endswith("token-expired")
    assert who("prv_" + "x" * 43)["type"].endswith("token-invalid")
    missing = platform.client.get("/api/v1/me")
    assert missing.status_code == 401
    assert missing.json()["type"].endswith("token-missing")


def test_last_use_is_recorded(platform: Platform, clock: FixedClock) -> None:
    created = platform.call("agency", "POST", "/tokens", 201, json={}).json()
    clock.advance(timedelta(minutes=5))
    platform.client.get("/api/v1/me", headers={"Authorization": f"Bearer {created['token']}"})
    listed = platform.call("agency", "GET", "/tokens", 200).json()["items"]
    used = next(item for item in listed if item["id"] == created["id"])
    assert used["last_used_at"] is not None
    assert used["last_used_at"].startswith(clock.now().isoformat()[:16])


def test_other_organisations_tokens_cannot_be_revoked(platform: Platform) -> None:
    created = platform.call("agency", "POST", "/tokens", 201, json={}).json()
    response = platform.call("developer", "POST", f"/tokens/{created['id']}/revoke", 404)
    assert response.json()["type"].endswith("token-not-found")
    assert (
        platform.client.get(
            "/api/v1/me", headers={"Authorization": f"Bearer {created['token']}"}
        ).status_code
        == 200
    )


def test_bootstrap_only_once(platform: Platform) -> None:
    import pytest

    from prereview.authz.kinds import OrgKind
    from prereview.core.db import transaction
    from prereview.identity import errors, service
    from prereview.identity.schemas import OrganisationCreate, UserCreate

    with pytest.raises(errors.AlreadyBootstrapped), transaction(platform.context.sessions) as db:
        service.bootstrap(
            db,
            OrganisationCreate(name="Second", kind=OrgKind.CLEARINGHOUSE),
            UserCreate(email="second@example.org", name="S"),
            platform.context.clock.now(),
            timedelta(days=1),
        )


def test_token_lifetime_is_capped_by_the_platform(platform: Platform) -> None:
    """Attack: any token could mint a 366-day token; PREREVIEW_TOKEN_TTL_DAYS is now a cap."""
    cap = platform.context.settings.token_ttl_days
    too_long = platform.call("agency", "POST", "/tokens", 422, json={"ttl_days": cap + 1}).json()
    assert too_long["type"] == "urn:prereview:problem:token-ttl-too-long"
    assert str(cap) in too_long["detail"]
    platform.call("agency", "POST", "/tokens", 422, json={"ttl_days": 366})
    now = platform.context.clock.now()
    at_cap = platform.call("agency", "POST", "/tokens", 201, json={"ttl_days": cap}).json()
    default = platform.call("agency", "POST", "/tokens", 201, json={}).json()
    for created in (at_cap, default):
        assert datetime.fromisoformat(created["expires_at"]) == now + timedelta(days=cap)


def test_a_token_never_outlives_the_token_that_made_it(
    platform: Platform, clock: FixedClock
) -> None:
    """Attack: a stolen token about to expire is traded for a fresh long-lived one."""
    short = platform.call("agency", "POST", "/tokens", 201, json={"ttl_days": 2}).json()
    headers = {"Authorization": f"Bearer {short['token']}"}
    child = platform.client.post("/api/v1/tokens", json={"ttl_days": 30}, headers=headers)
    assert child.status_code == 201
    assert child.json()["expires_at"] == short["expires_at"]
    grandchild = platform.client.post(
        "/api/v1/tokens", json={}, headers={"Authorization": f"Bearer {child.json()['token']}"}
    )
    assert grandchild.json()["expires_at"] == short["expires_at"]
    clock.advance(timedelta(days=2))
    for token in (short["token"], child.json()["token"], grandchild.json()["token"]):
        refused = platform.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 401
        assert refused.json()["type"].endswith("token-expired")
