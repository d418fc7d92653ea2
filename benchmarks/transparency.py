"""Time to compute one period's public transparency report from audit log entries.

Usage: ``.venv/bin/python benchmarks/transparency.py [--submissions 2000] [--reports 50000]``.

Builds the entries a busy quarter would log (per submission: its creation, a grant, 20
findings and their answers; and ``--reports`` clearinghouse intakes), then times
:func:`prereview.transparency.report.build_report` over them: the figures, the suppression
and the relations, as the server and ``prereview transparency recompute`` compute them (no
database: the report is a function of the entries). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from prereview.transparency.periods import parse_period
from prereview.transparency.report import CheckpointRef, build_report

START = datetime(2026, 10, 2, tzinfo=UTC)


def entries(submissions: int, reports: int, seed: int = 1) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    leaves: list[dict[str, Any]] = []

    def add(action: str, at: datetime, sub: str | None = None, obj: str | None = None,
            org: str | None = None, **detail: Any) -> None:  # fmt: skip
        leaves.append(
            {
                "seq": len(leaves),
                "at": at.isoformat(),
                "action": action,
                "actor_org_id": org,
                "object_id": obj,
                "submission_id": sub,
                "object_type": "x",
                "detail": detail,
            }
        )

    for s in range(submissions):
        at = START + timedelta(hours=rnd.randint(0, 2000))
        sid = f"s{s}"
        add("review:submission:create", at, sub=sid, org=f"o{s % 40}")
        ends = (at + timedelta(days=30)).isoformat()
        add("review:grant:create", at + timedelta(hours=2), sub=sid, agency_org_id="a1",
            window_ends_at=ends, max_window_days=30)  # fmt: skip
        for f in range(20):
            finding = f"{sid}f{f}"
            severity = rnd.choice(["high", "low"])
            add("review:finding:create", at + timedelta(hours=3 + f), sub=sid, obj=finding,
                severity=severity, category="other")  # fmt: skip
            add("review:finding:respond", at + timedelta(hours=30 + f), sub=sid, obj=finding)
    for r in range(reports):
        add("clearinghouse:report:import", START + timedelta(minutes=r), obj=f"r{r}",
            found_by=rnd.choice(["model", "person", None]))  # fmt: skip
    return leaves


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=2000)
    parser.add_argument("--reports", type=int, default=50000)
    args = parser.parse_args()
    leaves = entries(args.submissions, args.reports)
    point = CheckpointRef("o", len(leaves), "AAAA", "n", "k", datetime(2027, 1, 5, tzinfo=UTC))
    started = time.perf_counter()
    build_report(leaves, parse_period("2026Q4"), point)
    took = time.perf_counter() - started
    print(
        json.dumps(
            {
                "bench": "transparency_report",
                "entries": len(leaves),
                "report_seconds": round(took, 2),
                "entries_per_second": int(len(leaves) / took),
                "load_average": round(os.getloadavg()[0], 1),
            }
        )
    )


if __name__ == "__main__":
    main()
