"""What the server reads from an uploaded Inspect log: the numbers, recomputed, and a copy
for the developer with the answers taken out.

A task result's numbers are never the client's: :func:`recompute` reads every sample's score
from the log and computes accuracy, its stderr and 95% Wilson interval per task, tier and
category (the functions of :mod:`prereview.evals.scoring`), over **distinct samples**, not
sample-epochs: 4 challenges run for 5 epochs are 4 samples. Where samples are paired (the
vulnerable program and its safe twin share ``metadata["pair"]``), the interval and stderr are
clustered by pair, since the two halves of a pair are not independent. A sample that ended in
an error counts as not solved (leaving it out would let a run drop the samples it fails).

:func:`redacted` is the developer's copy: the flags, each sample's ``target``, reference
solutions, ground truth and store are removed, and any flag-shaped string left anywhere
(a transcript that printed the flag) is overwritten.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from inspect_ai.log import EvalLog, EvalSample, read_eval_log, write_eval_log
from inspect_ai.scorer import value_to_float

from prereview.core.errors import InvalidInput
from prereview.evals.challenges._base import FLAG_PATTERN
from prereview.evals.packs.archive import LOG_METADATA_KEY
from prereview.evals.scoring import FLAG_KEY, wilson_interval
from prereview.evals.tiers import sample_tier

_to_float = value_to_float()
#: Sample metadata that is ground truth or a reference solution: never for the developer.
SECRET_METADATA = frozenset(
    {"solution", "truth", "exploit", "functional_test", "flag", "fixed_source"}
)
REDACTED_FLAG = "FLAG{redacted}"
_FLAG = re.compile(FLAG_PATTERN)
# Groups of samples that get their own figures, from the sample metadata; the tier is the
# one the server derives (prereview.evals.tiers.sample_tier), not the label a log carries.
_GROUPS = ("tier", "category", "tier+category")


def _natural(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that puts tier 2 before tier 10."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", name))


def _member(group: str, meta: dict[str, Any]) -> str | None:
    """The member of ``group`` a sample belongs to (``"3"``, ``"web"``, ``"3+web"``)."""
    if group == "tier":
        return sample_tier(meta)
    if group == "tier+category":
        tier = sample_tier(meta)
        return None if tier is None or "category" not in meta else f"{tier}+{meta['category']}"
    return str(meta[group]) if group in meta else None


class EvalLogUnreadable(InvalidInput):
    """An upload that Inspect's log reader does not accept."""

    slug = "eval-log-unreadable"


class EvalLogMismatch(InvalidInput):
    """Numbers the client posted that the log does not support."""

    slug = "eval-log-mismatch"


@dataclass(frozen=True)
class Recomputed:
    """A task result as the server computes it from the log."""

    task: str
    status: str
    accuracy: float | None
    stderr: float | None
    ci_lower: float | None
    ci_upper: float | None
    pass_at_k: dict[str, float]
    metrics: dict[str, float]
    samples: int  # distinct sample ids
    clusters: int  # independent units of the interval (pairs where paired)
    sample_epochs: int
    scored: int
    failed_samples: int
    inspect_accuracy: float | None  # as Inspect computes it (errors left out): for comparing
    tokens: dict[str, int]
    settings: dict[str, Any]
    duration_s: float | None
    error: str | None
    model: str
    model_base_url: str | None
    model_calls: int
    call_models: frozenset[str]
    started_at: datetime | None
    completed_at: datetime | None
    suite_version: str
    config_sha256: str
    details: dict[str, Any] = field(default_factory=dict)
    #: The private task pack the log says it ran (its metadata), for the server to check.
    pack: dict[str, Any] | None = None


def read_log(path: Path) -> EvalLog:
    """Read a stored log with Inspect's reader; anything it refuses is a 422."""
    try:
        return read_eval_log(str(path))
    except Exception as exc:  # the reader raises many kinds on bad input
        raise EvalLogUnreadable(
            f"Inspect could not read this log ({exc.__class__.__name__}); upload the .eval "
            "file that `inspect eval` or `prereview eval run` wrote, unchanged"
        ) from None


def _time(text: str) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def _sample_value(sample: EvalSample) -> float | None:
    """The sample's score (its first scorer's), or None when it ended without one."""
    if sample.error is not None or not sample.scores:
        return None
    score = next(iter(sample.scores.values()))
    try:
        value = _to_float(score.value)
    except (TypeError, ValueError):
        return None
    return min(1.0, max(0.0, value)) if math.isfinite(value) else None


def _proportion(units: list[float], prefix: str = "") -> dict[str, float]:
    """Mean, clustered stderr and 95% Wilson interval of per-unit scores in [0, 1]."""
    n = len(units)
    if n == 0:
        return {}
    mean = sum(units) / n
    variance = sum((u - mean) ** 2 for u in units) / (n - 1) if n > 1 else 0.0
    low, high = wilson_interval(sum(units), n)
    return {
        f"{prefix}accuracy": mean,
        f"{prefix}stderr": math.sqrt(variance / n),
        f"{prefix}ci_lower": low,
        f"{prefix}ci_upper": high,
    }


def _config_digest(log: EvalLog) -> str:
    """SHA-256 of the full task configuration: task, arguments, dataset, solver, scorers,
    generation and eval settings, elicitation metadata (not the model, ids or dates)."""
    spec = log.eval.model_dump(
        mode="json",
        include={
            "task",
            "task_version",
            "task_attribs",
            "task_args",
            "solver",
            "solver_args",
            "dataset",
            "sandbox",
            "model_generate_config",
            "config",
            "metadata",
            "scorers",
        },
    )
    if log.plan is not None:
        spec["plan"] = log.plan.model_dump(mode="json")
    # The variant seed picks the instance (names, ports, keys), as the flag does, not the
    # configuration: runs that differ only in it share a digest.
    for part in ("metadata", "task_args"):
        if isinstance(spec.get(part), dict):
            spec[part].pop("variant_seed", None)
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _suite_version(log: EvalLog, packages: dict[str, str]) -> str:
    """The suite's version as the log names it: prereview's package version where Inspect
    recorded it, else the task's version with Inspect's."""
    if packages.get("prereview"):
        return f"prereview {packages['prereview']}"[:200]
    inspect = packages.get("inspect_ai", "?")
    return f"{log.eval.task} v{log.eval.task_version} (inspect_ai {inspect})"[:200]


def _settings(task_meta: dict[str, Any]) -> dict[str, Any]:
    """The elicitation settings, with the run's variant seed where the log has one (older
    logs have none: their settings are the elicitation alone)."""
    settings = dict(task_meta.get("elicitation") or {})
    seed = task_meta.get("variant_seed")
    if isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0:
        settings["variant_seed"] = seed
    return settings


def _model_events(sample: EvalSample) -> list[str]:
    return [str(getattr(e, "model", "")) for e in sample.events if e.event == "model"]


def recompute(log: EvalLog) -> Recomputed:
    """Every number of the task result, from the log's samples alone."""
    samples = list(log.samples or [])
    by_id: dict[str, list[float]] = defaultdict(list)
    inspect_values: dict[str, list[float]] = defaultdict(list)
    meta: dict[str, dict[str, Any]] = {}
    failed = 0
    calls = 0
    call_models: set[str] = set()
    for sample in samples:
        key = str(sample.id)
        value = _sample_value(sample)
        if value is None:
            failed += 1
        else:
            inspect_values[key].append(value)
        by_id[key].append(0.0 if value is None else value)
        meta.setdefault(key, dict(sample.metadata or {}))
        models = _model_events(sample)
        calls += len(models)
        call_models.update(models)
    per_sample = {k: sum(v) / len(v) for k, v in by_id.items()}
    clusters: dict[str, list[float]] = defaultdict(list)
    for key, value in per_sample.items():
        clusters[str(meta[key].get("pair", key))].append(value)
    paired = any("pair" in m for m in meta.values())
    metrics: dict[str, float] = {}
    headline = _proportion([sum(v) / len(v) for v in clusters.values()])
    if headline:
        # The estimate is the share of samples solved; the interval counts clusters.
        headline["accuracy"] = sum(per_sample.values()) / len(per_sample)
        low, high = headline["ci_lower"], headline["ci_upper"]
        headline["accuracy"] = min(max(headline["accuracy"], low), high)
    metrics.update(headline)
    if paired:
        pairs = [1.0 if min(v) >= 1.0 else 0.0 for v in clusters.values()]
        metrics.update(_proportion(pairs, "pair_"))
    for group in _GROUPS:
        # A group's interval counts its clusters, as the headline's does (the halves of a
        # pair are one unit, counted in the highest member either half is in).
        units: dict[str, list[tuple[str | None, float]]] = defaultdict(list)
        for key, value in per_sample.items():
            units[str(meta[key].get("pair", key))].append((_member(group, meta[key]), value))
        members: dict[str, list[list[float]]] = defaultdict(list)
        for unit in units.values():
            names = [n for n, _v in unit if n is not None]
            if names:
                members[max(names, key=_natural)].append([v for _n, v in unit])
        for name, clustered in sorted(members.items()):
            safe = re.sub(r"[^A-Za-z0-9_.+-]", "_", name)[:40]
            values = [v for unit in clustered for v in unit]
            prefix = f"{group}/{safe}/"
            figures = _proportion([sum(u) / len(u) for u in clustered], prefix)
            figures[f"{prefix}accuracy"] = min(
                max(sum(values) / len(values), figures[f"{prefix}ci_lower"]),
                figures[f"{prefix}ci_upper"],
            )
            metrics.update(figures)
            metrics[f"{group}/{safe}/clusters"] = float(len(clustered))
            metrics[f"{group}/{safe}/samples"] = float(len(values))
    epochs = max((len(v) for v in by_id.values()), default=0)
    pass_at_k: dict[str, float] = {}
    if epochs > 1 and per_sample:
        solved = [1.0 if max(v) >= 1.0 else 0.0 for v in by_id.values()]
        pass_at_k[f"pass_at_{epochs}"] = sum(solved) / len(solved)
    scored_values = [sum(v) / len(v) for v in inspect_values.values()]
    usage = log.stats.model_usage
    started, completed = _time(log.stats.started_at), _time(log.stats.completed_at)
    packages = log.eval.packages or {}
    claim = (log.eval.metadata or {}).get(LOG_METADATA_KEY)
    return Recomputed(
        task=log.eval.task.split("/")[-1],
        status=log.status,
        accuracy=metrics.get("accuracy"),
        stderr=metrics.get("stderr"),
        ci_lower=metrics.get("ci_lower"),
        ci_upper=metrics.get("ci_upper"),
        pass_at_k=pass_at_k,
        metrics=metrics,
        samples=len(by_id),
        clusters=len(clusters),
        sample_epochs=len(samples),
        scored=len(samples) - failed,
        failed_samples=failed,
        inspect_accuracy=sum(scored_values) / len(scored_values) if scored_values else None,
        tokens={
            "input": sum(u.input_tokens for u in usage.values()),
            "output": sum(u.output_tokens for u in usage.values()),
            "total": sum(u.total_tokens for u in usage.values()),
        },
        settings=_settings(log.eval.metadata or {}),
        duration_s=(completed - started).total_seconds() if started and completed else None,
        error=log.error.message[:4000] if log.error else None,
        model=log.eval.model,
        model_base_url=log.eval.model_base_url,
        model_calls=calls,
        call_models=frozenset(call_models),
        started_at=started,
        completed_at=completed,
        suite_version=_suite_version(log, packages),
        config_sha256=_config_digest(log),
        pack=claim if isinstance(claim, dict) else None,
    )


def check_posted(posted: dict[str, Any], found: Recomputed) -> None:
    """The client may still post numbers; they are only compared, and must agree (422)."""
    wrong = []
    if posted.get("task") != found.task:
        wrong.append(f"task {posted.get('task')!r} (the log is of {found.task!r})")
    accuracy = posted.get("accuracy")
    if accuracy is not None and (
        found.inspect_accuracy is None
        or not math.isclose(accuracy, found.inspect_accuracy, abs_tol=1e-6)
    ):
        wrong.append(f"accuracy {accuracy} (the log gives {found.inspect_accuracy})")
    samples = posted.get("samples")
    if samples is not None and samples not in (found.samples, found.sample_epochs):
        wrong.append(
            f"samples {samples} (the log has {found.samples} distinct samples, "
            f"{found.sample_epochs} with epochs)"
        )
    if wrong:
        raise EvalLogMismatch(
            "the numbers posted for this result disagree with its log: "
            + "; ".join(wrong)
            + ". The server computes the numbers from the log; post the log unchanged"
        )


def _scrub(value: Any) -> Any:
    """Drop ground truth and solutions wherever they sit (the sample, and the copy of it in
    the sample's init event), empty every ``target`` and overwrite flag-shaped strings."""
    if isinstance(value, str):
        return _FLAG.sub(REDACTED_FLAG, value)
    if isinstance(value, dict):
        kept: dict[str, Any] = {}
        for key, item in value.items():
            if key in SECRET_METADATA or key == FLAG_KEY:
                continue
            kept[key] = "" if key == "target" and isinstance(item, (str, list)) else _scrub(item)
        return kept
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def redacted(log: EvalLog) -> EvalLog:
    """The developer's copy of ``log``: no flag, target, solution or ground truth."""
    data = _scrub(log.model_dump(mode="json", exclude={"location"}))
    for sample in data.get("samples") or []:
        sample["store"] = {}
        # Attachments only the removed fields referred to go with them.
        attachments = sample.get("attachments") or {}
        if attachments:
            text = json.dumps({k: v for k, v in sample.items() if k != "attachments"})
            sample["attachments"] = {
                k: v for k, v in attachments.items() if f"attachment://{k}" in text
            }
    return EvalLog.model_validate(data)


def write_redacted(log: EvalLog, target: Path) -> None:
    """Write the developer's copy of ``log`` to ``target`` (a ``.eval`` file)."""
    write_eval_log(redacted(log), str(target), format="eval")
