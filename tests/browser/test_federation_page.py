"""The federation page in a real browser, with a peer whose collections differ, stopped
part-way and were never pulled: axe-core finds no serious violation, and what differs opens."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from browser.conftest import Live
from browser.test_accessibility import AXE, Crawl, _check
from web.test_federation_page import ID_B, declare


@pytest.fixture(scope="module")
def peer(live: Live) -> str:
    if not AXE.is_file():
        pytest.skip(f"no axe-core at {AXE} (run `make install`: npm ci installs it)")
    return declare(live.platform)


@pytest.fixture
def checked(browser: Browser, live: Live, sign_in: Callable[[Page, str], None]) -> Iterator[Page]:
    """A page that axe-core can be injected into: the pages' CSP refuses inline scripts, so
    this context bypasses it (the policy is the server's, tested in tests/web)."""
    context = browser.new_context(base_url=live.url, bypass_csp=True)
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        sign_in(page, "clearinghouse")
        yield page
    finally:
        context.close()


def test_the_federation_page_has_no_serious_accessibility_violation(
    checked: Page, peer: str
) -> None:
    page = checked
    page.get_by_role("link", name="Federation").click()
    page.wait_for_url("**/web/clearinghouse/federation")
    expect(page.locator(f"#peer-{peer} table.sync tbody tr")).to_have_count(3)
    page.get_by_text("2 missing here").click()
    expect(page.get_by_text(ID_B)).to_be_visible()
    crawl = Crawl()
    _check(page, page.url, crawl)
    assert not crawl.violations, "\n".join(crawl.violations)
