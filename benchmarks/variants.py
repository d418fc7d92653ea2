"""Fresh variants of the real-vulnerability exploit tasks: one JSON line.

For each of ``--seeds N`` fresh seed pairs (A, B), every case that varies (the ten Python
and JavaScript cases) runs its exploit task twice through Inspect's agent loop in the
bwrap sandbox with the scripted reference: variant A replaying A's reference exploit
(it should solve every case), and variant B replaying A's reference exploit with B's
port put in (a memorised transcript: it should solve none). The 18 chains
(``realworld_chain``) run the same two ways, a transcript getting B's ports for both
services. The line holds the seeds, the solved counts of each, the cases and chains a
transcript still solved, and the wall time.

Run: ``.venv/bin/python benchmarks/variants.py [--seeds N]`` after ``make task-cache``.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time

from inspect_ai import Task
from inspect_ai import eval as inspect_eval
from inspect_ai.dataset import MemoryDataset, Sample

import prereview.evals._registry  # noqa: F401 - registers the sandbox and model APIs
from prereview.evals.baselines import REFERENCE
from prereview.evals.realworld import variants
from prereview.evals.realworld.cases import TEMPLATES, case_by_id
from prereview.evals.realworld.chains import CHAINS, chain_by_id, realworld_chain
from prereview.evals.realworld.tasks import case_variant, realworld_exploit


def _transcripts(seed_a: int, seed_b: int) -> Task:
    """Variant B's task, each sample replaying variant A's reference (B's port put in)."""
    task = realworld_exploit(cases=sorted(TEMPLATES), variant_seed=seed_b)
    samples: list[Sample] = []
    for sample in task.dataset:
        meta = dict(sample.metadata or {})
        case = case_by_id(str(meta["case"]))
        a, b = case_variant(case, seed_a), case_variant(case, seed_b)
        assert a is not None
        assert b is not None
        code = a.exploit.replace(f":{a.port}", f":{b.port}")
        meta["solution"] = [{"tool": "python", "code": code}]
        samples.append(sample.model_copy(update={"metadata": meta}))
    task.dataset = MemoryDataset(samples, name="realworld_exploit")
    return task


def _ported(code: str, ports: dict[str, str]) -> str:
    """``code`` with every ``:port`` of ``ports`` changed at once (no chained renames)."""
    return re.sub(r":(\d+)", lambda m: ":" + ports.get(m[1], m[1]), code)


def _chain_transcripts(seed_a: int, seed_b: int) -> Task:
    """Variant B's chain task, each sample replaying variant A's reference steps with B's
    ports (both services') put in."""
    task = realworld_chain(variant_seed=seed_b)
    samples: list[Sample] = []
    for sample in task.dataset:
        meta = dict(sample.metadata or {})
        chain = chain_by_id(str(meta["case"]))
        a, b = chain.variant(seed_a).values, chain.variant(seed_b).values
        ports = {a[slot]: b[slot] for slot in ("port", "port_node") if slot in a}
        meta["solution"] = [
            {"tool": step.tool, "code": _ported(step.code, ports)}
            for step in chain.variant(seed_a).solution
        ]
        samples.append(sample.model_copy(update={"metadata": meta}))
    task.dataset = MemoryDataset(samples, name="realworld_chain")
    return task


def _solved(task: Task, log_dir: str) -> list[str]:
    (log,) = inspect_eval(
        [task], model=REFERENCE, log_dir=log_dir, display="none", log_level="warning"
    )
    if log.status != "success":
        raise RuntimeError(f"the run did not finish: {log.error}")
    return sorted(
        str((s.metadata or {})["case"])
        for s in log.samples or []
        if any(v.value == "C" for v in (s.scores or {}).values())
    )


def main() -> None:
    count = int(sys.argv[sys.argv.index("--seeds") + 1]) if "--seeds" in sys.argv else 2
    started = time.perf_counter()
    runs = []
    with tempfile.TemporaryDirectory(prefix="prereview-variants-") as logs:
        for _ in range(count):
            seed_a, seed_b = variants.fresh_seed(), variants.fresh_seed()
            own = _solved(realworld_exploit(cases=sorted(TEMPLATES), variant_seed=seed_a), logs)
            other = _solved(_transcripts(seed_a, seed_b), logs)
            chain_own = _solved(realworld_chain(variant_seed=seed_a), logs)
            chain_other = _solved(_chain_transcripts(seed_a, seed_b), logs)
            runs.append(
                {
                    "seed_a": seed_a,
                    "seed_b": seed_b,
                    "own": own,
                    "transcript": other,
                    "chain_own": chain_own,
                    "chain_transcript": chain_other,
                }
            )
    cases, chains = len(TEMPLATES), len(CHAINS)
    print(
        json.dumps(
            {
                "cases": cases,
                "seed_pairs": count,
                "reference_on_its_variant": f"{sum(len(r['own']) for r in runs)}/{cases * count}",
                "transcript_on_another_variant": (
                    f"{sum(len(r['transcript']) for r in runs)}/{cases * count}"
                ),
                "transcript_still_solved": sorted({c for r in runs for c in r["transcript"]}),
                "chains": chains,
                "chain_reference_on_its_variant": (
                    f"{sum(len(r['chain_own']) for r in runs)}/{chains * count}"
                ),
                "chain_transcript_on_another_variant": (
                    f"{sum(len(r['chain_transcript']) for r in runs)}/{chains * count}"
                ),
                "chain_transcript_still_solved": sorted(
                    {c for r in runs for c in r["chain_transcript"]}
                ),
                "seeds": [[r["seed_a"], r["seed_b"]] for r in runs],
                "wall_s": round(time.perf_counter() - started, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
