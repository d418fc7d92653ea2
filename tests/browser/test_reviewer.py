"""The agency reviewer's journey in a real browser: sign in with a token, see the queue (which
refreshes itself), open a submission and file a finding, with JavaScript and without."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from playwright.sync_api import Page, expect

from browser.conftest import Live
from prereview.web.render import countdown

SignIn = Callable[[Page, str], None]


def _granted(live: Live, name: str) -> str:
    planned = (live.clock.now() + timedelta(days=20)).isoformat()
    sub = live.platform.submit(model_name=name, planned_release_at=planned)
    live.platform.grant(sub["id"])
    return str(sub["id"])


def _file(page: Page, title: str) -> None:
    page.fill("#title", title)
    page.fill("#description", "two-turn framing gets past the refusal")
    page.select_option("#severity", "high")
    page.select_option("#category", "safeguard_bypass")
    page.get_by_role("button", name="File finding").click()


def _findings(live: Live, submission_id: str) -> list[str]:
    found = live.platform.call("developer", "GET", f"/submissions/{submission_id}/findings", 200)
    return [f["title"] for f in found.json()["items"]]


def test_reviewer_sees_a_live_queue_and_files_a_finding(
    page: Page, live: Live, sign_in: SignIn
) -> None:
    sid = _granted(live, "Atlas")
    page.clock.install()
    sign_in(page, "agency")
    expect(page.get_by_role("heading", name="Review queue")).to_be_visible()
    row = page.locator("#queue tr", has_text="Atlas 1.0")
    expect(row).to_contain_text("open")

    live.clock.advance(timedelta(minutes=7))
    with page.expect_response(lambda r: r.url == f"{live.url}/web/queue" and r.status == 200):
        page.clock.fast_forward("01:01")
    seconds = live.platform.call("agency", "GET", f"/submissions/{sid}", 200).json()["window"][
        "seconds_left"
    ]
    expect(page.locator("#queue tr", has_text="Atlas 1.0")).to_contain_text(countdown(seconds))

    page.get_by_role("link", name="Atlas 1.0").click()
    page.wait_for_url(f"**/web/submissions/{sid}")
    _file(page, "Bypasses refusal")
    expect(page.locator("tr", has_text="Bypasses refusal")).to_contain_text("high")
    assert _findings(live, sid) == ["Bypasses refusal"]
    page.goto("/web/")
    expect(page.locator("#queue tr", has_text="Atlas 1.0").locator("td").last).to_have_text("1")


def test_without_javascript_the_reviewer_files_a_finding(
    plain_page: Page, live: Live, sign_in: SignIn
) -> None:
    sid = _granted(live, "Pegasus")
    sign_in(plain_page, "agency")
    plain_page.get_by_role("link", name="Pegasus 1.0").click()
    _file(plain_page, "Leaks the system prompt")
    plain_page.wait_for_url(f"**/web/submissions/{sid}")
    expect(plain_page.locator("tr", has_text="Leaks the system prompt")).to_be_visible()
    assert _findings(live, sid) == ["Leaks the system prompt"]
    # A reviewer is offered no release or withdraw, and the confirmation page refuses it.
    expect(plain_page.get_by_role("button", name="Release now")).to_have_count(0)
    plain_page.goto(f"/web/submissions/{sid}/release")
    expect(plain_page.locator("main")).to_contain_text("only the developer")
