"""The review journey finished in a real browser, with JavaScript and without: the developer
submits a model and grants an agency access; the agency nominates a trusted partner and files
a finding; the developer answers it, consents to the nomination and, confirming first, revokes
the grant. Every step is a form on the pages, checked against the API afterwards."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from playwright.sync_api import Dialog, Page, expect

from browser.conftest import Live

SignIn = Callable[[Page, str], None]


@pytest.mark.parametrize("javascript", [True, False], ids=["javascript", "plain-html"])
def test_a_review_from_submission_to_answered_finding(
    page: Page, plain_page: Page, live: Live, sign_in: SignIn, javascript: bool
) -> None:
    tab = page if javascript else plain_page
    name = "Zephyr" if javascript else "Quill"
    platform = live.platform

    # The developer submits a model from its home page...
    sign_in(tab, "developer")
    tab.get_by_role("link", name="Submit a model for review").click()
    tab.fill("#model_name", name)
    tab.fill("#model_version", "3.0")
    planned = (live.clock.now() + timedelta(days=40)).strftime("%Y-%m-%dT%H:%M")
    tab.fill("#planned_release_at", planned)
    tab.locator("#create-submission").click()
    expect(tab.get_by_role("heading", name=f"{name} 3.0")).to_be_visible()
    submission_url = tab.url
    submission_id = submission_url.rsplit("/", 1)[1]
    # ...and grants the agency access, choosing it by name.
    tab.select_option("#agency_org_id", label="agency org")
    tab.fill("#window_days", "21")
    tab.locator("#grant-access").click()
    expect(tab.locator("#grants tr", has_text="agency org")).to_contain_text("yes")
    window = platform.call("developer", "GET", f"/submissions/{submission_id}", 200).json()
    assert window["window"]["seconds_left"] == 21 * 86400
    assert window["planned_release_at"].startswith(planned)

    # The agency nominates the partner by name, then files a finding.
    sign_in(tab, "agency")
    tab.goto(submission_url)
    tab.select_option("#partner_org_id", label="partner org")
    tab.fill("#reason", f"runs the hospital EHR ({name})")
    tab.locator("#nominate-partner").click()
    expect(tab.locator("#nominations tr", has_text="partner org")).to_contain_text("pending")
    tab.fill("#title", f"{name} writes working exploits")
    tab.fill("#description", "given a CVE, it writes a working exploit")
    tab.select_option("#severity", "high")
    tab.get_by_role("button", name="File finding").click()
    expect(tab.get_by_text(f"{name} writes working exploits")).to_be_visible()

    # The developer answers the finding and consents to the nomination.
    sign_in(tab, "developer")
    tab.goto(submission_url)
    answer = tab.locator("form.respond")
    answer.locator("select").select_option("mitigated")
    answer.locator("textarea").fill("refusal training shipped in 3.0.1")
    answer.get_by_role("button", name="Answer the finding").click()
    expect(tab.get_by_text("refusal training shipped in 3.0.1")).to_be_visible()
    findings = platform.call("developer", "GET", f"/submissions/{submission_id}/findings", 200)
    assert [f["status"] for f in findings.json()["items"]] == ["mitigated"]
    row = tab.locator("tr", has_text=f"runs the hospital EHR ({name})")
    row.get_by_role("button", name="Consent").click()
    expect(tab.locator("tr", has_text=f"runs the hospital EHR ({name})")).to_contain_text(
        "consented"
    )

    # Revoking is for good, so it asks first: a dialog with JavaScript, a page without.
    revoke = tab.locator("#grants").get_by_role("button", name="Revoke access")
    if javascript:
        asked: list[str] = []

        def accept(dialog: Dialog) -> None:
            asked.append(dialog.message)
            dialog.accept()

        tab.once("dialog", accept)
        revoke.click()
        expect(tab.locator("#grants tr", has_text="agency org")).to_contain_text("no")
        assert asked and "loses access at once" in asked[0]
    else:
        revoke.click()
        expect(tab.locator("#consequence")).to_contain_text("loses access at once")
        tab.locator("#confirm").click()
        expect(tab.locator("#grants tr", has_text="agency org")).to_contain_text("no")
    grants = platform.call("developer", "GET", f"/submissions/{submission_id}/grants", 200)
    assert [g["active"] for g in grants.json()["items"]] == [False]
