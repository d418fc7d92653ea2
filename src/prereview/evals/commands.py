"""Command line of evaluations: run the suite here, keep the results and logs on the server."""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from prereview.core.client import (
    DEFAULT_SERVER,
    ApiClient,
    JsonOption,
    ServerOption,
    console,
    errors,
    escape,
    field,
    show,
)
from prereview.evals.packs.commands import packs
from prereview.evals.watch import GatewayWatch, run_in_background

if TYPE_CHECKING:
    from rich.progress import Progress as Bars

    from prereview.evals.runner import Progress

# The result schemas (pydantic), httpx and Inspect AI are imported inside the commands that use
# them, so that `prereview --help` stays fast.

evals = typer.Typer(help="Cyber-capability evaluations and their results.", no_args_is_help=True)
PIECE = 1 << 20
GATEWAY_KEY_ENV = "PREREVIEW_GATEWAY_KEY"
RESULT_COLUMNS = [
    ("result", field("id")),
    ("run", field("run")),
    ("task", field("task")),
    ("status", field("status")),
    ("kind", field("kind")),
    ("accuracy", field("accuracy")),
    ("stderr", field("stderr")),
    ("95% CI", field("ci")),
    ("samples", field("samples")),
    ("tokens", field("tokens.total")),
    ("seconds", field("duration_s")),
    ("variant seed", field("settings.variant_seed")),
    ("log", field("log.filename")),
]


def _finite(value: Any) -> Any:
    """JSON has no NaN: a metric Inspect could not compute (one sample's stderr) is None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items() if _finite(v) is not None}
    return value


def _payload(model: str, suite: Any, pack_id: str | None = None) -> dict[str, Any]:
    # Only the fields the API knows: the runner's summary may carry more than it stores.
    from prereview.evals.schemas import TaskResultIn

    known = set(TaskResultIn.model_fields)
    tasks = [{k: _finite(v) for k, v in asdict(t).items() if k in known} for t in suite.tasks]
    if pack_id:
        tasks = [t | {"pack_id": pack_id} for t in tasks]
    return {"model": model, "duration_s": suite.duration_s, "tasks": tasks}


def _rows(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for run in runs:
        for task in run["tasks"]:
            low, high = task["ci_lower"], task["ci_upper"]
            ci = f"[{low:.3f}, {high:.3f}]" if low is not None and high is not None else None
            accuracy = task["accuracy"]
            rows.append(
                task
                | {
                    "run": run["id"],
                    "ci": ci,
                    "accuracy": f"{accuracy:.3f}" if accuracy is not None else None,
                }
            )
            rows.extend(_group_rows(run["id"], task))
    return rows


def _group_rows(run_id: str, task: dict[str, Any]) -> list[dict[str, Any]]:
    """A row per derived tier and per category of a result, from the figures the server
    computed from its log (``metrics["tier/3/ci_lower"]``...)."""
    from prereview.evals.tiers import tier_label  # imports Inspect: only when rows are shown

    found: dict[tuple[str, str], dict[str, float]] = {}
    for key, value in (task.get("metrics") or {}).items():
        parts = key.split("/")
        if len(parts) == 3 and parts[0] in {"tier", "category"}:
            found.setdefault((parts[0], parts[1]), {})[parts[2]] = value
    rows = []
    for (group, member), figures in sorted(found.items()):
        low, high, accuracy = (figures.get(k) for k in ("ci_lower", "ci_upper", "accuracy"))
        name = tier_label(member) if group == "tier" else member
        rows.append(
            {
                "run": run_id,
                "task": f"  {task['task']} · {group} {name}",
                "accuracy": f"{accuracy:.3f}" if accuracy is not None else None,
                "stderr": figures.get("stderr"),
                "ci": f"[{low:.3f}, {high:.3f}]" if low is not None and high is not None else None,
                "samples": int(figures["samples"]) if "samples" in figures else None,
            }
        )
    return rows


def _upload_log(client: ApiClient, result_id: str, path: Path) -> None:
    client.upload_file(
        f"/eval-results/{result_id}/log",
        path,
        params={"filename": path.name},
        content_type="application/octet-stream",
    )


def _served_model(base_url: str, api_key: str) -> str:
    """The one model the gateway serves to this key (``GET /v1/models``)."""
    import httpx

    try:
        answer = httpx.get(
            f"{base_url.rstrip('/')}/models",
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=30,
        )
        answer.raise_for_status()
        return str(answer.json()["data"][0]["id"])
    except (httpx.HTTPError, ValueError, KeyError, IndexError) as exc:
        errors.print(
            f"[red]error:[/] the gateway at {base_url} did not name a model for this key "
            f"({exc.__class__.__name__}); check {GATEWAY_KEY_ENV}, or give --model"
        )
        raise typer.Exit(2) from None


@evals.command("run")
def run(
    submission: Annotated[str, typer.Option("--submission", help="The submission to evaluate.")],
    tasks: Annotated[
        str,
        typer.Option(
            help="Comma-separated tasks of the suite: ctf, vuln_discovery, patch (the intro "
            "tier, the default), realworld_exploit, realworld_discovery, realworld_patch (real "
            "CVEs in released libraries; `make task-cache` first), realworld_chain (two or "
            "three of those CVEs chained to one flag)."
        ),
    ] = "ctf,vuln_discovery,patch",
    epochs: Annotated[int, typer.Option(min=1, max=100, help="Attempts per sample.")] = 1,
    model: Annotated[
        str | None,
        typer.Option(help="Inspect model name; default the model the gateway serves your key."),
    ] = None,
    model_base_url: Annotated[
        str | None, typer.Option(help="Model endpoint; default the server's gateway.")
    ] = None,
    task_args: Annotated[
        str | None,
        typer.Option(help='Per-task arguments as JSON, e.g. {"ctf": {"categories": ["web"]}}.'),
    ] = None,
    max_samples: Annotated[
        int | None, typer.Option(min=1, help="Samples run at once, per task (Inspect's).")
    ] = None,
    max_sandboxes: Annotated[
        int | None,
        typer.Option(
            min=1, help="Sandboxes alive at once, per provider (Inspect's; bwrap: 4 per core)."
        ),
    ] = None,
    sandbox: Annotated[
        str,
        typer.Option(
            help="Sandbox provider of every task: bwrap (here), docker or k8s (with the "
            "compose file / Helm values the tasks declare)."
        ),
    ] = "bwrap",
    log_dir: Annotated[
        Path | None, typer.Option(help="Where Inspect writes its logs (kept).")
    ] = None,
    pack: Annotated[
        str | None,
        typer.Option(
            help="Run a private task pack (its id, or name@version) instead of the suite: it "
            "is downloaded, checked against its recorded SHA-256, then run (--tasks: its own)."
        ),
    ] = None,
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Run the suite against the submission's model through the gateway, then store the
    results and the encrypted Inspect logs on the server. The server recomputes every number
    from the logs; only runs of the gateway's model whose calls are in the gateway's audit
    trail are evidence, any other model's (--model) are calibration runs."""
    from prereview.evals.runner import UnisolatedSandbox, UnknownTask, run_suite
    from prereview.evals.sandbox.providers import PROVIDERS

    if sandbox not in PROVIDERS:
        errors.print(f"[red]error:[/] --sandbox must be one of {', '.join(PROVIDERS)}")
        raise typer.Exit(2)
    client = ApiClient(server, timeout=3600)
    # Fail before a long run if the submission is unknown or out of reach.
    client.get(f"/submissions/{submission}")
    names = [t.strip() for t in tasks.split(",") if t.strip()]
    try:
        arguments = json.loads(task_args) if task_args else None
    except json.JSONDecodeError as exc:
        errors.print(f"[red]error:[/] --task-args is not valid JSON: {exc}")
        raise typer.Exit(2) from None
    base_url = model_base_url or f"{client.server}/gateway/v1"
    api_key = os.environ.get(GATEWAY_KEY_ENV)
    if model is None and not api_key:
        errors.print(
            f"[red]error:[/] set {GATEWAY_KEY_ENV} to your gateway key (the model is reached "
            "through the audited gateway with your grant), or name another with --model"
        )
        raise typer.Exit(2)
    model_name = model or f"openai/{_served_model(base_url, api_key or '')}"
    target = log_dir or Path("logs") / submission
    watch = GatewayWatch()
    # Inspect's OpenAI provider takes the HTTP client: the gateway's 429s are read through it.
    model_args = {"http_client": watch.http_client()} if model_name.startswith("openai/") else None
    before = _logs_in(target)
    if pack is not None:
        chosen = None if tasks == "ctf,vuln_discovery,patch" else names
        stored = _run_pack(
            client,
            submission,
            pack,
            model_name,
            base_url,
            api_key,
            chosen,
            epochs,
            target,
            max_samples,
            model_args,
        )
        _report(client, submission, stored, as_json)
        return
    running = f"running {', '.join(names)} against {model_name} ... (Ctrl+C stops)"
    with SuiteProgress(running) as bars:
        try:
            suite = run_in_background(
                lambda: run_suite(
                    model_name,
                    base_url=base_url,
                    api_key=api_key,
                    tasks=names,
                    epochs=epochs,
                    task_args=arguments,
                    log_dir=str(target),
                    max_samples=max_samples,
                    max_sandboxes=max_sandboxes,
                    model_args=model_args,
                    sandbox=sandbox,
                    progress=bars.event,
                ),
                lambda: bars.tell(watch.status(running)),
            )
        except (UnknownTask, UnisolatedSandbox) as exc:
            bars.stop()
            errors.print(f"[red]error:[/] {escape(str(exc))}")
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            bars.stop()
            _stop(client, submission, target, before, as_json)
    stored = _store(client, submission, suite.model, suite.tasks, suite.duration_s)
    _report(client, submission, stored, as_json)


def _run_pack(
    client: ApiClient,
    submission: str,
    reference: str,
    model_name: str,
    base_url: str,
    api_key: str | None,
    tasks: list[str] | None,
    epochs: int,
    target: Path,
    max_samples: int | None,
    model_args: dict[str, Any] | None,
) -> Any:
    """Download the pack into a private folder, refuse it unless its bytes match the recorded
    SHA-256, run it, and store the run with its pack named on every task."""
    import tempfile

    from prereview.evals.packs.commands import fetch, resolve
    from prereview.evals.packs.errors import PackInvalid, PackTampered
    from prereview.evals.packs.runner import PackRef, run_pack
    from prereview.evals.runner import UnisolatedSandbox

    found = resolve(client, reference)
    ref = PackRef(found["id"], found["name"], found["version"], found["sha256"])
    with tempfile.TemporaryDirectory(prefix="prereview-pack-") as folder:
        path = Path(folder) / "pack.tar.gz"
        fetch(client, found, path)
        with console.status(f"running {ref.name}@{ref.version} against {model_name} ..."):
            try:
                suite = run_pack(
                    path,
                    ref,
                    model_name,
                    base_url=base_url,
                    api_key=api_key,
                    tasks=tasks,
                    epochs=epochs,
                    log_dir=str(target),
                    max_samples=max_samples,
                    model_args=model_args,
                )
            except (PackTampered, PackInvalid, UnisolatedSandbox) as exc:
                errors.print(f"[red]error:[/] {escape(exc.detail)}")
                raise typer.Exit(2) from None
    return _store(client, submission, suite.model, suite.tasks, suite.duration_s, found["id"])


class SuiteProgress:
    """A bar per task (samples done of samples, errors, time) under a status line, on the
    error console as the CLI's other bars. Without a terminal nothing is drawn: each task's
    start and end, and each change of the status line, is printed once instead."""

    def __init__(self, status: str) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.progress import Progress as Bars

        self.live = errors.is_terminal
        self.bars: Bars = Bars(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[note]}"),
            TimeElapsedColumn(),
            console=errors,
            disable=not self.live,
        )
        self.status = self.bars.add_task(status, total=None, note="")
        self.tasks: dict[str, Any] = {}  # eval id -> the bar's task id
        self.failed: dict[str, int] = {}
        self.told: list[str] = []

    def __enter__(self) -> SuiteProgress:
        self.bars.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop drawing (idempotent)."""
        self.bars.stop()

    def _print(self, text: str) -> None:
        errors.print(text, markup=False, highlight=False)

    def tell(self, text: str) -> None:
        """Show ``text`` as the status line (what the run is waiting on)."""
        if self.live:
            self.bars.update(self.status, description=text)
        elif not self.told or self.told[-1] != text:
            self.told.append(text)
            self._print(text)

    def event(self, step: Progress) -> None:
        """Take one step of the run (called from the run's thread)."""
        if step.kind == "task_start":
            self.tasks[step.eval_id] = self.bars.add_task(step.task, total=step.total, note="")
            self.failed[step.eval_id] = 0
            if not self.live:
                self._print(f"{step.task}: started, {step.total} samples")
        elif step.kind == "sample_end" and step.eval_id in self.tasks:
            if step.failed:
                self.failed[step.eval_id] += 1
            errors_seen = self.failed[step.eval_id]
            note = f"{errors_seen} failed" if errors_seen else ""
            self.bars.update(self.tasks[step.eval_id], advance=1, note=note)
        elif step.kind == "task_end" and step.eval_id in self.tasks:
            bar = self.bars.tasks[self.tasks[step.eval_id]]
            if not self.live:
                failed = self.failed[step.eval_id]
                self._print(
                    f"{step.task}: {'ended in an error' if step.failed else 'done'}, "
                    f"{bar.completed:.0f}/{bar.total or 0:.0f} samples"
                    + (f", {failed} failed" if failed else "")
                )


def _logs_in(folder: Path) -> set[Path]:
    return set(folder.glob("*.eval")) | set(folder.glob("*.json")) if folder.is_dir() else set()


def _finished(path: Path) -> bool:
    """Whether the Inspect log at ``path`` is of a task that ended (not one still running)."""
    from inspect_ai.log import read_eval_log

    try:
        return read_eval_log(str(path), header_only=True).status in {"success", "error"}
    except Exception:  # a log being written, or not a log: not a finished task
        return False


def _stop(
    client: ApiClient, submission: str, folder: Path, before: set[Path], as_json: bool
) -> None:
    """After Ctrl+C: upload the tasks of this run that finished, then end the process at
    once (the abandoned run's thread, its model calls and its sandboxes end with it)."""
    code = 130
    try:
        errors.print(
            "[yellow]stopped[/] (Ctrl+C): the tasks still running are abandoned; "
            "uploading those that finished"
        )
        finished = sorted(p for p in _logs_in(folder) - before if _finished(p))
        if finished:
            for stored in _store_logs(client, submission, finished):
                _report(client, submission, stored, as_json)
        else:
            errors.print("no task had finished: nothing was uploaded")
    except typer.Exit as exc:
        code = exc.exit_code or code
    finally:
        for stream in (console.file, errors.file, sys.stdout, sys.stderr):
            stream.flush()
        os._exit(code)


def _store(
    client: ApiClient,
    submission: str,
    model: str,
    results: list[Any],
    duration_s: float,
    pack_id: str | None = None,
) -> Any:
    """Store one run's task results, then upload each task's log: the one path by which
    ``eval run``, its Ctrl+C and ``eval upload`` give the server their results."""
    from prereview.evals.runner import SuiteResult

    suite = SuiteResult(model=model, tasks=results, duration_s=duration_s)
    stored = client.post(f"/submissions/{submission}/evals", _payload(model, suite, pack_id))
    for result, task in zip(stored["tasks"], results, strict=True):
        path = Path(task.log_path)
        if path.is_file():
            _upload_log(client, result["id"], path)
    return stored


def _store_logs(client: ApiClient, submission: str, paths: list[Path]) -> list[Any]:
    """Store the runs the Inspect logs at ``paths`` record, one run per model."""
    from inspect_ai.log import read_eval_log

    from prereview.evals.runner import result_from_log

    by_model: dict[str, list[Any]] = {}
    for path in paths:
        log = read_eval_log(str(path))
        by_model.setdefault(log.eval.model, []).append(result_from_log(log))
    return [
        _store(client, submission, model, results, sum(r.duration_s or 0 for r in results))
        for model, results in by_model.items()
    ]


def _report(client: ApiClient, submission: str, stored: Any, as_json: bool) -> None:
    runs = client.get_all(f"/submissions/{submission}/evals")
    mine = [r for r in runs if r["id"] == stored["id"]]
    for result in (t for r in mine for t in r["tasks"]):
        if result.get("kind") != "evidence":
            why = result.get("kind_reason") or "its log was not uploaded"
            errors.print(
                f"[yellow]note:[/] {escape(str(result['task']))} is a "
                f"{escape(str(result.get('kind')))} result, not evidence for a coverage "
                f"determination: {escape(str(why))}"
            )
    show(mine if as_json else _rows(mine), as_json, RESULT_COLUMNS, title=f"run {stored['id']}")


@evals.command("upload")
def upload(
    logs: Annotated[
        list[Path],
        typer.Argument(help="Inspect logs (.eval or .json) of the suite's tasks.", exists=True),
    ],
    submission: Annotated[str, typer.Option("--submission", help="The submission they judge.")],
    server: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Upload Inspect logs already on disk (a run stopped early, an eval set run elsewhere):
    each log's results and the log itself, as `eval run` does; one run per model."""
    from inspect_ai.log import read_eval_log

    client = ApiClient(server, timeout=3600)
    client.get(f"/submissions/{submission}")
    for path in logs:
        try:
            status = read_eval_log(str(path), header_only=True).status
        except Exception as exc:  # Inspect raises many kinds for a file that is not a log
            errors.print(f"[red]error:[/] {escape(str(path))} is not an Inspect log ({exc})")
            raise typer.Exit(2) from None
        if status not in {"success", "error"}:
            errors.print(
                f"[red]error:[/] {escape(str(path))} is the log of a task that did not finish "
                f"({escape(status)}); nothing was uploaded"
            )
            raise typer.Exit(2)
    for stored in _store_logs(client, submission, list(logs)):
        _report(client, submission, stored, as_json)


@evals.command("results")
def results(
    submission_id: str, server: ServerOption = DEFAULT_SERVER, as_json: JsonOption = False
) -> None:
    """Every stored result of a submission: metric, stderr, 95% CI, samples, tokens, log."""
    runs = ApiClient(server).get_all(f"/submissions/{submission_id}/evals")
    show(runs if as_json else _rows(runs), as_json, RESULT_COLUMNS)


@evals.command("log-download")
def log_download(
    result_id: str,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write.")] = None,
    server: ServerOption = DEFAULT_SERVER,
) -> None:
    """Download a task's Inspect log (open it with `inspect view`); its SHA-256 is checked."""
    client = ApiClient(server, timeout=3600)
    digest = hashlib.sha256()
    received = 0
    with client.stream("GET", f"/eval-results/{result_id}/log") as response:
        disposition = response.headers.get("content-disposition", "")
        named = (
            disposition.split('filename="', 1)[-1].rstrip('"') if "filename=" in disposition else ""
        )
        # Only the last path component of the stored name: a name never chooses the directory.
        target = output or Path(Path(named or f"{result_id}.eval").name)
        expected = response.headers.get("x-content-sha256", "")
        partial = target.with_name(target.name + ".partial")
        try:
            with partial.open("wb") as sink:
                for piece in response.iter_bytes(PIECE):
                    sink.write(piece)
                    digest.update(piece)
                    received += len(piece)
            if digest.hexdigest() != expected:
                errors.print("[red]error:[/] the transfer was damaged; nothing was written")
                raise typer.Exit(1)
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
    console.print(f"{target} ({received} bytes, sha256 {expected} verified)", markup=False)


evals.add_typer(packs, name="pack")


def register(app: typer.Typer) -> None:
    app.add_typer(evals, name="eval")
