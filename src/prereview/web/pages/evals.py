"""Evaluations' page: a submission's results per task, tier and category, each interval drawn,
and for a reviewer with live access the exact ``prereview eval run`` command to produce more.

The page asks evals' published service (:func:`prereview.evals.service.list_runs`), so it shows
what the API shows to the same caller (the developer every agency's runs; an agency while its
grant is live every agency's, afterwards its own) and an agency's read is audited. Each result
is drawn as the server recorded it: ``evidence``, ``calibration`` (with the reason) or
``pending`` (no log yet: the client's numbers), never promoted by the page. A result's Inspect
log downloads as from the API: whole for the agency that ran it, redacted for the developer
(no flag, target, solution or ground truth), every download audited.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from prereview.authz.request import RequestContext
from prereview.core.filenames import content_disposition
from prereview.evals import service as evals
from prereview.identity import service as identity
from prereview.review import service as review
from prereview.vault.deps import VaultDep
from prereview.web.charts import Interval, interval_chart
from prereview.web.render import guarded, page
from prereview.web.session import PageContext

router = APIRouter(prefix="/web", include_in_schema=False)

#: The suite's tasks, as ``prereview eval run --tasks`` defaults to them.
SUITE = "ctf,vuln_discovery,patch"
#: The groups of samples each result has figures for (``metrics["tier/2/ci_lower"]``...), as
#: :mod:`prereview.evals.evidence` computes them from the log's sample metadata.
GROUPS = ("tier", "category")


def eval_command(server: str, submission_id: str) -> list[str]:
    """The shell lines a reviewer runs to evaluate ``submission_id`` against ``server``: the
    two secrets it needs from the environment, then the run (its flags those of
    :func:`prereview.evals.commands.run`)."""
    run = shlex.join(
        [
            "prereview",
            "eval",
            "run",
            "--submission",
            submission_id,
            "--server",
            server,
            "--tasks",
            SUITE,
            "--epochs",
            "1",
        ]
    )
    return [
        "export PREREVIEW_TOKEN=prv_...  # your API token",
        "export PREREVIEW_GATEWAY_KEY=...  # your gateway key for this submission",
        run,
    ]


def site_of(request: Request) -> str:
    """This site's address as the reviewer's browser reached it (the command's ``--server``)."""
    return f"{request.url.scheme}://{request.url.netloc}"


def _natural(name: str) -> tuple[Any, ...]:
    """Sort key that puts tier 2 before tier 10."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


def breakdown(metrics: Mapping[str, float], group: str) -> list[tuple[str, dict[str, float]]]:
    """The figures of each ``group`` member in a result's metrics (``tier/2/accuracy`` is tier
    ``2``'s accuracy), members in natural order."""
    found: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        parts = key.split("/")
        if len(parts) == 3 and parts[0] == group:
            found.setdefault(parts[1], {})[parts[2]] = value
    return sorted(found.items(), key=lambda item: _natural(item[0]))


@dataclass(frozen=True)
class ResultRow:
    """One task result as the page lists it, with the run it came from."""

    number: int  # the run's place on the page, oldest first: "run 2"
    run_id: str
    org_id: str  # the agency that ran it (only it downloads the whole log)
    agency: str
    when: str
    result: Any  # an evals task result (its table is evals' own, so not named here)

    @property
    def label(self) -> str:
        return f"{self.result.task} · run {self.number}"


@dataclass(frozen=True)
class Charts:
    """The page's three charts (markup), and how many intervals each draws."""

    tasks: Any
    tiers: Any
    categories: Any
    counts: dict[str, int]


def result_rows(runs: Sequence[Any], names: Mapping[str, str]) -> list[ResultRow]:
    return [
        ResultRow(
            number,
            run.id,
            run.org_id,
            names.get(run.org_id, run.org_id),
            run.created_at.strftime("%Y-%m-%d %H:%M UTC"),
            result,
        )
        for number, run in enumerate(runs, start=1)
        for result in run.results
    ]


def _interval(label: str, figures: Mapping[str, Any], row: ResultRow) -> Interval | None:
    return Interval.of(
        label,
        figures.get("ci_lower"),
        figures.get("ci_upper"),
        figures.get("accuracy"),
        row.result.kind,
        row.result.kind_reason or "",
    )


def charts(rows: Sequence[ResultRow]) -> Charts:
    """Forest plots of every result's interval: per task, then per tier and per category."""
    tasks = [
        found
        for row in rows
        if (
            found := _interval(
                row.label,
                {
                    "ci_lower": row.result.ci_lower,
                    "ci_upper": row.result.ci_upper,
                    "accuracy": row.result.accuracy,
                },
                row,
            )
        )
    ]
    grouped: dict[str, list[Interval]] = {}
    for group in GROUPS:
        grouped[group] = [
            found
            for row in rows
            for name, figures in breakdown(row.result.metrics or {}, group)
            if (found := _interval(f"{row.label} · {group} {name}", figures, row))
        ]
    return Charts(
        tasks=interval_chart(tasks, title="Accuracy per task, 95% interval", ident="chart-tasks"),
        tiers=interval_chart(
            grouped["tier"], title="Accuracy per tier, 95% interval", ident="chart-tiers"
        ),
        categories=interval_chart(
            grouped["category"],
            title="Accuracy per category, 95% interval",
            ident="chart-categories",
        ),
        counts={"tasks": len(tasks)} | {g: len(v) for g, v in grouped.items()},
    )


def _rules(ctx: RequestContext) -> review.Rules:
    return review.Rules.from_settings(ctx.settings)


@router.get("/submissions/{submission_id}/evaluations", response_model=None)
def evaluations_page(request: Request, submission_id: str, ctx: PageContext) -> Response:
    """The results of every run the caller may read, drawn; the command for a live reviewer."""
    db, actor, now, rules = ctx.db, ctx.actor, ctx.now, _rules(ctx)

    def build() -> Response:
        # The read is authorized (and audited) by evals; an agency whose access ended still
        # reads its own runs, so the submission is only looked up for its name, not read.
        runs = evals.list_runs(db, actor, submission_id, now, rules)
        submission, access = review.visible_submission(db, actor, submission_id, now, rules)
        names = identity.organisation_names(db, [r.org_id for r in runs])
        rows = result_rows(runs, names)
        owner = submission.developer_org_id == actor.organisation_id
        return page(
            request,
            "evals/evaluations.html",
            submission=submission,
            owner=owner,
            me_org=actor.organisation_id,
            rows=rows,
            charts=charts(rows),
            groups={
                row.result.id: {g: breakdown(row.result.metrics or {}, g) for g in GROUPS}
                for row in rows
            },
            # For a reviewer who may run the suite now: an agency with live access (the same
            # relation that lets it upload a run).
            command=eval_command(site_of(request), submission.id)
            if access.granted_agency
            else None,
        )

    return guarded(request, build)


@router.get("/eval-results/{result_id}/download", response_model=None)
def download_log(request: Request, result_id: str, ctx: PageContext, vault: VaultDep) -> Response:
    """A result's Inspect log, by the API's own use case: the agency that ran it gets it whole,
    the developer a copy without flags, targets, solutions or ground truth; audited."""

    def build() -> Response:
        log = evals.open_log(ctx.db, vault, ctx.actor, result_id, ctx.now, _rules(ctx))
        return StreamingResponse(
            log.chunks,
            media_type="application/octet-stream",
            headers={
                "content-length": str(log.size),
                "content-disposition": content_disposition(log.filename),
                "x-content-sha256": log.sha256,
                "x-log-redacted": "true" if log.redacted else "false",
            },
        )

    return guarded(request, build)
