"""HTTP routes of evaluation results: thin, they parse, call the service and shape the answer."""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from prereview.authz.request import Context
from prereview.authz.usecase import exercises
from prereview.core.filenames import content_disposition
from prereview.core.pagination import Page, PageRequest, page_of_list, page_request
from prereview.core.streaming import body_pieces
from prereview.evals import service
from prereview.evals.models import EvalRun, EvalTaskResult
from prereview.evals.schemas import EvalLogOut, EvalRunCreate, EvalRunOut, TaskResultOut
from prereview.review.service import Rules
from prereview.vault.deps import VaultDep

router = APIRouter(tags=["evals"])
Paging = Annotated[PageRequest, Depends(page_request)]
LogName = Annotated[str, Query(min_length=1, max_length=255, pattern=r"^[^/\\\x00-\x1f]+$")]
_BINARY_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def result_out(result: EvalTaskResult) -> TaskResultOut:
    log = (
        EvalLogOut(
            filename=result.log_filename,
            size=result.log_size,
            sha256=result.log_sha256,
            uploaded_at=result.log_uploaded_at,
        )
        if result.log_filename
        and result.log_size is not None
        and result.log_sha256
        and result.log_uploaded_at
        else None
    )
    return TaskResultOut(
        id=result.id,
        task=result.task,
        status=result.status,
        accuracy=result.accuracy,
        stderr=result.stderr,
        ci_lower=result.ci_lower,
        ci_upper=result.ci_upper,
        pass_at_k=result.pass_at_k,
        metrics=result.metrics,
        samples=result.samples,
        scored=result.scored,
        failed_samples=result.failed_samples,
        tokens=result.tokens,
        settings=result.settings,
        duration_s=result.duration_s,
        error=result.error,
        log=log,
        kind=result.kind,
        kind_reason=result.kind_reason,
        suite_version=result.suite_version,
        config_sha256=result.config_sha256,
        clusters=result.clusters,
        model_calls=result.model_calls,
        log_model=result.log_model,
        pack=result.pack_name,
        pack_version=result.pack_version,
        pack_sha256=result.pack_sha256,
    )


def run_out(run: EvalRun) -> EvalRunOut:
    return EvalRunOut(
        id=run.id,
        submission_id=run.submission_id,
        org_id=run.org_id,
        model=run.model,
        duration_s=run.duration_s,
        created_at=run.created_at,
        tasks=[result_out(r) for r in run.results],
    )


@router.post(
    "/submissions/{submission_id}/evals",
    status_code=status.HTTP_201_CREATED,
    response_model=EvalRunOut,
    openapi_extra=exercises(service.record_run),
)
def record_run(submission_id: str, data: EvalRunCreate, ctx: Context) -> EvalRunOut:
    """Store the per-task results of a run of the suite (``prereview eval run`` sends them)."""
    rules = Rules.from_settings(ctx.settings)
    return run_out(service.record_run(ctx.db, ctx.actor, submission_id, data, ctx.now, rules))


@router.get(
    "/submissions/{submission_id}/evals",
    response_model=Page[EvalRunOut],
    openapi_extra=exercises(service.list_runs),
)
def list_runs(submission_id: str, ctx: Context, page: Paging) -> Page[EvalRunOut]:
    rules = Rules.from_settings(ctx.settings)
    runs = service.list_runs(ctx.db, ctx.actor, submission_id, ctx.now, rules)
    return page_of_list([run_out(r) for r in runs], page)


@router.post(
    "/eval-results/{result_id}/log",
    status_code=status.HTTP_201_CREATED,
    response_model=TaskResultOut,
    openapi_extra=exercises(service.plan_log_upload) | _BINARY_BODY,
)
async def upload_log(
    request: Request, result_id: str, ctx: Context, vault: VaultDep, filename: LogName
) -> TaskResultOut:
    """Upload a task's Inspect log as the raw request body; it is encrypted as it streams in,
    then read back and parsed: the result's numbers are recomputed from it, and it is marked
    evidence or calibration."""
    db, now, rules = ctx.db, ctx.now, Rules.from_settings(ctx.settings)
    plan = await run_in_threadpool(
        service.plan_log_upload, db, ctx.actor, result_id, filename, now, rules
    )
    chunks = body_pieces(request)

    limit = ctx.settings.max_material_bytes
    stored = await to_thread.run_sync(service.stream_log, db, vault, plan, chunks, limit, now)
    found = await to_thread.run_sync(service.read_stored_log, db, vault, plan, limit, now)
    result = await run_in_threadpool(
        service.finish_log_upload, db, vault, ctx.actor, plan, stored, found, now
    )
    return result_out(result)


@router.get(
    "/eval-results/{result_id}/log",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
    openapi_extra=exercises(service.open_log),
)
def download_log(result_id: str, ctx: Context, vault: VaultDep) -> StreamingResponse:
    """The decrypted Inspect log, verified chunk by chunk; it opens with ``inspect view``.
    The developer receives a redacted copy (no flags, targets, solutions or ground truth)."""
    rules = Rules.from_settings(ctx.settings)
    log = service.open_log(ctx.db, vault, ctx.actor, result_id, ctx.now, rules)
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
