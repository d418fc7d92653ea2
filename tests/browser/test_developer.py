"""The developer's journey in a real browser: sign in with a token, follow the submission's live
countdown, consent to a nomination, and end the review (release, withdraw) only after
confirming what will happen, with JavaScript (a dialog) and without (a confirmation page)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from playwright.sync_api import Dialog, Page, expect

from browser.conftest import Live
from prereview.web.render import countdown

SignIn = Callable[[Page, str], None]


def _submission(live: Live, name: str, nominate: bool = False) -> dict[str, Any]:
    platform = live.platform
    planned = (live.clock.now() + timedelta(days=20)).isoformat()
    sub = platform.submit(model_name=name, planned_release_at=planned)
    platform.grant(sub["id"])
    if nominate:
        platform.call(
            "agency",
            "POST",
            f"/submissions/{sub['id']}/nominations",
            201,
            json={"partner_org_id": platform["partner"].org_id, "reason": "hospital EHR"},
        )
    return sub


def _state(live: Live, submission_id: str) -> str:
    found = live.platform.call("developer", "GET", f"/submissions/{submission_id}", 200).json()
    return str(found["window"]["state"])


def test_developer_follows_the_countdown_and_consents(
    page: Page, live: Live, sign_in: SignIn
) -> None:
    sub = _submission(live, "Helios", nominate=True)
    # Page timers under Playwright's control: the minute's poll fires when told, not after 60 s.
    page.clock.install()
    sign_in(page, "developer")
    expect(page.get_by_role("link", name="Helios 1.0")).to_be_visible()
    page.get_by_role("link", name="Helios 1.0").click()
    window = page.locator("#window")
    expect(window).to_contain_text("open")
    before = window.inner_text()

    # Server time moves on too (less than the session's idle limit), so the answer differs.
    live.clock.advance(timedelta(minutes=7))
    url = f"{live.url}/web/submissions/{sub['id']}/window"
    with page.expect_response(lambda r: r.url == url and r.status == 200):
        page.clock.fast_forward("01:01")
    seconds = live.platform.call("developer", "GET", f"/submissions/{sub['id']}", 200).json()[
        "window"
    ]["seconds_left"]
    expect(window).to_contain_text(f"{countdown(seconds)} left")
    assert window.inner_text() != before

    row = page.locator("tr", has_text="hospital EHR")
    row.get_by_role("button", name="Consent").click()
    expect(page.locator("tr", has_text="hospital EHR")).to_contain_text("consented")


def test_developer_home_refreshes_its_windows(page: Page, live: Live, sign_in: SignIn) -> None:
    """The home page's list polls its rows like the queue: time left moves on, and a review
    ended elsewhere (here through the API) shows as ended without reloading the page."""
    sub = _submission(live, "Borealis")
    page.clock.install()
    sign_in(page, "developer")
    expect(page.get_by_role("heading", name="Your submissions")).to_be_visible()
    expect(page.locator("#submissions tr", has_text="Borealis 1.0")).to_contain_text("open")
    expect(page.locator("#me-org")).to_have_text("developer org")

    live.clock.advance(timedelta(minutes=7))
    live.platform.call("developer", "POST", f"/submissions/{sub['id']}/release", 200)
    url = f"{live.url}/web/submissions"
    with page.expect_response(lambda r: r.url == url and r.status == 200):
        page.clock.fast_forward("01:01")
    row = page.locator("#submissions tr", has_text="Borealis 1.0")
    expect(row).to_contain_text("closed released")
    expect(page.locator("#submissions")).to_have_count(1)  # swapped, not nested
    expect(page.locator("header")).to_have_count(1)


def test_release_asks_first_and_says_what_will_happen(
    page: Page, live: Live, sign_in: SignIn
) -> None:
    sub = _submission(live, "Orion")
    sign_in(page, "developer")
    page.goto(f"/web/submissions/{sub['id']}")
    asked: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.get_by_role("button", name="Release now").click()
    expect(page.get_by_role("button", name="Release now")).to_be_visible()
    assert asked and "every grant ends" in asked[0] and "cannot be undone" in asked[0]
    assert _state(live, sub["id"]) == "open"

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Release now").click()
    expect(page.locator("#window")).to_contain_text("closed released")
    expect(page.get_by_role("button", name="Release now")).to_have_count(0)
    assert _state(live, sub["id"]) == "closed_released"


def test_withdraw_warns_of_the_shredding(page: Page, live: Live, sign_in: SignIn) -> None:
    sub = _submission(live, "Vega")
    sign_in(page, "developer")
    page.goto(f"/web/submissions/{sub['id']}")
    asked: list[str] = []

    def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    page.get_by_role("button", name="Withdraw and shred materials").click()
    expect(page.locator("#window")).to_contain_text("closed withdrawn")
    assert asked and "crypto-shredded" in asked[0]
    assert _state(live, sub["id"]) == "closed_withdrawn"


def test_without_javascript_release_and_withdraw_go_through_a_confirmation_page(
    plain_page: Page, live: Live, sign_in: SignIn
) -> None:
    page = plain_page
    sign_in(page, "developer")
    released = _submission(live, "Lyra", nominate=True)
    page.goto(f"/web/submissions/{released['id']}")
    page.locator("tr", has_text="hospital EHR").get_by_role("button", name="Consent").click()
    expect(page.locator("tr", has_text="hospital EHR")).to_contain_text("consented")

    page.get_by_role("button", name="Release now").click()
    # A plain GET form: the confirmation page is the action's own address ("?" and no fields).
    expect(page).to_have_url(re.compile(rf"/web/submissions/{released['id']}/release\??$"))
    expect(page.locator("#consequence")).to_contain_text("every grant ends")
    expect(page.locator("main")).to_contain_text("agency org")  # who loses access, by name
    assert _state(live, released["id"]) == "open"  # the first click changed nothing
    page.locator("#confirm").click()
    page.wait_for_url(f"**/web/submissions/{released['id']}")
    expect(page.locator("#window")).to_contain_text("closed released")

    withdrawn = _submission(live, "Carina")
    page.goto(f"/web/submissions/{withdrawn['id']}")
    page.get_by_role("button", name="Withdraw and shred materials").click()
    expect(page.locator("#consequence")).to_contain_text("crypto-shredded")
    page.get_by_role("link", name="Cancel, keep the review going").click()
    page.wait_for_url(f"**/web/submissions/{withdrawn['id']}")
    assert _state(live, withdrawn["id"]) == "open"
    page.get_by_role("button", name="Withdraw and shred materials").click()
    page.fill("#reason", "launch cancelled")
    page.locator("#confirm").click()
    expect(page.locator("#window")).to_contain_text("closed withdrawn")
    assert _state(live, withdrawn["id"]) == "closed_withdrawn"
