"""Identity's service: organisations and their people (who may admit whom, sectors for
partners, clear errors), API tokens (shown once, stored hashed, expiring, revocable, listed with
last use) and deactivating people (every token and session stops at once, by the
organisation's own administrators only, audited, and reversible)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from prereview.audit.models import AuditEntry
from prereview.authz.kinds import OrgKind
from prereview.core.clock import FixedClock
from prereview.identity import errors
from prereview.identity.models import ApiToken
from prereview.identity.service import hash_token
from support.factories import Platform
from support.factories.identity import bootstrap_again, me_status, new_member

SITE = {"origin": "http://testserver"}


def test_clearinghouse_admin_admits_organisations(platform: Platform) -> None:
    created = platform.call(
        "clearinghouse",
        "POST",
        "/organisations",
        201,
        json={
            "name": "Tri-County Water",
            "kind": "trusted_partner",
            "sector": "water_and_wastewater",
        },
    ).json()
    assert created["sector"] == "water_and_wastewater"
    listed = platform.call("agency", "GET", "/organisations?kind=trusted_partner", 200).json()
    assert "Tri-County Water" in {o["name"] for o in listed["items"]}
    platform.call("developer", "POST", "/organisations", 403, json={"name": "X", "kind": "agency"})


def test_partner_needs_sector_and_others_have_none(platform: Platform) -> None:
    missing = platform.call(
        "clearinghouse",
        "POST",
        "/organisations",
        422,
        json={"name": "Bank", "kind": "trusted_partner"},
    ).json()
    assert missing["type"] == "urn:prereview:problem:sector-mismatch"
    platform.call(
        "clearinghouse",
        "POST",
        "/organisations",
        422,
        json={"name": "Lab", "kind": "developer", "sector": "energy"},
    )
    unknown = platform.call(
        "clearinghouse",
        "POST",
        "/organisations",
        422,
        json={"name": "Lab", "kind": "trusted_partner", "sector": "space"},
    ).json()
    assert unknown["type"] == "urn:prereview:problem:invalid-input"
    assert unknown["errors"][0]["location"] == ["body", "sector"]
    names = {
        o["name"]
        for o in platform.call("clearinghouse", "GET", "/organisations?limit=200", 200).json()[
            "items"
        ]
    }
    assert not {"Bank", "Lab"} & names


def test_duplicate_name_is_a_conflict(platform: Platform) -> None:
    body = {"name": "agency org", "kind": "agency"}
    problem = platform.call("clearinghouse", "POST", "/organisations", 409, json=body).json()
    assert problem["type"].endswith("organisation-name-taken")


def test_admins_add_people_to_their_own_organisation_only(platform: Platform) -> None:
    agency = platform["agency"].org_id
    user = platform.call(
        "agency",
        "POST",
        f"/organisations/{agency}/users",
        201,
        json={"email": "Analyst@Agency.gov", "name": "Analyst", "role": "member"},
    ).json()
    assert user["email"] == "analyst@agency.gov"
    platform.call(
        "other_agency",
        "POST",
        f"/organisations/{agency}/users",
        403,
        json={"email": "spy@agency.gov", "name": "Spy"},
    )
    platform.call("other_agency", "GET", f"/organisations/{agency}/users", 403)
    taken = platform.call(
        "agency",
        "POST",
        f"/organisations/{agency}/users",
        409,
        json={"email": "analyst@agency.gov", "name": "Again"},
    ).json()
    assert taken["type"].endswith("email-taken")


def test_pagination(platform: Platform) -> None:
    page = platform.call("agency", "GET", "/organisations?limit=2&offset=1", 200).json()
    assert page["limit"] == 2 and page["offset"] == 1 and len(page["items"]) == 2
    assert page["total"] == 7
    platform.call("agency", "GET", "/organisations?limit=0", 422)
    platform.call("agency", "GET", "/organisations?limit=201", 422)


def test_email_taken_says_nothing_about_other_organisations(platform: Platform) -> None:
    """Attack: an administrator probes emails to learn who has an account in other
    organisations (a platform-wide 409 told it). Emails are unique per organisation now."""
    agency = platform["agency"].org_id
    # developer@developer.org is the developer organisation's administrator.
    same = platform.call(
        "agency",
        "POST",
        f"/organisations/{agency}/users",
        201,
        json={"email": "developer@developer.org", "name": "Namesake"},
    ).json()
    assert same["organisation_id"] == agency
    again = platform.call(
        "agency",
        "POST",
        f"/organisations/{agency}/users",
        409,
        json={"email": "Developer@Developer.org", "name": "Twice"},
    ).json()
    assert again["type"].endswith("email-taken")
    assert "your organisation" in again["detail"]
    # Both accounts work, each as itself.
    me = platform.call("developer", "GET", "/me", 200).json()
    assert me["organisation"]["id"] == platform["developer"].org_id


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
    with pytest.raises(errors.AlreadyBootstrapped):
        bootstrap_again(platform, "Second", OrgKind.CLEARINGHOUSE, "second@example.org", "S")


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


def test_deactivation_stops_every_token_and_session_at_once(platform: Platform) -> None:
    """Attack: a person who left keeps using their tokens and signed-in browser."""
    user_id, token = new_member(platform)
    second = platform.client.post(
        "/api/v1/tokens", json={"name": "second"}, headers={"Authorization": f"Bearer {token}"}
    ).json()["token"]
    browser = platform.client
    browser.cookies.clear()
    assert (
        browser.post(
            "/web/login", data={"token": token}, headers=SITE, follow_redirects=False
        ).status_code
        == 303
    )
    assert browser.get("/web/", follow_redirects=False).status_code == 200
    assert me_status(platform, token)[0] == 200

    out = platform.call("developer", "POST", f"/users/{user_id}/deactivate", 200).json()
    assert out["deactivated_at"] is not None
    for each in (token, second):
        assert me_status(platform, each) == (401, "urn:prereview:problem:user-deactivated")
    page = browser.get("/web/", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/web/login"
    assert (
        browser.post(
            "/web/login", data={"token": token}, headers=SITE, follow_redirects=False
        ).status_code
        == 401
    )

    back = platform.call("developer", "POST", f"/users/{user_id}/reactivate", 200).json()
    assert back["deactivated_at"] is None
    assert me_status(platform, token)[0] == 200
    # The browser signed in before stays signed out: deactivation revoked its session.
    assert browser.get("/web/", follow_redirects=False).status_code == 303
    with platform.context.sessions() as db:
        actions = list(
            db.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.object_id == user_id)
                .order_by(AuditEntry.seq)
            )
        )
    assert actions[-2:] == ["identity:user:deactivate", "identity:user:reactivate"]


def test_only_the_users_own_administrators_deactivate(platform: Platform) -> None:
    """Attack: another organisation (the clearinghouse included: that would be a veto on a
    developer's release) switches a developer's people off, or learns they exist."""
    user_id, token = new_member(platform)
    for outsider in ("other_developer", "agency", "clearinghouse"):
        refused = platform.call(outsider, "POST", f"/users/{user_id}/deactivate", 404).json()
        assert refused["type"].endswith("user-not-found")
    member = platform.client.post(
        f"/api/v1/users/{platform['developer'].user_id}/deactivate",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert member.status_code == 403
    own = platform.call(
        "developer", "POST", f"/users/{platform['developer'].user_id}/deactivate", 409
    ).json()
    assert own["type"].endswith("cannot-deactivate-self")
    assert me_status(platform, token)[0] == 200
    assert me_status(platform, platform["developer"].token)[0] == 200
