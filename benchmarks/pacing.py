"""How fast a vendor's notification schedule is computed, for a burst of waiting reports.

Usage: ``.venv/bin/python benchmarks/pacing.py [--reports N] [--capacity C] [--rounds R]``
(default 10,000 reports arriving within an hour, 50 a week, 5 rounds).

Times :func:`prereview.clearinghouse.pacing.schedule` (the pure function every read of a
vendor's pace runs) on N reports with random severities, reproduction and exposure, and checks
the answer: never more than C deliveries in any seven days, none before its report arrived.
Prints one JSON line (the median of the rounds).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

from prereview.clearinghouse.pacing import WINDOW, Waiting, schedule


def _burst(count: int, seed: int = 14) -> list[Waiting]:
    rng = random.Random(seed)
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    return [
        Waiting(
            report_id=f"PRV-{i:06}",
            arrived_at=start + timedelta(seconds=rng.randrange(3600)),
            severity=rng.choice([None, round(rng.uniform(0, 10), 1)]),
            reproduced=rng.choice([None, True, False]),
            exposure=rng.randrange(20),
        )
        for i in range(count)
    ]


def _most_in_a_window(times: list[datetime]) -> int:
    ordered, best, first = sorted(times), 0, 0
    for last, moment in enumerate(ordered):
        while ordered[first] <= moment - WINDOW:
            first += 1
        best = max(best, last - first + 1)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, default=10_000)
    parser.add_argument("--capacity", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    waiting = _burst(args.reports)
    arrived = {w.report_id: w.arrived_at for w in waiting}
    seconds = []
    for _ in range(args.rounds):
        began = time.perf_counter()
        slots = schedule(waiting, args.capacity)
        seconds.append(time.perf_counter() - began)
    times = [s.at for s in slots if s.at is not None]
    assert len(times) == args.reports
    assert all(s.at is not None and s.at >= arrived[s.report_id] for s in slots)
    assert _most_in_a_window(times) <= args.capacity
    median = statistics.median(seconds)
    print(
        json.dumps(
            {
                "benchmark": "pacing_schedule",
                "reports": args.reports,
                "capacity_per_week": args.capacity,
                "median_seconds": round(median, 4),
                "reports_per_second": round(args.reports / median),
                "last_expected_weeks": round((max(times) - min(arrived.values())) / WINDOW, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
