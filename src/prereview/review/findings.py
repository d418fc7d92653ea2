"""Findings and the developer's responses to them: need-to-know between reviewers.

A reviewer files findings while the window is open and sees only its own organisation's; the
developer sees them all and answers them. Answers are the developer's own; they bind no one.
Every read by someone other than the developer is audited.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from prereview.audit.usecase import commit_audited, reach
from prereview.authz.actor import Actor
from prereview.authz.permissions import Permission
from prereview.authz.policy import Access, authorize
from prereview.authz.usecase import use_case
from prereview.core.ids import new_id
from prereview.core.pagination import PageRequest, Slice, paginate
from prereview.review import errors
from prereview.review.models import Finding, FindingResponse
from prereview.review.schemas import FindingCreate, ResponseCreate
from prereview.review.submissions import (
    Rules,
    load_submission,
    reach_submission,
    visible_submission,
    window,
)


@use_case(Permission.FINDING_CREATE)
def file_finding(
    db: Session, actor: Actor, submission_id: str, data: FindingCreate, now: datetime, rules: Rules
) -> Finding:
    """A reviewer reports what it found, while the window is open."""
    # Not reach(): a reviewer who had access is told the window closed before it is told 403.
    submission, access = visible_submission(db, actor, submission_id, now, rules)
    if access.owner:
        authorize(actor, Permission.FINDING_CREATE, Access())
    current = window(submission, now, rules)
    if not current.state.is_open and access.had_access:
        raise errors.WindowClosed(
            f"the review window is {current.state.value}; findings can no longer be filed"
        )
    authorize(actor, Permission.FINDING_CREATE, access)
    finding = Finding(
        id=new_id("fnd"),
        submission_id=submission.id,
        author_org_id=actor.organisation_id,
        author_user_id=actor.user_id,
        title=data.title,
        description=data.description,
        severity=data.severity,
        category=data.category,
        recommended_mitigation=data.recommended_mitigation,
        tlp=data.tlp,
        markings=[m.value for m in dict.fromkeys(data.markings)],
        created_at=now,
    )
    db.add(finding)
    db.flush()
    commit_audited(
        db,
        actor,
        Permission.FINDING_CREATE,
        object_type="finding",
        object_id=finding.id,
        submission_id=submission.id,
        at=now,
        detail={"severity": data.severity.value, "category": data.category.value},
    )
    return finding


@use_case(Permission.FINDING_LIST)
def list_findings(
    db: Session, actor: Actor, submission_id: str, page: PageRequest, now: datetime, rules: Rules
) -> Slice[Finding]:
    """All findings for the developer; for a reviewer, its own organisation's only."""
    submission, access = reach_submission(
        db, actor, submission_id, Permission.FINDING_LIST, now, rules
    )
    query = (
        select(Finding)
        .where(Finding.submission_id == submission.id)
        .order_by(Finding.created_at, Finding.id)
    )
    if not access.owner:
        query = query.where(Finding.author_org_id == actor.organisation_id)
    found = paginate(db, query, page)
    if not access.owner and found.rows:
        # A listing is no one finding: the entry names the submission and lists the ids read.
        commit_audited(
            db,
            actor,
            Permission.FINDING_LIST,
            object_type="finding",
            object_id=submission.id,
            submission_id=submission.id,
            at=now,
            detail={"finding_ids": [f.id for f in found.rows]},
        )
    return found


def _reach_finding(
    db: Session, actor: Actor, finding_id: str, permission: Permission
) -> tuple[Finding, Access]:
    """A finding, visible only to the developer and the authoring organisation."""

    def relation(finding: Finding) -> Access:
        submission = load_submission(db, finding.submission_id)
        return Access(
            owner=actor.organisation_id == submission.developer_org_id,
            author=actor.organisation_id == finding.author_org_id,
        )

    return reach(
        actor,
        permission,
        db.get(Finding, finding_id),
        relation,
        hidden=lambda: errors.FindingNotFound(f"no finding '{finding_id}'"),
        knows=lambda access: access.owner or access.author,
    )


@use_case(Permission.FINDING_READ)
def get_finding(db: Session, actor: Actor, finding_id: str, now: datetime) -> Finding:
    finding, access = _reach_finding(db, actor, finding_id, Permission.FINDING_READ)
    if not access.owner:
        commit_audited(
            db,
            actor,
            Permission.FINDING_READ,
            object_type="finding",
            object_id=finding.id,
            submission_id=finding.submission_id,
            at=now,
        )
    return finding


@use_case(Permission.FINDING_RESPOND)
def respond(
    db: Session, actor: Actor, finding_id: str, data: ResponseCreate, now: datetime
) -> Finding:
    """The developer answers a finding. Answers are its own; they bind no one to anything."""
    finding, _ = _reach_finding(db, actor, finding_id, Permission.FINDING_RESPOND)
    answer = FindingResponse(
        id=new_id("rsp"),
        finding_id=finding.id,
        responder_user_id=actor.user_id,
        status=data.status,
        text=data.text,
        created_at=now,
    )
    db.add(answer)
    db.flush()
    commit_audited(
        db,
        actor,
        Permission.FINDING_RESPOND,
        object_type="finding",
        object_id=finding.id,
        submission_id=finding.submission_id,
        at=now,
        detail={"status": data.status.value},
    )
    db.refresh(finding)
    return finding
