"""The whole real-vulnerability suite, reference and floors; prints one JSON line.

Every case's exploit, discovery (pair) and patch task is run by the scripted reference
and by every floor (``prereview-baseline/*``, ``prereview-guesser/random``) through
Inspect's agent loop in the bwrap sandbox. The line holds: the number of tasks (a
discovery pair counts as one), how many the reference solved, the highest floor score on
any task, each task's row (CVE, kind, tier, reference, floors, measured properties) and
the wall time.

Run: ``.venv/bin/python benchmarks/realworld.py`` after ``make task-cache``. Offline.
``benchmarks/realworld.py --language javascript`` (or ``--cases id,id``) runs a part;
``--task realworld_chain`` runs the chain tasks alone (the whole run includes them).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from typing import Any

import prereview.evals._registry  # noqa: F401 - registers the sandbox and model APIs
from prereview.evals.baselines import FLOOR_MODELS, REFERENCE
from prereview.evals.realworld.case import Case
from prereview.evals.realworld.cases import CASES
from prereview.evals.realworld.chains import chain_rows
from prereview.evals.realworld.floors import measure_real_floors
from prereview.evals.realworld.tasks import (
    discovery_samples,
    exploit_samples,
    patch_samples,
    realworld_discovery,
    realworld_exploit,
    realworld_patch,
)

_TASKS = {
    "exploit": (realworld_exploit, exploit_samples),
    "discovery": (realworld_discovery, discovery_samples),
    "patch": (realworld_patch, patch_samples),
}


def _chosen(argv: list[str]) -> list[Case]:
    """Every case, or those of ``--language L`` / ``--cases a,b``."""
    if len(argv) == 2 and argv[0] == "--language":
        return [c for c in CASES if c.language == argv[1]]
    if len(argv) == 2 and argv[0] == "--cases":
        return [c for c in CASES if c.id in argv[1].split(",")]
    return list(CASES)


def main() -> None:
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    chains_only = sys.argv[1:] == ["--task", "realworld_chain"]
    with tempfile.TemporaryDirectory(prefix="prereview-realworld-") as logs:
        if chains_only or not sys.argv[1:]:
            rows += chain_rows(logs)
        for case in [] if chains_only else _chosen(sys.argv[1:]):
            table = measure_real_floors(
                lambda case_id=case.id: [make(cases=[case_id]) for make, _ in _TASKS.values()],
                logs,
            )
            for kind, (_make, samples) in _TASKS.items():
                row = table[f"realworld_{kind}"]
                meta = samples([case.id])[0].metadata or {}
                rows.append(
                    {
                        "task": f"{case.id}-{kind}",
                        "cve": case.cve,
                        "kind": kind,
                        "tier": meta["tier"],  # derived (prereview.evals.tiers)
                        "label_tier": int(case.tier),
                        "category": case.category.value,
                        "vulnerable": f"{case.package}=={case.vulnerable}",
                        "fixed": f"{case.package}=={case.fixed}",
                        "reference": row[REFERENCE],
                        "floors": {m.split("/")[-1]: row[m] for m in FLOOR_MODELS},
                        "measured": meta["measured"],
                    }
                )
    print(
        json.dumps(
            {
                "tasks": len(rows),
                "solved_by_reference": sum(1 for r in rows if r["reference"] == 1.0),
                "max_floor": max(max(r["floors"].values()) for r in rows),
                "wall_seconds": round(time.perf_counter() - started, 1),
                "rows": rows,
            }
        )
    )


if __name__ == "__main__":
    main()
