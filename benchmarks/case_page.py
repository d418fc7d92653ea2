"""Server time of the clearinghouse's case page (``/web/clearinghouse/cases/{id}``) at scale.

Usage: ``.venv/bin/python benchmarks/case_page.py [--database sqlite|postgresql]
[--vendors 200] [--products 5] [--messages 1000] [--repeats 30] [--freeze-gc]``.

On a fresh migrated database (a temporary SQLite file, or a scratch PostgreSQL database at
``--pg``), the app in process: the clearinghouse signs in to the web; an agency reports one
vulnerability affecting ``--products`` products; the clearinghouse opens a case on it with
``--vendors`` vendor organisations, each with a status and a due date on the report and a cell
set for every product (``vendors x products`` cells), and ``--messages`` case messages, one in
five of them in a vendor's private thread. Then, signed in as the analyst, the case page is
fetched ``--repeats`` times with all vendors on one page (``limit=200``, the worst case), as a
browser first opens it (50 vendors a page), and with one vendor's private thread open; and the
API's case view (``GET /cases/{id}/vendors?limit=200``, every vendor's statuses and cells),
each timed from request to full answer through the ASGI app (server time; no network). Also
counts the SQL statements of one page view at ``--vendors`` and at a tenth of them: equal
counts mean no query per vendor.

Prints one JSON line: bench ("case_page"), db, vendors, products, cells, messages, p50_ms /
p95_ms for each view, the page's size, and the statement counts.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
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
    "affected": [{"purl": "pkg:pypi/uploadkit@1.2.0"}],  # --products of them (_report)
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


def _report(report_id: str, products: int) -> dict[str, Any]:
    affected = [{"purl": f"pkg:pypi/uploadkit{'' if n == 0 else n}@1.2.0"} for n in range(products)]
    return REPORT | {"id": report_id, "affected": affected}


def _case(client: TestClient, analyst: str, agency: str, vendors: list[str], report: Any) -> str:
    def call(token: str, method: str, path: str, body: Any) -> Any:
        answer = client.request(
            method, f"/api/v1{path}", json=body, headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code in (200, 201), answer.text
        return answer.json()

    call(agency, "POST", "/clearinghouse/reports", report)
    case = call(
        analyst,
        "POST",
        "/clearinghouse/cases",
        {"title": "uploadkit traversal", "report_ids": [report["id"]], "vendor_org_ids": vendors},
    )
    for n, vendor in enumerate(vendors):
        call(
            analyst,
            "PUT",
            f"/clearinghouse/cases/{case['id']}/vendors/{vendor}/statuses/{report['id']}",
            {
                "status": ("affected", "under_investigation", "fixed")[n % 3],
                "statement": f"vendor {n} says",
                "due_on": "2026-12-31",
            },
        )
    return str(case["id"])


def _messages(context: AppContext, case_id: str, count: int, vendors: list[str]) -> None:
    """``count`` messages by the analyst, every fifth in a vendor's private thread."""
    with transaction(context.sessions) as db:
        actor = identity.actor_of(db, "analyst@clearinghouse.example")
    for n in range(count):
        thread = vendors[(n // 5) % len(vendors)] if n % 5 == 4 else None
        with transaction(context.sessions) as db:
            clearinghouse.post_message(
                db, actor, case_id, f"message {n}", context.clock.now(), thread
            )


def _cells(context: AppContext, case_id: str, vendors: list[str], products: list[str]) -> None:
    """Every vendor x product cell set (by the analyst, one audited change each)."""
    states = [s for s in clearinghouse.CellState if s is not clearinghouse.CellState.NOT_AFFECTED]
    with transaction(context.sessions) as db:
        actor = identity.actor_of(db, "analyst@clearinghouse.example")
    for n, vendor in enumerate(vendors):
        for m, product in enumerate(products):
            change = clearinghouse.CellChange(states[(n + m) % len(states)], statement=f"{n}/{m}")
            with transaction(context.sessions) as db:
                clearinghouse.set_cell(
                    db, actor, case_id, vendor, product, change, context.clock.now()
                )


def _time(
    client: TestClient, path: str, repeats: int, headers: dict[str, str] | None = None
) -> list[float]:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        answer = client.get(path, headers=headers)
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


@contextmanager
def _database(kind: str, folder: Path, pg: str) -> Iterator[str]:
    """A fresh database URL: a SQLite file in ``folder``, or a scratch PostgreSQL database."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'bench.db'}"
        return
    name = f"prereview_bench_{uuid.uuid4().hex[:10]}"
    admin_url = f"{pg}/postgres"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{pg.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(
    kind: str,
    vendors: int,
    products: int,
    messages: int,
    repeats: int,
    pg: str,
    freeze_gc: bool = False,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder, _database(kind, Path(folder), pg) as database:
        here = Path(folder)
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
                small = (
                    _case(client, analyst, agency, ids[:tenth], _report("BENCH-1", products))
                    if vendors > 1
                    else None
                )
                report = _report("BENCH-2", products)
                case_id = _case(client, analyst, agency, ids, report)
                keys = sorted(f"pkg:pypi/{a['purl'][9:].split('@')[0]}" for a in report["affected"])
                _cells(context, case_id, ids, keys)
                _messages(context, case_id, messages, ids)
                if freeze_gc:
                    # What a server that calls gc.freeze() once started would see: the objects
                    # of start-up and of the data loaded above leave the collector's scans.
                    gc.collect()
                    gc.freeze()
                api = {"Authorization": f"Bearer {analyst}"}
                view = f"/api/v1/clearinghouse/cases/{case_id}/vendors?limit=200"
                _time(client, view, 3, api)
                api_view = _time(client, view, repeats, api)
                client.headers.update(SITE)
                signed = client.post("/web/login", data={"token": analyst}, follow_redirects=False)
                assert signed.status_code == 303, signed.text
                everyone = f"/web/clearinghouse/cases/{case_id}?limit=200"
                first = f"/web/clearinghouse/cases/{case_id}"
                private = f"{everyone}&vendor={ids[0]}"
                _time(client, everyone, 3)  # warm the caches and the templates
                whole = _time(client, everyone, repeats)
                paged = _time(client, first, repeats)
                with_thread = _time(client, private, repeats)
                size = len(client.get(everyone).content)
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
        "db": kind,
        "vendors": vendors,
        "products": products,
        "cells": vendors * products,
        "messages": messages,
        "repeats": repeats,
        "gc_frozen": freeze_gc,
        "all_vendors_p50_ms": round(statistics.median(whole), 1),
        "all_vendors_p95_ms": round(_percentile(whole, 0.95), 1),
        "first_page_p50_ms": round(statistics.median(paged), 1),
        "first_page_p95_ms": round(_percentile(paged, 0.95), 1),
        "private_thread_p50_ms": round(statistics.median(with_thread), 1),
        "private_thread_p95_ms": round(_percentile(with_thread, 0.95), 1),
        "api_view_p50_ms": round(statistics.median(api_view), 1),
        "api_view_p95_ms": round(_percentile(api_view, 0.95), 1),
        "page_bytes": size,
        "statements": queries,
        "statements_at_a_tenth_of_the_vendors": fewer,
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--vendors", type=int, default=200)
    parser.add_argument("--products", type=int, default=5)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument(
        "--freeze-gc",
        action="store_true",
        help="gc.freeze() before timing (the p95 outliers are full collections of the heap)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.vendors <= 200:
        parser.error("--vendors: 1 to 200 (one page of the table holds at most 200)")
    if not 1 <= args.products <= 50:
        parser.error("--products: 1 to 50")
    figures = run(
        args.database,
        args.vendors,
        args.products,
        args.messages,
        args.repeats,
        args.pg,
        args.freeze_gc,
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main(sys.argv[1:])
