"""The developer's copy of a private pack's log: the pack's name, version and hash, and the
scores; nothing of its tasks.

The redaction the built-in suite's logs get (:func:`prereview.evals.evidence.redacted`) takes
out flags, targets and solutions but keeps the prompts and transcripts, which are the
developer's own model's words about public tasks. A private pack's prompts, sample ids, task
and scorer names, arguments, solver plan, sample metadata and transcripts are the pack owner's
secret, so the copy is rebuilt from an allow-list instead: per sample only its position, epoch
and score value; per task the pack's name and the metrics; model, times and token counts.
"""

from __future__ import annotations

from pathlib import Path

from inspect_ai.log import (
    EvalConfig,
    EvalDataset,
    EvalError,
    EvalLog,
    EvalMetric,
    EvalResults,
    EvalSample,
    EvalScore,
    EvalSpec,
    EvalStats,
    write_eval_log,
)
from inspect_ai.scorer import Score

from prereview.evals.packs.archive import LOG_METADATA_KEY
from prereview.evals.packs.service import WITHHELD


def _samples(log: EvalLog) -> list[EvalSample]:
    positions: dict[str, int] = {}
    kept = []
    for sample in log.samples or []:
        position = positions.setdefault(str(sample.id), len(positions) + 1)
        scores = {
            f"score{n}": Score(value=score.value)
            for n, score in enumerate((sample.scores or {}).values(), start=1)
        }
        kept.append(
            EvalSample(
                id=position,
                epoch=sample.epoch,
                input="",
                target="",
                scores=scores,
                error=EvalError(message=WITHHELD, traceback="", traceback_ansi="")
                if sample.error is not None
                else None,
            )
        )
    return kept


def _results(log: EvalLog) -> EvalResults | None:
    if log.results is None:
        return None
    return EvalResults(
        total_samples=log.results.total_samples,
        completed_samples=log.results.completed_samples,
        scores=[
            EvalScore(
                name=f"score{n}",
                scorer=f"score{n}",
                reducer=score.reducer,
                scored_samples=score.scored_samples,
                unscored_samples=score.unscored_samples,
                metrics={
                    name.split("/")[-1]: EvalMetric(name=name.split("/")[-1], value=metric.value)
                    for name, metric in score.metrics.items()
                    if name.split("/")[-1] in {"accuracy", "stderr", "mean", "std"}
                },
            )
            for n, score in enumerate(log.results.scores, start=1)
        ],
    )


def redacted_pack_log(log: EvalLog, name: str, version: str, sha256: str) -> EvalLog:
    """The developer's copy of ``log``, a run of the private pack ``name@version``."""
    spec = log.eval
    return EvalLog(
        status=log.status,
        eval=EvalSpec(
            eval_id=spec.eval_id,
            run_id=spec.run_id,
            created=spec.created,
            task=name,
            task_version=0,
            dataset=EvalDataset(name=name, samples=spec.dataset.samples),
            model=spec.model,
            model_base_url=spec.model_base_url,
            config=EvalConfig(epochs=spec.config.epochs),
            packages=dict(spec.packages or {}),
            metadata={LOG_METADATA_KEY: {"name": name, "version": version, "sha256": sha256}},
        ),
        results=_results(log),
        stats=EvalStats(
            started_at=log.stats.started_at,
            completed_at=log.stats.completed_at,
            model_usage=dict(log.stats.model_usage),
        ),
        error=EvalError(message=WITHHELD, traceback="", traceback_ansi="") if log.error else None,
        samples=_samples(log),
    )


def write_redacted_pack_log(
    log: EvalLog, target: Path, name: str, version: str, sha256: str
) -> None:
    """Write the developer's copy of a pack's log to ``target`` (a ``.eval`` file)."""
    write_eval_log(redacted_pack_log(log, name, version, sha256), str(target), format="eval")
