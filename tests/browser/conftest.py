"""A real browser on a real server: Playwright driving Debian's chromium against uvicorn.

The server (:func:`support.live.serve`) runs the app on a free loopback port over a migrated
SQLite database, populated with one organisation of every kind (``support.factories.Platform``),
on the injected ``FixedClock``: tests move server time with ``live.clock``, and the page's
own timers with Playwright's ``page.clock``, so nothing waits on the wall clock.

Browsers cannot be downloaded here, so Playwright launches the system's chromium
(``/usr/bin/chromium``, from ``make system-deps``; ``PREREVIEW_CHROMIUM`` overrides it). When it
is missing the browser tests skip with the reason, except under CI (``CI=true``), where they
fail instead: the same rule as for PostgreSQL in ``tests/conftest.py``. Playwright itself is a
development dependency, installed with pytest.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from conftest import IN_CI, START
from prereview.api import create_app
from prereview.core.clock import FixedClock
from prereview.core.context import AppContext
from prereview.core.migrate import upgrade
from prereview.core.settings import Settings
from support.factories import Platform
from support.live import serve

CHROMIUM = os.environ.get("PREREVIEW_CHROMIUM", "/usr/bin/chromium")


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason}; under CI the browser tests are required")
    pytest.skip(reason)


@dataclass
class Live:
    """The running server: its address, its platform (API helpers, tokens) and its clock."""

    url: str
    platform: Platform
    clock: FixedClock


# Package scope, not session: Playwright's sync API keeps an event loop running in this thread
# while it is open, and the async tests that run after tests/browser need the thread's loop.
@pytest.fixture(scope="package")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    here: Path = tmp_path_factory.mktemp("browser")
    database = f"sqlite:///{here / 'prereview.db'}"
    upgrade(database)
    settings = Settings(
        database_url=database,
        master_key_file=here / "master.keys",
        audit_key_file=here / "audit.key",
        blob_dir=here / "blobs",
    )
    clock = FixedClock(START)
    context = AppContext.create(settings, clock)
    app = create_app(context=context)
    try:
        # The test client runs the app's start-up and carries the API calls that set a
        # journey up; the browser talks to the same app over a real socket.
        with TestClient(app, raise_server_exceptions=False) as client, serve(app) as url:
            yield Live(url, Platform.populate(context, client), clock)
    finally:
        context.engine.dispose()


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        _unavailable(f"no chromium at {CHROMIUM} (apt-get install chromium, or PREREVIEW_CHROMIUM)")
    with sync_playwright() as playwright:
        # Playwright starts chromium with --no-sandbox unless told otherwise (its default
        # chromium_sandbox=False), which is what lets it run as root in containers, where
        # chromium's own sandbox cannot start; the pages it visits are our own.
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield launched
        finally:
            launched.close()


def _context(browser: Browser, live: Live, javascript: bool) -> BrowserContext:
    context = browser.new_context(base_url=live.url, java_script_enabled=javascript)
    # No journey step should take long: fail fast with Playwright's own message.
    context.set_default_timeout(10_000)
    return context


@pytest.fixture
def page(browser: Browser, live: Live) -> Iterator[Page]:
    """A fresh browser context (no cookies) with JavaScript, and its page."""
    context = _context(browser, live, javascript=True)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def plain_page(browser: Browser, live: Live) -> Iterator[Page]:
    """The same without JavaScript: every form must work as plain HTML."""
    context = _context(browser, live, javascript=False)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def sign_in(live: Live) -> Callable[[Page, str], None]:
    """Sign a page in through its own form with ``who``'s API token."""

    def signing_in(page: Page, who: str) -> None:
        page.goto("/web/login")
        page.fill("#token", live.platform[who].token)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/web/")

    return signing_in
