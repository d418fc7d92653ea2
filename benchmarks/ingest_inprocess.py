"""CPU seconds of the whole bulk intake path in one process, without HTTP, for A/B runs.

Parses, validates, finds duplicates, stores with audit and builds the answer, as the server
does for ``POST /clearinghouse/imports``, for every record of a PyPA advisory-database clone
(``--mirror``, as in ``ingest_real.py``) in requests of ``--batch``, on a fresh SQLite
database. Only this process's CPU time is counted, which moves less with the machine's load
than wall time; to compare two versions of the code, run both one after the other with
``PYTHONPATH=<tree>/src`` (e.g. a ``git archive`` of the older commit). ``--freeze-gc`` calls
``gc.freeze()`` once set up, as ``prereview serve`` does once started: without it, the
collector's full passes walk this script's own records and every imported module (about a fifth
of the CPU), which a server does not pay. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import prereview
from prereview.clearinghouse.intake.formats import IntakeFormat
from prereview.clearinghouse.intake.store import import_reports, visible_intake
from prereview.clearinghouse.schemas import IntakeOut
from prereview.core.db import make_engine, session_factory
from prereview.identity import service as identity
from prereview.vault.service import Vault

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ingest_real as bench  # the records and the database of ingest_real


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mirror", type=Path, required=True, help="advisory-database clone")
    parser.add_argument("--format", choices=["json", "yaml"], default="json")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--freeze-gc", action="store_true", help="gc.freeze() as serve does")
    args = parser.parse_args()
    records = bench.mirrored(args.mirror)
    docs = bench.as_json(records) if args.format == "json" else [doc for _, doc in records]
    chunks = [docs[i : i + args.batch] for i in range(0, len(docs), args.batch)]
    if args.format == "json":
        payloads = [b"[" + b",".join(chunk) + b"]" for chunk in chunks]
    else:
        payloads = [b"".join(d.rstrip(b"\n") + b"\n---\n" for d in chunk) for chunk in chunks]
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="prereview-ingest-inprocess-") as scratch:
        work = Path(scratch)
        with bench.database("sqlite", work, "") as url:
            bench.importer_token(url)
            engine = make_engine(url)
            factory = session_factory(engine)
            vault = Vault.local(work / "master.keys", work / "blobs")
            with factory() as db:
                actor = identity.actor_of(db, "bench@pypa-mirror.org")
            if args.freeze_gc:
                gc.collect()
                gc.freeze()
            started = time.process_time()
            stored = 0
            for payload in payloads:
                with factory() as db:
                    now = datetime.now(UTC)
                    result = import_reports(
                        db, vault, actor, payload, now, intake_format=IntakeFormat.OSV
                    )
                    summary = result.summary()
                    items = visible_intake(db, actor, summary["items"], now)
                    IntakeOut(counts=summary["counts"], items=items).model_dump_json()
                    stored += summary["counts"]["accepted"]
            cpu = time.process_time() - started
            engine.dispose()
    line = {
        "bench": "ingest_inprocess",
        "tree": str(Path(prereview.__file__).resolve().parents[1]),
        "format": args.format,
        "freeze_gc": args.freeze_gc,
        "reports": stored,
        "cpu_s": round(cpu, 2),
        "reports_per_cpu_s": round(stored / cpu, 1),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(line))


if __name__ == "__main__":
    main()
