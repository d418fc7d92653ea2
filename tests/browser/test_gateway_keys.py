"""Gateway keys in a real browser: the agency reviewer makes a key (shown once, copied with a
button), sees it listed without its secret, and revokes it only after confirming; without
JavaScript the key is selectable text and revoking goes through a confirmation page. The
developer registers its endpoint and caps the agency's calls from its gateway page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from playwright.sync_api import Dialog, Page, expect

from browser.conftest import Live

SignIn = Callable[[Page, str], None]


def _granted(live: Live, name: str) -> str:
    planned = (live.clock.now() + timedelta(days=20)).isoformat()
    sub = live.platform.submit(model_name=name, planned_release_at=planned)
    live.platform.grant(sub["id"])
    return str(sub["id"])


def _keys(live: Live, sid: str) -> list[dict[str, Any]]:
    found = live.platform.call("agency", "GET", f"/submissions/{sid}/gateway/keys", 200)
    return list(found.json()["items"])


def _key(live: Live, sid: str, key_id: str) -> dict[str, Any]:
    (key,) = [k for k in _keys(live, sid) if k["id"] == key_id]
    return key


def test_reviewer_makes_a_key_shown_once_copies_it_and_revokes_it(
    page: Page, live: Live, sign_in: SignIn
) -> None:
    sid = _granted(live, "Keystone")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.url)
    sign_in(page, "agency")
    page.goto(f"/web/submissions/{sid}")
    page.get_by_role("link", name="Gateway keys").click()
    expect(page.locator("#no-keys")).to_be_visible()
    page.fill("#key-name", "eval runner")
    page.get_by_role("button", name="Make a gateway key").click()
    secret = page.locator("#secret").inner_text().strip()
    assert secret.startswith("pgw_")
    # The key shown is the one stored (by its prefix; only its hash is kept).
    (key,) = [k for k in _keys(live, sid) if k["prefix"] == secret[:10]]
    assert key["name"] == "eval runner"
    copy = page.locator("#copy")
    expect(copy).to_have_text("Copy the key")
    expect(copy).to_be_visible()
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("() => navigator.clipboard.readText()") == secret

    page.get_by_role("link", name="Back to the gateway page").click()
    row = page.locator("#keys tr", has_text="eval runner")
    expect(row).to_contain_text("live")
    expect(page.locator("main")).not_to_contain_text(secret)

    asked: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    row.get_by_role("button", name="Revoke").click()
    expect(row).to_contain_text("live")
    assert asked and "cannot be undone" in asked[0]
    assert _key(live, sid, key["id"])["revoked_at"] is None

    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Revoke").click()
    expect(page.locator("#keys tr", has_text="eval runner")).to_contain_text("revoked")
    assert _key(live, sid, key["id"])["revoked_at"] is not None


def test_without_javascript_the_key_is_selectable_and_revoking_confirms(
    plain_page: Page, live: Live, sign_in: SignIn
) -> None:
    page = plain_page
    sid = _granted(live, "Capella")
    sign_in(page, "agency")
    page.goto(f"/web/submissions/{sid}/gateway")
    page.fill("#key-name", "notebook")
    page.get_by_role("button", name="Make a gateway key").click()
    secret = page.locator("#secret").inner_text().strip()
    assert secret.startswith("pgw_")
    expect(page.locator("#copy")).to_be_hidden()  # no script to make it work: not offered
    (key,) = [k for k in _keys(live, sid) if k["prefix"] == secret[:10]]
    page.get_by_role("link", name="Back to the gateway page").click()
    page.locator("#keys tr", has_text="notebook").get_by_role("button", name="Revoke").click()
    expect(page.locator("#consequence")).to_contain_text("cannot be undone")
    assert _key(live, sid, key["id"])["revoked_at"] is None  # the first click changed nothing
    page.get_by_role("link", name="Cancel, keep the key").click()
    expect(page.locator("#keys tr", has_text="notebook")).to_contain_text("live")
    page.locator("#keys tr", has_text="notebook").get_by_role("button", name="Revoke").click()
    page.locator("#confirm").click()
    page.wait_for_url(f"**/web/submissions/{sid}/gateway")
    expect(page.locator("#keys tr", has_text="notebook")).to_contain_text("revoked")
    assert _key(live, sid, key["id"])["revoked_at"] is not None


def test_developer_registers_its_endpoint_and_limits_the_agency(
    plain_page: Page, live: Live, sign_in: SignIn
) -> None:
    page = plain_page
    sid = _granted(live, "Castor")
    sign_in(page, "developer")
    page.goto(f"/web/submissions/{sid}")
    page.get_by_role("link", name="Gateway: endpoint, limits, keys").click()
    expect(page.locator("#no-upstream")).to_be_visible()
    page.fill("#base_url", "https://models.internal.example-lab.com/v1")
    page.fill("#upstream_model", "castor-rc2")
    page.fill("#public_model", "castor-preview")
    page.fill("#api_key", "sk-browser-secret")
    page.get_by_role("button", name="Register the endpoint").click()
    expect(page.locator("#upstream")).to_contain_text("castor-preview")
    expect(page.locator("main")).not_to_contain_text("sk-browser-secret")
    expect(page.locator("main")).not_to_contain_text("models.internal.example-lab.com/v1")

    row = page.locator("#limits tr", has_text="agency org")
    row.get_by_label("Requests per minute").fill("12")
    row.get_by_role("button", name="Set limits").click()
    page.wait_for_url(f"**/web/submissions/{sid}/gateway")
    expect(
        page.locator("#limits tr", has_text="agency org").get_by_label("Requests per minute")
    ).to_have_value("12")
    limits = live.platform.call("developer", "GET", f"/submissions/{sid}/gateway/limits", 200)
    assert [x["requests_per_minute"] for x in limits.json()["items"]] == [12]
