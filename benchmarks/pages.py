"""Server time of every page, on the demo data, and of the case page with 200 vendors.

Usage: ``.venv/bin/python benchmarks/pages.py [--repeats N]`` (default 20).

The demo scenario (``prereview.demo``: the review side, the gateway simulator and CAISI's
key) plus the clearinghouse's work (``tools/demo_clearinghouse.py``: products, claims, two
reports, one a likely duplicate, a published one, a case) on a fresh SQLite database. Each
demo person signs in through the login form and the pages are found by crawling, as a person
would find them: every same-site ``/web/`` link and GET form breadth-first from the home page
(sign-out, downloads and exports left out), at most :data:`PAGES_PER_ROLE` per person. Each
page found is then fetched N times; the figures are grouped by route (the template of the path,
``/web/submissions/{submission_id}``), over every person and id that reached it.

Server time is measured inside the ASGI app, from the request's arrival to the last byte of the
answer handed to the server, so the client's own work is not in it.

Then, once those are timed, a case with 200 vendors (200 organisations admitted by the
clearinghouse, each a vendor of one case over a report): its page on ``/web/`` if the site has
one (a GET route ending in ``/cases/{case_id}``), and always the API's vendor table
(``GET /api/v1/clearinghouse/cases/{id}/vendors``, its default page) and case view.

Prints one JSON line. Goal: every page under 200 ms at p95, the case page under 500 ms. A
figure, not a test: a shared machine's load moves it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from collections import deque
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from prereview.api import create_app
from prereview.core.context import AppContext
from prereview.core.migrate import upgrade
from prereview.core.settings import Settings
from prereview.demo import seed, start_gateway_demo
from prereview.web.pages import ROUTERS

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from demo_clearinghouse import populate
from server_timing import Timed, ms

PAGES_PER_ROLE = 80
URLS_PER_ROUTE = 6  # (person, address) pairs timed per route: the figures are per route
VENDORS = 200
SITE = "http://testserver"
NOT_PAGES = ("/web/logout", "/web/static/", "/download", "/export")
PEOPLE = ("DEV_TOKEN", "CAISI_TOKEN", "CISA_TOKEN", "HOSPITAL_TOKEN", "BANK_TOKEN")
CLEARINGHOUSE = "CLEARINGHOUSE_TOKEN"


class Links(HTMLParser):
    """The links of a page and the actions of its GET forms."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "a" and named.get("href") and "download" not in named:
            self.found.append(str(named["href"]))
        if tag == "form" and (named.get("method") or "get").lower() == "get":
            self.found.append(str(named.get("action") or ""))


def _page_routes() -> list[tuple[str, re.Pattern[str]]]:
    found = []
    for router in ROUTERS:
        for route in router.routes:
            if isinstance(route, APIRoute) and "GET" in (route.methods or ()):
                found.append((route.path, route.path_regex))
    return found


def _route_of(path: str, routes: list[tuple[str, re.Pattern[str]]]) -> str | None:
    return next((template for template, regex in routes if regex.match(path)), None)


def _sign_in(client: TestClient, token: str) -> None:
    client.cookies.clear()
    answer = client.post(
        "/web/login", data={"token": token}, headers={"origin": SITE}, follow_redirects=False
    )
    assert answer.status_code == 303, (answer.status_code, answer.text[:300])


def _crawl(client: TestClient) -> list[str]:
    """The pages reachable from the home page, breadth-first (same site, HTML answers)."""
    start = "/web/"
    queue, seen = deque([start]), {start}
    pages: list[str] = []
    while queue and len(pages) < PAGES_PER_ROLE:
        url = queue.popleft()
        answer = client.get(url, follow_redirects=False)
        if not answer.headers.get("content-type", "").startswith("text/html"):
            continue
        pages.append(url)
        parser = Links()
        parser.feed(answer.text)
        for href in parser.found:
            parts = urlsplit(urljoin(SITE + url, href))
            if f"{parts.scheme}://{parts.netloc}" != SITE or not parts.path.startswith("/web/"):
                continue
            if any(marker in parts.path for marker in NOT_PAGES):
                continue
            link = parts.path + (f"?{parts.query}" if parts.query else "")
            if link not in seen:
                seen.add(link)
                queue.append(link)
    return pages


def _time(client: TestClient, timed: Timed, url: str, repeats: int) -> tuple[int, list[float]]:
    samples, status = [], 0
    for _ in range(repeats):
        status = client.get(url, follow_redirects=False).status_code
        samples.append(timed.last)
    return status, samples


def _api(client: TestClient) -> Callable[[str, str, str, dict[str, Any] | None], Any]:
    def call(token: str, method: str, path: str, body: dict[str, Any] | None) -> Any:
        answer = client.request(
            method, f"/api/v1{path}", json=body, headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code < 300, (method, path, answer.status_code, answer.text[:300])
        return answer.json()

    return call


def _big_case(call: Callable[..., Any], tokens: dict[str, str]) -> str:
    admin = tokens[CLEARINGHOUSE]
    vendors = [
        call(admin, "POST", "/organisations", {"name": f"Vendor {i:03d}", "kind": "developer"})[
            "id"
        ]
        for i in range(VENDORS)
    ]
    call(
        tokens["CAISI_TOKEN"],
        "POST",
        "/clearinghouse/reports",
        {
            "id": "PRV-BENCH-0200",
            "title": "Deserialisation flaw in a shared ingest library",
            "description": "The ingest library unpickles queue messages from any producer.",
            "affected": [{"purl": "pkg:pypi/ingestlib@3.1.0"}],
            "cwes": ["CWE-502"],
        },
    )
    case = call(
        admin,
        "POST",
        "/clearinghouse/cases",
        {
            "title": "ingestlib, 200 vendors",
            "report_ids": ["PRV-BENCH-0200"],
            "vendor_org_ids": vendors,
        },
    )
    return str(case["id"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=20)
    repeats: int = parser.parse_args().repeats
    with tempfile.TemporaryDirectory(prefix="prereview-pages-") as tmp:
        here = Path(tmp)
        database = f"sqlite:///{here / 'demo.db'}"
        upgrade(database)
        settings = Settings(
            database_url=database,
            master_key_file=here / "master.keys",
            audit_key_file=here / "audit.key",
            blob_dir=here / "blobs",
        )
        context = AppContext.create(settings)
        timed = Timed(create_app(context=context))
        with TestClient(timed, base_url=SITE) as client:
            demo = seed(context)
            start_gateway_demo(context, demo)
            tokens = demo.values | demo.ids
            call = _api(client)
            populate(call, tokens)

            routes = _page_routes()
            urls: dict[str, list[tuple[str, str]]] = {}  # route -> (person, url)
            for person in (*PEOPLE, CLEARINGHOUSE):
                _sign_in(client, tokens[person])
                for url in _crawl(client):
                    route = _route_of(urlsplit(url).path, routes) or urlsplit(url).path
                    known = urls.setdefault(route, [])
                    # Per person: the same address (the home page) is another page for each.
                    if len(known) < URLS_PER_ROUTE and (person, url) not in known:
                        known.append((person, url))
            pages: dict[str, dict[str, Any]] = {}
            for route, reached in sorted(urls.items()):
                samples: list[float] = []
                statuses: set[int] = set()
                for person, url in reached:
                    _sign_in(client, tokens[person])
                    client.get(url)  # warm-up: templates compiled, caches filled
                    status, measured = _time(client, timed, url, repeats)
                    statuses.add(status)
                    samples += measured
                pages[route] = ms(samples) | {"urls": len(reached), "status": sorted(statuses)}

            # Made after the pages are timed, so that those are the demo's pages (the case list
            # and the crawl's case pages without a 200-vendor case among them).
            case_id = _big_case(call, tokens)
            case: dict[str, Any] = {"vendors": VENDORS}
            web_case = next((t for t, _ in routes if t.endswith("/cases/{case_id}")), None)
            _sign_in(client, tokens[CLEARINGHOUSE])
            if web_case is not None:
                url = web_case.replace("{case_id}", case_id)
                client.get(url)
                status, measured = _time(client, timed, url, repeats)
                case["web_page"] = {"route": web_case, "status": status} | ms(measured)
            else:
                case["web_page"] = None
            header = {"Authorization": f"Bearer {tokens[CLEARINGHOUSE]}"}
            for name, path in (
                ("api_vendor_table", f"/api/v1/clearinghouse/cases/{case_id}/vendors"),
                ("api_case", f"/api/v1/clearinghouse/cases/{case_id}"),
            ):
                samples = []
                for _ in range(repeats + 1):
                    client.get(path, headers=header)
                    samples.append(timed.last)
                case[name] = ms(samples[1:])
        context.engine.dispose()

    mounted = {t for t, _ in routes}
    slowest = max(pages.items(), key=lambda item: item[1]["p95_ms"])
    print(
        json.dumps(
            {
                "repeats": repeats,
                # The machine is shared: its load when done says how far to trust the tails.
                "load_average_1m": round(os.getloadavg()[0], 2),
                "routes_timed": len(pages),
                "pages": pages,
                "slowest_route": slowest[0],
                "slowest_p95_ms": slowest[1]["p95_ms"],
                "over_200ms_p95": sorted(r for r, f in pages.items() if f["p95_ms"] >= 200),
                "not_reached": sorted(mounted - set(pages)),
                "case_200_vendors": case,
            }
        )
    )


if __name__ == "__main__":
    main()
