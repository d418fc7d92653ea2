"""Submissions: who stands where to one, how it is loaded, and the developer's launch controls.

Every other review module starts here: :func:`access_to` is the actor's relation to a
submission (the input of every policy decision on it), and the loaders built on it
(:func:`reach_submission`, :func:`visible_submission`, :func:`owned_submission`) hide a
submission with the same 404 from those who never had access as from a missing one.

The developer's launch controls (planned date, release, withdrawal) consult nothing but the
caller's ownership: no window state, grant, nomination or finding is read on that path, so
nothing anyone else does can delay or block a release.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Exists, Select, func, select
from sqlalchemy.orm import Session

from prereview.audit import service as audit
from prereview.audit.usecase import commit_audited, reach
from prereview.authz import events
from prereview.authz.actor import Actor
from prereview.authz.kinds import OrgKind
from prereview.authz.permissions import Permission
from prereview.authz.policy import Access, authorize
from prereview.authz.usecase import use_case
from prereview.core.ids import new_id
from prereview.core.pagination import PageRequest, Slice, paginate
from prereview.core.settings import Settings
from prereview.review import errors
from prereview.review.kinds import NominationStatus
from prereview.review.models import Finding, Grant, Nomination, Submission
from prereview.review.schemas import SubmissionCreate, SubmissionUpdate
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


def nominator_granted() -> Exists:
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
            nominator_granted(),
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


def _not_found(submission_id: str) -> errors.SubmissionNotFound:
    return errors.SubmissionNotFound(f"no submission '{submission_id}'")


def knows_of(access: Access) -> bool:
    """Whether an access lets its holder learn the submission exists: owners, and those who
    were ever let in (a revoked agency is told 403, not 404)."""
    return access.owner or access.had_access


def load_submission(db: Session, submission_id: str) -> Submission:
    submission = db.get(Submission, submission_id)
    if submission is None:
        raise _not_found(submission_id)
    return submission


def reach_submission(
    db: Session,
    actor: Actor,
    submission_id: str,
    permission: Permission,
    now: datetime,
    rules: Rules,
    *,
    checked: Callable[[Access], Access] | None = None,
) -> tuple[Submission, Access]:
    """Load, hide and authorize ``permission`` on a submission: review's :func:`reach`, the
    one way every capability acts on a submission. ``checked`` adjusts the access before it
    is authorized (a read that lets every reader see its own work checks it as an author)."""
    adjust = checked or (lambda access: access)
    return reach(
        actor,
        permission,
        db.get(Submission, submission_id),
        lambda submission: adjust(access_to(db, actor, submission, now, rules)),
        hidden=lambda: _not_found(submission_id),
        knows=knows_of,
    )


def visible_submission(
    db: Session, actor: Actor, submission_id: str, now: datetime, rules: Rules
) -> tuple[Submission, Access]:
    """Load a submission for an action; hide it from organisations that never had access.

    It authorizes nothing: the caller checks its own permission with the access returned."""
    submission = load_submission(db, submission_id)
    access = access_to(db, actor, submission, now, rules)
    if not knows_of(access):
        raise _not_found(submission_id)
    return submission, access


def owned_submission(
    db: Session, actor: Actor, submission_id: str, permission: Permission
) -> Submission:
    """Load a submission for one of its developer's own actions.

    Only ownership is consulted: whatever the window, grants or findings, the owner may act.
    Reviewers who know of the submission are told why not; others learn nothing of it.
    """

    def relation(submission: Submission) -> Access:
        if actor.organisation_id == submission.developer_org_id:
            return Access(owner=True)
        return Access(had_access=_ever_had_access(db, actor, submission))

    submission, _ = reach(
        actor,
        permission,
        db.get(Submission, submission_id),
        relation,
        hidden=lambda: _not_found(submission_id),
        knows=knows_of,
    )
    return submission


def _audited(
    db: Session,
    actor: Actor,
    action: Permission,
    submission: Submission,
    now: datetime,
    detail: dict[str, Any] | None = None,
) -> None:
    """Audit a change of the submission itself and commit it."""
    commit_audited(
        db,
        actor,
        action,
        object_type="submission",
        object_id=submission.id,
        submission_id=submission.id,
        at=now,
        detail=detail,
    )


def _refuse_past_release(planned: datetime | None, now: datetime) -> None:
    """A planned release date must lie ahead: one in the past (a typo, most often) would close
    the window at once and cut every reviewer off mid-evaluation, so it is refused."""
    if planned is not None and planned <= now:
        raise errors.PlannedReleaseInPast(
            f"planned_release_at {planned.isoformat()} is not in the future (it is now "
            f"{now.isoformat()}); a planned release date must lie ahead. To declare the model "
            "released, use the release action instead (POST /submissions/{id}/release, or "
            "`prereview submission release`)"
        )


@use_case(Permission.SUBMISSION_READ)
def get_submission(
    db: Session, actor: Actor, submission_id: str, now: datetime, rules: Rules
) -> Submission:
    """A submission the actor may read now. Outsiders learn nothing, not even that it exists."""
    submission, access = reach(
        actor,
        Permission.SUBMISSION_READ,
        db.get(Submission, submission_id),
        lambda found: access_to(db, actor, found, now, rules),
        hidden=lambda: _not_found(submission_id),
        knows=lambda a: a.owner or a.granted_agency or a.consented_partner or a.had_access,
    )
    if not access.owner:
        _audited(db, actor, Permission.SUBMISSION_READ, submission, now)
    return submission


@use_case(Permission.SUBMISSION_CREATE)
def create_submission(
    db: Session, actor: Actor, data: SubmissionCreate, now: datetime
) -> Submission:
    authorize(actor, Permission.SUBMISSION_CREATE)
    _refuse_past_release(data.planned_release_at, now)
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
    events.access_changed(db)
    _audited(
        db,
        actor,
        Permission.SUBMISSION_CREATE,
        submission,
        now,
        # The planned release closes the window: logged so that the transparency report can
        # tell from the log alone when access ended.
        {"model": f"{data.model_name} {data.model_version}"}
        | (
            {"planned_release_at": data.planned_release_at.isoformat()}
            if data.planned_release_at
            else {}
        ),
    )
    return submission


@use_case(Permission.SUBMISSION_LIST)
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
        nominator_granted(),
    )
    source = granted if actor.org_kind is OrgKind.AGENCY else consented
    if actor.org_kind not in (OrgKind.AGENCY, OrgKind.TRUSTED_PARTNER):
        return []
    candidates = db.scalars(select(Submission).where(Submission.id.in_(source))).all()
    return [s for s in candidates if window(s, now, rules).state.is_open]


@use_case(Permission.SUBMISSION_UPDATE)
def update_submission(
    db: Session, actor: Actor, submission_id: str, data: SubmissionUpdate, now: datetime
) -> Submission:
    """Change what the developer may change, the planned release date included, at any time."""
    submission = owned_submission(db, actor, submission_id, Permission.SUBMISSION_UPDATE)
    if "planned_release_at" in data.model_fields_set:
        _refuse_past_release(data.planned_release_at, now)
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
    events.access_changed(db)
    _audited(
        db,
        actor,
        Permission.SUBMISSION_UPDATE,
        submission,
        now,
        {"fields": sorted(changed)}
        | (
            {"planned_release_at": changed["planned_release_at"]}
            if "planned_release_at" in changed
            else {}
        ),
    )
    return submission


@use_case(Permission.SUBMISSION_RELEASE)
def release(db: Session, actor: Actor, submission_id: str, now: datetime) -> Submission:
    """Declare the model publicly released. Always allowed to its developer; idempotent."""
    submission = owned_submission(db, actor, submission_id, Permission.SUBMISSION_RELEASE)
    if submission.released_at is None:
        submission.released_at = now
        submission.updated_at = now
        events.access_changed(db)
        _audited(db, actor, Permission.SUBMISSION_RELEASE, submission, now)
    return submission


@use_case(Permission.SUBMISSION_WITHDRAW)
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
        vault_service.shred(db, vault_service.submission_key_context(submission.id), now)
        events.access_changed(db)
        _audited(
            db,
            actor,
            Permission.SUBMISSION_WITHDRAW,
            submission,
            now,
            {"reason": reason} if reason else None,
        )
    return submission


@use_case(Permission.QUEUE_READ)
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


@use_case(Permission.AUDIT_READ)
def audit_trail(
    db: Session,
    actor: Actor,
    submission_id: str,
    page: PageRequest,
    now: datetime,
    rules: Rules,
    filters: audit.EntryFilter = audit.EntryFilter(),
) -> Slice[Any]:
    """Every audit entry about the developer's submission: who touched what, when (newest
    first, unless ``filters`` say otherwise)."""
    submission, _ = reach_submission(db, actor, submission_id, Permission.AUDIT_READ, now, rules)
    return audit.entries_for_submissions(db, [submission.id], page, filters)
