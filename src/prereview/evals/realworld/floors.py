"""Floors and reference of the real-vulnerability tasks, through the real agent loop.

The same models as ``prereview.evals.baselines`` (the four baselines, the guesser and the
scripted reference), judged by each task's headline (``pair_accuracy`` for discovery).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from inspect_ai import Task
from inspect_ai import eval as inspect_eval
from inspect_ai.log import EvalLog

from prereview.evals.baselines import FLOOR_MODELS, REFERENCE
from prereview.evals.realworld.tasks import HEADLINE


def real_headline(log: EvalLog) -> float:
    """The metric a real-vulnerability task is judged by, from its eval log."""
    if log.status != "success" or log.results is None:
        raise RuntimeError(f"{log.eval.task} did not finish: {log.error}")
    task = log.eval.task.split("/")[-1]
    metrics = {k.split("/")[-1]: v.value for k, v in log.results.scores[0].metrics.items()}
    return float(metrics[HEADLINE.get(task, "accuracy")])


def measure_real_floors(
    tasks: Callable[[], list[Task]],
    log_dir: str,
    models: Sequence[str] = (*FLOOR_MODELS, REFERENCE),
) -> dict[str, dict[str, float]]:
    """Run every floor and the reference on fresh ``tasks()``: task -> model -> headline."""
    table: dict[str, dict[str, float]] = {}
    for model in models:
        logs = inspect_eval(
            tasks(), model=model, log_dir=log_dir, display="none", log_level="warning"
        )
        for log in logs:
            table.setdefault(log.eval.task.split("/")[-1], {})[model] = real_headline(log)
    return table
