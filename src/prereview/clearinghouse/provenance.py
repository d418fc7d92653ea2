"""Model-found labels: which model found a report, during which review, verified.

A report's own ``discovered_by`` says who found it; anyone can write that. A *verified* label
names a submission (the review) and its model, and is stored only if the reporting
organisation was let into that review: the developer itself, or an organisation that held a
grant or a consented nomination on it (the policy's ``had_access``). An organisation that
never had access is told the label cannot be verified, whether or not the submission exists
(it learns nothing of submissions it was never in). The triage counts verified model-found
reports apart from claimed ones (``discovered_by`` says a model, unverified) and the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from prereview.audit.usecase import commit_audited
from prereview.authz.actor import Actor
from prereview.authz.permissions import Permission
from prereview.authz.policy import Access, allowed, authorize
from prereview.authz.usecase import use_case
from prereview.clearinghouse import errors
from prereview.clearinghouse.models import ModelFoundLabel, VulnReport
from prereview.clearinghouse.reports import readable
from prereview.clearinghouse.sharing.need_to_know import visible_reports
from prereview.core.errors import NotFound
from prereview.review import service as review


@use_case(Permission.CH_MODEL_LABEL_CREATE, also=(Permission.CH_REPORT_READ,))
def label_model_found(
    db: Session,
    actor: Actor,
    report_id: str,
    submission_id: str,
    model: str,
    now: datetime,
    rules: review.Rules,
) -> ModelFoundLabel:
    """Verify and store that ``model`` found the report during ``submission_id``'s review."""
    # Read without committing: a refused label writes nothing, not even the read's audit
    # entry; the read is audited with the label when it is stored.
    report, _ = readable(db, actor, report_id, Permission.CH_REPORT_READ, now)
    reporter = report.reporter_org_id == actor.organisation_id
    if not reporter:
        authorize(actor, Permission.CH_MODEL_LABEL_CREATE, Access(reporter=False))
    unverifiable = errors.UnverifiableModelLabel(
        f"your organisation was not let into a review '{submission_id}' of model {model!r}",
        errors=[{"path": "$.submission_id", "message": "no review your organisation was in"}],
    )
    try:
        submission = review.load_submission(db, submission_id)
    except NotFound:
        raise unverifiable from None
    relation = review.access_to(db, actor, submission, now, rules)
    access = Access(reporter=True, owner=relation.owner, had_access=relation.had_access)
    if not allowed(actor, Permission.CH_MODEL_LABEL_CREATE, access):
        raise unverifiable
    if model != submission.model_name:
        raise errors.UnverifiableModelLabel(
            f"the review '{submission_id}' is of another model than {model!r}",
            errors=[{"path": "$.model", "message": "not the model of that review"}],
        )
    label = db.get(ModelFoundLabel, report.id)
    if label is None:
        label = ModelFoundLabel(report_id=report.id)
        db.add(label)
    label.submission_id = submission.id
    label.model = submission.model_name
    label.model_version = submission.model_version
    label.verified_for_org_id = actor.organisation_id
    label.verified_by = actor.user_id
    label.verified_at = now
    report.submission_id = submission.id  # the row's submission is the verified one only
    db.flush()
    commit_audited(
        db,
        actor,
        Permission.CH_MODEL_LABEL_CREATE,
        object_type="vulnerability_report",
        object_id=report.id,
        at=now,
        detail={"submission_id": submission.id, "model": submission.model_name},
    )
    return label


def label_of(db: Session, report_id: str) -> ModelFoundLabel | None:
    return db.get(ModelFoundLabel, report_id)


def _verified() -> ColumnElement[bool]:
    return VulnReport.id.in_(select(ModelFoundLabel.report_id))


def _claimed() -> ColumnElement[bool]:
    kind = VulnReport.document["discovered_by"]["kind"].as_string()
    return (func.coalesce(kind, "") == "model") & ~_verified()


@dataclass(frozen=True)
class FoundByCounts:
    """The reports the caller sees, by who found them."""

    model_verified: int
    model_claimed: int
    other: int


@use_case(Permission.CH_TRIAGE_SUMMARY)
def found_by_counts(db: Session, actor: Actor, now: datetime) -> FoundByCounts:
    """Verified model-found, claimed model-found (unverified), and other reports: the
    clearinghouse's triage summary (counts only, nothing to audit)."""
    authorize(actor, Permission.CH_TRIAGE_SUMMARY)
    visible = visible_reports(actor, now)
    verified = _verified()
    claimed = _claimed()

    def count(*where: ColumnElement[bool]) -> int:
        query = select(func.count()).select_from(VulnReport).where(visible, *where)
        return int(db.scalar(query) or 0)

    return FoundByCounts(
        model_verified=count(verified),
        model_claimed=count(claimed),
        other=count(~verified, ~claimed),
    )


# What a published advisory says of a verified label. The review is confidential (a model not
# released yet, perhaps), so the export says that a model found it in a pre-release review
# here, verified, and names neither the model nor the submission.
FOUND_BY_MODEL_TEXT = (
    "Found by an AI model during a pre-release review on this platform; the platform verified "
    "that the reporter took part in that review."
)


def with_csaf_label(db: Session, report_id: str, document: dict[str, Any]) -> dict[str, Any]:
    """The CSAF document with a note for a verified model-found label (CSAF ``notes``)."""
    if label_of(db, report_id) is None:
        return document
    note = {"category": "other", "title": "Found by an AI model", "text": FOUND_BY_MODEL_TEXT}
    inner = document.setdefault("document", {})
    inner["notes"] = [*inner.get("notes", []), note]
    return document


def with_osv_label(db: Session, report_id: str, document: dict[str, Any]) -> dict[str, Any]:
    """The OSV record with the label under ``database_specific`` (OSV's free-form field)."""
    if label_of(db, report_id) is None:
        return document
    specific = document.setdefault("database_specific", {})
    specific["found_by"] = {"kind": "model", "verified": True, "note": FOUND_BY_MODEL_TEXT}
    return document
