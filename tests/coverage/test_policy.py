"""Coverage policies: TOML reading, every problem reported, presets, three-valued criteria."""

from __future__ import annotations

import hashlib
import itertools

import pytest

from prereview.coverage.criteria import (
    AllOf,
    AnyOf,
    CriterionOutcome,
    Evidence,
    Outcome,
    Status,
    TaskEvidence,
    TaskMetric,
    TrainingCompute,
)
from prereview.coverage.errors import PolicyInvalid, UnknownPreset
from prereview.coverage.policy import parse_policy, preset_names, preset_text

POLICY = """
format = 1
id = "test-policy"
version = "1"
title = "Test"
disclose_outcome_to_developer = true

[criteria]
combine = "any"

[[criteria.criterion]]
kind = "training_compute"
id = "compute"
at_least_flop = 1e26

[[criteria.criterion]]
kind = "group"
id = "cyber"
combine = "all"

[[criteria.criterion.criterion]]
kind = "task_metric"
id = "ctf"
task = "ctf"
at_least = 0.5
min_samples = 10

[[criteria.criterion.criterion]]
kind = "task_metric"
id = "patch"
task = "patch"
metric = "pass_at_2"
statistic = "value"
at_least = 0.8
"""


def result(
    task: str,
    ci_lower: float | None,
    *,
    samples: int = 20,
    status: str = "success",
    pass_at_k: dict[str, float] | None = None,
    rid: str = "evr_1",
) -> TaskEvidence:
    return TaskEvidence(
        result_id=rid,
        run_id="run_1",
        task=task,
        status=status,
        model="m",
        samples=samples,
        accuracy=None if ci_lower is None else min(1.0, ci_lower + 0.1),
        stderr=0.05,
        ci_lower=ci_lower,
        ci_upper=None if ci_lower is None else 1.0,
        metrics={},
        pass_at_k=pass_at_k or {},
    )


def test_presets_parse_and_cite_their_source() -> None:
    names = preset_names()
    assert {"ca-sb53-frontier-compute", "eu-ai-act-systemic-risk", "draft-cyber-capability"} <= set(
        names
    )
    for name in names:
        text = preset_text(name)
        assert text.lstrip().startswith("#")
        assert "Source:" in text, name
        policy = parse_policy(text)
        assert policy.document.id == name
        assert policy.sha256 == hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize(
    ("preset", "flop", "outcome"),
    [
        ("ca-sb53-frontier-compute", 1e26, Outcome.COVERED),
        ("ca-sb53-frontier-compute", 9.9e25, Outcome.NOT_COVERED),
        ("eu-ai-act-systemic-risk", 3e25, Outcome.COVERED),
        ("eu-ai-act-systemic-risk", 9e24, Outcome.NOT_COVERED),
        ("eu-ai-act-systemic-risk", None, Outcome.UNDETERMINED),
    ],
)
def test_compute_presets(preset: str, flop: float | None, outcome: Outcome) -> None:
    found = parse_policy(preset_text(preset)).evaluate(Evidence(flop))
    assert Outcome.of(found.status) is outcome


def test_unknown_preset_is_refused() -> None:
    with pytest.raises(UnknownPreset):
        preset_text("../../etc/passwd")


def test_nested_policy_judges_the_best_run() -> None:
    policy = parse_policy(POLICY)
    weak = result("ctf", 0.3, rid="evr_weak")
    strong = result("ctf", 0.62, rid="evr_strong")
    patch = result("patch", 0.5, pass_at_k={"pass_at_2": 0.85})
    found = policy.evaluate(Evidence(1e25, [weak, strong, patch]))
    assert found.status is Status.MET
    compute, cyber = found.parts
    assert compute.status is Status.NOT_MET
    ctf = cyber.parts[0]
    assert ctf.status is Status.MET and ctf.evidence["best"] == 0.62
    assert [r["result_id"] for r in ctf.evidence["runs"]] == ["evr_weak", "evr_strong"]
    assert cyber.parts[1].evidence["best"] == 0.85


def test_results_that_cannot_count_leave_the_criterion_unknown() -> None:
    policy = parse_policy(POLICY)
    too_few = result("ctf", 0.9, samples=5)
    failed = result("ctf", 0.9, status="error")
    found = policy.evaluate(Evidence(1e25, [too_few, failed]))
    ctf = found.parts[1].parts[0]
    assert ctf.status is Status.UNKNOWN and ctf.evidence["ignored_runs"] == 2
    assert found.status is Status.UNKNOWN
    below = policy.evaluate(Evidence(1e25, [result("ctf", 0.2), result("patch", 0.1)]))
    assert below.status is Status.NOT_MET


def _leaf(status: Status) -> object:
    class Fixed:
        id = status.value

        def evaluate(self, evidence: Evidence) -> CriterionOutcome:
            return CriterionOutcome(self.id, "fixed", status)

    return Fixed()


@pytest.mark.parametrize(("a", "b"), list(itertools.product(Status, repeat=2)))
def test_all_of_and_any_of_follow_kleene_logic(a: Status, b: Status) -> None:
    rank = {Status.NOT_MET: 0, Status.UNKNOWN: 1, Status.MET: 2}
    parts = (_leaf(a), _leaf(b))
    both = AllOf("all", parts).evaluate(Evidence(None))  # type: ignore[arg-type]
    either = AnyOf("any", parts).evaluate(Evidence(None))  # type: ignore[arg-type]
    assert rank[both.status] == min(rank[a], rank[b])
    assert rank[either.status] == max(rank[a], rank[b])


def test_criteria_objects_directly() -> None:
    assert TrainingCompute("c", 1e25).evaluate(Evidence(1e25)).status is Status.MET
    metric = TaskMetric("t", "ctf", 0.5)
    assert metric.evaluate(Evidence(None, [result("ctf", None)])).status is Status.UNKNOWN
    assert metric.evaluate(Evidence(None, [result("other", 0.9)])).status is Status.UNKNOWN


def test_every_problem_is_listed_with_its_path() -> None:
    bad = """
format = 2
id = "Bad Id"
version = "1"

[criteria]
combine = "most"

[[criteria.criterion]]
kind = "task_metric"
id = "x"
task = "ctf"
at_least = -1
surprise = true

[[criteria.criterion]]
kind = "weather"
id = "y"
"""
    with pytest.raises(PolicyInvalid) as caught:
        parse_policy(bad)
    paths = {p["path"] for p in caught.value.problems}
    assert {
        "format",
        "id",
        "title",
        "criteria.combine",
        "criteria.criterion[0].task_metric.at_least",
        "criteria.criterion[0].task_metric.surprise",
        "criteria.criterion[1]",
    } <= paths
    assert all(p["message"] for p in caught.value.problems)


def test_syntax_error_and_semantic_checks() -> None:
    with pytest.raises(PolicyInvalid, match="not valid TOML"):
        parse_policy("format = = 1")
    duplicate = POLICY.replace('id = "patch"', 'id = "ctf"')
    with pytest.raises(PolicyInvalid, match="used twice"):
        parse_policy(duplicate)
    interval = POLICY.replace('statistic = "value"\n', "")
    with pytest.raises(PolicyInvalid, match="ci_lower"):
        parse_policy(interval)
