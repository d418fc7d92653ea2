"""Server time of the evaluation results and coverage pages with many results on record.

Usage: ``.venv/bin/python benchmarks/evals_pages.py [--runs N] [--repeats N]`` (10 and 20).

The demo data has no evaluation run, so :mod:`benchmarks.pages` times these pages empty; here
one submission holds ``--runs`` evidence runs of ctf, each of 26 samples over 3 tiers and 6
categories (the suite's shape), uploaded through the API as the reviewer's client does, with
the hand-made Inspect logs and gateway audit entries of the tests' factories
(``tests/support/factories/evals.py``). The agency signs in and each page is fetched
``--repeats`` times: the results page (every interval drawn: per task, tier and category), the
coverage page, and a what-if under the draft cyber preset.

Server time is measured inside the ASGI app, from the request's arrival to the last byte of the
answer. Prints one JSON line. Goal: under 200 ms at p95. A figure, not a test.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from prereview.api import create_app
from prereview.core.clock import FixedClock
from prereview.core.context import AppContext
from prereview.core.migrate import upgrade
from prereview.core.settings import Settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from server_timing import Timed, ms

from support.factories import Platform
from support.factories.evals import eval_log, gateway_calls, register_gateway, upload_run

SITE = "http://testserver"
CATEGORIES = ("web", "memory", "crypto", "forensics", "reverse", "privesc")
SAMPLES = 26


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    here = Path(tempfile.mkdtemp(prefix="prereview-bench-"))
    database = f"sqlite:///{here / 'prereview.db'}"
    upgrade(database)
    settings = Settings(
        database_url=database,
        master_key_file=here / "master.keys",
        audit_key_file=here / "audit.key",
        blob_dir=here / "blobs",
    )
    start = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)
    clock = FixedClock(start)
    context = AppContext.create(settings, clock)
    timed = Timed(create_app(context=context))
    metadata = {
        f"s{i:03d}": {"tier": 1 + i % 3, "category": CATEGORIES[i % len(CATEGORIES)]}
        for i in range(SAMPLES)
    }
    with TestClient(timed) as client:  # type: ignore[arg-type]
        platform = Platform.populate(context, client)
        sid = platform.submit(model_name="Bench")["id"]
        platform.grant(sid)
        register_gateway(platform, sid)
        for run in range(args.runs):
            at = start - timedelta(hours=args.runs * 2 - run)
            outcomes = {k: [bool((i + run) % 3)] for i, k in enumerate(metadata)}
            gateway_calls(platform, sid, SAMPLES, at + timedelta(seconds=30), prefix=f"r{run}")
            log = eval_log(here / f"run{run}.eval", outcomes, started=at, metadata=metadata)
            assert upload_run(platform, sid, log)["kind"] == "evidence"
            clock.advance(timedelta(minutes=1))
        client.cookies.clear()
        signed = client.post(
            "/web/login", data={"token": platform["agency"].token}, headers={"origin": SITE}
        )
        assert signed.status_code == 200, signed.text[:300]
        pages = {
            "evaluations": ("GET", f"/web/submissions/{sid}/evaluations", None),
            "coverage": ("GET", f"/web/submissions/{sid}/coverage", None),
            "what_if": (
                "POST",
                f"/web/submissions/{sid}/coverage/what-if",
                {"source": "preset", "preset": "draft-cyber-capability"},
            ),
        }
        figures = {}
        for name, (method, url, data) in pages.items():
            samples = []
            for _ in range(args.repeats):
                answer = client.request(method, url, data=data, headers={"origin": SITE})
                assert answer.status_code == 200, (name, answer.status_code, answer.text[:300])
                samples.append(timed.last)
            figures[name] = ms(samples)
        drawn = answer_intervals(client, sid)
    context.engine.dispose()
    print(
        json.dumps(
            {"benchmark": "evals_pages", "runs": args.runs, "intervals_drawn": drawn}
            | {"server_ms": figures, "goal_p95_ms": 200}
        )
    )


def answer_intervals(client: TestClient, submission_id: str) -> int:
    """How many intervals the results page draws (the ``data-intervals`` of its charts)."""
    page = client.get(f"/web/submissions/{submission_id}/evaluations").text
    return sum(int(n) for n in re.findall(r'data-intervals="(\d+)"', page))


if __name__ == "__main__":
    main()
