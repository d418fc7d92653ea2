"""CPU seconds of bulk intake's parse-and-validate stage alone, for A/B runs of two versions.

``parse_bulk`` (JSON or YAML parsing, the tree check, the OSV schema screen, conversion and
domain validation) on every record of a PyPA advisory-database clone (``--mirror``, as in
``ingest_real.py``) in requests of ``--batch``, ``--repeats`` times; the fastest pass counts
(the stage is deterministic: the other passes differ by the machine's load only). Nothing is
stored and nothing is looked up. Compare two versions with ``PYTHONPATH=<tree>/src``. Prints
one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import prereview
from prereview.clearinghouse.intake.formats import IntakeFormat, parse_bulk

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ingest_real as bench  # the records of ingest_real


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mirror", type=Path, required=True, help="advisory-database clone")
    parser.add_argument("--format", choices=["json", "yaml"], default="json")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    records = bench.mirrored(args.mirror)
    docs = bench.as_json(records) if args.format == "json" else [doc for _, doc in records]
    chunks = [docs[i : i + args.batch] for i in range(0, len(docs), args.batch)]
    if args.format == "json":
        payloads = [b"[" + b",".join(chunk) + b"]" for chunk in chunks]
    else:
        payloads = [b"".join(d.rstrip(b"\n") + b"\n---\n" for d in chunk) for chunk in chunks]
    load_before = os.getloadavg()
    passes: list[float] = []
    parsed = 0
    for _ in range(args.repeats):
        started = time.process_time()
        parsed = sum(
            item.report is not None
            for payload in payloads
            for item in parse_bulk(payload, "pypa-mirror.org", IntakeFormat.OSV)
        )
        passes.append(time.process_time() - started)
    line = {
        "bench": "ingest_parse",
        "tree": str(Path(prereview.__file__).resolve().parents[1]),
        "format": args.format,
        "reports": parsed,
        "cpu_s_best": round(min(passes), 3),
        "cpu_s_passes": [round(p, 3) for p in passes],
        "ms_per_report": round(min(passes) / max(1, parsed) * 1000, 4),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(line))


if __name__ == "__main__":
    main()
