"""Grants and the review window they open: the developer lets agencies in, for a while.

The first grant opens the window; its length is the developer's to change within the policy
maximum (:class:`~prereview.review.submissions.Rules`). A grant gives access only while it is
unrevoked and the window is open (:func:`grant_is_live`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from prereview.audit.usecase import commit_audited
from prereview.authz import events
from prereview.authz.actor import Actor
from prereview.authz.kinds import OrgKind
from prereview.authz.permissions import Permission
from prereview.authz.usecase import use_case
from prereview.core.ids import new_id
from prereview.identity import service as identity
from prereview.review import errors
from prereview.review.models import Grant, Submission
from prereview.review.schemas import GrantCreate
from prereview.review.submissions import Rules, owned_submission, reach_submission, window
from prereview.review.window import Window


def grant_is_live(grant: Grant, submission: Submission, now: datetime, rules: Rules) -> bool:
    """A grant gives access only while it is not revoked and its submission's window is open."""
    return grant.revoked_at is None and window(submission, now, rules).state.is_open


def check_window_length(days: int, rules: Rules) -> None:
    if days > rules.max_window.days:
        raise errors.WindowTooLong(
            f"a review window lasts at most {rules.max_window.days} days "
            f"(PREREVIEW_MAX_WINDOW_DAYS); {days} days were asked for"
        )


# Reading the agency's organisation checks identity's ORG_READ on the way.
@use_case(Permission.GRANT_CREATE, also=(Permission.ORG_READ,))
def grant(
    db: Session, actor: Actor, submission_id: str, data: GrantCreate, now: datetime, rules: Rules
) -> Grant:
    """Grant an agency access. The first grant opens the window for ``window_days``."""
    submission = owned_submission(db, actor, submission_id, Permission.GRANT_CREATE)
    agency = identity.get_organisation(db, actor, data.agency_org_id)
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
    events.access_changed(db)
    commit_audited(
        db,
        actor,
        Permission.GRANT_CREATE,
        object_type="grant",
        object_id=new.id,
        submission_id=submission.id,
        at=now,
        # The policy maximum in force, so that the transparency report can state the days
        # used out of it from the log alone.
        detail={
            "agency_org_id": agency.id,
            "window_ends_at": submission.window_ends_at.isoformat()
            if submission.window_ends_at
            else None,
            "max_window_days": rules.max_window.days,
        },
    )
    return new


@use_case(Permission.SUBMISSION_UPDATE)
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
    events.access_changed(db)
    commit_audited(
        db,
        actor,
        Permission.SUBMISSION_UPDATE,
        object_type="submission",
        object_id=submission.id,
        submission_id=submission.id,
        at=now,
        detail={"window_ends_at": submission.window_ends_at.isoformat()},
    )
    return submission


@use_case(Permission.WINDOW_READ)
def get_window(
    db: Session, actor: Actor, submission_id: str, now: datetime, rules: Rules
) -> Window:
    """The window of a submission, for its developer and for those who had access."""
    submission, _ = reach_submission(db, actor, submission_id, Permission.WINDOW_READ, now, rules)
    return window(submission, now, rules)


@use_case(Permission.GRANT_LIST)
def list_grants(
    db: Session, actor: Actor, submission_id: str, now: datetime, rules: Rules
) -> tuple[Submission, Sequence[Grant]]:
    """All grants for the developer; for an agency, its own."""
    submission, access = reach_submission(
        db, actor, submission_id, Permission.GRANT_LIST, now, rules
    )
    query = select(Grant).where(Grant.submission_id == submission.id).order_by(Grant.granted_at)
    if not access.owner:
        query = query.where(Grant.agency_org_id == actor.organisation_id)
    return submission, db.scalars(query).all()


@use_case(Permission.GRANT_REVOKE)
def revoke_grant(
    db: Session, actor: Actor, submission_id: str, grant_id: str, now: datetime
) -> tuple[Submission, Grant]:
    """End an agency's access at once (and with it that of the partners it nominated)."""
    submission = owned_submission(db, actor, submission_id, Permission.GRANT_REVOKE)
    target = db.get(Grant, grant_id)
    if target is None or target.submission_id != submission.id:
        raise errors.GrantNotFound(f"no grant '{grant_id}' on this submission")
    if target.revoked_at is None:
        target.revoked_at = now
        events.access_changed(db)
        commit_audited(
            db,
            actor,
            Permission.GRANT_REVOKE,
            object_type="grant",
            object_id=target.id,
            submission_id=submission.id,
            at=now,
        )
    return submission, target
