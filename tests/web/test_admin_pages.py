"""The administration pages: people (add, invite, deactivate and reactivate, confirmed), your
API tokens (shown once, listed with last use, revoked after confirming), and the clearinghouse
admitting organisations and inviting their first administrator."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

from prereview.authz.kinds import OrgKind, Role
from prereview.core.db import transaction
from prereview.identity import service as identity_service
from support.factories import Platform

SITE = {"origin": "http://testserver"}
SECRET = re.compile(r'<code id="secret" class="secret">([^<]+)</code>')


def sign_in(platform: Platform, who: str) -> None:
    platform.client.cookies.clear()
    platform.client.headers.update(SITE)
    response = platform.client.post(
        "/web/login", data={"token": platform[who].token}, follow_redirects=False
    )
    assert response.status_code == 303


def secret_on(html: str) -> str:
    found = SECRET.search(html)
    assert found, "no secret on the page"
    return found.group(1)


def test_a_token_is_shown_once_listed_with_last_use_and_revoked_after_confirming(
    platform: Platform,
) -> None:
    sign_in(platform, "developer")
    created = platform.client.post("/web/admin/tokens", data={"name": "ci", "ttl_days": "7"})
    assert created.status_code == 200
    token = secret_on(created.text)
    assert token.startswith("prv_") and 'data-copy="secret"' in created.text
    # The token is real: the API answers it, as the developer.
    me = platform.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["user"]["id"] == platform["developer"].user_id
    (row,) = [
        t
        for t in platform.call("developer", "GET", "/tokens", 200).json()["items"]
        if t["name"] == "ci"
    ]
    assert row["expires_at"].startswith(
        (platform.context.clock.now() + timedelta(days=7)).date().isoformat()
    )
    # Listed, never shown again; its last use is the call just made.
    listed = platform.client.get("/web/admin/tokens").text
    assert token not in listed and "ci" in listed
    cell = listed.split(f'id="token-{row["id"]}"')[1].split("</tr>")[0]
    assert "never" not in cell.split('class="last-used"')[1].split("</td>")[0]
    assert "active" in cell
    # Revoking confirms: the button opens the confirmation page without JavaScript.
    assert f'action="/web/admin/tokens/{row["id"]}/revoke"' in listed
    assert f'hx-post="/web/admin/tokens/{row["id"]}/revoke" hx-confirm=' in listed
    confirm = platform.client.get(f"/web/admin/tokens/{row['id']}/revoke")
    assert confirm.status_code == 200 and "cannot be undone" in confirm.text
    revoked = platform.client.post(f"/web/admin/tokens/{row['id']}/revoke", follow_redirects=True)
    assert revoked.status_code == 200
    cell = revoked.text.split(f'id="token-{row["id"]}"')[1].split("</tr>")[0]
    assert "revoked" in cell and "Revoke" not in cell
    assert (
        platform.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )


def test_a_token_form_that_is_not_valid_changes_nothing(platform: Platform) -> None:
    sign_in(platform, "developer")
    before = platform.call("developer", "GET", "/tokens", 200).json()["total"]
    too_long = platform.client.post("/web/admin/tokens", data={"name": "x", "ttl_days": "9999"})
    assert too_long.status_code == 422 and "ttl_days" in too_long.text
    beyond = platform.client.post(
        "/web/admin/tokens",
        data={"name": "x", "ttl_days": str(platform.context.settings.token_ttl_days + 1)},
    )
    assert beyond.status_code == 422 and "PREREVIEW_TOKEN_TTL_DAYS" in beyond.text
    words = platform.client.post("/web/admin/tokens", data={"name": "x", "ttl_days": "a week"})
    assert words.status_code == 422 and "whole number" in words.text
    blank = platform.client.post("/web/admin/tokens", data={"name": "   "})
    assert blank.status_code == 422
    assert platform.call("developer", "GET", "/tokens", 200).json()["total"] == before


def test_another_users_token_is_not_found(platform: Platform) -> None:
    other = platform.call("other_developer", "GET", "/tokens", 200).json()["items"][0]
    sign_in(platform, "developer")
    assert platform.client.get(f"/web/admin/tokens/{other['id']}/revoke").status_code == 404
    assert platform.client.post(f"/web/admin/tokens/{other['id']}/revoke").status_code == 404
    assert platform.call("other_developer", "GET", "/me", 200)


def test_an_admin_adds_deactivates_and_reactivates_a_person(platform: Platform) -> None:
    sign_in(platform, "developer")
    email = f"sam.{uuid.uuid4().hex[:6]}@lab.example"
    added = platform.client.post(
        "/web/admin/users",
        data={"name": "Sam", "email": email, "role": "member"},
        follow_redirects=True,
    )
    assert added.status_code == 200 and email in added.text
    org = platform["developer"].org_id
    users = platform.call("developer", "GET", f"/organisations/{org}/users", 200).json()["items"]
    (sam,) = [u for u in users if u["email"] == email]
    assert sam["role"] == "member"
    page = platform.client.get("/web/admin/users").text
    assert f'hx-post="/web/admin/users/{sam["id"]}/deactivate" hx-confirm=' in page
    # Nobody deactivates themselves: no button, and the confirmation page says why not.
    me = platform["developer"].user_id
    assert f"/web/admin/users/{me}/deactivate" not in page
    assert platform.client.get(f"/web/admin/users/{me}/deactivate").status_code == 409
    confirm = platform.client.get(f"/web/admin/users/{sam['id']}/deactivate")
    assert confirm.status_code == 200 and "stops working" in confirm.text
    done = platform.client.post(f"/web/admin/users/{sam['id']}/deactivate", follow_redirects=True)
    row = done.text.split(f'id="user-{sam["id"]}"')[1].split("</tr>")[0]
    assert "deactivated" in row and "Reactivate" in row
    users = platform.call("developer", "GET", f"/organisations/{org}/users", 200).json()["items"]
    assert [u["deactivated_at"] for u in users if u["id"] == sam["id"]] != [None]
    again = platform.client.post(f"/web/admin/users/{sam['id']}/reactivate", follow_redirects=True)
    row = again.text.split(f'id="user-{sam["id"]}"')[1].split("</tr>")[0]
    assert "active" in row and "Deactivate" in row


def colleague_with_token(platform: Platform) -> tuple[str, str]:
    """A second person of the developer's organisation with an API token: (user id, token)."""
    org = platform["developer"].org_id
    email = f"kim.{uuid.uuid4().hex[:6]}@lab.example"
    user = platform.call(
        "developer",
        "POST",
        f"/organisations/{org}/users",
        201,
        json={"email": email, "name": "Kim"},
    ).json()
    now = platform.context.clock.now()
    with transaction(platform.context.sessions) as db:
        issued = identity_service.issue_token_for(
            db, identity_service.get_user(db, user["id"]), "kim", timedelta(days=30), now
        )
    return user["id"], issued.plaintext


def test_deactivating_stops_the_persons_tokens_and_reactivating_restores_them(
    platform: Platform,
) -> None:
    user_id, token = colleague_with_token(platform)
    bearer = {"Authorization": f"Bearer {token}"}
    assert platform.client.get("/api/v1/me", headers=bearer).status_code == 200
    sign_in(platform, "developer")
    platform.client.post(f"/web/admin/users/{user_id}/deactivate")
    assert platform.client.get("/api/v1/me", headers=bearer).status_code == 401
    # From htmx (hx-post), the answer tells the browser to load the list.
    htmx = platform.client.post(
        f"/web/admin/users/{user_id}/reactivate", headers={"hx-request": "true"}
    )
    assert htmx.status_code == 200 and htmx.headers["hx-redirect"] == "/web/admin/users"
    assert platform.client.get("/api/v1/me", headers=bearer).status_code == 200


def test_a_member_lists_people_but_may_not_switch_them(platform: Platform) -> None:
    member = platform.add("member", OrgKind.DEVELOPER, role=Role.MEMBER)
    sign_in(platform, "member")
    page = platform.client.get("/web/admin/users")
    assert page.status_code == 200 and "member@member.org" in page.text
    assert "Add a person now" not in page.text and "Invite someone" not in page.text
    refused = platform.client.post(
        "/web/admin/users", data={"name": "X", "email": "x@member.org", "role": "admin"}
    )
    assert refused.status_code == 403
    invite = platform.client.post(
        f"/web/admin/organisations/{member.org_id}/invitations", data={"email": "y@member.org"}
    )
    assert invite.status_code == 403
    assert (
        platform.call("member", "GET", f"/organisations/{member.org_id}/users", 200).json()["total"]
        == 1
    )


def test_another_organisations_person_is_not_found(platform: Platform) -> None:
    other = platform["other_developer"].user_id
    sign_in(platform, "developer")
    for action in ("deactivate", "reactivate"):
        assert platform.client.get(f"/web/admin/users/{other}/{action}").status_code == 404
        assert platform.client.post(f"/web/admin/users/{other}/{action}").status_code == 404
    platform.call("other_developer", "GET", "/me", 200)  # still active


def test_an_invitation_is_shown_once_and_redeems(platform: Platform) -> None:
    sign_in(platform, "partner")
    org = platform["partner"].org_id
    invited = platform.client.post(
        f"/web/admin/organisations/{org}/invitations",
        data={"email": "nurse@hospital.example", "role": "member"},
    )
    assert invited.status_code == 200 and "only time" in invited.text
    secret = secret_on(invited.text)
    assert 'href="/web/invitations/redeem"' in invited.text
    # The invited person needs no session: the invitation is the credential.
    platform.client.cookies.clear()
    assert platform.client.get("/web/invitations/redeem").status_code == 200
    nameless = platform.client.post(
        "/web/invitations/redeem", data={"secret": secret, "name": "   "}
    )
    assert nameless.status_code == 422 and "your name" in nameless.text
    redeemed = platform.client.post(
        "/web/invitations/redeem", data={"secret": f"  {secret} ", "name": "Nurse"}
    )
    assert redeemed.status_code == 200 and "partner org" in redeemed.text
    token = secret_on(redeemed.text)
    me = platform.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["organisation"]["id"] == org
    assert me.json()["user"]["email"] == "nurse@hospital.example"
    assert me.json()["user"]["role"] == "member"
    again = platform.client.post(
        "/web/invitations/redeem", data={"secret": secret, "name": "Nurse"}
    )
    assert again.status_code == 410
    assert "already been used" in again.text and 'id="secret" class="secret"' not in again.text
    wrong = platform.client.post(
        "/web/invitations/redeem", data={"secret": "pri_nope", "name": "Eve"}
    )
    assert wrong.status_code == 404 and "no such invitation" in wrong.text
    sign_in(platform, "partner")
    assert "nurse@hospital.example" in platform.client.get("/web/admin/users").text
    bad = platform.client.post(
        f"/web/admin/organisations/{org}/invitations", data={"email": "not an email"}
    )
    assert bad.status_code == 422 and "email" in bad.text


def test_the_clearinghouse_admits_an_organisation_and_invites_its_first_admin(
    platform: Platform,
) -> None:
    sign_in(platform, "clearinghouse")
    page = platform.client.get("/web/admin/organisations")
    assert page.status_code == 200 and "Admit an organisation" in page.text
    assert "partner org" in page.text and "healthcare and public health" in page.text
    # A trusted partner names its sector: the page says so, and admits nothing.
    refused = platform.client.post(
        "/web/admin/organisations", data={"name": "Metro Water", "kind": "trusted_partner"}
    )
    assert refused.status_code == 422 and "sector" in refused.text
    admitted = platform.client.post(
        "/web/admin/organisations",
        data={"name": "Metro Water", "kind": "trusted_partner", "sector": "water_and_wastewater"},
        follow_redirects=False,
    )
    assert admitted.status_code == 303
    orgs = platform.call("clearinghouse", "GET", "/organisations", 200, params={"limit": 200})
    (metro,) = [o for o in orgs.json()["items"] if o["name"] == "Metro Water"]
    assert metro["kind"] == "trusted_partner" and metro["sector"] == "water_and_wastewater"
    assert admitted.headers["location"] == f"/web/admin/organisations?admitted={metro['id']}"
    landing = platform.client.get(admitted.headers["location"])
    assert "Metro Water admitted" in landing.text
    assert f'action="/web/admin/organisations/{metro["id"]}/invitations"' in landing.text
    taken = platform.client.post(
        "/web/admin/organisations", data={"name": "Metro Water", "kind": "agency"}
    )
    assert taken.status_code == 409 and "already exists" in taken.text
    invited = platform.client.post(
        f"/web/admin/organisations/{metro['id']}/invitations",
        data={"email": "ciso@metro-water.example", "role": "admin"},
    )
    assert invited.status_code == 200
    secret = secret_on(invited.text)
    done = platform.client.post(
        "/api/v1/invitations/redeem", json={"secret": secret, "name": "Ciso"}
    )
    assert done.status_code == 201 and done.json()["user"]["role"] == "admin"
    # Once it has people, its own administrators let others in, not the clearinghouse.
    later = platform.client.post(
        f"/web/admin/organisations/{metro['id']}/invitations", data={"email": "two@metro.example"}
    )
    assert later.status_code == 403
    kinds = platform.client.get("/web/admin/organisations?kind=agency").text
    assert "agency org" in kinds and "Metro Water" not in kinds.split('id="organisations"')[1]


def test_only_the_clearinghouse_admits_organisations(platform: Platform) -> None:
    sign_in(platform, "developer")
    page = platform.client.get("/web/admin/organisations")
    assert page.status_code == 200 and "Admit an organisation" not in page.text
    refused = platform.client.post(
        "/web/admin/organisations", data={"name": "Rogue Lab", "kind": "developer"}
    )
    assert refused.status_code == 403
    orgs = platform.call("developer", "GET", "/organisations", 200, params={"limit": 200})
    assert "Rogue Lab" not in {o["name"] for o in orgs.json()["items"]}


def test_forms_from_another_site_are_refused(platform: Platform) -> None:
    sign_in(platform, "developer")
    before = platform.call("developer", "GET", "/tokens", 200).json()["total"]
    forged = platform.client.post(
        "/web/admin/tokens", data={"name": "evil"}, headers={"origin": "https://evil.example"}
    )
    assert forged.status_code == 403
    assert platform.call("developer", "GET", "/tokens", 200).json()["total"] == before
