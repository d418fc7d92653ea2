"""Use cases of coverage: determine, list, notify the developer, and what-if.

A determination judges a submission's stored evidence (the training compute its developer
declared and the evaluation results on record) under a written policy, and keeps each
criterion's status with its evidence, the policy's hash and text, the outcome, the reviewer,
the rationale and a marking. Only agencies read it; its developer reads a notice.

After an agency's access ends (its grant revoked, the window closed by release, withdrawal or
expiry) it keeps its own work and no more: it reads its own determinations only.

Evidence is only what the server recomputed from gateway-backed logs (task results of kind
``evidence``; calibration runs and posted numbers never count). An agency judges on its own
evidence runs only, never another agency's; a request may name the runs it rests on, and
either way each task's interval is Bonferroni-corrected for the number of the agency's
evidence runs of that task on record, so that running the suite until one run passes does not
pay. The runs a determination rests on are recorded with it.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from prereview.audit.usecase import commit_audited
from prereview.authz.actor import Actor
from prereview.authz.permissions import Permission
from prereview.authz.policy import Access, allowed, authorize
from prereview.authz.usecase import use_case
from prereview.core.ids import new_id
from prereview.coverage import errors
from prereview.coverage.criteria import CriterionOutcome, Evidence, Outcome, TaskEvidence
from prereview.coverage.models import Determination
from prereview.coverage.policy import Policy, parse_policy, preset_names, preset_text
from prereview.coverage.schemas import DeterminationCreate, PolicyChoice
from prereview.evals import service as evals
from prereview.evals.service import SubmissionRef
from prereview.review.service import Rules, reach_submission


@dataclass(frozen=True)
class Judgement:
    """A policy's answer on a submission's evidence, before anything is recorded."""

    policy: Policy
    outcome: Outcome
    criteria: CriterionOutcome


def load_policy(choice: PolicyChoice) -> Policy:
    """The policy a request names: TOML text, or a shipped preset."""
    if choice.preset is not None:
        return parse_policy(preset_text(choice.preset))
    assert choice.policy is not None
    return parse_policy(choice.policy)


@use_case(Permission.COVERAGE_PRESET_LIST)
def presets(actor: Actor) -> list[tuple[str, Policy]]:
    """The shipped policies, each validated."""
    authorize(actor, Permission.COVERAGE_PRESET_LIST)
    return [(name, parse_policy(preset_text(name))) for name in preset_names()]


def _evidence_for(
    db: Session, actor: Actor, submission: SubmissionRef, access: Access, runs: list[str] | None
) -> Evidence:
    """The evidence the actor may judge on: an agency, its own evidence runs only (never
    another agency's); the developer (a what-if), every agency's, each run naming its agency."""
    run_by = None if access.owner else actor.organisation_id
    return evidence_of(db, submission, run_by=run_by, runs=runs)


def evidence_of(
    db: Session,
    submission: SubmissionRef,
    run_by: str | None = None,
    runs: list[str] | None = None,
) -> Evidence:
    """What a policy may look at for ``submission``: the evidence results (of ``run_by``'s
    runs, if given; of the named ``runs`` only, if given, each of which must be one)."""
    on_record = evals.results_for(db, submission.id, run_by)
    chosen = on_record
    if runs is not None:
        known = {r.run_id for r in on_record}
        unknown = sorted(set(runs) - known)
        if unknown:
            raise errors.RunNotEvidence(
                f"not an evidence run of yours on this submission: {', '.join(unknown)}; "
                "calibration runs and results without their log are never evidence"
            )
        named = set(runs)
        chosen = [r for r in on_record if r.run_id in named]
    return Evidence(
        training_compute_flop=submission.training_compute_flop,
        results=[
            TaskEvidence(
                result_id=r.result_id,
                run_id=r.run_id,
                task=r.task,
                status=r.status,
                model=r.model,
                samples=r.samples,
                accuracy=r.accuracy,
                stderr=r.stderr,
                ci_lower=r.ci_lower,
                ci_upper=r.ci_upper,
                metrics=r.metrics,
                pass_at_k=r.pass_at_k,
                org_id=r.org_id,
                clusters=r.clusters,
            )
            for r in chosen
        ],
        tested=Counter(r.task for r in on_record),
        selection={
            "runs": sorted({r.run_id for r in chosen}),
            "named": runs is not None,
            # Which task packs (the built-in suite, agencies' private packs) and versions.
            "packs": [
                {"name": name, "version": version, "sha256": sha256}
                for name, version, sha256 in sorted(
                    {(r.pack or "prereview-suite", r.pack_version, r.pack_sha256) for r in chosen},
                    key=lambda p: (p[0], p[1] or "", p[2] or ""),
                )
            ],
        },
    )


def judge(policy: Policy, evidence: Evidence) -> Judgement:
    """Evaluate ``policy`` on ``evidence``; its top criterion's status is the outcome."""
    criteria = policy.evaluate(evidence)
    return Judgement(policy, Outcome.of(criteria.status), criteria)


@use_case(Permission.COVERAGE_DETERMINATION_CREATE)
def determine(
    db: Session,
    actor: Actor,
    submission_id: str,
    data: DeterminationCreate,
    now: datetime,
    rules: Rules,
) -> Determination:
    """Record an agency's determination; the policy is validated before anything is written."""
    submission, access = reach_submission(
        db, actor, submission_id, Permission.COVERAGE_DETERMINATION_CREATE, now, rules
    )
    policy = load_policy(data)
    evidence = _evidence_for(db, actor, submission, access, data.runs)
    found = judge(policy, evidence)
    document = policy.document
    determination = Determination(
        id=new_id("det"),
        submission_id=submission.id,
        agency_org_id=actor.organisation_id,
        reviewer_user_id=actor.user_id,
        policy_id=document.id,
        policy_version=document.version,
        policy_title=document.title,
        policy_sha256=policy.sha256,
        policy_text=policy.text,
        disclose_outcome=policy.disclose_outcome,
        outcome=found.outcome,
        criteria=found.criteria.as_dict(),
        rationale=data.rationale,
        tlp=data.tlp,
        markings=[m.value for m in dict.fromkeys(data.markings)],
        evidence_runs=list(evidence.selection["runs"]),
        evidence_packs=list(evidence.selection["packs"]),
        created_at=now,
    )
    db.add(determination)
    db.flush()
    # The whole record goes to the log; the developer reads entries of its own submissions,
    # so the outcome is left out of this entry unless the policy discloses it.
    commit_audited(
        db,
        actor,
        Permission.COVERAGE_DETERMINATION_CREATE,
        object_type="coverage_determination",
        object_id=determination.id,
        submission_id=submission.id,
        at=now,
        detail={
            "policy_id": document.id,
            "policy_version": document.version,
            "policy_sha256": policy.sha256,
            "record_sha256": record_digest(determination),
        }
        | ({"outcome": found.outcome.value} if policy.disclose_outcome else {}),
    )
    return determination


def record_digest(determination: Determination) -> str:
    """SHA-256 of the determination's content: the log commits to all of it without showing it
    to the developer, who reads the entries of its own submissions."""
    content: dict[str, Any] = {
        "id": determination.id,
        "submission_id": determination.submission_id,
        "agency_org_id": determination.agency_org_id,
        "reviewer_user_id": determination.reviewer_user_id,
        "policy_sha256": determination.policy_sha256,
        "outcome": determination.outcome.value,
        "criteria": determination.criteria,
        "rationale": determination.rationale,
        "tlp": determination.tlp.value,
        "markings": determination.markings,
        "created_at": determination.created_at.isoformat(),
    }
    if determination.evidence_runs is not None:  # recorded since runs were named
        content["evidence_runs"] = determination.evidence_runs
    if determination.evidence_packs is not None:  # recorded since packs were named
        content["evidence_packs"] = determination.evidence_packs
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@use_case(Permission.COVERAGE_DETERMINATION_READ)
def list_determinations(
    db: Session, actor: Actor, submission_id: str, now: datetime, rules: Rules
) -> Sequence[Determination]:
    """The determinations on the submission the agency may read: all of them while it holds
    a live grant; once its access ended, its own only (never another agency's). Audited."""
    # May the actor read any determination at all (its own, at least)? Then each is checked.
    submission, access = reach_submission(
        db,
        actor,
        submission_id,
        Permission.COVERAGE_DETERMINATION_READ,
        now,
        rules,
        checked=lambda access: replace(access, author=True),
    )
    found = [
        d
        for d in _determinations(db, submission.id)
        if allowed(
            actor,
            Permission.COVERAGE_DETERMINATION_READ,
            replace(access, author=d.agency_org_id == actor.organisation_id),
        )
    ]
    if found:
        commit_audited(
            db,
            actor,
            Permission.COVERAGE_DETERMINATION_READ,
            object_type="coverage_determination",
            object_id=None,
            submission_id=submission.id,
            at=now,
            detail={"determination_ids": [d.id for d in found]},
        )
    return found


@use_case(Permission.COVERAGE_DETERMINATION_NOTICE)
def notices(
    db: Session, actor: Actor, submission_id: str, now: datetime, rules: Rules
) -> Sequence[Determination]:
    """The determinations the developer is told of (the caller shows no more than the notice)."""
    submission, _ = reach_submission(
        db, actor, submission_id, Permission.COVERAGE_DETERMINATION_NOTICE, now, rules
    )
    return _determinations(db, submission.id)


def _determinations(db: Session, submission_id: str) -> Sequence[Determination]:
    return db.scalars(
        select(Determination)
        .where(Determination.submission_id == submission_id)
        .order_by(Determination.created_at, Determination.id)
    ).all()


@use_case(Permission.COVERAGE_WHATIF_RUN)
def what_if(
    db: Session, actor: Actor, submission_id: str, choice: PolicyChoice, now: datetime, rules: Rules
) -> tuple[SubmissionRef, Judgement]:
    """What ``choice`` would decide on the evidence now. Writes nothing, not even to the log."""
    submission, access = reach_submission(
        db, actor, submission_id, Permission.COVERAGE_WHATIF_RUN, now, rules
    )
    evidence = _evidence_for(db, actor, submission, access, choice.runs)
    return submission, judge(load_policy(choice), evidence)
