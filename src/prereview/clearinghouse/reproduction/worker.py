"""The reproduction queue's worker: claims a queued PoC, runs it in the sandbox, records the
verdict. ``prereview vuln reproduce --worker`` runs it, or a :class:`ReproductionWorker` thread.

No database transaction is open while the sandbox runs: claiming is one short transaction (a
compare-and-set of the row's state, so two workers never take the same PoC), reading the
sealed script another, and the verdict a third, written only if the claim is still this
worker's. A worker that died mid-run leaves a lease that runs out; the PoC is then claimed
again. Each PoC version is reproduced once (``ch_reproductions`` has one row per PoC): running
the queue again changes nothing that is done.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from prereview.audit import service as audit
from prereview.clearinghouse.models import ReportPoc, Reproduction
from prereview.clearinghouse.reports import evidence_context
from prereview.clearinghouse.reproduction import verdict as judging
from prereview.clearinghouse.reproduction.sandboxed import Limits, RunResult, run_poc
from prereview.clearinghouse.reproduction.sources import NotAvailable, find
from prereview.clearinghouse.reproduction.store import poc_secret
from prereview.core.clock import Clock
from prereview.vault import service as vault_service
from prereview.vault.service import Vault

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)
MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class Job:
    """What a claimed PoC runs: read in a short transaction, then the session is let go."""

    poc_id: str
    report_id: str
    package: str
    ecosystem: str  # which also says the PoC's language (checked when it was attached)
    affected_version: str
    fixed_version: str | None
    expect: judging.Expectation
    script: bytes
    attempt: int


def claim(sessions: sessionmaker[Session], now: datetime) -> str | None:
    """Take the oldest queued PoC (or one whose worker's lease ran out); None if none waits."""
    taken = _claim(sessions, now)
    return None if taken is None else taken[0]


def _claim(sessions: sessionmaker[Session], now: datetime) -> tuple[str, int] | None:
    """The PoC taken and the attempt this claim is, both from the claiming transaction:
    read later, the attempt could already be a second worker's that took over the lease."""
    with sessions() as db:
        _give_up_on_poison(db, now)
        db.commit()
        waiting = or_(
            Reproduction.state == "queued",
            (Reproduction.state == "running") & (Reproduction.lease_until < now),
        )
        candidates = db.scalars(
            select(Reproduction.poc_id).where(waiting).order_by(Reproduction.queued_at).limit(5)
        ).all()
        for poc_id in candidates:
            taken = db.execute(
                update(Reproduction)
                .where(Reproduction.poc_id == poc_id, waiting)
                .values(
                    state="running",
                    lease_until=now + LEASE,
                    started_at=now,
                    attempts=Reproduction.attempts + 1,
                )
                .execution_options(synchronize_session=False)
            )
            if getattr(taken, "rowcount", 0) == 1:
                attempt = db.scalar(
                    select(Reproduction.attempts).where(Reproduction.poc_id == poc_id)
                )
                db.commit()
                return poc_id, int(attempt or 0)
        db.rollback()
    return None


def _give_up_on_poison(db: Session, now: datetime) -> None:
    # A PoC whose every worker died mid-run (its lease ran out MAX_ATTEMPTS times) is not
    # claimed again: else one script that kills its worker takes every worker in turn.
    db.execute(
        update(Reproduction)
        .where(
            Reproduction.state == "running",
            Reproduction.lease_until < now,
            Reproduction.attempts >= MAX_ATTEMPTS,
        )
        .values(
            state="done",
            verdict=judging.ERROR,
            rank=judging.RANKS[judging.ERROR],
            detail=f"{judging.LABELS[judging.ERROR]}: its worker did not finish "
            f"{MAX_ATTEMPTS} times",
            lease_until=None,
            finished_at=now,
        )
        .execution_options(synchronize_session=False)
    )


def _job(
    sessions: sessionmaker[Session], vault: Vault, poc_id: str, attempt: int, now: datetime
) -> Job:
    with sessions() as db:
        poc = db.get(ReportPoc, poc_id)
        assert poc is not None
        script = vault_service.get_secret(
            db, vault, evidence_context(poc.report_id), poc_secret(poc.version), now
        )
        # The server reading the reporter's code to run it is an access like any other.
        audit.record(
            db,
            actor=None,
            action="clearinghouse:report-poc:run",
            object_type="vulnerability_report",
            object_id=poc.report_id,
            at=now,
            detail={"poc_version": poc.version, "sha256": poc.script_sha256},
        )
        db.commit()
        return Job(
            poc_id=poc.id,
            report_id=poc.report_id,
            package=poc.package,
            ecosystem=poc.ecosystem,
            affected_version=poc.affected_version,
            fixed_version=poc.fixed_version,
            expect=judging.Expectation(poc.expect_exit, poc.expect_stdout),
            script=script,
            attempt=attempt,
        )


@dataclass(frozen=True)
class Outcome:
    verdict: str
    detail: str
    runs: list[RunResult] = field(default_factory=list)


def reproduce(job: Job, artefact_dir: Path | None, limits: Limits) -> Outcome:
    """Run the job's PoC against the affected release and, if known, the fixed one."""
    try:
        affected_release = find(job.package, job.affected_version, artefact_dir, job.ecosystem)
        fixed_release = (
            find(job.package, job.fixed_version, artefact_dir, job.ecosystem)
            if job.fixed_version
            else None
        )
    except NotAvailable as exc:
        return Outcome(judging.UNAVAILABLE, f"{judging.LABELS[judging.UNAVAILABLE]}: {exc}")
    try:
        affected = run_poc(job.script, affected_release, limits)
        fixed = run_poc(job.script, fixed_release, limits) if fixed_release else None
    except NotAvailable as exc:  # the release holds nothing the sandbox can install
        return Outcome(judging.UNAVAILABLE, f"{judging.LABELS[judging.UNAVAILABLE]}: {exc}")
    runs = [affected] if fixed is None else [affected, fixed]
    verdict = judging.judge(job.expect, affected, fixed)
    return Outcome(verdict, judging.summary(verdict, runs), runs)


def _record(sessions: sessionmaker[Session], job: Job, outcome: Outcome, now: datetime) -> bool:
    retry = outcome.verdict == judging.ERROR and job.attempt < MAX_ATTEMPTS
    with sessions() as db:
        done = db.execute(
            update(Reproduction)
            .where(
                Reproduction.poc_id == job.poc_id,
                Reproduction.state == "running",
                Reproduction.attempts == job.attempt,
            )
            .values(
                state="queued" if retry else "done",
                verdict=None if retry else outcome.verdict,
                rank=2 if retry else judging.RANKS[outcome.verdict],
                detail=outcome.detail,
                runs=[run.as_json() for run in outcome.runs],
                lease_until=None,
                finished_at=None if retry else now,
            )
            .execution_options(synchronize_session=False)
        )
        if not retry and getattr(done, "rowcount", 0) == 1:
            # The verdict in the log, with the change (the transparency report's funnel).
            audit.record(
                db,
                actor=None,
                action="clearinghouse:report-poc:verdict",
                object_type="vulnerability_report",
                object_id=job.report_id,
                at=now,
                detail={
                    "poc_id": job.poc_id,
                    "verdict": outcome.verdict,
                    "status": judging.STATUS_OF_RANK[judging.RANKS[outcome.verdict]],
                },
            )
        db.commit()
        return getattr(done, "rowcount", 0) == 1


def run_one(
    sessions: sessionmaker[Session],
    vault: Vault,
    clock: Clock,
    artefact_dir: Path | None,
    limits: Limits | None = None,
) -> str | None:
    """Reproduce the next queued PoC; its id, or None when the queue is empty."""
    taken = _claim(sessions, clock.now())
    if taken is None:
        return None
    poc_id, attempt = taken
    job = _job(sessions, vault, poc_id, attempt, clock.now())
    outcome = reproduce(job, artefact_dir, limits or Limits())
    if not _record(sessions, job, outcome, clock.now()):
        log.warning("reproduction of %s was taken over by another worker", poc_id)
    return poc_id


def drain(
    sessions: sessionmaker[Session],
    vault: Vault,
    clock: Clock,
    artefact_dir: Path | None,
    limits: Limits | None = None,
) -> list[str]:
    """Reproduce every queued PoC; the ids done, in order."""
    done: list[str] = []
    while (poc_id := run_one(sessions, vault, clock, artefact_dir, limits)) is not None:
        done.append(poc_id)
    return done


class ReproductionWorker:
    """A background thread draining the queue every ``interval`` seconds until stopped."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        vault: Vault,
        clock: Clock,
        artefact_dir: Path | None,
        interval: float = 5.0,
    ) -> None:
        self._args = (sessions, vault, clock, artefact_dir)
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name="reproduction-worker", daemon=True
            )
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                drain(*self._args)
            except Exception:  # a failure of one pass must not end the worker
                log.exception("reproduction worker pass failed")
            self._stop.wait(self._interval)

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
