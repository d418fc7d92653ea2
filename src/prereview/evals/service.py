"""Use cases of evaluation results: record a run, add its Inspect logs, read and download them.

The suite runs on the reviewer's machine (``prereview eval run``); the server keeps what it
produced: one row per task with the metric, its stderr and 95% interval, samples, tokens,
elicitation settings and duration, and each task's ``.eval`` log encrypted in the vault under
the submission's data key, so a withdrawal shreds the logs with the materials.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from prereview.audit import service as audit
from prereview.core.errors import NotFound
from prereview.core.ids import new_id
from prereview.evals import errors
from prereview.evals.models import EvalRun, EvalTaskResult
from prereview.evals.schemas import EvalRunCreate
from prereview.identity.actor import Actor
from prereview.identity.permissions import Permission
from prereview.identity.policy import Access, allowed, authorize
from prereview.review.service import Rules, _visible
from prereview.vault import service as vault_service
from prereview.vault.errors import KeyShredded
from prereview.vault.service import Vault, submission_context

# What the first bytes of an Inspect log are: a zip (.eval) or a JSON document (.json).
LOG_SUFFIXES = {".eval": (b"PK\x03\x04",), ".json": (b"{", b"\n", b" ", b"\r", b"\t")}


@dataclass(frozen=True)
class ResultSummary:
    """A stored task result, for other capabilities (coverage reads these as evidence)."""

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
    created_at: datetime


@dataclass(frozen=True)
class LogPlan:
    """A log upload that was authorized and is about to stream."""

    result_id: str
    submission_id: str
    context: str
    filename: str


def record_run(
    db: Session, actor: Actor, submission_id: str, data: EvalRunCreate, now: datetime, rules: Rules
) -> EvalRun:
    """Store the per-task results of one run; only an agency with a live grant may."""
    submission, access = _visible(db, actor, submission_id, now, rules)
    authorize(actor, Permission.EVAL_RUN_CREATE, access)
    run = EvalRun(
        id=new_id("run"),
        submission_id=submission.id,
        org_id=actor.organisation_id,
        user_id=actor.user_id,
        model=data.model,
        duration_s=data.duration_s,
        created_at=now,
    )
    db.add(run)
    for position, task in enumerate(data.tasks):
        db.add(
            EvalTaskResult(
                id=new_id("evr"),
                run_id=run.id,
                submission_id=submission.id,
                position=position,
                log_filename=None,
                log_size=None,
                log_sha256=None,
                log_uploaded_at=None,
                **task.model_dump(),
            )
        )
    db.flush()
    audit.record(
        db,
        actor=actor,
        action=Permission.EVAL_RUN_CREATE,
        object_type="eval_run",
        object_id=run.id,
        submission_id=submission.id,
        at=now,
        detail={
            "model": data.model,
            "tasks": [
                {
                    "task": t.task,
                    "status": t.status,
                    "accuracy": t.accuracy,
                    "ci": [t.ci_lower, t.ci_upper],
                }
                for t in data.tasks
            ],
        },
    )
    db.commit()
    db.refresh(run)
    return run


def list_runs(
    db: Session, actor: Actor, submission_id: str, now: datetime, rules: Rules
) -> Sequence[EvalRun]:
    """The runs on the submission the actor may read: all of them for its developer and for
    agencies with a live grant; once an agency's access has ended, its own runs only (never
    another agency's). An agency's read is audited."""
    submission, access = _visible(db, actor, submission_id, now, rules)
    # May the actor read any run at all (its own, at least)? Then each run is checked.
    authorize(actor, Permission.EVAL_RESULT_READ, replace(access, author=True))
    query = (
        select(EvalRun)
        .where(EvalRun.submission_id == submission.id)
        .options(selectinload(EvalRun.results))
        .order_by(EvalRun.created_at, EvalRun.id)
    )
    if not allowed(actor, Permission.EVAL_RESULT_READ, access):
        query = query.where(EvalRun.org_id == actor.organisation_id)
    runs = db.scalars(query).all()
    if not access.owner and runs:
        audit.record(
            db,
            actor=actor,
            action=Permission.EVAL_RESULT_READ,
            object_type="eval_run",
            object_id=None,
            submission_id=submission.id,
            at=now,
            detail={"run_ids": [r.id for r in runs]},
        )
        db.commit()
    return runs


def _authorized(
    db: Session, actor: Actor, result_id: str, permission: Permission, now: datetime, rules: Rules
) -> EvalTaskResult:
    result = db.get(EvalTaskResult, result_id)
    if result is None:
        raise errors.EvalResultNotFound(f"no evaluation result '{result_id}'")
    try:
        _, access = _visible(db, actor, result.submission_id, now, rules)
    except NotFound:
        raise errors.EvalResultNotFound(f"no evaluation result '{result_id}'") from None
    authorize(
        actor,
        permission,
        Access(
            owner=access.owner,
            granted_agency=access.granted_agency,
            had_access=access.had_access,
            author=result.run.org_id == actor.organisation_id,
        ),
    )
    return result


def plan_log_upload(
    db: Session, actor: Actor, result_id: str, filename: str, now: datetime, rules: Rules
) -> LogPlan:
    """Authorize a log upload before any byte is read: the run's own agency, grant live."""
    result = _authorized(db, actor, result_id, Permission.EVAL_LOG_CREATE, now, rules)
    if not any(filename.endswith(suffix) for suffix in LOG_SUFFIXES):
        raise errors.EvalLogNotInspect(
            "an Inspect log is named *.eval (or *.json for the older format)"
        )
    if result.log_sha256 is not None:
        raise errors.EvalLogExists("this result already has its log; logs are never replaced")
    db.commit()  # end the read: nothing may stay open while the body streams
    return LogPlan(
        result.id, result.submission_id, submission_context(result.submission_id), filename
    )


def stream_log(
    db: Session, vault: Vault, plan: LogPlan, chunks: Iterable[bytes], limit: int, now: datetime
) -> vault_service.StoredBlob:
    """Encrypt the log into the vault as it arrives, checking it looks like an Inspect log.

    No transaction is held while the body streams; :func:`finish_log_upload` records it."""
    prefixes = next(p for s, p in LOG_SUFFIXES.items() if plan.filename.endswith(s))

    def checked() -> Iterator[bytes]:
        seen = 0
        for chunk in chunks:
            if seen == 0 and chunk and not chunk.startswith(prefixes):
                raise errors.EvalLogNotInspect(
                    f"'{plan.filename}' does not start like an Inspect log of its kind"
                )
            seen += len(chunk)
            if seen > limit:
                raise errors.EvalLogTooLarge(f"logs are limited to {limit} bytes on this server")
            yield chunk

    stored = vault_service.stream_blob(db, vault, plan.context, plan.result_id, checked(), now)
    if stored.size == 0:
        vault_service.delete_blob(vault, plan.context, plan.result_id)
        raise errors.EvalLogEmpty("the upload was empty; send the log's bytes as the body")
    return stored


def finish_log_upload(
    db: Session,
    vault: Vault,
    actor: Actor,
    plan: LogPlan,
    stored: vault_service.StoredBlob,
    now: datetime,
) -> EvalTaskResult:
    """Record the log on its result, with its audit entry, in one short transaction; if that
    fails, the blob goes too. A withdrawal that committed while the log streamed wins."""
    with vault_service.recording_blob(db, vault, plan.context, plan.result_id):
        if not vault_service.key_is_live(db, plan.context):
            raise KeyShredded("the submission was withdrawn; its logs can no longer be stored")
        result = db.get(EvalTaskResult, plan.result_id)
        assert result is not None
        result.log_filename = plan.filename
        result.log_size = stored.size
        result.log_sha256 = stored.sha256
        result.log_uploaded_at = now
        audit.record(
            db,
            actor=actor,
            action=Permission.EVAL_LOG_CREATE,
            object_type="eval_result",
            object_id=result.id,
            submission_id=plan.submission_id,
            at=now,
            detail={"filename": plan.filename, "size": stored.size, "sha256": stored.sha256},
        )
        db.commit()
    return result


def open_log(
    db: Session, vault: Vault, actor: Actor, result_id: str, now: datetime, rules: Rules
) -> tuple[EvalTaskResult, Iterator[bytes]]:
    """Authorize, audit, then hand out the decrypted log (it opens with ``inspect view``)."""
    result = _authorized(db, actor, result_id, Permission.EVAL_LOG_DOWNLOAD, now, rules)
    if result.log_sha256 is None:
        raise errors.EvalLogMissing("the log of this result was not uploaded")
    chunks = vault_service.open_blob(
        db, vault, submission_context(result.submission_id), result.id, now
    )
    audit.record(
        db,
        actor=actor,
        action=Permission.EVAL_LOG_DOWNLOAD,
        object_type="eval_result",
        object_id=result.id,
        submission_id=result.submission_id,
        at=now,
        detail={"filename": result.log_filename, "sha256": result.log_sha256},
    )
    db.commit()
    return result, chunks


def results_for(db: Session, submission_id: str, run_by: str | None = None) -> list[ResultSummary]:
    """Every stored task result of a submission (or only those of runs by the organisation
    ``run_by``), oldest first. The caller has authorized."""
    query = (
        select(EvalTaskResult, EvalRun.model, EvalRun.created_at)
        .join(EvalRun, EvalRun.id == EvalTaskResult.run_id)
        .where(EvalTaskResult.submission_id == submission_id)
        .order_by(EvalRun.created_at, EvalRun.id, EvalTaskResult.position)
    )
    if run_by is not None:
        query = query.where(EvalRun.org_id == run_by)
    rows = db.execute(query).all()
    return [
        ResultSummary(
            result_id=r.id,
            run_id=r.run_id,
            task=r.task,
            status=r.status,
            model=model,
            samples=r.samples,
            accuracy=r.accuracy,
            stderr=r.stderr,
            ci_lower=r.ci_lower,
            ci_upper=r.ci_upper,
            metrics=dict(r.metrics),
            pass_at_k=dict(r.pass_at_k),
            created_at=created_at,
        )
        for r, model, created_at in rows
    ]
