"""HTTP routes of evaluation results: thin, they parse, call the service and shape the answer."""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Query, Request, status
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from prereview.authz.permissions import Permission, route_permission
from prereview.authz.request import DB, CurrentActor
from prereview.core.context import get_context
from prereview.core.filenames import content_disposition
from prereview.core.streaming import body_pieces
from prereview.evals import service
from prereview.evals.models import EvalRun, EvalTaskResult
from prereview.evals.schemas import EvalLogOut, EvalRunCreate, EvalRunOut, TaskResultOut
from prereview.review.routes import Now
from prereview.vault.deps import VaultDep

router = APIRouter(tags=["evals"])
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
    openapi_extra=route_permission(Permission.EVAL_RUN_CREATE),
)
def record_run(
    submission_id: str, data: EvalRunCreate, db: DB, actor: CurrentActor, at: Now
) -> EvalRunOut:
    """Store the per-task results of a run of the suite (``prereview eval run`` sends them)."""
    return run_out(service.record_run(db, actor, submission_id, data, at.now, at.rules))


@router.get(
    "/submissions/{submission_id}/evals",
    response_model=list[EvalRunOut],
    openapi_extra=route_permission(Permission.EVAL_RESULT_READ),
)
def list_runs(submission_id: str, db: DB, actor: CurrentActor, at: Now) -> list[EvalRunOut]:
    return [run_out(r) for r in service.list_runs(db, actor, submission_id, at.now, at.rules)]


@router.post(
    "/eval-results/{result_id}/log",
    status_code=status.HTTP_201_CREATED,
    response_model=TaskResultOut,
    openapi_extra=route_permission(Permission.EVAL_LOG_CREATE) | _BINARY_BODY,
)
async def upload_log(
    request: Request,
    result_id: str,
    db: DB,
    actor: CurrentActor,
    vault: VaultDep,
    at: Now,
    filename: LogName,
) -> TaskResultOut:
    """Upload a task's Inspect log as the raw request body; it is encrypted as it streams in,
    then read back and parsed: the result's numbers are recomputed from it, and it is marked
    evidence or calibration."""
    plan = await run_in_threadpool(
        service.plan_log_upload, db, actor, result_id, filename, at.now, at.rules
    )
    chunks = body_pieces(request)

    limit = get_context(request).settings.max_material_bytes
    stored = await to_thread.run_sync(
        lambda: service.stream_log(db, vault, plan, chunks, limit, at.now)
    )
    found = await to_thread.run_sync(
        lambda: service.read_stored_log(db, vault, plan, limit, at.now)
    )
    result = await run_in_threadpool(
        service.finish_log_upload, db, vault, actor, plan, stored, found, at.now
    )
    return result_out(result)


@router.get(
    "/eval-results/{result_id}/log",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
    openapi_extra=route_permission(Permission.EVAL_LOG_DOWNLOAD),
)
def download_log(
    result_id: str, db: DB, actor: CurrentActor, vault: VaultDep, at: Now
) -> StreamingResponse:
    """The decrypted Inspect log, verified chunk by chunk; it opens with ``inspect view``.
    The developer receives a redacted copy (no flags, targets, solutions or ground truth)."""
    log = service.open_log(db, vault, actor, result_id, at.now, at.rules)
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
