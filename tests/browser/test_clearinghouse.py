"""The clearinghouse analyst's journey in a real browser: sign in, filter the triage queue, open a
report, see its duplicate side by side and merge it, open a case, add a vendor and set its
status and due date, post a case message, publish after confirming, and follow an export link;
with JavaScript (htmx asks before merging and publishing) and without (confirmation pages)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from browser.conftest import Live
from support.factories.clearinghouse import V31, report

SignIn = Callable[[Page, str], None]
TEXT = (
    "render_{0}() in app/{0}.py joins the user's template name to the template root without "
    "normalising it, so '../' sequences read files outside the root."
)


def _twins(live: Live) -> tuple[str, str]:
    """Two reports of one bug, the newer reworded and found by a person (not a model)."""
    token = uuid.uuid4().hex[:8]
    older, newer = f"JRN-{token}-1", f"JRN-{token}-2"
    text = TEXT.format(f"tpl_{token}")
    live.platform.call(
        "agency",
        "POST",
        "/clearinghouse/reports",
        201,
        json=report(
            older,
            title=f"Template traversal {token}",
            description=text,
            cvss_v3=V31,
            aliases=[f"CVE-2026-{50_000 + int(token[:4], 16)}"],
        ),
    )
    live.platform.call(
        "partner",
        "POST",
        "/clearinghouse/reports",
        201,
        json=report(
            newer,
            title=f"Template traversal {token} (again)",
            description=text.replace("joins", "concatenates"),
            discovered_by={"kind": "person", "name": "A. Researcher"},
        ),
    )
    return older, newer


def _report(live: Live, report_id: str) -> dict[str, object]:
    found = live.platform.call("clearinghouse", "GET", f"/clearinghouse/reports/{report_id}", 200)
    return dict(found.json())


def _case_journey(page: Page, live: Live, older: str, zone: str, abbreviation: str) -> str:
    """From the older report's page: open a case, add the developer, set its status, write."""
    page.goto(f"/web/clearinghouse/reports/{older}")
    page.fill("#case-embargo", "2026-09-01T09:30")
    page.fill("#case-zone", zone)
    page.get_by_role("button", name="Open the case").click()
    page.wait_for_url("**/web/clearinghouse/cases/case_*")
    case_id = page.url.rsplit("/", 1)[1]
    expect(page.locator("#embargo")).to_contain_text(f"2026-09-01 09:30 {abbreviation}")
    expect(page.locator("#embargo-zone")).to_have_text(zone)
    expect(page.locator("#embargo-left")).to_contain_text("left")
    page.select_option("#vendor", live.platform["developer"].org_id)
    page.get_by_role("button", name="Add the vendor").click()
    row = page.locator(f"#vendor-{live.platform['developer'].org_id}")
    expect(row).to_contain_text("developer org")
    expect(row).to_contain_text("not contacted")
    row.locator("summary").click()
    row.locator("select[name=status]").select_option("affected")
    row.locator("input[name=due_on]").fill("2026-08-15")
    row.locator("input[name=statement]").fill("we ship the vulnerable code")
    row.get_by_role("button", name="Save").click()
    row = page.locator(f"#vendor-{live.platform['developer'].org_id}")
    expect(row).to_contain_text("affected")
    expect(row).to_contain_text("due 2026-08-15")
    page.fill("#message-text", "Please confirm a fix date.")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#thread")).to_contain_text("Please confirm a fix date.")
    table = live.platform.call(
        "clearinghouse", "GET", f"/clearinghouse/cases/{case_id}/vendors", 200
    ).json()
    cell = table["items"][0]["statuses"][older]
    assert (cell["status"], cell["due_on"]) == ("affected", "2026-08-15")
    messages = live.platform.call(
        "developer", "GET", f"/clearinghouse/cases/{case_id}/messages", 200
    ).json()
    assert [m["text"] for m in messages["items"]] == ["Please confirm a fix date."]
    return case_id


def _export(page: Page, tmp_path: Path, older: str) -> None:
    """Follow the OSV export link: a download of the advisory's OSV record."""
    expect(page.locator("#exports")).to_contain_text("CVE JSON 5")
    with page.expect_download() as downloading:
        page.get_by_role("link", name="OSV").click()
    saved = tmp_path / "advisory.osv.json"
    downloading.value.save_as(saved)
    assert json.loads(saved.read_text())["id"].endswith(older)  # OSV prefixes ids of its own


def test_the_analyst_triages_merges_opens_a_case_and_publishes(
    page: Page, live: Live, sign_in: SignIn, tmp_path: Path
) -> None:
    older, newer = _twins(live)
    sign_in(page, "clearinghouse")
    expect(page.get_by_role("heading", name="Triage queue")).to_be_visible()
    page.select_option("#f-found", "person")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/web/clearinghouse/reports?*found=person*")
    expect(page.locator("#triage")).to_contain_text(newer)
    # The older report only claims a model found it: not verified, so it is kept too.
    expect(page.locator("#triage")).to_contain_text(older)

    page.locator("#triage a", has_text="(again)").click()
    page.wait_for_url(f"**/web/clearinghouse/reports/{newer}")
    pair = page.locator("section.duplicate")
    expect(pair).to_contain_text(older)
    expect(pair.locator("del")).to_have_text("concatenates")
    expect(pair.locator("ins")).to_have_text("joins")
    expect(pair.locator("mark", has_text="CWE-22").first).to_be_visible()
    dialogs: list[str] = []

    def accept(dialog: object) -> None:
        dialogs.append(dialog.message)  # type: ignore[attr-defined]
        dialog.accept()  # type: ignore[attr-defined]

    page.on("dialog", accept)
    page.get_by_role("button", name=f"Merge {newer} into {older}").click()
    expect(page.locator("#merged")).to_contain_text(older)
    assert dialogs and "older one" in dialogs[-1]
    assert _report(live, newer)["merged_into"] == older

    _case_journey(page, live, older, "Europe/Paris", "CEST")

    page.goto(f"/web/clearinghouse/reports/{older}")
    page.get_by_role("button", name="Publish as an advisory").click()
    expect(page.locator("#exports")).to_be_visible()
    assert "cannot be unpublished" in dialogs[-1]
    assert _report(live, older)["published_at"] is not None
    _export(page, tmp_path, older)


def test_without_javascript_every_step_confirms_on_its_own_page(
    plain_page: Page, live: Live, sign_in: SignIn, tmp_path: Path
) -> None:
    page = plain_page
    older, newer = _twins(live)
    sign_in(page, "clearinghouse")
    page.fill("#f-product", "uploadkit")
    page.select_option("#f-order", "severity")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/web/clearinghouse/reports?*order=severity*")
    page.locator("#triage a", has_text="(again)").click()
    page.get_by_role("button", name=f"Merge {newer} into {older}").click()
    # The button opened the confirmation page: nothing merged yet.
    page.wait_for_url("**/web/clearinghouse/duplicates/*/merge*")
    expect(page.locator("#consequence")).to_contain_text("leaves the triage queue")
    assert _report(live, newer)["merged_into"] is None
    page.get_by_role("button", name="Merge them").click()
    page.wait_for_url(f"**/web/clearinghouse/reports/{newer}")
    expect(page.locator("#merged")).to_contain_text(older)
    assert _report(live, newer)["merged_into"] == older

    _case_journey(page, live, older, "America/New_York", "EDT")

    page.goto(f"/web/clearinghouse/reports/{older}")
    page.get_by_role("button", name="Publish as an advisory").click()
    page.wait_for_url(f"**/web/clearinghouse/reports/{older}/publish*")
    expect(page.locator("#consequence")).to_contain_text("cannot be unpublished")
    expect(page.locator("#embargo-note")).to_contain_text("2026-09-01 13:30 UTC")
    assert _report(live, older)["published_at"] is None
    page.get_by_role("button", name="Publish the advisory").click()
    page.wait_for_url(f"**/web/clearinghouse/reports/{older}")
    assert _report(live, older)["published_at"] is not None
    _export(page, tmp_path, older)
