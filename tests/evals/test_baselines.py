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


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, float]]:
    return measure_floors(_tasks, str(tmp_path_factory.mktemp("floors")))


@needs_bwrap
@pytest.mark.parametrize("model", FLOOR_MODELS)
@pytest.mark.parametrize("task", sorted(HEADLINE))
def test_floor_is_near_zero(table: dict[str, dict[str, float]], task: str, model: str):
    assert table[task][model] <= FLOOR_MAX, (task, model, table[task][model])


@needs_bwrap
@pytest.mark.parametrize("task", sorted(HEADLINE))
def test_reference_solves_every_sample(table: dict[str, dict[str, float]], task: str):
    assert table[task][REFERENCE] == 1.0


def test_self_test_flags_a_floor_that_is_not_near_zero():
    good = {"patch": {REFERENCE: 1.0, "prereview-baseline/safe": 0.0}}
    assert floor_failures(good) == []
    bad = {"vuln_discovery": {REFERENCE: 0.9, "prereview-baseline/regex": 1.0}}
    assert len(floor_failures(bad)) == 2
