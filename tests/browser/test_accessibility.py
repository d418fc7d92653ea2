"""Accessibility of every page, found by crawling: each role signs in, follows every same-site
``/web/`` link breadth-first from the home page, and axe-core checks each page it reaches.

The crawl, not a list of pages, decides what is checked, so a page added to the site is checked
as soon as something links to it. The data behind the pages is a review in full swing
(``support.scenario``): a submission with a grant, a consented nomination, a finding, a
material, an evaluation run, gateway keys and a transcript, and in the clearinghouse a published
report with a proposed duplicate, a case with a vendor, a product claim waiting, and a
TLP:CLEAR advisory for the partner's product.

axe-core is the copy ``make`` installs with ``npm ci`` from ``package-lock.json`` (pinned, with
its sha512); nothing downloads here. It is injected into each page as a script element, which
the pages' Content-Security-Policy would refuse, so the crawling browser bypasses the CSP: the
policy is the server's and is tested elsewhere (tests/web). A role fails on any violation axe
rates serious or critical, on any answer of 500 or more, and on a GET form (a filter, the way
to a confirmation page) that, sent as it stands, answers with something other than a page.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Error, Page

from conftest import IN_CI, START
from prereview.api import create_app
from prereview.authz.kinds import OrgKind
from prereview.core.clock import FixedClock
from prereview.core.context import AppContext
from prereview.core.db import transaction
from prereview.core.migrate import upgrade
from prereview.core.settings import Settings
from prereview.identity import service as identity_service
from prereview.web.pages import ROUTERS
from support.factories import Member, Platform
from support.live import serve
from support.scenario import Scenario, ch_report, clearinghouse_ids, gateway_ids, spare_user

ROOT = Path(__file__).resolve().parents[2]
AXE = Path(os.environ.get("PREREVIEW_AXE", ROOT / "node_modules" / "axe-core" / "axe.min.js"))

PAGES_PER_ROLE = 60
# Filter and pagination links multiply one page into many; a few of each are enough to check
# its markup, and the bound is kept for pages of other kinds.
VARIANTS_PER_PATH = 3
SERIOUS = frozenset({"serious", "critical"})
# Links that are not pages to check: signing out ends the crawl's session; downloads and
# exports are files, not pages (and each download of a material is an audited read).
SKIPPED_PATHS = ("/web/logout",)
FILE_MARKERS = ("/download", "/export", ".json", ".csv", ".pdf", ".zip", ".xml")

# The five roles of the platform, each signed in as the person a member of its organisation
# would be: a clearinghouse analyst is a plain member, its administrator admits organisations.
ROLES = {
    "developer": "developer",
    "agency reviewer": "agency",
    "partner": "partner",
    "clearinghouse analyst": "analyst",
    "admin": "clearinghouse",
}


@dataclass
class Site:
    url: str
    platform: Platform
    scenario: Scenario


@dataclass
class Crawl:
    """What one role's crawl saw: the pages checked, those that failed (an answer of 500 or
    more, a GET form answering with no page), the serious violations, and what it left out."""

    visited: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _analyst(platform: Platform) -> Member:
    """A member (not an administrator) of the clearinghouse's organisation, with a token."""
    admin = platform["clearinghouse"]
    created = platform.call(
        "clearinghouse",
        "POST",
        f"/organisations/{admin.org_id}/users",
        201,
        json={"email": "analyst@clearinghouse.org", "name": "Ana Lyst", "role": "member"},
    ).json()
    with transaction(platform.context.sessions) as db:
        user = identity_service.get_user(db, created["id"])
        issued = identity_service.issue_token_for(
            db, user, "crawl", timedelta(days=30), platform.context.clock.now()
        )
    member = Member(admin.org_id, user.id, issued.plaintext, OrgKind.CLEARINGHOUSE)
    platform.members["analyst"] = member
    return member


def _advisory(platform: Platform, scenario: Scenario) -> None:
    """A published TLP:CLEAR report in uploadkit, outside any case: an advisory the partner,
    which runs uploadkit (a verified claim), reads on its advisories page."""
    report_id = f"{scenario.clearinghouse['report_id']}-CLEAR"
    body = ch_report(report_id, tlp="CLEAR")
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=body)
    platform.call("clearinghouse", "POST", f"/clearinghouse/reports/{report_id}/publish", 200)
    scenario.clearinghouse["advisory_id"] = report_id


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A server of its own, so the data built here does not change what other browser tests
    see on their shared one."""
    if not AXE.is_file():
        reason = f"no axe-core at {AXE} (run `make install`: npm ci installs it)"
        if IN_CI:
            pytest.fail(f"{reason}; under CI the accessibility test is required")
        pytest.skip(reason)
    here = tmp_path_factory.mktemp("accessibility")
    database = f"sqlite:///{here / 'prereview.db'}"
    upgrade(database)
    settings = Settings(
        database_url=database,
        master_key_file=here / "master.keys",
        audit_key_file=here / "audit.key",
        blob_dir=here / "blobs",
    )
    context = AppContext.create(settings, FixedClock(START))
    app = create_app(context=context)
    try:
        with TestClient(app, raise_server_exceptions=False) as client, serve(app) as url:
            platform = Platform.populate(context, client)
            scenario = Scenario.build(platform)
            clearinghouse_ids(scenario)
            gateway_ids(scenario)
            spare_user(scenario)
            _analyst(platform)
            _advisory(platform, scenario)
            yield Site(url, platform, scenario)
    finally:
        context.engine.dispose()


def _key(url: str) -> tuple[str, str]:
    """A link as the crawl knows it: its path and its sorted query, without the fragment."""
    parts = urlsplit(url)
    return parts.path, urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))


def _is_page_link(site: Site, href: str, how: str) -> bool:
    parts = urlsplit(href)
    base = urlsplit(site.url)
    if (parts.scheme, parts.netloc) != (base.scheme, base.netloc) or how == "download":
        return False
    path = parts.path
    if not path.startswith("/web/") or path.startswith("/web/static/"):
        return False
    return path not in SKIPPED_PATHS and not any(marker in path for marker in FILE_MARKERS)


# A form that GETs (a filter, the way to a confirmation page without JavaScript) leads to a
# page as a link does: its action with the fields as they stand. Unlike a link, which may lead
# to a file, it must answer with a page: a person who sends it without JavaScript reads that.
GET_FORMS = """forms => forms
  .filter(f => (f.getAttribute('method') || 'get').toLowerCase() === 'get')
  .map(f => {
    // The attribute, not f.action: a field named "action" would shadow the property.
    const url = new URL(f.getAttribute('action') || '', document.baseURI);
    for (const [name, value] of new FormData(f)) {
      if (typeof value === 'string') url.searchParams.append(name, value);
    }
    return [url.href, 'form'];
  })"""


def _links(page: Page) -> list[tuple[str, str]]:
    """Every link and GET form of the page, resolved, each with how it leads there: ``link``,
    ``download`` (a link that asks to be saved) or ``form``."""
    found: list[list[Any]] = page.eval_on_selector_all(
        "a[href]", "els => els.map(a => [a.href, a.hasAttribute('download') ? 'download' : 'link'])"
    )
    found += page.eval_on_selector_all("form", GET_FORMS)
    return [(str(href), str(how)) for href, how in found]


def _report(url: str, violation: dict[str, Any]) -> str:
    nodes = "; ".join(
        f"{' '.join(node['target'])}: {node.get('failureSummary', '').splitlines()[-1:]}"
        for node in violation["nodes"][:5]
    )
    more = len(violation["nodes"]) - 5
    tail = f" (and {more} more)" if more > 0 else ""
    return f"{url} [{violation['impact']}] {violation['id']}: {violation['help']} -> {nodes}{tail}"


def _check(page: Page, url: str, crawl: Crawl) -> None:
    page.add_script_tag(path=AXE)
    result: dict[str, Any] = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    crawl.violations.extend(
        _report(url, v) for v in result["violations"] if v.get("impact") in SERIOUS
    )


SETTLED = "() => !document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping')"


def crawl_as(browser: Browser, site: Site, who: str) -> Crawl:
    """Sign in as ``who`` and check every page reachable from the home page, breadth-first."""
    context = browser.new_context(base_url=site.url, bypass_csp=True)
    context.set_default_timeout(10_000)
    page = context.new_page()
    crawl = Crawl()
    try:
        page.goto("/web/login")
        page.fill("#token", site.platform.members[who].token)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/web/")
        start = site.url + "/web/"
        queue = deque([(start, "link")])
        seen = {_key(start)}
        per_path: dict[str, int] = {}
        while queue and len(crawl.visited) < PAGES_PER_ROLE:
            url, how = queue.popleft()
            try:
                response = page.goto(url)
            except Error as error:  # a download starts instead of a page
                crawl.skipped.append(f"{url}: {error.message.splitlines()[0]}")
                continue
            if response is None:
                continue
            if response.status >= 500:
                crawl.broken.append(f"{url}: {response.status}")
            kind = response.headers.get("content-type") or ""
            if "text/html" not in kind:
                if how == "form":
                    crawl.broken.append(f"{url}: a GET form answered {response.status} {kind}")
                crawl.skipped.append(f"{url}: {kind}")
                continue
            # Fragments that load themselves (hx-trigger="load") are part of the page: htmx
            # marks an element with htmx-request while its request is out.
            page.wait_for_function(SETTLED)
            crawl.visited.append(url)
            _check(page, url, crawl)
            for href, how in _links(page):
                if not _is_page_link(site, href, how):
                    continue
                key = _key(href)
                if key in seen or (key[1] and per_path.get(key[0], 0) >= VARIANTS_PER_PATH):
                    continue
                seen.add(key)
                if key[1]:
                    per_path[key[0]] = per_path.get(key[0], 0) + 1
                link = urljoin(site.url, key[0] + (f"?{key[1]}" if key[1] else ""))
                queue.append((link, how))
    finally:
        context.close()
    return crawl


def _page_paths() -> list[tuple[str, str]]:
    """(page module, path template) of every GET page the site mounts."""
    return [
        (str(route.endpoint.__module__).rsplit(".", 1)[-1], route.path)
        for router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute) and "GET" in (route.methods or ())
    ]


def _must_reach(site: Site, who: str) -> list[str]:
    """What each role's crawl must reach: the review's submission for its three parties, the
    clearinghouse's report and case for its analyst, the token list for an administrator;
    each as (the page module that shows it, a placeholder of its path, what the visited path
    holds). A page the site does not mount yet asks for nothing, so each expectation starts to
    hold when its page is added."""
    submission = site.scenario.submission_id
    ids = site.scenario.clearinghouse
    wanted = {
        "developer": [("review", "{submission_id}", submission)],
        "agency": [("review", "{submission_id}", submission)],
        "partner": [
            ("review", "{submission_id}", submission),
            ("inventory", "{advisory_id}", ids["advisory_id"]),
        ],
        "analyst": [
            ("clearinghouse", "{report_id}", ids["report_id"]),
            ("clearinghouse", "{case_id}", ids["case_id"]),
        ],
        "clearinghouse": [("admin", "/tokens", "/tokens")],
    }[who]
    mounted = _page_paths()
    return [
        found
        for module, marker, found in wanted
        if any(m.startswith(module) and marker in path for m, path in mounted)
    ]


@pytest.mark.parametrize("role", list(ROLES))
def test_every_page_a_role_reaches_has_no_serious_accessibility_violation(
    browser: Browser, site: Site, role: str
) -> None:
    who = ROLES[role]
    crawl = crawl_as(browser, site, who)
    assert not crawl.broken, f"{role}: pages that failed: {crawl.broken}"
    assert not crawl.violations, f"{role}: serious or critical violations:\n" + "\n".join(
        crawl.violations
    )
    # The crawl reached the pages with content, not only the home page.
    paths = [urlsplit(url).path for url in crawl.visited]
    for found in _must_reach(site, who):
        assert any(found in path for path in paths), (
            f"{role}: no page with {found} reached; visited {crawl.visited}"
        )


def test_the_check_reports_a_serious_violation_with_its_page_rule_and_nodes(
    browser: Browser, site: Site
) -> None:
    """The check is not blind: the home page with an image lacking its text and a button
    without a name fails, naming the page, the rules and the elements."""
    context = browser.new_context(base_url=site.url, bypass_csp=True)
    try:
        page = context.new_page()
        page.goto("/web/login")
        page.evaluate(
            """() => {
              const img = document.createElement('img'); img.id = 'no-alt';
              img.src = '/web/static/site.css';
              const button = document.createElement('button'); button.id = 'no-name';
              document.querySelector('main').append(img, button);
            }"""
        )
        crawl = Crawl()
        _check(page, page.url, crawl)
    finally:
        context.close()
    found = "\n".join(crawl.violations)
    assert "/web/login [critical] image-alt" in found, found
    assert "#no-alt" in found and "button-name" in found and "#no-name" in found, found
