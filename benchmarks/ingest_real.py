"""Ingest throughput on real advisories: the PyPA OSV records of ``tests/data/osv-pypa`` through
the bulk API (``POST /api/v1/clearinghouse/imports``) into a fresh SQLite database.

The 300 real records (YAML, as the database publishes them) are sent ``--copies`` times, each
copy's ids suffixed (``PYSEC-2021-1-c2``) so that every copy is new records with the real
shape: the same texts, ranges, references and shared aliases (a copy of the tensorflow family
links to the same CVE as the original). Payloads of ``--batch`` records each, one request per
payload, through the whole app (authentication, parsing, schema validation, the duplicate
finder, storing and audit) on the in-process ASGI app.

Prints one JSON line: bench ("ingest_real"), db, reports (stored), items, reports_per_s (stored
reports per wall-clock second), seconds, batch, copies and the counts.
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from prereview.api import create_app
from prereview.authz.kinds import OrgKind
from prereview.core.clock import FixedClock
from prereview.core.context import AppContext
from prereview.core.db import transaction
from prereview.core.migrate import upgrade
from prereview.core.settings import Settings
from prereview.identity import service as identity
from prereview.identity.schemas import OrganisationCreate, UserCreate

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "osv-pypa" / "vulns"
_ID_LINE = re.compile(rb"^id: (\S+)$", re.MULTILINE)


def documents(copies: int) -> list[bytes]:
    """Every shipped record, ``copies`` times, each copy under ids of its own."""
    originals = [path.read_bytes().rstrip(b"\n") for path in sorted(DATA.rglob("*.yaml"))]
    found: list[bytes] = []
    for copy in range(1, copies + 1):
        suffix = b"" if copy == 1 else f"-c{copy}".encode()
        found += [_ID_LINE.sub(rb"id: \1" + suffix, doc) for doc in originals]
    return found


def run(copies: int, batch: int, work: Path) -> dict[str, Any]:
    url = f"sqlite:///{work / 'bench.db'}"
    upgrade(url)
    now = datetime(2026, 6, 1, tzinfo=UTC)
    settings = Settings(
        database_url=url,
        master_key_file=work / "master.keys",
        audit_key_file=work / "audit.key",
        blob_dir=work / "blobs",
    )
    context = AppContext.create(settings, FixedClock(now))
    with transaction(context.sessions) as db:
        _, user = identity.seed_organisation(
            db,
            OrganisationCreate(name="Bench clearinghouse", kind=OrgKind.CLEARINGHOUSE),
            UserCreate(email="bench@pypa-mirror.org", name="Bench"),
            now,
        )
        db.flush()
        token = identity.issue_token_for(db, user, "bench", timedelta(days=1), now).plaintext
    docs = documents(copies)
    counts: dict[str, int] = {}
    with TestClient(create_app(context=context)) as client:
        started = time.perf_counter()
        for start in range(0, len(docs), batch):
            answer = client.post(
                "/api/v1/clearinghouse/imports",
                content=b"\n---\n".join(docs[start : start + batch]) + b"\n",
                params={"format": "osv"},
                headers={"Authorization": f"Bearer {token}"},
            )
            answer.raise_for_status()
            for status, number in answer.json()["counts"].items():
                counts[status] = counts.get(status, 0) + number
        elapsed = time.perf_counter() - started
    context.engine.dispose()
    return {
        "bench": "ingest_real",
        "db": "sqlite",
        "reports": counts.get("accepted", 0),
        "items": len(docs),
        "reports_per_s": round(counts.get("accepted", 0) / elapsed, 1),
        "seconds": round(elapsed, 2),
        "batch": batch,
        "copies": copies,
        **counts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="prereview-ingest-real-") as scratch:
        print(json.dumps(run(args.copies, args.batch, Path(scratch))))


if __name__ == "__main__":
    main()
