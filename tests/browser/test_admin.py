"""The organisation administrator's journey in a real browser: create an API token (shown once,
copied with the button), see it listed, revoke it after confirming; deactivate a colleague after
confirming; and the clearinghouse admits an organisation and invites its first administrator,
who redeems the invitation on the site and signs in with the token it shows once.
With JavaScript (dialogs, the copy button) and without (confirmation pages, selectable text)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

from playwright.sync_api import Dialog, Page, expect

from browser.conftest import Live
from prereview.authz.kinds import OrgKind
from prereview.core.db import transaction
from prereview.identity import service as identity_service

SignIn = Callable[[Page, str], None]


def _admin(live: Live) -> str:
    """A lab of its own, whose first person is its administrator: the package's platform is
    shared by every browser test, so nobody else's token or account is touched."""
    name = f"lab_{uuid.uuid4().hex[:6]}"
    live.platform.add(name, OrgKind.DEVELOPER)
    return name


def _colleague(live: Live, admin: str) -> tuple[str, str, str]:
    """A second person of ``admin``'s organisation with a token: (id, email, token)."""
    org = live.platform[admin].org_id
    email = f"kim.{uuid.uuid4().hex[:6]}@lab.example"
    user = live.platform.call(
        admin, "POST", f"/organisations/{org}/users", 201, json={"email": email, "name": "Kim"}
    ).json()
    context = live.platform.context
    with transaction(context.sessions) as db:
        issued = identity_service.issue_token_for(
            db,
            identity_service.get_user(db, user["id"]),
            "kim",
            timedelta(days=30),
            context.clock.now(),
        )
    return user["id"], email, issued.plaintext


def _answers(live: Live, token: str) -> int:
    """The API's status for ``token`` (200 while it works)."""
    response = live.platform.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    return response.status_code


def _nav(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Pages").get_by_role("link", name=name, exact=True).click()


def test_admin_manages_tokens_and_people(page: Page, live: Live, sign_in: SignIn) -> None:
    admin = _admin(live)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.url)
    sign_in(page, admin)
    _nav(page, "API tokens")
    page.fill("#token-name", "ci runner")
    page.fill("#token-days", "7")
    page.get_by_role("button", name="Create token").click()
    secret = page.locator("#secret")
    expect(secret).to_be_visible()
    token = secret.inner_text().strip()
    assert token.startswith("prv_") and _answers(live, token) == 200
    # The copy button (revealed by the site script) puts exactly the token on the clipboard.
    copy = page.locator("button[data-copy=secret]")
    expect(copy).to_be_visible()
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == token

    # Listed with its last use, and never shown again.
    _nav(page, "API tokens")
    row = page.locator("#tokens tr", has_text="ci runner")
    expect(row.locator(".last-used")).not_to_have_text("never")
    expect(row.locator(".token-state")).to_have_text("active")
    assert token not in page.content()

    # Revoking asks first: dismissed, the token still works; accepted, it is refused.
    asked: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    row.get_by_role("button", name="Revoke").click()
    expect(row.locator(".token-state")).to_have_text("active")
    assert asked and "cannot be undone" in asked[0] and _answers(live, token) == 200
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke").click()
    expect(
        page.locator("#tokens tr", has_text="ci runner").locator(".token-state")
    ).to_contain_text("revoked")
    assert _answers(live, token) == 401

    # Deactivating a colleague asks first, then stops the colleague's token at once.
    user_id, email, colleague_token = _colleague(live, admin)
    _nav(page, "People")
    person = page.locator(f"#user-{user_id}")
    expect(person.locator(".account")).to_have_text("active")
    asked.clear()

    def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    person.get_by_role("button", name=f"Deactivate {email}").click()
    expect(page.locator(f"#user-{user_id} .account")).to_contain_text("deactivated")
    assert asked and "stops working" in asked[0]
    assert _answers(live, colleague_token) == 401
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"#user-{user_id}").get_by_role("button", name=f"Reactivate {email}").click()
    expect(page.locator(f"#user-{user_id} .account")).to_have_text("active")
    assert _answers(live, colleague_token) == 200


def test_admin_without_javascript(plain_page: Page, live: Live, sign_in: SignIn) -> None:
    page = plain_page
    admin = _admin(live)
    sign_in(page, admin)
    page.goto("/web/admin/tokens")
    page.fill("#token-name", "nightly")
    page.get_by_role("button", name="Create token").click()
    # No script: no copy button, and the token is plain text, to select and copy.
    copy = page.locator("button[data-copy=secret]")
    expect(copy).to_have_count(1)
    expect(copy).to_be_hidden()
    token = page.locator("#secret").inner_text().strip()
    assert token.startswith("prv_") and _answers(live, token) == 200

    page.goto("/web/admin/tokens")
    row = page.locator("#tokens tr", has_text="nightly")
    row.get_by_role("button", name="Revoke").click()
    expect(page.locator("#consequence")).to_contain_text("cannot be undone")
    assert _answers(live, token) == 200  # the confirmation page itself changes nothing
    page.get_by_role("button", name="Revoke the token").click()
    expect(page.locator("#tokens tr", has_text="nightly").locator(".token-state")).to_contain_text(
        "revoked"
    )
    assert _answers(live, token) == 401

    user_id, email, colleague_token = _colleague(live, admin)
    page.goto("/web/admin/users")
    page.locator(f"#user-{user_id}").get_by_role("button", name=f"Deactivate {email}").click()
    expect(page.locator("#consequence")).to_contain_text("stops working")
    page.get_by_role("button", name="Deactivate the account").click()
    expect(page.locator(f"#user-{user_id} .account")).to_contain_text("deactivated")
    assert _answers(live, colleague_token) == 401


def test_the_clearinghouse_admits_an_organisation(
    plain_page: Page, live: Live, sign_in: SignIn
) -> None:
    page = plain_page
    name = f"Metro Water {uuid.uuid4().hex[:6]}"
    sign_in(page, "clearinghouse")
    page.goto("/web/admin/organisations")
    page.fill("#org-name", name)
    page.select_option("#org-kind", "trusted_partner")
    page.select_option("#org-sector", "water_and_wastewater")
    page.get_by_role("button", name="Admit organisation").click()
    expect(page.get_by_role("heading", name=f"{name} admitted")).to_be_visible()
    row = page.locator("#organisations tr", has_text=name)
    expect(row).to_contain_text("trusted partner")
    expect(row).to_contain_text("water and wastewater")

    page.fill("#first-email", "ciso@metro-water.example")
    page.get_by_role("button", name="Invite its first administrator").click()
    invitation = page.locator("#secret").inner_text().strip()

    # Its first administrator redeems it on the site, gets a token once, and signs in with it.
    page.get_by_role("button", name="Sign out").click()
    page.goto("/web/invitations/redeem")
    page.fill("#secret", invitation)
    page.fill("#name", "Ciso")
    page.get_by_role("button", name="Create my account").click()
    expect(page.get_by_role("heading", name="Welcome, Ciso")).to_be_visible()
    token = page.locator("#secret").inner_text().strip()
    page.get_by_role("link", name="Sign in").click()
    page.fill("#token", token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/web/")
    expect(page.locator("#me-org")).to_have_text(name)
    page.goto("/web/admin/users")
    expect(page.locator("#users")).to_contain_text("ciso@metro-water.example")
    expect(page.locator("#users")).to_contain_text("admin")
