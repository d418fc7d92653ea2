"""Screenshots of the main pages, for the README: ``make screenshots``.

Starts the demo server (``prereview serve --demo``, the command ``make run`` uses) on a fresh
SQLite database in a temporary directory, signs in through the login form as each demo person,
and writes a 1280x800 PNG of each main page to ``docs/screenshots/<role>-<page>.png``: the home
page, the pages it links to, and the pages those link to (two steps, links only: no form is
sent, so nothing is released, withdrawn or downloaded), at most :data:`PER_ROLE` per role.
The page name comes from its path with the ids left out (``/web/submissions/sub_x/materials``
is ``submission-materials``), so pages of one kind get one picture per role.

Usage: ``.venv/bin/python tools/screenshots.py [--out docs/screenshots]``. Needs chromium
(``make system-deps``; ``PREREVIEW_CHROMIUM`` overrides its path). The demo runs on the wall
clock, so countdowns and dates in the pictures are those of the day they are taken.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from demo_clearinghouse import populate
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("PREREVIEW_CHROMIUM", "/usr/bin/chromium")
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
PER_ROLE = 16
DEPTH = 2
# The demo's people (``prereview.demo.PEOPLE``), by the role they play, and their token's name
# in the demo's environment file. The clearinghouse's person is also its administrator, and
# goes first so that the administration pages are pictured as the clearinghouse's.
ROLES = {
    "clearinghouse": "CLEARINGHOUSE_TOKEN",
    "developer": "DEV_TOKEN",
    "agency": "CAISI_TOKEN",
    "partner": "HOSPITAL_TOKEN",
}
# An id as the platform makes them: a short prefix, an underscore, 26 lowercase base32 chars.
ID = re.compile(r"^[a-z]+_[0-9a-z]{20,}$|^PRV-|^CVE-|^[0-9a-f-]{32,}$")
NOT_PAGES = ("/web/logout", "/web/static/", "/download", "/export")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _singular(word: str) -> str:
    return word[:-3] + "y" if word.endswith("ies") else word.removesuffix("s")


def page_name(path: str) -> str:
    """``/web/`` is ``home``; ids are left out, and the collection before one is singular. The
    clearinghouse's pages (``/web/clearinghouse/cases``) go by their own name (``cases``)."""
    parts = [p for p in path.removeprefix("/web").split("/") if p]
    if parts[:1] == ["clearinghouse"]:
        parts = parts[1:]
    named: list[str] = []
    for part in parts:
        if ID.match(part):
            if named:
                named[-1] = _singular(named[-1])
            continue
        named.append(re.sub(r"[^a-z0-9]+", "-", part.lower()).strip("-"))
    return "-".join(named) or "home"


def _tokens(env_file: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in env_file.read_text().splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        found[name] = value
    return found


def _wait_for(url: str, env_file: Path, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the demo server exited with {server.returncode}")
        if env_file.is_file():
            try:
                with urllib.request.urlopen(url + "/web/login", timeout=2):  # noqa: S310 (loopback)
                    return
            except OSError:
                pass
        time.sleep(0.3)
    raise SystemExit("the demo server did not start within 120 s")


def _api(base: str) -> Callable[[str, str, str, dict[str, Any] | None], Any]:
    """The demo server's API as ``demo_clearinghouse.populate`` calls it."""

    def call(token: str, method: str, path: str, body: dict[str, Any] | None) -> Any:
        request = urllib.request.Request(  # noqa: S310 (the loopback demo server)
            f"{base}/api/v1{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            return json.loads(answer.read())

    return call


def _links(page: Page, base: str) -> list[str]:
    hrefs: list[str] = page.eval_on_selector_all(
        "a[href]:not([download])", "els => els.map(a => a.href)"
    )
    found = []
    for href in hrefs:
        parts = urlsplit(href)
        if f"{parts.scheme}://{parts.netloc}" != base or parts.query:
            continue
        if parts.path.startswith("/web/") and not any(n in parts.path for n in NOT_PAGES):
            found.append(base + parts.path)
    return found


def shoot(
    browser: Browser, base: str, role: str, token: str, out: Path, shared: set[str]
) -> list[Path]:
    """Sign in as ``role`` and take the pictures of its main pages, breadth-first. ``shared``
    holds the names of the administration pages already taken: those look alike in every
    organisation, so each is taken once, by the first role that reaches it."""
    context = browser.new_context(base_url=base, viewport=VIEWPORT)
    context.set_default_timeout(15_000)
    page = context.new_page()
    written: list[Path] = []
    try:
        page.goto("/web/login")
        page.fill("#token", token)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/web/")
        queue = deque([(base + "/web/", 0)])
        seen = {base + "/web/"}
        names: set[str] = set()
        while queue and len(written) < PER_ROLE:
            url, depth = queue.popleft()
            response = page.goto(url)
            if response is None or "text/html" not in response.headers.get("content-type", ""):
                continue
            page.wait_for_load_state("networkidle")
            name = page_name(urlsplit(url).path)
            once = name.startswith("admin")
            if response.ok and name not in names and not (once and name in shared):
                names.add(name)
                if once:
                    shared.add(name)
                target = out / f"{role}-{name}.png"
                page.screenshot(path=target)
                written.append(target)
            if depth < DEPTH:
                for link in _links(page, base):
                    if link not in seen:
                        seen.add(link)
                        queue.append((link, depth + 1))
    finally:
        context.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    out: Path = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    # The set of pictures is the site's as it is now: none left from pages since removed.
    for old in out.glob("*.png"):
        old.unlink()
    prereview = str(Path(sys.executable).parent / "prereview")
    with tempfile.TemporaryDirectory(prefix="prereview-screenshots-") as tmp:
        here = Path(tmp)
        # Everything the server keeps lives in the temporary directory, which is also its
        # working directory: no .env of the checkout is read, var/ of the checkout untouched.
        env = os.environ | {
            "PREREVIEW_DATABASE_URL": f"sqlite:///{here / 'demo.db'}",
            "PREREVIEW_MASTER_KEY_FILE": str(here / "master.keys"),
            "PREREVIEW_BLOB_DIR": str(here / "blobs"),
            "PREREVIEW_AUDIT_KEY_FILE": str(here / "audit.key"),
            "PREREVIEW_AUDIT_TRUST_DIR": str(here / "trust"),
        }
        subprocess.run([prereview, "db", "upgrade"], check=True, cwd=here, env=env)  # noqa: S603 (our own command)
        port = _free_port()
        server = subprocess.Popen(  # noqa: S603 (our own command)
            [prereview, "serve", "--demo", "--port", str(port)],
            cwd=here,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            env_file = here / "var" / "demo-tokens.env"
            _wait_for(base, env_file, server)
            tokens = _tokens(env_file)
            populate(_api(base), tokens)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
                try:
                    shared: set[str] = set()
                    for role, token_name in ROLES.items():
                        token = tokens[token_name]
                        for written in shoot(browser, base, role, token, out, shared):
                            print(
                                written.relative_to(ROOT)
                                if written.is_relative_to(ROOT)
                                else written
                            )
                finally:
                    browser.close()
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
