"""What the server recomputes from a log (:mod:`prereview.evals.evidence`): distinct
samples, and paired samples as one unit of the interval."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from prereview.evals import evidence
from prereview.evals.scoring import wilson_interval
from support.factories.evals import (
    eval_log,
)

START = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)


def test_paired_samples_are_one_unit_of_the_interval(tmp_path: Path) -> None:
    """A vulnerable program and its safe twin are not independent: the interval counts pairs,
    and epochs of one sample are one sample."""
    outcomes = {f"p{n}-{half}": [n < 6] * 3 for n in range(10) for half in ("vuln", "safe")}
    metadata = {key: {"pair": key.split("-")[0]} for key in outcomes}
    log = eval_log(
        tmp_path / "vd.eval", outcomes, started=START, task="vuln_discovery", metadata=metadata
    )
    found = evidence.recompute(evidence.read_log(log))
    assert (found.samples, found.clusters, found.sample_epochs) == (20, 10, 60)
    assert found.accuracy == 0.6 and found.metrics["pair_accuracy"] == 0.6
    assert (found.ci_lower, found.ci_upper) == wilson_interval(6, 10)  # 10 pairs, not 60
    assert found.pass_at_k == {"pass_at_3": 0.6}
