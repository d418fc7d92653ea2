"""Ingest throughput of the clearinghouse: bulk import of reports into SQLite and PostgreSQL.

Generates ``--reports`` synthetic vulnerability reports as JSON Lines (products, CWEs, CVSS 3.1
and 4.0 vectors, code locations and text drawn at random, with a share of re-reported ids and
aliases so that the duplicate path runs too), and imports them through the service's bulk
intake in batches of ``--batch`` lines, as ``prereview vuln import`` sends them: parsing and
validation, CVSS scoring, duplicate-identifier checks, the MinHash duplicate finder, batched
inserts of reports, identifiers, products and relations, vendor notification and one audit
entry per stored report, one transaction per batch.

The PostgreSQL run uses a scratch database ``prereview_bench_<random>`` on
``--pg`` (default postgresql://postgres@127.0.0.1:5432), dropped afterwards.

Prints one JSON line per database: bench ("ingest"), db, reports, reports_per_s (stored reports
per wall-clock second), precision / recall / f1 (null: measured by ``benchmarks/dedup.py``),
and the counts of the run.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from prereview.authz.kinds import OrgKind
from prereview.clearinghouse import service
from prereview.clearinghouse.intake.formats import IntakeFormat
from prereview.core.db import make_engine, session_factory, transaction
from prereview.core.migrate import upgrade
from prereview.identity import service as identity
from prereview.identity.schemas import OrganisationCreate, UserCreate
from prereview.vault.service import Vault

WORDS = [
    "buffer",
    "parser",
    "header",
    "frame",
    "request",
    "session",
    "token",
    "cookie",
    "upload",
    "path",
    "handler",
    "query",
    "template",
    "render",
    "decode",
    "encode",
    "archive",
    "stream",
    "socket",
    "packet",
    "cache",
    "index",
    "router",
    "schema",
    "signature",
    "certificate",
    "redirect",
    "filter",
    "plugin",
    "loader",
    "config",
    "resolver",
    "worker",
    "queue",
]
CWES = ["CWE-22", "CWE-79", "CWE-89", "CWE-120", "CWE-122", "CWE-287", "CWE-352", "CWE-502"]
ECOSYSTEMS = ["pypi", "npm", "cargo", "golang", "maven"]
V3 = "CVSS:3.1/AV:N/AC:{ac}/PR:N/UI:{ui}/S:U/C:H/I:{i}/A:N"
V4 = "CVSS:4.0/AV:N/AC:{ac}/AT:N/PR:N/UI:N/VC:H/VI:{i}/VA:N/SC:N/SI:N/SA:N"


def generate(count: int, seed: int) -> list[str]:
    """``count`` report lines; about 3% re-report an earlier id and 3% alias an earlier one."""
    rng = random.Random(seed)
    packages = [
        f"pkg:{rng.choice(ECOSYSTEMS)}/{rng.choice(WORDS)}-{rng.choice(WORDS)}-{n}"
        for n in range(max(10, count // 50))
    ]
    lines: list[str] = []
    ids: list[str] = []
    for n in range(count):
        roll = rng.random()
        report_id = f"BENCH-{seed}-{n}"
        aliases: list[str] = []
        if ids and roll < 0.03:
            report_id = rng.choice(ids)  # the same report sent again: a duplicate
        elif ids and roll < 0.06:
            aliases = [rng.choice(ids)]  # names a known report: a distinct record it links
        function = f"{rng.choice(WORDS)}_{rng.choice(WORDS)}_{n}"
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 60)))
        ac, ui, integrity = rng.choice("LH"), rng.choice("NR"), rng.choice("NLH")
        report: dict[str, Any] = {
            "id": report_id,
            "title": f"{rng.choice(WORDS).title()} {rng.choice(WORDS)} flaw in {function}",
            "description": f"{function}() in src/{rng.choice(WORDS)}.c mishandles the "
            f"{rng.choice(WORDS)}: {words}.",
            "affected": [{"purl": f"{rng.choice(packages)}@{rng.randint(0, 9)}.{n % 10}.0"}],
            "cwes": [rng.choice(CWES)],
            "cvss_v3": V3.format(ac=ac, ui=ui, i=integrity),
            "cvss_v4": V4.format(ac=ac, i=integrity),
            "code_locations": [f"src/{function}.c:{function}"],
            "discovered_by": {"kind": "model", "model": "frontier-x", "review_id": f"REV-{n % 7}"},
            "aliases": aliases,
            "tlp": rng.choice(["CLEAR", "GREEN", "AMBER", "AMBER"]),
        }
        ids.append(report_id)
        lines.append(json.dumps(report))
    return lines


def run(url: str, label: str, lines: list[str], batch: int, work: Path) -> dict[str, Any]:
    upgrade(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    now = datetime(2026, 6, 1, tzinfo=UTC)
    with transaction(sessions) as db:
        _, user, _ = identity.bootstrap(
            db,
            OrganisationCreate(name="Bench clearinghouse", kind=OrgKind.CLEARINGHOUSE),
            UserCreate(email="bench@clearinghouse.org", name="Bench"),
            now,
            timedelta(days=1),
        )
        actor = identity.actor_for(user)
    vault = Vault.local(work / f"{label}.keys", work / f"{label}-blobs")
    counts = {"accepted": 0, "updated": 0, "duplicate": 0, "rejected": 0, "skipped": 0}
    started = time.perf_counter()
    for start in range(0, len(lines), batch):
        payload = "\n".join(lines[start : start + batch]).encode()
        db = sessions()
        try:
            result = service.import_reports(
                db, vault, actor, payload, now, intake_format=IntakeFormat.JSON_LINES
            )
        finally:
            db.close()
        for status, number in result.counts().items():
            counts[status] += number
    elapsed = time.perf_counter() - started
    engine.dispose()
    return {
        "bench": "ingest",
        "db": label,
        "reports": len(lines),
        "reports_per_s": round(counts["accepted"] / elapsed, 1),
        "items_per_s": round(len(lines) / elapsed, 1),
        "precision": None,
        "recall": None,
        "f1": None,
        "seconds": round(elapsed, 2),
        "batch": batch,
        **counts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--seed", type=int, default=20261122)
    args = parser.parse_args()
    lines = generate(args.reports, args.seed)
    with tempfile.TemporaryDirectory(prefix="prereview-ingest-") as scratch:
        work = Path(scratch)
        if args.db in ("sqlite", "both"):
            url = f"sqlite:///{work / 'bench.db'}"
            print(json.dumps(run(url, "sqlite", lines, args.batch, work)))
            sys.stdout.flush()
        if args.db in ("postgresql", "both"):
            name = f"prereview_bench_{uuid.uuid4().hex[:10]}"
            admin_url = f"{args.pg}/postgres"
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
            try:
                url = f"{args.pg.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
                print(json.dumps(run(url, "postgresql", lines, args.batch, work)))
            finally:
                with psycopg.connect(admin_url, autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
