"""Use cases of the review workflow. Other capabilities call these, never the tables.

The developer's launch controls (planned date, release, withdrawal) consult nothing but the
caller's ownership: no window state, grant, nomination or finding is read on that path, so
nothing anyone else does can delay or block a release.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Exists, Select, func, select
from sqlalchemy.orm import Session

from prereview.audit import service as audit
from prereview.authz import events
from prereview.authz.actor import Actor
from prereview.authz.kinds import OrgKind
from prereview.authz.permissions import Permission
from prereview.authz.policy import Access, authorize
from prereview.core.ids import new_id
from prereview.core.pagination import PageRequest, Slice, paginate
from prereview.core.settings import Settings
from prereview.identity import service as identity
from prereview.review import errors
from prereview.review.kinds import NominationStatus
from prereview.review.models import Finding, FindingResponse, Grant, Nomination, Submission
from prereview.review.schemas import (
    FindingCreate,
    GrantCreate,
    NominationCreate,
    ResponseCreate,
    SubmissionCreate,
    SubmissionUpdate,
)
from prereview.review.window import Window, window_of
from prereview.vault import service as vault_service


@dataclass(frozen=True)
class Rules:
    """The settings the review rules depend on."""

    max_window: timedelta
    closing_soon: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> Rules:
        return cls(
            max_window=timedelta(days=settings.max_window_days),
            closing_soon=timedelta(days=settings.closing_soon_days),
        )


def window(submission: Submission, now: datetime, rules: Rules) -> Window:
    return window_of(submission, now, rules.closing_soon)


def grant_is_live(grant: Grant, submission: Submission, now: datetime, rules: Rules) -> bool:
    """A grant gives access only while it is not revoked and its submission's window is open."""
    return grant.revoked_at is None and window(submission, now, rules).state.is_open


def _nominator_granted() -> Exists:
    """SQL: the nominating agency holds an unrevoked grant on the nomination's submission."""
    return (
        select(Grant.id)
        .where(
            Grant.submission_id == Nomination.submission_id,
            Grant.agency_org_id == Nomination.agency_org_id,
            Grant.revoked_at.is_(None),
        )
        .exists()
    )


def nomination_is_live(db: Session, nomination: Nomination) -> bool:
    """Whether a nomination lets its partner in (the window aside, which callers check with
    the clock): the developer consented, and the agency that nominated the partner still
    holds a grant. A partner's access hangs on its nominating agency's: when that grant is
    revoked, the partner's access ends with it."""
    if nomination.status is not NominationStatus.CONSENTED:
        return False
    return (
        db.scalar(
            select(Grant.id)
            .where(
                Grant.submission_id == nomination.submission_id,
                Grant.agency_org_id == nomination.agency_org_id,
                Grant.revoked_at.is_(None),
            )
            .limit(1)
        )
        is not None
    )


def access_to(
    db: Session, actor: Actor, submission: Submission, now: datetime, rules: Rules
) -> Access:
    """What ``actor`` is to ``submission`` right now; the input of every policy decision on it."""
    if actor.organisation_id == submission.developer_org_id:
        return Access(owner=True)
    is_open = window(submission, now, rules).state.is_open
    live_grant = db.scalar(
        select(func.count())
        .select_from(Grant)
        .where(
            Grant.submission_id == submission.id,
            Grant.agency_org_id == actor.organisation_id,
            Grant.revoked_at.is_(None),
        )
    )
    consented = db.scalar(
        select(func.count())
        .select_from(Nomination)
        .where(
            Nomination.submission_id == submission.id,
            Nomination.partner_org_id == actor.organisation_id,
            Nomination.status == NominationStatus.CONSENTED,
            _nominator_granted(),
        )
    )
    return Access(
        granted_agency=actor.org_kind is OrgKind.AGENCY and is_open and bool(live_grant),
        consented_partner=actor.org_kind is OrgKind.TRUSTED_PARTNER and is_open and bool(consented),
        had_access=_ever_had_access(db, actor, submission),
    )


def _ever_had_access(db: Session, actor: Actor, submission: Submission) -> bool:
    """Whether the actor's organisation was ever let in: a grant (even revoked), a consent, or
    a finding it wrote (a partner whose consent was later withdrawn wrote it while it had one)."""
    org = actor.organisation_id
    ever = select(Grant.id).where(Grant.submission_id == submission.id, Grant.agency_org_id == org)
    consented = select(Nomination.id).where(
        Nomination.submission_id == submission.id,
        Nomination.partner_org_id == org,
        Nomination.status == NominationStatus.CONSENTED,
    )
    authored = select(Finding.id).where(
        Finding.submission_id == submission.id, Finding.author_org_id == org
    )
    return any(db.scalar(query.limit(1)) is not None for query in (ever, consented, authored))


def submission_ids_of(organisation_id: str) -> Select[str]:
    """SQL: the ids of the submissions ``organisation_id`` develops (for the audit trail)."""
    return select(Submission.id).where(Submission.developer_org_id == organisation_id)


def load_submission(db: Session, submission_id: str) -> Submission:
    submission = db.get(Submission, submission_id)
    if submission is None:
        raise errors.SubmissionNotFound(f"no submission '{submission_id}'")
    return submission


def get_submission(
    db: Session, actor: Actor, submission_id: str, now: datetime, rules: Rules
) -> Submission:
    """A submission the actor may read now. Outsiders learn nothing, not even that it exists."""
    submission = load_submission(db, submission_id)
    access = access_to(db, actor, submission, now, rules)
    if not (access.owner or access.granted_agency or access.consented_partner or access.had_access):
        raise errors.SubmissionNotFound(f"no submission '{submission_id}'")
    authorize(actor, Permission.SUBMISSION_READ, access)
    if not access.owner:
        audit.record(
            db,
            actor=actor,
            action=Permission.SUBMISSION_READ,
            object_type="submission",
            object_id=submission.id,
            submission_id=submission.id,
            at=now,
        )
        db.commit()
    return submission


def visible_submission(
    db: Session, actor: Actor, submission_id: str, now: datetime, rules: Rules
) -> tuple[Submission, Access]:
    """Load a submission for an action; hide it from organisations that never had access."""
    submission = load_submission(db, submission_id)
    access = access_to(db, actor, submission, now, rules)
    if not (access.owner or access.had_access):
        raise errors.SubmissionNotFound(f"no submission '{submission_id}'")
    return submission, access


def owned_submission(
    db: Session, actor: Actor, submission_id: str, permission: Permission
) -> Submission:
    """Load a submission for one of its developer's own actions.

    Only ownership is consulted: whatever the window, grants or findings, the owner may act.
    """
    submission = load_submission(db, submission_id)
    if actor.organisation_id == submission.developer_org_id:
        authorize(actor, permission, Access(owner=True))
        return submission
    # Reviewers who know of the submission are told why not; others learn nothing of it.
    if not _ever_had_access(db, actor, submission):
        raise errors.SubmissionNotFound(f"no submission '{submission_id}'")
    authorize(actor, permission, Access(had_access=True))
    return submission


def _record(
    db: Session,
    actor: Actor,
    action: Permission,
    submission: Submission,
    now: datetime,
    object_type: str = "submission",
    object_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    audit.record(
        db,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id or submission.id,
        submission_id=submission.id,
        at=now,
        detail=detail,
    )


def create_submission(
    db: Session, actor: Actor, data: SubmissionCreate, now: datetime
) -> Submission:
    authorize(actor, Permission.SUBMISSION_CREATE)
    submission = Submission(
        id=new_id("sub"),
        developer_org_id=actor.organisation_id,
        created_by=actor.user_id,
        model_name=data.model_name,
        model_version=data.model_version,
        description=data.description,
        modalities=[m.value for m in data.modalities],
        training_compute_flop=data.training_compute_flop,
        parameter_count=data.parameter_count,
        access_offered=[a.value for a in data.access_offered],
        contacts=[c.model_dump() for c in data.contacts],
        planned_release_at=data.planned_release_at,
        window_opened_at=None,
        window_ends_at=None,
        released_at=None,
        withdrawn_at=None,
        created_at=now,
        updated_at=now,
    )
    db.add(submission)
    db.flush()
    _record(
        db,
        actor,
        Permission.SUBMISSION_CREATE,
        submission,
        now,
        detail={"model": f"{data.model_name} {data.model_version}"},
    )
    events.access_changed(db)
    db.commit()
    return submission


def list_submissions(
    db: Session, actor: Actor, page: PageRequest, now: datetime, rules: Rules
) -> Slice[Submission]:
    """The developer's own submissions; for reviewers, those they can work on now."""
    authorize(actor, Permission.SUBMISSION_LIST)
    query = select(Submission).order_by(Submission.created_at.desc(), Submission.id)
    if actor.org_kind is OrgKind.DEVELOPER:
        query = query.where(Submission.developer_org_id == actor.organisation_id)
    else:
        ids = [s.id for s in _live_for(db, actor, now, rules)]
        query = query.where(Submission.id.in_(ids))
    return paginate(db, query, page)


def _live_for(db: Session, actor: Actor, now: datetime, rules: Rules) -> list[Submission]:
    """Submissions on which a reviewer organisation has live access."""
    granted = select(Grant.submission_id).where(
        Grant.agency_org_id == actor.organisation_id, Grant.revoked_at.is_(None)
    )
    consented = select(Nomination.submission_id).where(
        Nomination.partner_org_id == actor.organisation_id,
        Nomination.status == NominationStatus.CONSENTED,
        _nominator_granted(),
    )
    source = granted if actor.org_kind is OrgKind.AGENCY else consented
    if actor.org_kind not in (OrgKind.AGENCY, OrgKind.TRUSTED_PARTNER):
        return []
    candidates = db.scalars(select(Submission).where(Submission.id.in_(source))).all()
    return [s for s in candidates if window(s, now, rules).state.is_open]


def update_submission(
    db: Session, actor: Actor, submission_id: str, data: SubmissionUpdate, now: datetime
) -> Submission:
    """Change what the developer may change, the planned release date included, at any time."""
    submission = owned_submission(db, actor, submission_id, Permission.SUBMISSION_UPDATE)
    changed: dict[str, Any] = {}
    for field in data.model_fields_set:
        value = getattr(data, field)
        if field in ("modalities", "access_offered") and value is not None:
            value = [v.value for v in value]
        elif field == "contacts" and value is not None:
            value = [c.model_dump() for c in value]
        elif value is None and field not in (
            "planned_release_at",
            "training_compute_flop",
            "parameter_count",
        ):
            continue
        setattr(submission, field, value)
        changed[field] = value.isoformat() if isinstance(value, datetime) else value
    submission.updated_at = now
    _record(
        db,
        actor,
        Permission.SUBMISSION_UPDATE,
        submission,
        now,
        detail={"fields": sorted(changed)}
        | (
            {"planned_release_at": changed["planned_release_at"]}
            if "planned_release_at" in changed
            else {}
        ),
    )
    events.access_changed(db)
    db.commit()
    return submission


def release(db: Session, actor: Actor, submission_id: str, now: datetime) -> Submission:
    """Declare the model publicly released. Always allowed to its developer; idempotent."""
    submission = owned_submission(db, actor, submission_id, Permission.SUBMISSION_RELEASE)
    if submission.released_at is None:
        submission.released_at = now
        submission.updated_at = now
        _record(db, actor, Permission.SUBMISSION_RELEASE, submission, now)
        events.access_changed(db)
        db.commit()
    return submission


def withdraw(
    db: Session, actor: Actor, submission_id: str, reason: str, now: datetime
) -> Submission:
    """Withdraw the submission: every grant ends at once. Always allowed to its developer."""
    submission = owned_submission(db, actor, submission_id, Permission.SUBMISSION_WITHDRAW)
    if submission.withdrawn_at is None:
        submission.withdrawn_at = now
        submission.updated_at = now
        # Crypto-shred: with the data key gone, every material and secret of the submission
        # is unreadable, wherever its ciphertext is kept.
        vault_service.shred(db, vault_service.submission_context(submission.id), now)
        _record(
            db,
            actor,
            Permission.SUBMISSION_WITHDRAW,
            submission,
            now,
            detail={"reason": reason} if reason else None,
        )
        events.access_changed(db)
        db.commit()
    return submission


def _org(db: Session, actor: Actor, org_id: str) -> Any:
    return identity.get_organisation(db, actor, org_id)


def grant(
    db: Session, actor: Actor, submission_id: str, data: GrantCreate, now: datetime, rules: Rules
) -> Grant:
    """Grant an agency access. The first grant opens the window for ``window_days``."""
    submission = owned_submission(db, actor, submission_id, Permission.GRANT_CREATE)
    agency = _org(db, actor, data.agency_org_id)
    if agency.kind is not OrgKind.AGENCY:
        raise errors.NotAnAgency(
            f"'{agency.name}' is a {agency.kind.value}, not an agency; grants go to agencies, "
            "and trusted partners join through an agency's nomination"
        )
    current = window(submission, now, rules)
    if current.state.is_closed:
        raise errors.WindowClosed(
            f"the review window is {current.state.value}; no new access can be granted"
        )
    if submission.window_opened_at is None:
        days = data.window_days if data.window_days is not None else rules.max_window.days
        check_window_length(days, rules)
        submission.window_opened_at = now
        submission.window_ends_at = now + timedelta(days=days)
    elif data.window_days is not None:
        raise errors.WindowTooLong(
            "the window is already open; change its length with PUT .../window instead"
        )
    if db.scalar(
        select(Grant.id).where(
            Grant.submission_id == submission.id,
            Grant.agency_org_id == agency.id,
            Grant.revoked_at.is_(None),
        )
    ):
        raise errors.AlreadyGranted(f"'{agency.name}' already holds a grant on this submission")
    new = Grant(
        id=new_id("gnt"),
        submission_id=submission.id,
        agency_org_id=agency.id,
        granted_by=actor.user_id,
        granted_at=now,
        revoked_at=None,
    )
    db.add(new)
    db.flush()
    _record(
        db,
        actor,
        Permission.GRANT_CREATE,
        submission,
        now,
        "grant",
        new.id,
        {
            "agency_org_id": agency.id,
            "window_ends_at": submission.window_ends_at.isoformat()
            if submission.window_ends_at
            else None,
        },
    )
    events.access_changed(db)
    db.commit()
    return new


def check_window_length(days: int, rules: Rules) -> None:
    if days > rules.max_window.days:
        raise errors.WindowTooLong(
            f"a review window lasts at most {rules.max_window.days} days "
            f"(PREREVIEW_MAX_WINDOW_DAYS); {days} days were asked for"
        )


def change_window(
    db: Session, actor: Actor, submission_id: str, days: int, now: datetime, rules: Rules
) -> Submission:
    """Set the window's length from its opening, within the policy maximum."""
    submission = owned_submission(db, actor, submission_id, Permission.SUBMISSION_UPDATE)
    if submission.window_opened_at is None:
        raise errors.WindowNotOpened("the window opens with the first grant; grant access first")
    current = window(submission, now, rules)
    if current.state.is_closed:
        raise errors.WindowClosed(f"the review window is {current.state.value}; it stays closed")
    check_window_length(days, rules)
    submission.window_ends_at = submission.window_opened_at + timedelta(days=days)
    submission.updated_at = now
    _record(
        db,
        actor,
        Permission.SUBMISSION_UPDATE,
        submission,
        now,
        detail={"window_ends_at": submission.window_ends_at.isoformat()},
    )
    events.access_changed(db)
    db.commit()
    return submission


def get_window(
    db: Session, actor: Actor, submission_id: str, now: datetime, rules: Rules
) -> Window:
    """The window of a submission, for its developer and for those who had access."""
    submission, access = visible_submission(db, actor, submission_id, now, rules)
    authorize(actor, Permission.WINDOW_READ, access)
    return window(submission, now, rules)


def list_grants(
    db: Session, actor: Actor, submission_id: str, now: datetime, rules: Rules
) -> tuple[Submission, Sequence[Grant]]:
    submission, access = visible_submission(db, actor, submission_id, now, rules)
    authorize(actor, Permission.GRANT_LIST, access)
    query = select(Grant).where(Grant.submission_id == submission.id).order_by(Grant.granted_at)
    if not access.owner:
        query = query.where(Grant.agency_org_id == actor.organisation_id)
    return submission, db.scalars(query).all()


def revoke_grant(
    db: Session, actor: Actor, submission_id: str, grant_id: str, now: datetime
) -> tuple[Submission, Grant]:
    submission = owned_submission(db, actor, submission_id, Permission.GRANT_REVOKE)
    target = db.get(Grant, grant_id)
    if target is None or target.submission_id != submission.id:
        raise errors.GrantNotFound(f"no grant '{grant_id}' on this submission")
    if target.revoked_at is None:
        target.revoked_at = now
        _record(db, actor, Permission.GRANT_REVOKE, submission, now, "grant", target.id)
        events.access_changed(db)
        db.commit()
    return submission, target


def nominate(
    db: Session,
    actor: Actor,
    submission_id: str,
    data: NominationCreate,
    now: datetime,
    rules: Rules,
) -> Nomination:
    """An agency proposes a trusted partner; nothing is shared until the developer consents."""
    submission, access = visible_submission(db, actor, submission_id, now, rules)
    authorize(actor, Permission.NOMINATION_CREATE, access)
    partner = _org(db, actor, data.partner_org_id)
    if partner.kind is not OrgKind.TRUSTED_PARTNER:
        raise errors.NotATrustedPartner(f"'{partner.name}' is not a trusted partner")
    if db.scalar(
        select(Nomination.id).where(
            Nomination.submission_id == submission.id,
            Nomination.partner_org_id == partner.id,
            Nomination.status != NominationStatus.DECLINED,
        )
    ):
        raise errors.AlreadyNominated(f"'{partner.name}' is already nominated for this submission")
    nomination = Nomination(
        id=new_id("nom"),
        submission_id=submission.id,
        agency_org_id=actor.organisation_id,
        partner_org_id=partner.id,
        nominated_by=actor.user_id,
        reason=data.reason,
        status=NominationStatus.PENDING,
        decision_note=None,
        decided_by=None,
        created_at=now,
        decided_at=None,
    )
    db.add(nomination)
    db.flush()
    _record(
        db,
        actor,
        Permission.NOMINATION_CREATE,
        submission,
        now,
        "nomination",
        nomination.id,
        {"partner_org_id": partner.id},
    )
    events.access_changed(db)
    db.commit()
    return nomination


def list_nominations(
    db: Session, actor: Actor, submission_id: str, now: datetime, rules: Rules
) -> Sequence[Nomination]:
    submission, access = visible_submission(db, actor, submission_id, now, rules)
    authorize(actor, Permission.NOMINATION_LIST, access)
    query = (
        select(Nomination)
        .where(Nomination.submission_id == submission.id)
        .order_by(Nomination.created_at)
    )
    if not access.owner:
        query = query.where(Nomination.agency_org_id == actor.organisation_id)
    return db.scalars(query).all()


def decide_nomination(
    db: Session,
    actor: Actor,
    submission_id: str,
    nomination_id: str,
    consent: bool,
    note: str,
    now: datetime,
) -> Nomination:
    """The developer consents to or declines a partner; declining later ends its access."""
    submission = owned_submission(db, actor, submission_id, Permission.NOMINATION_DECIDE)
    nomination = db.get(Nomination, nomination_id)
    if nomination is None or nomination.submission_id != submission.id:
        raise errors.NominationNotFound(f"no nomination '{nomination_id}' on this submission")
    nomination.status = NominationStatus.CONSENTED if consent else NominationStatus.DECLINED
    nomination.decision_note = note or None
    nomination.decided_by = actor.user_id
    nomination.decided_at = now
    _record(
        db,
        actor,
        Permission.NOMINATION_DECIDE,
        submission,
        now,
        "nomination",
        nomination.id,
        {"status": nomination.status.value, "partner_org_id": nomination.partner_org_id},
    )
    events.access_changed(db)
    db.commit()
    return nomination


def file_finding(
    db: Session, actor: Actor, submission_id: str, data: FindingCreate, now: datetime, rules: Rules
) -> Finding:
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
    _record(
        db,
        actor,
        Permission.FINDING_CREATE,
        submission,
        now,
        "finding",
        finding.id,
        {"severity": data.severity.value, "category": data.category.value},
    )
    db.commit()
    return finding


def list_findings(
    db: Session, actor: Actor, submission_id: str, page: PageRequest, now: datetime, rules: Rules
) -> Slice[Finding]:
    """All findings for the developer; for a reviewer, its own organisation's only."""
    submission, access = visible_submission(db, actor, submission_id, now, rules)
    authorize(actor, Permission.FINDING_LIST, access)
    query = (
        select(Finding)
        .where(Finding.submission_id == submission.id)
        .order_by(Finding.created_at, Finding.id)
    )
    if not access.owner:
        query = query.where(Finding.author_org_id == actor.organisation_id)
    found = paginate(db, query, page)
    if not access.owner and found.rows:
        _record(
            db,
            actor,
            Permission.FINDING_LIST,
            submission,
            now,
            "finding",
            None,
            {"finding_ids": [f.id for f in found.rows]},
        )
        db.commit()
    return found


def _finding(db: Session, actor: Actor, finding_id: str) -> tuple[Finding, Submission, Access]:
    """A finding with its submission, visible only to the developer and the authoring org."""
    finding = db.get(Finding, finding_id)
    if finding is None:
        raise errors.FindingNotFound(f"no finding '{finding_id}'")
    submission = load_submission(db, finding.submission_id)
    access = Access(
        owner=actor.organisation_id == submission.developer_org_id,
        author=actor.organisation_id == finding.author_org_id,
    )
    if not (access.owner or access.author):
        raise errors.FindingNotFound(f"no finding '{finding_id}'")
    return finding, submission, access


def get_finding(db: Session, actor: Actor, finding_id: str, now: datetime) -> Finding:
    finding, submission, access = _finding(db, actor, finding_id)
    authorize(actor, Permission.FINDING_READ, access)
    if not access.owner:
        _record(db, actor, Permission.FINDING_READ, submission, now, "finding", finding.id)
        db.commit()
    return finding


def respond(
    db: Session, actor: Actor, finding_id: str, data: ResponseCreate, now: datetime
) -> Finding:
    """The developer answers a finding. Answers are its own; they bind no one to anything."""
    finding, submission, access = _finding(db, actor, finding_id)
    authorize(actor, Permission.FINDING_RESPOND, access)
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
    _record(
        db,
        actor,
        Permission.FINDING_RESPOND,
        submission,
        now,
        "finding",
        finding.id,
        {"status": data.status.value},
    )
    db.commit()
    db.refresh(finding)
    return finding


def queue(
    db: Session, actor: Actor, now: datetime, rules: Rules
) -> list[tuple[Submission, Window, int]]:
    """A reviewer's work: submissions with live access, soonest-closing first, with counts of
    the organisation's own findings."""
    authorize(actor, Permission.QUEUE_READ)
    live = _live_for(db, actor, now, rules)
    rows = db.execute(
        select(Finding.submission_id, func.count())
        .where(
            Finding.author_org_id == actor.organisation_id,
            Finding.submission_id.in_([s.id for s in live]),
        )
        .group_by(Finding.submission_id)
    ).all()
    counts = {submission_id: count for submission_id, count in rows}
    items = [(s, window(s, now, rules), counts.get(s.id, 0)) for s in live]
    items.sort(key=lambda item: (item[1].seconds_left or 0, item[0].id))
    return items


def audit_trail(
    db: Session, actor: Actor, submission_id: str, page: PageRequest, now: datetime, rules: Rules
) -> Slice[Any]:
    """Every audit entry about the developer's submission: who touched what, when."""
    submission, access = visible_submission(db, actor, submission_id, now, rules)
    authorize(actor, Permission.AUDIT_READ, access)
    return audit.entries_for_submissions(db, [submission.id], page)


__all__ = [
    "Rules",
    "access_to",
    "audit_trail",
    "change_window",
    "create_submission",
    "decide_nomination",
    "file_finding",
    "get_finding",
    "get_submission",
    "get_window",
    "grant",
    "grant_is_live",
    "list_findings",
    "list_grants",
    "list_nominations",
    "list_submissions",
    "nominate",
    "nomination_is_live",
    "queue",
    "release",
    "respond",
    "revoke_grant",
    "update_submission",
    "window",
]
