"""Coverage criteria: small composable objects, each judging the evidence as met, not met or
unknown (three-valued: missing evidence is never read as a 'no').

``AllOf`` and ``AnyOf`` combine them with Kleene's logic: ``AllOf`` is not met as soon as one
part is not met, met only when every part is; ``AnyOf`` is met as soon as one part is met, not
met only when every part is not met; anything else is unknown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from statistics import NormalDist
from typing import Any, Protocol

from prereview.evals.service import Z95, wilson_interval
from prereview.evals.tiers import RULE_VERSION, tier_named


def bonferroni_z(tests: int, alpha: float = 0.05) -> float:
    """The two-sided critical value for ``alpha`` shared among ``tests`` intervals."""
    if tests <= 1:
        return Z95
    return NormalDist().inv_cdf(1 - alpha / (2 * tests))


class Status(StrEnum):
    MET = "met"
    NOT_MET = "not_met"
    UNKNOWN = "unknown"


class Outcome(StrEnum):
    """What a policy's top criterion means for the model."""

    COVERED = "covered"
    NOT_COVERED = "not_covered"
    UNDETERMINED = "undetermined"

    @classmethod
    def of(cls, status: Status) -> Outcome:
        return {
            Status.MET: cls.COVERED,
            Status.NOT_MET: cls.NOT_COVERED,
            Status.UNKNOWN: cls.UNDETERMINED,
        }[status]


@dataclass(frozen=True)
class TaskEvidence:
    """One stored evidence result of a submission, as the criteria see it: ``samples`` are
    distinct samples (epochs of one sample are one), ``clusters`` the independent units of its
    interval (pairs where samples are paired; 0 when unknown)."""

    result_id: str
    run_id: str
    task: str
    status: str
    model: str
    samples: int
    accuracy: float | None
    stderr: float | None
    ci_lower: float | None
    ci_upper: float | None
    metrics: dict[str, float]
    pass_at_k: dict[str, float]
    org_id: str = ""
    clusters: int = 0

    def corrected_lower(self, tests: int) -> float | None:
        """The lower end of the accuracy interval widened for ``tests`` runs (Bonferroni)."""
        if tests <= 1 or self.accuracy is None or self.clusters <= 0:
            return self.ci_lower
        low, _ = wilson_interval(self.accuracy * self.clusters, self.clusters, bonferroni_z(tests))
        return low if self.ci_lower is None else min(low, self.ci_lower)

    def value(self, metric: str) -> float | None:
        """A named metric of the result (``accuracy``, ``pair_accuracy``, ``pass_at_2``...)."""
        if metric == "accuracy":
            return self.accuracy
        if metric in self.pass_at_k:
            return self.pass_at_k[metric]
        return self.metrics.get(metric)

    def summary(self) -> dict[str, Any]:
        return {
            "result_id": self.result_id,
            "run_id": self.run_id,
            "org_id": self.org_id,
            "task": self.task,
            "model": self.model,
            "status": self.status,
            "samples": self.samples,
            "accuracy": self.accuracy,
            "stderr": self.stderr,
            "ci_lower": self.ci_lower,
            "ci_upper": self.ci_upper,
        }


@dataclass(frozen=True)
class Evidence:
    """All a policy may look at: what the developer declared and the evidence results it
    rests on. ``tested`` counts, per task, the evidence results the judging agency has on
    record (named or not): a criterion that may be met by any of them corrects its interval
    for that many, so running the suite until one run passes does not pay."""

    training_compute_flop: float | None
    results: Sequence[TaskEvidence] = ()
    tested: Mapping[str, int] = field(default_factory=dict)
    selection: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CriterionOutcome:
    """How one criterion judged the evidence; ``parts`` holds a group's members' outcomes."""

    id: str
    description: str
    status: Status
    evidence: dict[str, Any] = field(default_factory=dict)
    parts: tuple[CriterionOutcome, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "description": self.description,
            "status": self.status.value,
            "evidence": self.evidence,
        }
        if self.parts:
            body["parts"] = [p.as_dict() for p in self.parts]
        return body


class Criterion(Protocol):
    @property
    def id(self) -> str: ...

    def evaluate(self, evidence: Evidence) -> CriterionOutcome:
        """Judge ``evidence``; never raises for missing evidence (that is ``unknown``)."""
        ...


def _flop(value: float) -> str:
    return f"{value:.3g} FLOP"


@dataclass(frozen=True)
class TrainingCompute:
    """Training compute declared by the developer is at least ``at_least_flop``."""

    id: str
    at_least_flop: float

    def evaluate(self, evidence: Evidence) -> CriterionOutcome:
        declared = evidence.training_compute_flop
        description = f"training compute at least {_flop(self.at_least_flop)}"
        if declared is None:
            status = Status.UNKNOWN
        else:
            status = Status.MET if declared >= self.at_least_flop else Status.NOT_MET
        return CriterionOutcome(
            self.id,
            description,
            status,
            {"training_compute_flop": declared, "threshold_flop": self.at_least_flop},
        )


@dataclass(frozen=True)
class GroupFigures:
    """A task result's figures for the samples of one tier and/or category, as the server
    computed them from the log (``metrics["tier/3/ci_lower"]``...; see evals' evidence)."""

    samples: int
    clusters: int
    accuracy: float
    ci_lower: float
    ci_upper: float

    def corrected_lower(self, tests: int) -> float:
        """The lower end widened for ``tests`` runs (Bonferroni), as for a whole task."""
        if tests <= 1 or self.clusters <= 0:
            return self.ci_lower
        low, _ = wilson_interval(self.accuracy * self.clusters, self.clusters, bonferroni_z(tests))
        return min(low, self.ci_lower)

    def summary(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "clusters": self.clusters,
            "accuracy": self.accuracy,
            "ci_lower": self.ci_lower,
            "ci_upper": self.ci_upper,
        }


def group_prefix(tier: int | None, category: str | None) -> str | None:
    """Where a result's metrics keep the figures of a tier, a category, or both."""
    if tier is not None and category is not None:
        return f"tier+category/{tier}+{category}/"
    if tier is not None:
        return f"tier/{tier}/"
    if category is not None:
        return f"category/{category}/"
    return None


def group_figures(result: TaskEvidence, prefix: str) -> GroupFigures | None:
    """The figures under ``prefix`` in ``result``'s metrics; None when the run had no such
    samples (or its figures are incomplete)."""
    found = {k: result.metrics.get(prefix + k) for k in ("samples", "accuracy", "ci_lower")}
    upper = result.metrics.get(prefix + "ci_upper")
    samples, accuracy, lower = found["samples"], found["accuracy"], found["ci_lower"]
    if samples is None or samples < 1 or accuracy is None or lower is None or upper is None:
        return None
    clusters = result.metrics.get(prefix + "clusters", samples)
    return GroupFigures(int(samples), int(clusters), accuracy, lower, upper)


@dataclass(frozen=True)
class TaskMetric:
    """A task's metric (by default the lower bound of its 95% CI) is at least ``at_least``.

    Capability is shown by the best elicitation: the criterion is met when any successful
    evidence run with at least ``min_samples`` distinct samples reaches the threshold, not met
    when there are such runs and none does, and unknown when there is none. With several runs
    the interval is Bonferroni-corrected for the number of runs on record for the task.

    Naming a ``tier`` (the derived tier, :mod:`prereview.evals.tiers`) and/or a ``category``
    judges only those samples' accuracy: ``min_samples`` counts them, and a run without
    enough of them is no evidence, so a threshold on a tier the runs did not reach is
    ``unknown`` (insufficient evidence), never met.
    """

    id: str
    task: str
    at_least: float
    metric: str = "accuracy"
    statistic: str = "ci_lower"
    min_samples: int = 1
    tier: int | None = None
    category: str | None = None

    def _measure(self, result: TaskEvidence, tests: int) -> float | None:
        if self.statistic == "ci_lower":
            if self.metric == "accuracy":
                return result.corrected_lower(tests)
            return result.ci_lower if tests <= 1 else None
        return result.value(self.metric)

    def _scope(self) -> str:
        parts = [f"{tier_named(self.tier).name.lower()}-tier"] if self.tier is not None else []
        parts += [self.category] if self.category is not None else []
        return " ".join(parts)

    def evaluate(self, evidence: Evidence) -> CriterionOutcome:
        label = "95% CI lower bound of " if self.statistic == "ci_lower" else ""
        scope = f" {self._scope()}" if self._scope() else ""
        description = f"{label}{self.task}{scope} {self.metric} at least {self.at_least:g}"
        prefix = group_prefix(self.tier, self.category)
        if prefix is not None:
            return self._evaluate_group(evidence, prefix, description)
        considered = [
            r
            for r in evidence.results
            if r.task == self.task and r.status == "success" and r.samples >= self.min_samples
        ]
        tests = max(evidence.tested.get(self.task, 0), len(considered), 1)
        measured = [(r, v) for r in considered if (v := self._measure(r, tests)) is not None]
        if not measured:
            status = Status.UNKNOWN
        elif any(v >= self.at_least for _, v in measured):
            status = Status.MET
        else:
            status = Status.NOT_MET
        best = max((v for _, v in measured), default=None)
        return CriterionOutcome(
            self.id,
            description,
            status,
            {
                "threshold": self.at_least,
                "statistic": self.statistic,
                "min_distinct_samples": self.min_samples,
                "runs_tested": tests,
                "z": round(bonferroni_z(tests), 4),
                "best": best,
                "runs": [r.summary() | {"measured": v} for r, v in measured],
                "ignored_runs": len([r for r in evidence.results if r.task == self.task])
                - len(measured),
            },
        )

    def _evaluate_group(
        self, evidence: Evidence, prefix: str, description: str
    ) -> CriterionOutcome:
        runs = [r for r in evidence.results if r.task == self.task and r.status == "success"]
        figures = [(r, f) for r in runs if (f := group_figures(r, prefix)) is not None]
        considered = [(r, f) for r, f in figures if f.samples >= self.min_samples]
        tests = max(evidence.tested.get(self.task, 0), len(considered), 1)
        measured = [
            (r, f, f.corrected_lower(tests) if self.statistic == "ci_lower" else f.accuracy)
            for r, f in considered
        ]
        reason = None
        if not measured:
            status = Status.UNKNOWN
            scope = self._scope()
            if not runs:
                reason = f"insufficient evidence: no successful {self.task} run"
            elif not figures:
                reason = f"insufficient evidence: no {self.task} run has {scope} samples"
            else:
                most = max(f.samples for _r, f in figures)
                reason = (
                    f"insufficient evidence: at most {most} {scope} samples in a run, "
                    f"{self.min_samples} needed"
                )
        elif any(v >= self.at_least for _r, _f, v in measured):
            status = Status.MET
        else:
            status = Status.NOT_MET
        body: dict[str, Any] = {
            "threshold": self.at_least,
            "statistic": self.statistic,
            "tier": None if self.tier is None else tier_named(self.tier).name.lower(),
            "category": self.category,
            "tier_rule": RULE_VERSION,
            "min_distinct_samples": self.min_samples,
            "runs_tested": tests,
            "z": round(bonferroni_z(tests), 4),
            "best": max((v for _r, _f, v in measured), default=None),
            # The figures of the tier (or category) each run had, as the determination used them.
            "runs": [r.summary() | {"group": f.summary(), "measured": v} for r, f, v in measured],
            "ignored_runs": len([r for r in evidence.results if r.task == self.task])
            - len(measured),
        }
        if reason is not None:
            body["insufficient_evidence"] = reason
        return CriterionOutcome(self.id, description, status, body)


@dataclass(frozen=True)
class AllOf:
    id: str
    parts: tuple[Criterion, ...]

    def evaluate(self, evidence: Evidence) -> CriterionOutcome:
        outcomes = tuple(p.evaluate(evidence) for p in self.parts)
        statuses = {o.status for o in outcomes}
        if Status.NOT_MET in statuses:
            status = Status.NOT_MET
        elif Status.UNKNOWN in statuses:
            status = Status.UNKNOWN
        else:
            status = Status.MET
        return CriterionOutcome(self.id, "all of", status, parts=outcomes)


@dataclass(frozen=True)
class AnyOf:
    id: str
    parts: tuple[Criterion, ...]

    def evaluate(self, evidence: Evidence) -> CriterionOutcome:
        outcomes = tuple(p.evaluate(evidence) for p in self.parts)
        statuses = {o.status for o in outcomes}
        if Status.MET in statuses:
            status = Status.MET
        elif Status.UNKNOWN in statuses:
            status = Status.UNKNOWN
        else:
            status = Status.NOT_MET
        return CriterionOutcome(self.id, "any of", status, parts=outcomes)
