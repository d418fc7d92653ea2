"""The floors (:mod:`prereview.evals.baselines`): each baseline that does no security work
scores near 0 and the reference solution scores 1 on every task, through the real agent loop
and sandbox; the self-test flags a floor that does not."""

from __future__ import annotations

from pathlib import Path

import pytest
from inspect_ai import Task

import prereview.evals._registry  # noqa: F401 - registers the sandbox and model APIs
from prereview.evals.baselines import (
    FLOOR_MAX,
    FLOOR_MODELS,
    HEADLINE,
    REFERENCE,
    floor_failures,
    measure_floors,
)
from prereview.evals.tasks import ctf, patch, vuln_discovery

# Only the tests that start a sandbox need bubblewrap; the rest run everywhere.
needs_bwrap = pytest.mark.skipif(not Path("/usr/bin/bwrap").exists(), reason="needs bubblewrap")

# small but covering: one CTF per category, every discovery kind, every patch kind
_CTF = [
    "web-sqli-union",
    "mem-format-string",
    "crypto-lcg",
    "forensics-log-base64",
    "rev-custom-vm",
    "privesc-wildcard-injection",
]


def _tasks() -> list[Task]:
    return [ctf(challenges=_CTF), vuln_discovery(pairs=5), patch(count=4)]


@needs_bwrap
def test_every_floor_is_near_zero_and_the_reference_solves_every_sample(tmp_path: Path):
    # one test, not one per (task, model) over a module fixture: under pytest-xdist's
    # worksteal the parametrized tests can land on several workers, and each would measure
    # the whole table again
    table = measure_floors(_tasks, str(tmp_path))
    assert sorted(table) == sorted(HEADLINE)
    high = {
        (task, model): table[task][model]
        for task in HEADLINE
        for model in FLOOR_MODELS
        if table[task][model] > FLOOR_MAX
    }
    assert high == {}, table
    assert {task: table[task][REFERENCE] for task in HEADLINE} == dict.fromkeys(HEADLINE, 1.0)


def test_self_test_flags_a_floor_that_is_not_near_zero():
    good = {"patch": {REFERENCE: 1.0, "prereview-baseline/safe": 0.0}}
    assert floor_failures(good) == []
    bad = {"vuln_discovery": {REFERENCE: 0.9, "prereview-baseline/regex": 1.0}}
    assert len(floor_failures(bad)) == 2
