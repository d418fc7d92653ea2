"""The Inspect tasks (:mod:`prereview.evals.tasks`): the discovery dataset, the registered
names and sandboxes, and ``vuln_discovery`` and ``patch`` through the real agent loop."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from inspect_ai import Task, eval
from inspect_ai.log import EvalLog

import prereview.evals._registry  # noqa: F401 - registers the sandbox and model APIs
from prereview.evals.discovery import KINDS as DISCOVERY_KINDS
from prereview.evals.generator import patchable_kinds
from prereview.evals.tasks import discovery_samples, patch, vuln_discovery

# Only the tests that start a sandbox need bubblewrap; the rest run everywhere.
needs_bwrap = pytest.mark.skipif(not Path("/usr/bin/bwrap").exists(), reason="needs bubblewrap")


def test_discovery_dataset_pairs_every_program_with_its_twin():
    samples = discovery_samples(pairs=70)
    assert len(samples) == 140
    pairs: dict[str, list[bool]] = {}
    for s in samples:
        assert s.metadata is not None
        pairs.setdefault(s.metadata["pair"], []).append(s.metadata["truth"]["vulnerable"])
    assert all(sorted(v) == [False, True] for v in pairs.values())


def test_tasks_and_sandbox_are_registered_under_the_package_namespace():
    from inspect_ai._util.registry import registry_info, registry_lookup

    from prereview.evals.sandbox import BwrapSandboxEnvironment

    for name in ("ctf", "vuln_discovery", "patch"):
        assert registry_lookup("task", f"prereview/{name}") is not None
    assert registry_info(BwrapSandboxEnvironment).name == "prereview/bwrap"


def test_other_inspect_sandboxes_can_be_named():
    from prereview.evals.tasks import ctf

    task = ctf(challenges=["crypto-lcg"], sandbox_name="docker")
    assert task.sandbox is not None and task.sandbox.type == "docker"
    assert task.metadata is not None
    assert task.metadata["elicitation"]["sandbox"] == "docker"
    assert task.metadata["elicitation"]["sandbox_limits"] is None
    default = ctf(challenges=["crypto-lcg"])
    assert default.sandbox is not None and default.sandbox.type == "bwrap"


def _run(task: object, model: str, log_dir: Path) -> EvalLog:
    [log] = eval(task, model=model, log_dir=str(log_dir), display="none", log_level="warning")  # type: ignore[arg-type]
    assert log.status == "success", log.error
    return log


def _metrics(log: EvalLog) -> dict[str, float]:
    assert log.results is not None
    return {k.split("/")[-1]: v.value for k, v in log.results.scores[0].metrics.items()}


# Each test runs its own two evals: with one module fixture for both, pytest-xdist's
# worksteal could put the two tests on two workers, each running all four.
# 5 pairs cover every kind once; 4 patch samples cover every patchable kind
@needs_bwrap
def test_discovery_reference_scores_100_and_guessing_0(tmp_path: Path):
    logs = {
        "find-scripted": _run(vuln_discovery(pairs=5), "prereview-scripted/reference", tmp_path),
        "find-guesser": _run(vuln_discovery(pairs=5), "prereview-guesser/random", tmp_path),
    }
    scripted, guesser = _metrics(logs["find-scripted"]), _metrics(logs["find-guesser"])
    assert scripted["accuracy"] == 1.0 and scripted["pair_accuracy"] == 1.0
    assert guesser["accuracy"] == 0.0 and guesser["pair_accuracy"] == 0.0
    assert guesser["ci_upper"] > 0.0 and scripted["ci_lower"] > 0.7
    assert logs["find-scripted"].samples is not None
    assert len(logs["find-scripted"].samples) == 10


@needs_bwrap
def test_patch_reference_scores_100_and_unpatched_code_stays_exploitable(tmp_path: Path):
    logs = {
        "patch-scripted": _run(patch(count=4), "prereview-scripted/reference", tmp_path),
        "patch-guesser": _run(patch(count=4), "prereview-guesser/random", tmp_path),
    }
    assert _metrics(logs["patch-scripted"])["accuracy"] == 1.0
    assert _metrics(logs["patch-guesser"])["accuracy"] == 0.0
    assert logs["patch-guesser"].samples is not None
    for sample in logs["patch-guesser"].samples:
        assert sample.scores is not None
        explanation = sample.scores["patch_scorer"].explanation or ""
        assert explanation.startswith("functional checks 2/2 passed"), sample.id
        assert "variants 0/" not in explanation, sample.id
    kinds = {s.metadata["kind"] for s in logs["patch-scripted"].samples or []}
    assert kinds == set(patchable_kinds())


def _references_score_100_and_guessers_0(
    tmp_path: Path, pairs: range, guessed_pairs: range, programs: range, guessed_programs: range
) -> tuple[set[str], set[str]]:
    """Runs each set (by its seeds) with the scripted reference or the guesser; returns the
    kinds of the programs that the references found and patched."""

    def run(task: Task, model: str, accuracy: float) -> EvalLog:
        log = _run(task, model, tmp_path)
        assert _metrics(log)["accuracy"] == accuracy, (task.name, model)
        return log

    def discovery(seeds: range) -> Task:
        return vuln_discovery(pairs=len(seeds), seed=seeds.start)

    def patching(seeds: range) -> Task:
        return patch(count=len(seeds), seed=seeds.start)

    found = run(discovery(pairs), "prereview-scripted/r", 1.0)
    run(discovery(guessed_pairs), "prereview-guesser/g", 0.0)
    patched = run(patching(programs), "prereview-scripted/r", 1.0)
    run(patching(guessed_programs), "prereview-guesser/g", 0.0)
    return _kinds(found), _kinds(patched)


def _kinds(log: EvalLog) -> set[str]:
    return {sample.metadata["kind"] for sample in log.samples or [] if sample.metadata}


# The whole default sets (every seed the tasks run by default) are 300 samples, over two
# minutes of sandboxes: ``make test`` runs the sets' last seeds, one program of each kind, as the
# tests above run their first; PREREVIEW_EVALS_ALL=1 runs every seed.
EVERY = bool(os.environ.get("PREREVIEW_EVALS_ALL"))


@needs_bwrap
def test_the_default_sets_last_seeds_score_100_and_guessing_0(tmp_path: Path):
    found, patched = _references_score_100_and_guessers_0(
        tmp_path, range(95, 100), range(95, 100), range(36, 40), range(36, 40)
    )
    assert found == set(DISCOVERY_KINDS) and patched == set(patchable_kinds())


@needs_bwrap
@pytest.mark.slow
@pytest.mark.skipif(not EVERY, reason="every seed (2 min): set PREREVIEW_EVALS_ALL=1")
def test_full_discovery_and_patch_sets(tmp_path: Path):
    _references_score_100_and_guessers_0(tmp_path, range(100), range(25), range(40), range(10))
