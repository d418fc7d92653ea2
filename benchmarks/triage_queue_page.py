"""The triage queue's page time at a large backlog, in process (service calls, no HTTP).

Usage: ``.venv/bin/python benchmarks/triage_queue_page.py [--backlog 100000]
[--database sqlite|postgresql] [--imported 2000] [--repeats 15]``.

Seeds a fresh database as ``benchmarks/triage.py`` does (``--imported`` reports through the
service, the rest bulk-copied in SQL), then times the analyst's queue pages the way the API
calls them: every report (200 rows), the open queue, the untriaged queue and the most severe
(50 rows each), and the queue grouped by product and by cluster. Prints one JSON line: the
backlog, the database, and p50/p95 milliseconds of each page.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import select, text
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parent))
import triage as seeding

from prereview.clearinghouse.triage import TriageFilter, analyst_queue, queue_groups
from prereview.core.db import make_engine, session_factory
from prereview.identity import service as identity
from prereview.identity.models import User


def _timed(sessions: Any, fn: Callable[[Session], object], repeats: int) -> dict[str, float]:
    times = []
    for _ in range(repeats):
        with sessions() as db:
            start = time.perf_counter()
            fn(db)
            times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {
        "p50_ms": round(times[len(times) // 2], 1),
        "p95_ms": round(times[max(0, int(0.95 * len(times)) - 1)], 1),
    }


def measure(url: str, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Seed ``url`` and time the pages."""
    seeding.IMPORTED_BACKLOG = args.imported
    started = time.perf_counter()
    seeding.prepare(url, work, args.backlog, 1)
    seed_s = time.perf_counter() - started
    engine = make_engine(url)
    sessions = session_factory(engine)
    with sessions() as db:
        user = db.scalar(select(User).where(User.email == "analyst@clearinghouse.org"))
        assert user is not None
        actor = identity.actor_for(user)
        if url.startswith("postgresql"):
            db.execute(text("ANALYZE"))  # as autovacuum would, after the bulk copy
            db.commit()
        reports = db.scalar(text("SELECT count(*) FROM ch_reports"))
    now = datetime.now(UTC)
    pages: dict[str, Callable[[Session], object]] = {
        "all_200": lambda db: analyst_queue(db, actor, now, TriageFilter(state="all"), None, 200),
        "open_50": lambda db: analyst_queue(db, actor, now, TriageFilter(), None, 50),
        "untriaged_50": lambda db: analyst_queue(
            db, actor, now, TriageFilter(triaged=False), None, 50
        ),
        "most_severe_50": lambda db: analyst_queue(
            db, actor, now, TriageFilter(order="severity"), None, 50
        ),
    }
    result: dict[str, Any] = {
        "bench": "triage_queue_page",
        "db": args.database,
        "reports": reports,
        "seed_s": round(seed_s, 1),
    }
    for name, fn in pages.items():
        result[name] = _timed(sessions, fn, args.repeats)
    for by in ("product", "cluster"):
        result[f"groups_{by}"] = _timed(
            sessions, lambda db, by=by: queue_groups(db, actor, now, TriageFilter(), by), 3
        )
    engine.dispose()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backlog", type=int, default=100_000)
    parser.add_argument("--imported", type=int, default=2_000)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="triage-page-") as scratch:
        work = Path(scratch)
        if args.database == "sqlite":
            print(json.dumps(measure(f"sqlite:///{work / 'bench.db'}", work, args)))
            return
        name = f"prereview_bench_{uuid.uuid4().hex[:10]}"
        admin_url = f"{args.pg}/postgres"
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            url = f"{args.pg.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
            print(json.dumps(measure(url, work, args)))
        finally:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
