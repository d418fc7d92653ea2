"""The trusted partner's journey in a real browser: sign in, add a product it runs, see the
claim's state and the challenge to publish, see the advisory that matches it once the claim is
verified (made by the clearinghouse), open it and export it; withdraw the claim after
confirming, with JavaScript (a dialog) and without (a confirmation page)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Dialog, Page, expect

from browser.conftest import Live
from prereview.authz.kinds import OrgKind, Sector
from support.factories.clearinghouse import report

SignIn = Callable[[Page, str], None]


def _partner(live: Live) -> str:
    """A hospital of its own: the package's platform is shared by every browser test."""
    name = f"hospital_{uuid.uuid4().hex[:6]}"
    live.platform.add(name, OrgKind.TRUSTED_PARTNER, Sector.HEALTHCARE_AND_PUBLIC_HEALTH)
    return name


def _claims(live: Live, who: str) -> list[dict[str, Any]]:
    return live.platform.call(who, "GET", "/clearinghouse/products", 200).json()["items"]  # type: ignore[no-any-return]


def _verify(live: Live, claim_id: str) -> None:
    live.platform.call(
        "clearinghouse",
        "POST",
        f"/clearinghouse/claims/{claim_id}/decision",
        200,
        json={"decision": "verify", "note": "DNS TXT record checked"},
    )


def _advisory(live: Live, package: str) -> dict[str, Any]:
    """A TLP:AMBER advisory on ``package``, reported and published by the clearinghouse."""
    doc = report(
        f"PRV-{uuid.uuid4().hex[:10]}",
        title=f"Heap overflow in {package}",
        affected=[{"purl": f"pkg:pypi/{package}@3.1.0"}],
    )
    live.platform.call("clearinghouse", "POST", "/clearinghouse/reports", 201, json=doc)
    live.platform.call("clearinghouse", "POST", f"/clearinghouse/reports/{doc['id']}/publish", 200)
    return doc


def _nav(page: Page, name: str) -> None:
    """Follow a link of the site's navigation (the pages of the signed-in role)."""
    page.get_by_role("navigation", name="Pages").get_by_role("link", name=name, exact=True).click()


def test_partner_claims_a_product_and_reads_its_advisory(
    page: Page, live: Live, sign_in: SignIn
) -> None:
    who = _partner(live)
    package = f"ehr-{uuid.uuid4().hex[:6]}"
    sign_in(page, who)
    _nav(page, "Inventory")
    expect(page.get_by_role("heading", name="Your inventory")).to_be_visible()
    expect(page.locator("#empty")).to_be_visible()
    page.fill("#identifiers", f"pkg:pypi/{package}")
    page.fill("#proof", "TXT record at _prereview.hospital.example")
    page.get_by_role("button", name="Add to inventory").click()

    (claim,) = _claims(live, who)
    row = page.locator(f"#claim-{claim['id']}")
    expect(row).to_contain_text(f"pkg:pypi/{package}")
    expect(row.locator(".claim")).to_contain_text("claimed")
    expect(row.locator(".challenge")).to_have_text(claim["challenge"])

    # Nothing matches yet: an unverified claim reaches no TLP:AMBER advisory.
    advisory = _advisory(live, package)
    _nav(page, "Advisories")
    expect(page.locator("#advisories")).not_to_contain_text(advisory["title"])

    _verify(live, claim["id"])
    _nav(page, "Inventory")
    expect(page.locator(f"#claim-{claim['id']} .claim")).to_contain_text("verified")
    _nav(page, "Advisories")
    page.get_by_role("link", name=advisory["title"]).click()
    expect(page.get_by_role("heading", name=advisory["title"])).to_be_visible()
    expect(page.locator("#description")).to_contain_text("save_upload()")
    with page.expect_download() as download:
        page.locator("#exports").get_by_role("link", name="OSV").click()
    osv = json.loads(download.value.path().read_text())
    assert osv["id"].endswith(advisory["id"])  # OSV marks an unknown database: x_
    assert osv["affected"][0]["package"]["name"] == package

    # Withdrawing asks first (dismissed: nothing happens), then ends the need to know.
    _nav(page, "Inventory")
    asked: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.get_by_role("button", name=f"Withdraw pkg:pypi/{package}").click()
    expect(page.locator(f"#claim-{claim['id']}")).to_be_visible()
    assert asked and "need to know" in asked[0]
    assert len(_claims(live, who)) == 1
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"Withdraw pkg:pypi/{package}").click()
    expect(page.locator("#empty")).to_be_visible()
    assert _claims(live, who) == []
    _nav(page, "Advisories")
    expect(page.locator("#advisories")).not_to_contain_text(advisory["title"])


def test_partner_without_javascript(plain_page: Page, live: Live, sign_in: SignIn) -> None:
    page = plain_page
    who = _partner(live)
    package = f"pacs-{uuid.uuid4().hex[:6]}"
    sign_in(page, who)
    page.goto("/web/inventory")
    # A mistyped line: the form comes back with what was typed and why, and nothing is claimed.
    page.fill("#identifiers", f"pkg:pypi/{package}\npypi/{package}")
    page.get_by_role("button", name="Add to inventory").click()
    expect(page.locator("#form-error")).to_contain_text("neither a valid purl nor a CPE")
    expect(page.locator("#identifiers")).to_have_value(f"pkg:pypi/{package}\npypi/{package}")
    assert _claims(live, who) == []
    page.fill("#identifiers", f"pkg:pypi/{package}")
    page.get_by_role("button", name="Add to inventory").click()
    (claim,) = _claims(live, who)
    expect(page.locator(f"#claim-{claim['id']} .challenge")).to_have_text(claim["challenge"])
    _verify(live, claim["id"])
    advisory = _advisory(live, package)
    page.goto("/web/advisories")
    page.get_by_role("link", name=advisory["title"]).click()
    expect(page.locator("#description")).to_contain_text("save_upload()")

    page.goto("/web/inventory")
    page.get_by_role("button", name=f"Withdraw pkg:pypi/{package}").click()
    # The confirmation page says what will happen; cancelling keeps the claim.
    expect(page.locator("#consequence")).to_contain_text("need to know")
    page.get_by_role("link", name="Cancel, keep it").click()
    assert len(_claims(live, who)) == 1
    page.get_by_role("button", name=f"Withdraw pkg:pypi/{package}").click()
    page.get_by_role("button", name="Withdraw the claim").click()
    expect(page.locator("#empty")).to_be_visible()
    assert _claims(live, who) == []
