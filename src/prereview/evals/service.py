"""Use cases of evaluation results: record a run, add its Inspect logs, read and download them.

The suite runs on the reviewer's machine (``prereview eval run``); the server keeps what it
produced: one row per task, and each task's ``.eval`` log encrypted in the vault under the
submission's data key, so a withdrawal shreds the logs with the materials.

The numbers are the server's, not the client's. A result is ``pending`` (never evidence) until
its log arrives; the server then reads the log with Inspect's reader and recomputes every
number (:mod:`prereview.evals.evidence`); numbers the client posted are only compared, and a
mismatch is a 422. The result is ``evidence`` only when the log's model is the submission's
gateway model reached through the gateway, and the gateway's audit trail holds enough calls
by the uploading agency's keys in the log's time span, with the tokens to match; anything else
(the scripted or guesser models, another endpoint) is stored as ``calibration``, with the
reason (:mod:`prereview.evals.provenance`). The developer downloads a redacted copy of a log
(no flag, target, solution or ground truth); the agency keeps the full log.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from prereview.audit.usecase import commit_audited, reach
from prereview.authz.actor import Actor
from prereview.authz.permissions import Permission
from prereview.authz.policy import Access, allowed
from prereview.authz.usecase import use_case
from prereview.core.ids import new_id
from prereview.evals import errors, evidence
from prereview.evals.evidence import Recomputed
from prereview.evals.models import EvalRun, EvalTaskResult
from prereview.evals.packs import service as packs
from prereview.evals.provenance import EVIDENCE, PENDING, classify
from prereview.evals.schemas import EvalRunCreate
from prereview.evals.scoring import Z95 as Z95
from prereview.evals.scoring import wilson_interval as wilson_interval
from prereview.review.service import (
    Rules,
    access_to,
    knows_of,
    load_submission,
    reach_submission,
)
from prereview.vault import service as vault_service
from prereview.vault.errors import KeyShredded
from prereview.vault.service import Vault, submission_key_context

# What the first bytes of an Inspect log are: a zip (.eval) or a JSON document (.json).
LOG_SUFFIXES = {".eval": (b"PK\x03\x04",), ".json": (b"{", b"\n", b" ", b"\r", b"\t")}

#: A .eval log is a zip; what it may expand to, as a multiple of the upload limit.
EXPANSION_FACTOR = 8


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
    org_id: str = ""
    kind: str = PENDING
    clusters: int = 0
    pack: str | None = None  # the pack's name (the built-in suite's is ``prereview-suite``)
    pack_version: str | None = None
    pack_sha256: str | None = None


@dataclass(frozen=True)
class LogPlan:
    """A log upload that was authorized and is about to stream."""

    result_id: str
    submission_id: str
    context: str
    filename: str


class SubmissionRef(Protocol):
    """What evals and coverage read of the submission a use case acts on. The table is
    review's: other capabilities see a submission only through review's published loaders."""

    @property
    def id(self) -> str: ...

    @property
    def training_compute_flop(self) -> float | None: ...


@use_case(Permission.EVAL_RUN_CREATE, also=(Permission.EVAL_PACK_READ,))
def record_run(
    db: Session, actor: Actor, submission_id: str, data: EvalRunCreate, now: datetime, rules: Rules
) -> EvalRun:
    """Store the per-task results of one run; only an agency with a live grant may."""
    submission, _ = reach_submission(
        db, actor, submission_id, Permission.EVAL_RUN_CREATE, now, rules
    )
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
    # A private pack's task: the agency must be able to read the pack now. The audit entry
    # (which the developer reads) names the pack, never its task.
    logged: list[str] = []
    for position, task in enumerate(data.tasks):
        pack = packs.usable_pack(db, actor, task.pack_id, now) if task.pack_id else None
        logged.append(pack.name if pack else task.task)
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
                kind=PENDING,
                pack_name=pack.name if pack else None,
                pack_version=pack.version if pack else None,
                pack_sha256=pack.sha256 if pack else None,
                **task.model_dump(),
            )
        )
    db.flush()
    commit_audited(
        db,
        actor,
        Permission.EVAL_RUN_CREATE,
        object_type="eval_run",
        object_id=run.id,
        submission_id=submission.id,
        at=now,
        detail={
            "model": data.model,
            "tasks": [
                {
                    "task": name,
                    "status": t.status,
                    "accuracy": t.accuracy,
                    "ci": [t.ci_lower, t.ci_upper],
                }
                for t, name in zip(data.tasks, logged, strict=True)
            ],
        },
    )
    db.refresh(run)
    return run


@use_case(Permission.EVAL_RESULT_READ, also=(Permission.EVAL_PACK_READ,))
def list_runs(
    db: Session, actor: Actor, submission_id: str, now: datetime, rules: Rules
) -> Sequence[EvalRun]:
    """The runs on the submission the actor may read: all of them for its developer and for
    agencies with a live grant; once an agency's access has ended, its own runs only (never
    another agency's). An agency's read is audited. Of a private pack's results, whoever may
    not read the pack (the developer, another agency) sees the pack's name and the scores."""
    # May the actor read any run at all (its own, at least)? Then each run is checked.
    submission, own = reach_submission(
        db,
        actor,
        submission_id,
        Permission.EVAL_RESULT_READ,
        now,
        rules,
        checked=lambda access: replace(access, author=True),
    )
    access = replace(own, author=False)
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
        commit_audited(
            db,
            actor,
            Permission.EVAL_RESULT_READ,
            object_type="eval_run",
            object_id=None,
            submission_id=submission.id,
            at=now,
            detail={"run_ids": [r.id for r in runs]},
        )
    results = [result for run in runs for result in run.results]
    return packs.withhold_details(runs, packs.hidden_pack_results(db, actor, results, now))


def _reach_result(
    db: Session, actor: Actor, result_id: str, permission: Permission, now: datetime, rules: Rules
) -> tuple[EvalTaskResult, Access]:
    """A task result, hidden like its submission; the agency that ran it is its author."""

    def relation(result: EvalTaskResult) -> Access:
        access = access_to(db, actor, load_submission(db, result.submission_id), now, rules)
        return Access(
            owner=access.owner,
            granted_agency=access.granted_agency,
            had_access=access.had_access,
            author=result.run.org_id == actor.organisation_id,
        )

    return reach(
        actor,
        permission,
        db.get(EvalTaskResult, result_id),
        relation,
        hidden=lambda: errors.EvalResultNotFound(f"no evaluation result '{result_id}'"),
        knows=knows_of,
    )


@use_case(Permission.EVAL_LOG_CREATE)
def plan_log_upload(
    db: Session, actor: Actor, result_id: str, filename: str, now: datetime, rules: Rules
) -> LogPlan:
    """Authorize a log upload before any byte is read: the run's own agency, grant live."""
    result, _ = _reach_result(db, actor, result_id, Permission.EVAL_LOG_CREATE, now, rules)
    if not any(filename.endswith(suffix) for suffix in LOG_SUFFIXES):
        raise errors.EvalLogNotInspect(
            "an Inspect log is named *.eval (or *.json for the older format)"
        )
    if result.log_sha256 is not None:
        raise errors.EvalLogExists("this result already has its log; logs are never replaced")
    db.commit()  # end the read: nothing may stay open while the body streams
    return LogPlan(
        result.id, result.submission_id, submission_key_context(result.submission_id), filename
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


def _check_expansion(path: Path, limit: int) -> None:
    """A zip may expand to far more than it weighs: refuse what would not fit in memory."""
    try:
        with zipfile.ZipFile(path) as archive:
            expanded = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise evidence.EvalLogUnreadable("this .eval log is not a readable zip archive") from None
    if expanded > limit:
        raise errors.EvalLogTooLarge(
            f"this log expands to {expanded} bytes; logs may expand to {limit} bytes here"
        )


def read_stored_log(
    db: Session, vault: Vault, plan: LogPlan, limit: int, now: datetime
) -> Recomputed:
    """Read the stored log back (decrypted to a private temporary file, expansion capped),
    parse it with Inspect's reader and recompute its numbers. No transaction is held while
    it parses. If the log cannot be read, the blob goes and the answer is a 422."""
    try:
        with tempfile.TemporaryDirectory(prefix="prereview-log-") as folder:
            path = Path(folder) / ("log" + Path(plan.filename).suffix)
            chunks = vault_service.open_blob(db, vault, plan.context, plan.result_id, now)
            db.rollback()  # the data key is read; nothing stays open while it parses
            with path.open("wb") as sink:
                for chunk in chunks:
                    sink.write(chunk)
            if path.suffix == ".eval":
                _check_expansion(path, limit * EXPANSION_FACTOR)
            return evidence.recompute(evidence.read_log(path))
    except BaseException:
        db.rollback()
        vault_service.delete_blob(vault, plan.context, plan.result_id)
        raise


def finish_log_upload(
    db: Session,
    vault: Vault,
    actor: Actor,
    plan: LogPlan,
    stored: vault_service.StoredBlob,
    found: Recomputed,
    now: datetime,
) -> EvalTaskResult:
    """Record the log on its result with the numbers recomputed from it, its kind and its
    audit entry, in one short transaction; if that fails (a posted number disagrees with the
    log: 422), the blob goes too. A withdrawal that committed while the log streamed wins."""
    with vault_service.recording_blob(db, vault, plan.context, plan.result_id):
        if not vault_service.key_is_live(db, plan.context):
            raise KeyShredded("the submission was withdrawn; its logs can no longer be stored")
        result = db.get(EvalTaskResult, plan.result_id)
        assert result is not None
        evidence.check_posted(
            # A posted count of 0 is no claim (the field is optional).
            {"task": result.task, "accuracy": result.accuracy, "samples": result.samples or None},
            found,
        )
        stamp = packs.stamp_for_log(db, actor, result.pack_id, found.pack, found.suite_version, now)
        # What the audit entry (the developer reads it) says of a private pack's log: the
        # pack, never the task (Inspect names the log file after it).
        private = stamp.pack_id is not None
        shown_file = f"{stamp.name}.eval" if private else plan.filename
        shown_version = f"{stamp.name}@{stamp.version}" if private else found.suite_version
        kind, reason = classify(db, result, found)
        result.status = found.status
        result.accuracy = found.accuracy
        result.stderr = found.stderr
        result.ci_lower = found.ci_lower
        result.ci_upper = found.ci_upper
        result.pass_at_k = found.pass_at_k
        result.metrics = found.metrics
        result.samples = found.samples
        result.scored = found.scored
        result.failed_samples = found.failed_samples
        result.tokens = found.tokens
        result.settings = found.settings
        result.duration_s = found.duration_s
        result.error = found.error
        result.kind = kind
        result.kind_reason = reason
        result.suite_version = found.suite_version
        result.config_sha256 = found.config_sha256
        result.distinct_samples = found.samples
        result.clusters = found.clusters
        result.model_calls = found.model_calls
        result.log_model = found.model[:200]
        result.log_started_at = found.started_at
        result.log_completed_at = found.completed_at
        result.pack_name = stamp.name
        result.pack_version = stamp.version
        result.pack_sha256 = stamp.sha256
        result.log_filename = plan.filename
        result.log_size = stored.size
        result.log_sha256 = stored.sha256
        result.log_uploaded_at = now
        commit_audited(
            db,
            actor,
            Permission.EVAL_LOG_CREATE,
            object_type="eval_result",
            object_id=result.id,
            submission_id=plan.submission_id,
            at=now,
            detail={
                "filename": shown_file,
                "size": stored.size,
                "sha256": stored.sha256,
                "kind": kind,
                "reason": reason,
                "model": found.model,
                "model_calls": found.model_calls,
                "samples": found.samples,
                "accuracy": found.accuracy,
                "ci": [found.ci_lower, found.ci_upper],
                "suite_version": shown_version,
                "config_sha256": found.config_sha256,
                "pack": {"name": stamp.name, "version": stamp.version, "sha256": stamp.sha256},
            },
        )
    return result


@dataclass(frozen=True)
class LogDownload:
    """A log as it is handed out: the whole log, or the developer's redacted copy."""

    filename: str
    size: int
    sha256: str
    redacted: bool
    chunks: Iterator[bytes]


def _redacted_copy(
    chunks: Iterator[bytes], suffix: str, result: EvalTaskResult
) -> tuple[Path, int, str]:
    """Write the developer's copy of a log to a private temporary folder: a private pack's
    log rebuilt from an allow-list (:mod:`prereview.evals.packs.redact`), any other with its
    answers taken out."""
    folder = Path(tempfile.mkdtemp(prefix="prereview-redact-"))
    try:
        source = folder / ("full" + suffix)
        with source.open("wb") as sink:
            for chunk in chunks:
                sink.write(chunk)
        target = folder / "redacted.eval"
        if result.pack_id is not None:
            from prereview.evals.packs.redact import write_redacted_pack_log

            write_redacted_pack_log(
                evidence.read_log(source),
                target,
                result.pack_name or "private-pack",
                result.pack_version or "",
                result.pack_sha256 or "",
            )
        else:
            evidence.write_redacted(evidence.read_log(source), target)
        source.unlink()
        digest = hashlib.sha256(target.read_bytes()).hexdigest()
        return target, target.stat().st_size, digest
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _stream_and_remove(path: Path) -> Iterator[bytes]:
    try:
        with path.open("rb") as source:
            while piece := source.read(1 << 20):
                yield piece
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)


@use_case(Permission.EVAL_LOG_DOWNLOAD)
def open_log(
    db: Session, vault: Vault, actor: Actor, result_id: str, now: datetime, rules: Rules
) -> LogDownload:
    """Authorize, audit, then hand out the decrypted log (it opens with ``inspect view``).

    The agencies get the log whole; the developer gets a copy without the flags, targets,
    reference solutions and ground truth (:func:`prereview.evals.evidence.redacted`)."""
    result, access = _reach_result(db, actor, result_id, Permission.EVAL_LOG_DOWNLOAD, now, rules)
    if result.log_sha256 is None or result.log_size is None:
        raise errors.EvalLogMissing("the log of this result was not uploaded")
    chunks = vault_service.open_blob(
        db, vault, submission_key_context(result.submission_id), result.id, now
    )
    filename = result.log_filename or "log.eval"
    download = LogDownload(filename, result.log_size, result.log_sha256, False, chunks)
    if access.owner:
        db.rollback()  # nothing stays open while the copy is made
        path, size, digest = _redacted_copy(chunks, Path(filename).suffix, result)
        stem = result.pack_name if result.pack_id is not None else Path(filename).stem
        name = f"{stem}.redacted.eval"
        download = LogDownload(name, size, digest, True, _stream_and_remove(path))
    commit_audited(
        db,
        actor,
        Permission.EVAL_LOG_DOWNLOAD,
        object_type="eval_result",
        object_id=result.id,
        submission_id=result.submission_id,
        at=now,
        detail={
            "filename": download.filename if result.pack_id else result.log_filename,
            "sha256": result.log_sha256,
            "redacted": download.redacted,
        },
    )
    return download


def results_for(
    db: Session, submission_id: str, run_by: str | None = None, *, evidence_only: bool = True
) -> list[ResultSummary]:
    """The stored task results of a submission that are evidence (or all of them), only those
    of runs by the organisation ``run_by`` if given, oldest first. The caller has authorized.
    ``samples`` are distinct samples, ``clusters`` the independent units of the interval."""
    query = (
        select(EvalTaskResult, EvalRun.model, EvalRun.created_at, EvalRun.org_id)
        .join(EvalRun, EvalRun.id == EvalTaskResult.run_id)
        .where(EvalTaskResult.submission_id == submission_id)
        .order_by(EvalRun.created_at, EvalRun.id, EvalTaskResult.position)
    )
    if run_by is not None:
        query = query.where(EvalRun.org_id == run_by)
    if evidence_only:
        query = query.where(EvalTaskResult.kind == EVIDENCE)
    rows = db.execute(query).all()
    return [
        ResultSummary(
            result_id=r.id,
            run_id=r.run_id,
            task=r.task,
            status=r.status,
            model=model,
            samples=r.distinct_samples if r.distinct_samples is not None else r.samples,
            accuracy=r.accuracy,
            stderr=r.stderr,
            ci_lower=r.ci_lower,
            ci_upper=r.ci_upper,
            metrics=dict(r.metrics),
            pass_at_k=dict(r.pass_at_k),
            created_at=created_at,
            org_id=org_id,
            kind=r.kind,
            clusters=r.clusters or 0,
            pack=r.pack_name,
            pack_version=r.pack_version,
            pack_sha256=r.pack_sha256,
        )
        for r, model, created_at, org_id in rows
    ]
