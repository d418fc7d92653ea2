"""Server time of the clearinghouse's case page (``/web/clearinghouse/cases/{id}``) at scale.

Usage: ``.venv/bin/python benchmarks/case_page.py [--vendors 200] [--messages 1000]
[--repeats 30]``.

On a fresh migrated SQLite database (a temporary file), the app in process: the clearinghouse
signs in to the web; an agency reports one vulnerability; the clearinghouse opens a case on it
with ``--vendors`` vendor organisations, each with a status and a due date on the report, and
``--messages`` case messages. Then, signed in as the analyst, the case page is fetched
``--repeats`` times with all vendors on one page (``limit=200``, the worst case) and as a
browser first opens it (50 vendors a page), each timed from request to full answer through
the ASGI app (server time; no network). Also counts the SQL statements of one page view at
``--vendors`` and at a tenth of them: equal counts mean no query per vendor.

Prints one JSON line: bench ("case_page"), db, vendors, messages, p50_ms / p95_ms for both
page sizes, and the statement counts.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event

from prereview.api import create_app
from prereview.authz.kinds import OrgKind
from prereview.clearinghouse import service as clearinghouse
from prereview.core.clock import SystemClock
from prereview.core.context import AppContext
from prereview.core.db import transaction
from prereview.core.migrate import upgrade
from prereview.core.settings import Settings
from prereview.identity import service as identity
from prereview.identity.schemas import OrganisationCreate, UserCreate

SITE = {"origin": "http://testserver"}
REPORT = {
    "id": "BENCH-1",
    "title": "Path traversal in upload handler",
    "description": "save_upload() in app/upload.py joins the user's file name to the upload "
    "root without normalising it, so '../' sequences write outside the root.",
    "affected": [{"purl": "pkg:pypi/uploadkit@1.2.0"}],
    "cwes": ["CWE-22"],
    "cvss_v3": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
}


def _percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _populate(context: AppContext, vendors: int) -> tuple[str, str, list[str]]:
    """The clearinghouse's and the agency's tokens, and the vendor organisations' ids."""
    now = context.clock.now()
    with transaction(context.sessions) as db:
        _, _, analyst = identity.bootstrap(
            db,
            OrganisationCreate(name="Clearinghouse", kind=OrgKind.CLEARINGHOUSE),
            UserCreate(email="analyst@clearinghouse.example", name="Analyst"),
            now,
            timedelta(days=1),
        )
        _, agency_user = identity.seed_organisation(
            db,
            OrganisationCreate(name="Agency", kind=OrgKind.AGENCY),
            UserCreate(email="reviewer@agency.example", name="Reviewer"),
            now,
        )
        db.flush()
        agency = identity.issue_token_for(db, agency_user, "bench", timedelta(days=1), now)
        ids = []
        for n in range(vendors):
            org, _ = identity.seed_organisation(
                db,
                OrganisationCreate(name=f"Vendor {n:04d}", kind=OrgKind.DEVELOPER),
                UserCreate(email=f"psirt@vendor{n}.example", name=f"PSIRT {n}"),
                now,
            )
            ids.append(org.id)
    return analyst.plaintext, agency.plaintext, ids


def _case(client: TestClient, analyst: str, agency: str, vendors: list[str]) -> str:
    def call(token: str, method: str, path: str, body: Any) -> Any:
        answer = client.request(
            method, f"/api/v1{path}", json=body, headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code in (200, 201), answer.text
        return answer.json()

    call(agency, "POST", "/clearinghouse/reports", REPORT)
    case = call(
        analyst,
        "POST",
        "/clearinghouse/cases",
        {"title": "uploadkit traversal", "report_ids": [REPORT["id"]], "vendor_org_ids": vendors},
    )
    for n, vendor in enumerate(vendors):
        call(
            analyst,
            "PUT",
            f"/clearinghouse/cases/{case['id']}/vendors/{vendor}/statuses/{REPORT['id']}",
            {
                "status": ("affected", "under_investigation", "fixed")[n % 3],
                "statement": f"vendor {n} says",
                "due_on": "2026-12-31",
            },
        )
    return str(case["id"])


def _messages(context: AppContext, case_id: str, count: int) -> None:
    with transaction(context.sessions) as db:
        actor = identity.actor_of(db, "analyst@clearinghouse.example")
    for n in range(count):
        with transaction(context.sessions) as db:
            clearinghouse.post_message(db, actor, case_id, f"message {n}", context.clock.now())


def _time(client: TestClient, path: str, repeats: int) -> list[float]:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        answer = client.get(path)
        samples.append((time.perf_counter() - start) * 1000)
        assert answer.status_code == 200, answer.text[:500]
    return samples


def _statements(context: AppContext, client: TestClient, path: str) -> int:
    seen: list[str] = []

    def count(*args: object) -> None:
        seen.append(str(args[2]))

    event.listen(context.engine, "before_cursor_execute", count)
    try:
        assert client.get(path).status_code == 200
    finally:
        event.remove(context.engine, "before_cursor_execute", count)
    return len(seen)


def run(vendors: int, messages: int, repeats: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        here = Path(folder)
        database = f"sqlite:///{here / 'bench.db'}"
        upgrade(database)
        settings = Settings(
            database_url=database,
            master_key_file=here / "master.keys",
            audit_key_file=here / "audit.key",
            blob_dir=here / "blobs",
        )
        context = AppContext.create(settings, SystemClock())
        try:
            with TestClient(create_app(context=context)) as client:
                analyst, agency, ids = _populate(context, vendors)
                tenth = max(1, vendors // 10)
                small = _case(client, analyst, agency, ids[:tenth]) if vendors > 1 else None
                REPORT["id"] = "BENCH-2"
                case_id = _case(client, analyst, agency, ids)
                _messages(context, case_id, messages)
                client.headers.update(SITE)
                signed = client.post("/web/login", data={"token": analyst}, follow_redirects=False)
                assert signed.status_code == 303, signed.text
                everyone = f"/web/clearinghouse/cases/{case_id}?limit=200"
                first = f"/web/clearinghouse/cases/{case_id}"
                _time(client, everyone, 3)  # warm the caches and the templates
                whole = _time(client, everyone, repeats)
                paged = _time(client, first, repeats)
                queries = _statements(context, client, everyone)
                fewer = (
                    _statements(context, client, f"/web/clearinghouse/cases/{small}?limit=200")
                    if small
                    else queries
                )
        finally:
            context.engine.dispose()
    return {
        "bench": "case_page",
        "db": "sqlite",
        "vendors": vendors,
        "messages": messages,
        "repeats": repeats,
        "all_vendors_p50_ms": round(statistics.median(whole), 1),
        "all_vendors_p95_ms": round(_percentile(whole, 0.95), 1),
        "first_page_p50_ms": round(statistics.median(paged), 1),
        "first_page_p95_ms": round(_percentile(paged, 0.95), 1),
        "statements": queries,
        "statements_at_a_tenth_of_the_vendors": fewer,
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vendors", type=int, default=200)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args(argv)
    if not 1 <= args.vendors <= 200:
        parser.error("--vendors: 1 to 200 (one page of the table holds at most 200)")
    print(json.dumps(run(args.vendors, args.messages, args.repeats)))


if __name__ == "__main__":
    main(sys.argv[1:])
