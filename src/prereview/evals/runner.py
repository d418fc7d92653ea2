"""Run the cyber suite against one model and summarise the eval logs.

``run_suite`` is what the platform calls: it takes the model as Inspect names it
(``openai/<name>`` for the gateway's OpenAI-compatible endpoint, with its base URL
and API key) and returns one :class:`TaskResult` per task, read from Inspect's eval
logs. ``result_from_log`` turns any Inspect log of these tasks into the same
summary, for logs produced elsewhere (eval sets on worker machines).

Scale: ``max_samples`` (samples run at once, per task) and ``max_sandboxes`` (sandboxes
alive at once, per provider) go to Inspect unchanged; ``progress`` receives a
:class:`Progress` event as each task starts and ends and as each sample starts and ends,
from Inspect's hooks, so a caller can draw a bar per task without Inspect's display.
"""

from __future__ import annotations

import contextlib
import contextvars
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from inspect_ai import Task, eval
from inspect_ai.hooks import Hooks, SampleEnd, SampleStart, TaskEnd, TaskStart, hooks
from inspect_ai.hooks._startup import init_hooks
from inspect_ai.log import EvalLog
from inspect_ai.model import GenerateConfig, Model, get_model

from prereview.core.errors import InvalidInput
from prereview.evals import _registry  # noqa: F401 - registers the sandbox and model APIs
from prereview.evals.packs.archive import LOG_METADATA_KEY
from prereview.evals.packs.suite import suite_claim
from prereview.evals.realworld.chains import realworld_chain
from prereview.evals.realworld.tasks import realworld_discovery, realworld_exploit, realworld_patch
from prereview.evals.sandbox import BwrapConfig
from prereview.evals.tasks import ctf, patch, vuln_discovery

#: Every task ``eval run --tasks`` may name: the intro tier (the default run) and the
#: real-vulnerability tier (its releases come from the task cache, ``make task-cache``).
TASKS: dict[str, Callable[..., Task]] = {
    "ctf": ctf,
    "vuln_discovery": vuln_discovery,
    "patch": patch,
    "realworld_exploit": realworld_exploit,
    "realworld_discovery": realworld_discovery,
    "realworld_patch": realworld_patch,
    "realworld_chain": realworld_chain,
}


class UnknownTask(InvalidInput):
    """A task name that the suite does not have."""

    slug = "eval-unknown-task"


class UnisolatedSandbox(InvalidInput):
    """A sandbox that would run the model's tool calls in the reviewer's own environment."""

    slug = "eval-unisolated-sandbox"


# Inspect's "local" sandbox runs tool calls as the reviewer, with the reviewer's
# environment (PREREVIEW_TOKEN, the gateway key) and files: never for a model under test.
UNISOLATED_SANDBOXES = frozenset({"local"})


@dataclass(frozen=True)
class Progress:
    """One step of a run: a task started (``total`` samples, epochs counted) or ended, a
    sample started or ended (``failed``: it ended in an error)."""

    kind: Literal["task_start", "task_end", "sample_start", "sample_end"]
    task: str
    eval_id: str
    total: int = 0
    failed: bool = False


ProgressListener = Callable[[Progress], None]
# the listener of the run in this context: eval() runs its event loop in the caller's
# thread, with a copy of the caller's context, so concurrent runs in other threads each
# hear their own
_listener: contextvars.ContextVar[ProgressListener | None] = contextvars.ContextVar(
    "prereview_eval_progress", default=None
)


@contextlib.contextmanager
def reporting_to(listener: ProgressListener | None) -> Iterator[None]:
    """Send the :class:`Progress` of the evaluations run in this context to ``listener``."""
    if listener is not None:
        _register_hooks()
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)


_registered = False


def _register_hooks() -> None:
    """Register :class:`_ProgressHooks` with Inspect, once, after Inspect's start-up has
    loaded the hooks it announces: Inspect prints a banner naming every registered hook
    on standard output at its first start-up, which would break ``--json`` output."""
    global _registered
    if not _registered:
        init_hooks()  # idempotent: the banner (of other hooks only) is printed once
        hooks(name="prereview_progress", description="Sample progress, for progress bars.")(
            _ProgressHooks
        )
        _registered = True


class _ProgressHooks(Hooks):
    """Forwards Inspect's task and sample events to the listener of the current run."""

    def __init__(self) -> None:
        self.tasks: dict[str, str] = {}

    def enabled(self) -> bool:
        return _listener.get() is not None

    def _tell(self, event: Progress) -> None:
        listener = _listener.get()
        if listener is not None:
            listener(event)

    async def on_task_start(self, data: TaskStart) -> None:
        name = data.spec.task.split("/")[-1]
        self.tasks[data.eval_id] = name
        samples = data.spec.dataset.samples or 0
        epochs = data.spec.config.epochs or 1
        self._tell(Progress("task_start", name, data.eval_id, total=samples * epochs))

    async def on_task_end(self, data: TaskEnd) -> None:
        name = self.tasks.pop(data.eval_id, data.log.eval.task.split("/")[-1])
        self._tell(Progress("task_end", name, data.eval_id, failed=data.log.status != "success"))

    async def on_sample_start(self, data: SampleStart) -> None:
        self._tell(Progress("sample_start", self.tasks.get(data.eval_id, ""), data.eval_id))

    async def on_sample_end(self, data: SampleEnd) -> None:
        name = self.tasks.get(data.eval_id, "")
        failed = data.sample.error is not None
        self._tell(Progress("sample_end", name, data.eval_id, failed=failed))


@dataclass(frozen=True)
class TaskResult:
    """The summary of one task's eval log."""

    task: str
    status: str
    accuracy: float | None
    stderr: float | None
    ci_lower: float | None
    ci_upper: float | None
    pass_at_k: dict[str, float]
    samples: int
    scored: int
    tokens: dict[str, int]
    settings: dict[str, Any]
    duration_s: float | None
    log_path: str
    error: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    failed_samples: int = 0  # samples that ended in an error (unscored)


@dataclass(frozen=True)
class SuiteResult:
    """All tasks of one run."""

    model: str
    tasks: list[TaskResult]
    duration_s: float


def _seconds(started: str, completed: str) -> float | None:
    if not started or not completed:
        return None
    delta = datetime.fromisoformat(completed) - datetime.fromisoformat(started)
    return delta.total_seconds()


def run_settings(task_meta: dict[str, Any]) -> dict[str, Any]:
    """A result's settings: the task's elicitation, and the variant seed the run was built
    from (``-T variant_seed=N`` builds it again), when the log records one."""
    settings = dict(task_meta.get("elicitation") or {})
    seed = task_meta.get("variant_seed")
    if isinstance(seed, int) and not isinstance(seed, bool):
        settings["variant_seed"] = seed
    return settings


def result_from_log(log: EvalLog) -> TaskResult:
    """Summarise an Inspect eval log of one of the suite's tasks."""
    metrics: dict[str, float] = {}
    pass_at_k: dict[str, float] = {}
    scored = 0
    for score in log.results.scores if log.results else []:
        for name, m in score.metrics.items():
            key = name.split("/")[-1]
            if score.reducer and score.reducer.startswith("pass_at"):
                if key == "accuracy":
                    pass_at_k[score.reducer] = float(m.value)
                continue
            metrics[key] = float(m.value)
        scored = max(scored, score.scored_samples or 0)
    usage = log.stats.model_usage
    tokens = {
        "input": sum(u.input_tokens for u in usage.values()),
        "output": sum(u.output_tokens for u in usage.values()),
        "total": sum(u.total_tokens for u in usage.values()),
    }
    task_meta = log.eval.metadata or {}
    return TaskResult(
        task=log.eval.task.split("/")[-1],
        status=log.status,
        accuracy=metrics.get("accuracy"),
        stderr=metrics.get("stderr"),
        ci_lower=metrics.get("ci_lower"),
        ci_upper=metrics.get("ci_upper"),
        pass_at_k=pass_at_k,
        samples=log.results.total_samples if log.results else 0,
        scored=scored,
        tokens=tokens,
        settings=run_settings(task_meta),
        duration_s=_seconds(log.stats.started_at, log.stats.completed_at),
        log_path=log.location,
        error=log.error.message if log.error else None,
        metrics=metrics,
        failed_samples=sum(1 for s in log.samples or [] if s.error is not None),
    )


def build_tasks(
    names: Sequence[str],
    *,
    epochs: int = 1,
    task_args: dict[str, dict[str, Any]] | None = None,
    sandbox_config: BwrapConfig | None = None,
) -> list[Task]:
    """Instantiate the named tasks with shared settings and per-task arguments."""
    tasks = []
    for name in names:
        if name not in TASKS:
            raise UnknownTask(f"unknown task {name!r}; known: {', '.join(TASKS)}")
        args: dict[str, Any] = {"epochs": epochs, "sandbox_config": sandbox_config}
        args.update((task_args or {}).get(name, {}))
        if args.get("sandbox_name") in UNISOLATED_SANDBOXES:
            raise UnisolatedSandbox(
                f"task {name!r}: the {args['sandbox_name']!r} sandbox would run the model's "
                "tool calls in your own environment, with your tokens and files; use the "
                "default 'bwrap' sandbox, or 'docker'"
            )
        tasks.append(TASKS[name](**args))
    return tasks


def run_suite(
    model: str | Model,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    tasks: Sequence[str] = ("ctf", "vuln_discovery", "patch"),
    epochs: int = 1,
    task_args: dict[str, dict[str, Any]] | None = None,
    sandbox_config: BwrapConfig | None = None,
    log_dir: str | None = None,
    max_samples: int | None = None,
    max_sandboxes: int | None = None,
    generate_config: GenerateConfig | None = None,
    model_args: dict[str, Any] | None = None,
    sandbox: str | None = None,
    progress: ProgressListener | None = None,
) -> SuiteResult:
    """Run the named tasks against ``model`` and summarise each eval log.

    ``task_args`` passes keyword arguments to single tasks, e.g.
    ``{"ctf": {"categories": ["web"], "max_attempts": 3}, "vuln_discovery": {"pairs": 50}}``.
    An ``openai/...`` model behind a ``base_url`` (the gateway) is spoken to over Chat
    Completions, not the Responses API, unless ``model_args`` says otherwise.
    ``sandbox`` names the provider of every task (``bwrap``, the default; ``docker`` or
    ``k8s`` with the specs the tasks declare, see ``evals/sandbox/providers.py``), unless a
    task's own ``sandbox_name`` argument says otherwise.
    """
    args = dict(model_args or {})
    if isinstance(model, str) and model.startswith("openai/") and base_url:
        args.setdefault("responses_api", False)
    resolved = (
        model
        if isinstance(model, Model)
        else get_model(
            model,
            base_url=base_url,
            api_key=api_key,
            config=generate_config or GenerateConfig(),
            **args,
        )
    )
    if sandbox is not None:
        task_args = {
            name: {"sandbox_name": sandbox, **(task_args or {}).get(name, {})} for name in tasks
        }
    built = build_tasks(tasks, epochs=epochs, task_args=task_args, sandbox_config=sandbox_config)
    started = time.perf_counter()
    with reporting_to(progress):
        logs = _eval(built, resolved, log_dir, max_samples, max_sandboxes)
    return SuiteResult(
        model=str(resolved),
        tasks=[result_from_log(log) for log in logs],
        duration_s=time.perf_counter() - started,
    )


def _eval(
    tasks: list[Task],
    model: Model,
    log_dir: str | None,
    max_samples: int | None,
    max_sandboxes: int | None,
) -> list[EvalLog]:
    return eval(
        tasks,
        model=model,
        log_dir=log_dir,
        max_samples=max_samples,
        max_sandboxes=max_sandboxes,
        display="none",
        log_level="warning",
        fail_on_error=False,
        score_display=False,
        # The suite is a pack too: its name, version and source digest go into every log.
        metadata={LOG_METADATA_KEY: suite_claim()},
    )
