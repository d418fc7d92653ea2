"""Time to queue: a burst of reports through the bulk API, and when each one first shows in the
analyst's triage queue; the queue's page latency; an analyst's page-plus-decision throughput.

Usage: ``.venv/bin/python benchmarks/triage.py [--database sqlite|postgresql] [--rate 100]
[--duration 30] [--backlog 10000]``.

Starts ``uvicorn prereview.api:create_app`` in its own process on 127.0.0.1 over a fresh
database that already holds ``--backlog`` reports (imported through the service, as the bulk
API does), then for ``--duration`` seconds sends ``--rate`` reports a second to
``POST /api/v1/clearinghouse/imports`` (one JSON Lines request a second, over about thirty
products; a tenth of them near-copies of an earlier report, so the duplicate finder proposes
and the queue groups). A
poller reads ``GET /api/v1/clearinghouse/triage/queue`` (newest first, keyset pages of 200) as
fast as it answers and records when each burst report first appears. A report's time to queue
is from the moment its request was sent to the moment the poller first saw it: the request's
own time, its commit, and the poll's delay all count. Then an analyst loop reads the untriaged
queue's first page and triages its first report, ``--actions`` times.

Prints one JSON line: bench ("triage"), db, the burst, time_to_queue_p50/p95/max_s (goal p95
<= 60 s), missing (burst reports never seen within 60 s after the burst), queue_page_p95_ms
(the poller's pages during the burst) and idle_page_p95_ms (after it), groups_p95_ms (the
queue grouped by product and by cluster), analyst_step_p50/p95_ms and analyst_steps_per_s
(one queue page and one triage decision), and the reports in the queue at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import func, insert, literal, select

from prereview.authz.kinds import OrgKind
from prereview.clearinghouse import service
from prereview.clearinghouse.intake.formats import IntakeFormat
from prereview.clearinghouse.models import AffectedRow, VulnReport
from prereview.core.db import make_engine, session_factory, transaction
from prereview.core.migrate import upgrade
from prereview.identity import service as identity
from prereview.identity.schemas import OrganisationCreate, UserCreate
from prereview.vault.service import Vault

# fmt: off
WORDS = [
    "buffer", "parser", "header", "frame", "request", "session", "token", "cookie", "upload",
    "path", "handler", "query", "template", "render", "decode", "encode", "archive", "stream",
    "socket", "packet", "cache", "index", "router", "schema", "signature", "certificate",
    "redirect", "filter", "plugin", "loader", "config", "resolver", "worker", "queue",
]
# fmt: on
CWES = ["CWE-22", "CWE-79", "CWE-89", "CWE-120", "CWE-287", "CWE-502"]
V3 = "CVSS:3.1/AV:N/AC:{ac}/PR:N/UI:N/S:U/C:H/I:{i}/A:N"
SERVER_LIMIT_S = 1800
IMPORTED_BACKLOG = 10_000
"""Backlog imported through the service; beyond it, bulk copies in SQL (:func:`replicate`)."""


class Reports:
    """Report documents: ``prefix``-numbered, over about thirty products, a tenth of them a
    near-copy of an earlier one (another id, the same text but one word)."""

    def __init__(self, prefix: str, seed: int) -> None:
        self.prefix, self.rng, self.made = prefix, random.Random(seed), 0
        self.packages = [
            f"pkg:pypi/{w}-{v}-{n}" for n, (w, v) in enumerate(zip(WORDS, WORDS[3:], strict=False))
        ]
        self.earlier: list[dict[str, Any]] = []

    def next(self) -> dict[str, Any]:
        rng, n = self.rng, self.made
        self.made += 1
        report_id = f"{self.prefix}-{n:07d}"
        if self.earlier and rng.random() < 0.1:
            copy = dict(rng.choice(self.earlier[-500:]))
            copy["id"] = report_id
            copy["description"] = copy["description"].replace("mishandles", "mis-handles", 1)
            return copy
        function = f"{rng.choice(WORDS)}_{rng.choice(WORDS)}_{self.prefix}{n}"
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 50)))
        report = {
            "id": report_id,
            "title": f"{rng.choice(WORDS).title()} flaw in {function}",
            "description": f"{function}() in src/{rng.choice(WORDS)}.c mishandles it: {words}.",
            "affected": [{"purl": f"{rng.choice(self.packages)}@1.{n % 10}.0"}],
            "cwes": [rng.choice(CWES)],
            "cvss_v3": V3.format(ac=rng.choice("LH"), i=rng.choice("NLH")),
            "discovered_by": {"kind": "model", "model": "frontier-x", "review_id": "sub_claimed"},
            "tlp": rng.choice(["CLEAR", "GREEN", "AMBER"]),
        }
        self.earlier.append(report)
        return report

    def lines(self, count: int) -> list[str]:
        return [json.dumps(self.next()) for _ in range(count)]


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare(url: str, work: Path, backlog: int, seed: int) -> dict[str, str]:
    """Migrate, make the clearinghouse and an agency with tokens, import the backlog."""
    upgrade(url)
    engine = make_engine(url)
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    with transaction(sessions) as db:
        _, _, issued = identity.bootstrap(
            db,
            OrganisationCreate(name="Clearinghouse", kind=OrgKind.CLEARINGHOUSE),
            UserCreate(email="analyst@clearinghouse.org", name="Analyst"),
            now,
            timedelta(days=1),
        )
        tokens = {"clearinghouse": issued.plaintext}
        _, agency_user = identity.seed_organisation(
            db,
            OrganisationCreate(name="Agency", kind=OrgKind.AGENCY),
            UserCreate(email="reviewer@agency.example", name="Reviewer"),
            now,
        )
        db.flush()
        tokens["agency"] = identity.issue_token_for(
            db, agency_user, "bench", timedelta(days=1), now
        ).plaintext
        actor = identity.actor_for(agency_user)
    vault = Vault.local(work / "master.keys", work / "blobs")
    made = Reports("BL", seed)
    imported = min(backlog, IMPORTED_BACKLOG)
    for start in range(0, imported, 5000):
        payload = "\n".join(made.lines(min(5000, imported - start))).encode()
        db = sessions()
        try:
            service.import_reports(
                db, vault, actor, payload, now, intake_format=IntakeFormat.JSON_LINES
            )
        finally:
            db.close()
    if backlog > imported:
        replicate(sessions, imported, backlog)
    engine.dispose()
    return tokens


def replicate(sessions: Any, imported: int, backlog: int) -> None:
    """Grow the backlog from the ``imported`` reports to ``backlog`` by bulk copies in SQL.

    The copies are the imported reports' rows (``ch_reports`` and their ``ch_affected``) under
    new ids (``BL-...-c<k>``), so the queue, its filters and its groups see ``backlog`` reports
    as intake would store them; intake's duplicate proposals and the log are not copied (the
    queue's page does not read them per report). 10,000 reports a statement."""
    report_columns = [c for c in VulnReport.__table__.columns if c.name != "seq"]
    affected_columns = [c for c in AffectedRow.__table__.columns if c.name != "id"]
    copy = 0
    made = imported
    while made < backlog:
        copy += 1
        # Copy the oldest `take` seqs again, so the copies keep intake's mix of products.
        for start in range(0, imported, 10_000):
            take = min(10_000, imported - start, backlog - made)
            if take <= 0:
                break
            suffix = literal(f"-c{copy}")
            lo, hi = start + 1, start + take
            with transaction(sessions) as db:
                first = db.scalar(select(func.min(VulnReport.seq))) or 1
                rows = select(
                    *[
                        (c + suffix).label(c.name) if c.name == "id" else c
                        for c in VulnReport.__table__.columns
                        if c.name != "seq"
                    ]
                ).where(VulnReport.seq.between(first + lo - 1, first + hi - 1))
                db.execute(
                    insert(VulnReport.__table__).from_select(
                        [c.name for c in report_columns], rows.order_by(VulnReport.seq)
                    )
                )
                ids = select(VulnReport.id).where(
                    VulnReport.seq.between(first + lo - 1, first + hi - 1)
                )
                affected = select(
                    *[
                        (c + suffix).label(c.name) if c.name == "report_id" else c
                        for c in AffectedRow.__table__.columns
                        if c.name != "id"
                    ]
                ).where(AffectedRow.report_id.in_(ids))
                db.execute(
                    insert(AffectedRow.__table__).from_select(
                        [c.name for c in affected_columns], affected
                    )
                )
            made += take


def serve(url: str, work: Path, port: int) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "PREREVIEW_DATABASE_URL": url,
        "PREREVIEW_MASTER_KEY_FILE": str(work / "master.keys"),
        "PREREVIEW_AUDIT_KEY_FILE": str(work / "audit.key"),
        "PREREVIEW_BLOB_DIR": str(work / "blobs"),
    }
    command = [
        "timeout",
        str(SERVER_LIMIT_S),
        sys.executable,
        "-m",
        "uvicorn",
        "prereview.api:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    server = subprocess.Popen(command, env=env, cwd=work)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/api/v1/me", timeout=2)
            return server
        except httpx.HTTPError:
            if server.poll() is not None:
                raise RuntimeError("the server exited at start") from None
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("the server did not start within 60 s")


class Poller(threading.Thread):
    """Reads the queue, newest first, until it meets a report it saw (or the backlog)."""

    def __init__(self, base: str, token: str) -> None:
        super().__init__(daemon=True)
        self.http = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120
        )
        self.seen: dict[str, float] = {}
        self.pages: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            after: str | None = None
            while True:
                params: dict[str, Any] = {"limit": 200, "state": "all"}
                if after:
                    params["after"] = after
                started = time.perf_counter()
                answer = self.http.get("/api/v1/clearinghouse/triage/queue", params=params)
                self.pages.append((time.perf_counter() - started) * 1000)
                answer.raise_for_status()
                page = answer.json()
                at = time.monotonic()
                fresh = False
                known = False
                for item in page["items"]:
                    rid = item["id"]
                    if rid.startswith("BL-") or rid in self.seen:
                        known = True
                        continue
                    self.seen[rid] = at
                    fresh = True
                after = page["next_cursor"]
                if known or not fresh or after is None:
                    break


def burst(
    base: str, token: str, rate: int, duration: int, seed: int
) -> tuple[dict[str, float], int]:
    """Send ``rate`` reports each second for ``duration`` seconds; when each was sent."""
    made = Reports("TQ", seed + 1)
    sent: dict[str, float] = {}
    failed = 0
    with httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=300
    ) as http:
        start = time.monotonic()
        for second in range(duration):
            wait = start + second - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            reports = [made.next() for _ in range(rate)]
            at = time.monotonic()
            answer = http.post(
                "/api/v1/clearinghouse/imports",
                params={"format": "jsonl"},
                content="\n".join(json.dumps(r) for r in reports).encode(),
            )
            if answer.status_code != 200:
                failed += len(reports)
                continue
            for report in reports:
                sent[report["id"]] = at
    return sent, failed


def analyst(base: str, token: str, steps: int) -> list[float]:
    """One step: the untriaged queue's first page, then a triage decision on its first row."""
    timings = []
    with httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120
    ) as http:
        for _ in range(steps):
            started = time.perf_counter()
            page = http.get(
                "/api/v1/clearinghouse/triage/queue", params={"triaged": "false", "limit": 50}
            )
            page.raise_for_status()
            first = page.json()["items"][0]["id"]
            done = http.post(
                f"/api/v1/clearinghouse/reports/{first}/triage", json={"outcome": "accepted"}
            )
            done.raise_for_status()
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def timed_gets(base: str, token: str, path: str, params: dict[str, Any], n: int) -> list[float]:
    out = []
    with httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120
    ) as http:
        for _ in range(n):
            started = time.perf_counter()
            http.get(path, params=params).raise_for_status()
            out.append((time.perf_counter() - started) * 1000)
    return out


def run(url: str, label: str, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    tokens = prepare(url, work, args.backlog, args.seed)
    port = free_port()
    server = serve(url, work, port)
    base = f"http://127.0.0.1:{port}"
    try:
        poller = Poller(base, tokens["clearinghouse"])
        poller.start()
        time.sleep(1)
        during_from = len(poller.pages)
        sent, failed = burst(base, tokens["agency"], args.rate, args.duration, args.seed)
        burst_end = time.monotonic()
        during = poller.pages[during_from:]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not set(sent) <= set(poller.seen):
            time.sleep(0.2)
        poller.stop.set()
        poller.join(timeout=120)
        delays = [poller.seen[rid] - at for rid, at in sent.items() if rid in poller.seen]
        straggler = _straggler(sent, poller, burst_end)
        queue = "/api/v1/clearinghouse/triage/queue"
        idle = timed_gets(base, tokens["clearinghouse"], queue, {"limit": 50}, 20)
        groups = timed_gets(
            base,
            tokens["clearinghouse"],
            "/api/v1/clearinghouse/triage/groups",
            {"by": "product"},
            10,
        ) + timed_gets(
            base,
            tokens["clearinghouse"],
            "/api/v1/clearinghouse/triage/groups",
            {"by": "cluster"},
            10,
        )
        steps = analyst(base, tokens["clearinghouse"], args.actions)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
    return {
        "bench": "triage",
        "db": label,
        "backlog": args.backlog,
        "rate_per_s": args.rate,
        "duration_s": args.duration,
        "sent": len(sent),
        "failed": failed,
        "missing": len(sent) - len(delays),
        "time_to_queue_p50_s": percentile(delays, 0.5),
        "time_to_queue_p95_s": percentile(delays, 0.95),
        "time_to_queue_max_s": round(max(delays), 3) if delays else None,
        "goal_p95_s": 60,
        "queue_page_p95_ms": percentile(during, 0.95),
        "queue_pages_during_burst": len(during),
        "idle_page_p95_ms": percentile(idle, 0.95),
        "groups_p95_ms": percentile(groups, 0.95),
        "analyst_steps": len(steps),
        "analyst_step_p50_ms": percentile(steps, 0.5),
        "analyst_step_p95_ms": percentile(steps, 0.95),
        "analyst_steps_per_s": round(len(steps) / (sum(steps) / 1000), 1) if steps else None,
        "reports_in_queue": args.backlog + len(sent),
        "straggler": straggler,
    }


def _straggler(sent: dict[str, float], poller: Poller, burst_end: float) -> dict[str, Any]:
    """The slowest report: when it was sent (seconds into the burst), how long after the
    burst's end the poller first saw it, and how many took over ten times the median."""
    seen = {rid: poller.seen[rid] - at for rid, at in sent.items() if rid in poller.seen}
    if not seen:
        return {}
    slowest = max(seen, key=seen.__getitem__)
    start = min(sent.values())
    median = sorted(seen.values())[len(seen) // 2]
    return {
        "id": slowest,
        "delay_s": round(seen[slowest], 3),
        "sent_at_s": round(sent[slowest] - start, 3),
        "seen_after_burst_s": round(poller.seen[slowest] - burst_end, 3),
        "over_10x_median": sum(1 for d in seen.values() if d > 10 * median),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--rate", type=int, default=100, help="reports per second")
    parser.add_argument("--duration", type=int, default=30, help="seconds of burst")
    parser.add_argument("--backlog", type=int, default=10_000, help="reports already queued")
    parser.add_argument("--actions", type=int, default=100, help="analyst steps")
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--seed", type=int, default=20261203)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-triage-") as scratch:
        work = Path(scratch)
        if args.database == "sqlite":
            print(json.dumps(run(f"sqlite:///{work / 'bench.db'}", "sqlite", args, work)))
            return
        name = f"prereview_bench_{uuid.uuid4().hex[:10]}"
        admin_url = f"{args.pg}/postgres"
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            url = f"{args.pg.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
            print(json.dumps(run(url, "postgresql", args, work)))
        finally:
            with psycopg.connect(admin_url, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
