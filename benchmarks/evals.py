"""Benchmarks of the cyber evaluation suite; prints one JSON line per figure.

Figures:
- sandbox_startup_ms: starting one bwrap sandbox until its supervisor answers (mean of 20),
  next to bare_bwrap_ms, a bare ``bwrap ... true`` with the same mounts;
- sandbox_exec_ms: one command through the sandbox's supervisor (mean of 50);
- ctf_scripted_seconds and ctf_scripted_score: the whole ctf task (every challenge, one
  epoch) solved by the scripted reference solver through Inspect's agent loop;
- suite_overhead_ratio: ``run_suite`` (runner, result summary) against calling Inspect's
  ``eval`` on the same task and model;
- sandbox_overhead_ratio: vuln_discovery (20 samples, scripted, one at a time) in the bwrap
  sandbox against the same run in Inspect's unisolated ``local`` sandbox.

Run: ``.venv/bin/python benchmarks/evals.py``. Offline; logs go to a temporary directory.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from inspect_ai import eval as inspect_eval

from prereview.evals.runner import run_suite
from prereview.evals.sandbox import BwrapConfig, BwrapSandboxEnvironment, bwrap_argv
from prereview.evals.sandbox._bwrap import _drop_to, _prepare_root
from prereview.evals.tasks import ctf, vuln_discovery


def emit(figure: str, value: float, unit: str) -> None:
    print(json.dumps({"bench": "evals", "figure": figure, "value": round(value, 3), "unit": unit}))


async def sandbox_figures() -> None:
    starts, execs = [], []
    for _ in range(20):
        begin = time.perf_counter()
        box = await BwrapSandboxEnvironment.start()
        starts.append(time.perf_counter() - begin)
        if not execs:
            for _ in range(50):
                begin = time.perf_counter()
                await box.exec(["true"])
                execs.append(time.perf_counter() - begin)
        await box.stop()
    emit("sandbox_startup_ms", 1000 * sum(starts) / len(starts), "ms")
    emit("sandbox_exec_ms", 1000 * sum(execs) / len(execs), "ms")

    root = Path(tempfile.mkdtemp(prefix="prereview-bench-"))
    config = BwrapConfig()
    owner = _drop_to(config)
    _prepare_root(root, owner)
    drop = {"user": owner, "group": owner, "extra_groups": []} if owner else {}
    bare = []
    for _ in range(20):
        begin = time.perf_counter()
        subprocess.run([*bwrap_argv(config, root), "true"], check=True, **drop)  # type: ignore[call-overload]
        bare.append(time.perf_counter() - begin)
    emit("bare_bwrap_ms", 1000 * sum(bare) / len(bare), "ms")


def main() -> None:
    log_dir = tempfile.mkdtemp(prefix="prereview-bench-logs-")
    os.environ["INSPECT_LOG_DIR"] = log_dir
    asyncio.run(sandbox_figures())

    model = "prereview-scripted/reference"
    # warm up once (imports, Inspect's model-info tables), then alternate and keep the best
    inspect_eval(ctf(challenges=["crypto-repeated-xor"]), model=model, display="none")
    bare_runs, suite_runs, score = [], [], 0.0
    for _ in range(2):
        begin = time.perf_counter()
        [log] = inspect_eval(ctf(), model=model, display="none", log_level="warning")
        bare_runs.append(time.perf_counter() - begin)
        assert log.results is not None
        score = float(log.results.scores[0].metrics["accuracy"].value)
        begin = time.perf_counter()
        result = run_suite(model, tasks=["ctf"], log_dir=log_dir)
        suite_runs.append(time.perf_counter() - begin)
        assert result.tasks[0].accuracy == score
    emit("ctf_scripted_seconds", min(bare_runs), "s")
    emit("ctf_scripted_score", score, "accuracy")
    emit("suite_overhead_ratio", min(suite_runs) / min(bare_runs), "ratio")

    # the bwrap sandbox against Inspect's own "local" sandbox (no isolation), same task
    timings: dict[str, list[float]] = {"bwrap": [], "local": []}
    for _ in range(2):
        for name in timings:
            begin = time.perf_counter()
            [log] = inspect_eval(
                vuln_discovery(pairs=10, sandbox_name=name),
                model=model,
                display="none",
                max_samples=1,  # one at a time: local throttles subprocesses to the core count
            )
            timings[name].append(time.perf_counter() - begin)
            assert log.results is not None
            assert log.results.scores[0].metrics["accuracy"].value == 1.0
    emit("sandbox_overhead_ratio", min(timings["bwrap"]) / min(timings["local"]), "ratio")


if __name__ == "__main__":
    main()
