"""Benchmarks of the cyber evaluation suite; prints one JSON line per figure.

Figures:
- sandbox_startup_ms: starting one bwrap sandbox until its supervisor answers (mean of 20),
  next to bare_bwrap_ms, a bare ``bwrap ... true`` with the same mounts;
  sandbox_startup_p95_ms, its 95th percentile; sandbox_startup_two_uids_ms, the same with
  ``service_root`` (the privilege escalation tasks' map of two uids; only as root);
  sandbox_startup_concurrent_ms: mean start-up of 8 sandboxes started at once;
- sandbox_exec_ms: one command through the sandbox's supervisor (mean of 50);
- suite_seconds (one line per parallelism, ``max_samples`` = ``max_sandboxes`` = n, and
  Inspect's defaults as n = 0): the whole suite (every task of the runner, the scripted
  reference solver, one epoch) run by ``run_suite``; suite_best_seconds, the best of them,
  with its parallelism; suite_score, the mean accuracy over the tasks (1.0: every reference
  solution solves its sample);
- suite_overhead_ratio: ``run_suite`` as ``prereview eval run`` calls it (its progress
  listener, the result summary) against bare ``inspect_ai.eval`` on the same tasks at the
  best parallelism (best of two alternating runs each; goal at most 1.10);
- sandbox_overhead_ratio: vuln_discovery (10 pairs, scripted, one at a time) in the bwrap
  sandbox against the same run in Inspect's unisolated ``local`` sandbox.

Run: ``.venv/bin/python benchmarks/evals.py`` (the whole suite at 1, 2, 4, 8 and Inspect's
defaults); ``--quick`` runs a smaller suite (10 discovery pairs, 5 patch programs, every
challenge) for a faster curve; ``--settings 2,4`` chooses the parallelisms. Offline; logs go
to a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from inspect_ai import eval as inspect_eval

from prereview.evals.runner import TASKS, Progress, build_tasks, run_suite
from prereview.evals.sandbox import (
    BwrapConfig,
    BwrapSandboxEnvironment,
    bwrap_argv,
    second_uid_available,
)
from prereview.evals.sandbox._bwrap import _drop_to, _prepare_root
from prereview.evals.tasks import ctf, vuln_discovery

MODEL = "prereview-scripted/reference"


def emit(figure: str, value: float, unit: str, **extra: Any) -> None:
    line = {"bench": "evals", "figure": figure, "value": round(value, 3), "unit": unit}
    print(json.dumps({**line, **extra}), flush=True)


async def _start_stop(config: BwrapConfig | None = None) -> float:
    begin = time.perf_counter()
    box = await BwrapSandboxEnvironment.start(config)
    took = time.perf_counter() - begin
    await box.stop()
    return took


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
    emit("sandbox_startup_ms", 1000 * statistics.mean(starts), "ms")
    emit("sandbox_startup_p95_ms", 1000 * statistics.quantiles(starts, n=20)[-1], "ms")
    emit("sandbox_exec_ms", 1000 * statistics.mean(execs), "ms")
    if second_uid_available():
        two = [await _start_stop(BwrapConfig(service_root=True)) for _ in range(20)]
        emit("sandbox_startup_two_uids_ms", 1000 * statistics.mean(two), "ms")
    together = await asyncio.gather(*(_start_stop() for _ in range(8)))
    emit("sandbox_startup_concurrent_ms", 1000 * statistics.mean(together), "ms", at_once=8)

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
    emit("bare_bwrap_ms", 1000 * statistics.mean(bare), "ms")


def _task_args(quick: bool) -> dict[str, dict[str, Any]]:
    return {"vuln_discovery": {"pairs": 10}, "patch": {"count": 5}} if quick else {}


def _samples(task_args: dict[str, dict[str, Any]]) -> int:
    return sum(len(t.dataset) for t in build_tasks(list(TASKS), task_args=task_args))


def _limits(n: int) -> dict[str, int | None]:
    return {"max_samples": n or None, "max_sandboxes": n or None}


def suite_run(task_args: dict[str, dict[str, Any]], n: int, log_dir: str) -> tuple[float, float]:
    """One whole-suite run as ``prereview eval run`` makes it; (seconds, mean accuracy)."""
    heard: list[Progress] = []
    begin = time.perf_counter()
    result = run_suite(
        MODEL,
        tasks=list(TASKS),
        task_args=task_args,
        log_dir=log_dir,
        progress=heard.append,
        **_limits(n),
    )
    took = time.perf_counter() - begin
    assert all(t.status == "success" for t in result.tasks), [t.error for t in result.tasks]
    assert sum(e.kind == "sample_end" for e in heard) == sum(t.samples for t in result.tasks)
    scores = [t.accuracy or 0.0 for t in result.tasks]
    return took, sum(scores) / len(scores)


def bare_run(task_args: dict[str, dict[str, Any]], n: int, log_dir: str) -> float:
    """The same tasks through bare ``inspect_ai.eval``."""
    tasks = [TASKS[name](**task_args.get(name, {})) for name in TASKS]
    begin = time.perf_counter()
    logs = inspect_eval(
        tasks, model=MODEL, log_dir=log_dir, display="none", log_level="warning", **_limits(n)
    )
    took = time.perf_counter() - begin
    assert all(log.status == "success" for log in logs)
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller suite, same tasks")
    parser.add_argument("--settings", default="1,2,4,8,0", help="parallelisms; 0: defaults")
    parser.add_argument("--skip-sandbox", action="store_true", help="suite figures only")
    args = parser.parse_args()
    log_dir = tempfile.mkdtemp(prefix="prereview-bench-logs-")
    os.environ["INSPECT_LOG_DIR"] = log_dir
    if not args.skip_sandbox:
        asyncio.run(sandbox_figures())

    # warm up once (imports, Inspect's model-info tables)
    inspect_eval(ctf(challenges=["crypto-repeated-xor"]), model=MODEL, display="none")
    task_args = _task_args(args.quick)
    samples = _samples(task_args)
    curve: dict[int, float] = {}
    score = 0.0
    for n in (int(x) for x in args.settings.split(",")):
        curve[n], score = suite_run(task_args, n, log_dir)
        emit("suite_seconds", curve[n], "s", parallelism=n, samples=samples, quick=args.quick)
    best = min(curve, key=lambda n: curve[n])
    emit("suite_best_seconds", curve[best], "s", parallelism=best, samples=samples)
    emit("suite_score", score, "accuracy")

    bare_runs, suite_runs = [], [curve[best]]
    for _ in range(2):
        bare_runs.append(bare_run(task_args, best, log_dir))
        suite_runs.append(suite_run(task_args, best, log_dir)[0])
    emit(
        "suite_overhead_ratio",
        min(suite_runs) / min(bare_runs),
        "ratio",
        parallelism=best,
        bare_seconds=round(min(bare_runs), 3),
        suite_seconds=round(min(suite_runs), 3),
    )

    # the bwrap sandbox against Inspect's own "local" sandbox (no isolation), same task
    timings: dict[str, list[float]] = {"bwrap": [], "local": []}
    for _ in range(2):
        for name in timings:
            begin = time.perf_counter()
            [log] = inspect_eval(
                vuln_discovery(pairs=10, sandbox_name=name),
                model=MODEL,
                display="none",
                max_samples=1,  # one at a time: local throttles subprocesses to the core count
            )
            timings[name].append(time.perf_counter() - begin)
            assert log.results is not None
            assert log.results.scores[0].metrics["accuracy"].value == 1.0
    emit("sandbox_overhead_ratio", min(timings["bwrap"]) / min(timings["local"]), "ratio")


if __name__ == "__main__":
    main()
