"""Nominations: a granted agency proposes a trusted partner, and only the developer lets it in.

Nothing is shared with a partner until the developer consents, and a partner's access hangs on
its nominating agency's: when that agency's grant is revoked, the partner's access ends too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

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
from prereview.review.kinds import NominationStatus
from prereview.review.models import Grant, Nomination
from prereview.review.schemas import NominationCreate
from prereview.review.submissions import Rules, owned_submission, reach_submission


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


# Reading the partner's organisation checks identity's ORG_READ on the way.
@use_case(Permission.NOMINATION_CREATE, also=(Permission.ORG_READ,))
def nominate(
    db: Session,
    actor: Actor,
    submission_id: str,
    data: NominationCreate,
    now: datetime,
    rules: Rules,
) -> Nomination:
    """An agency proposes a trusted partner; nothing is shared until the developer consents."""
    submission, _ = reach_submission(
        db, actor, submission_id, Permission.NOMINATION_CREATE, now, rules
    )
    partner = identity.get_organisation(db, actor, data.partner_org_id)
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
    events.access_changed(db)
    commit_audited(
        db,
        actor,
        Permission.NOMINATION_CREATE,
        object_type="nomination",
        object_id=nomination.id,
        submission_id=submission.id,
        at=now,
        detail={"partner_org_id": partner.id},
    )
    return nomination


@use_case(Permission.NOMINATION_LIST)
def list_nominations(
    db: Session, actor: Actor, submission_id: str, now: datetime, rules: Rules
) -> Sequence[Nomination]:
    """All nominations for the developer; for an agency, those it made."""
    submission, access = reach_submission(
        db, actor, submission_id, Permission.NOMINATION_LIST, now, rules
    )
    query = (
        select(Nomination)
        .where(Nomination.submission_id == submission.id)
        .order_by(Nomination.created_at)
    )
    if not access.owner:
        query = query.where(Nomination.agency_org_id == actor.organisation_id)
    return db.scalars(query).all()


@use_case(Permission.NOMINATION_DECIDE)
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
    events.access_changed(db)
    commit_audited(
        db,
        actor,
        Permission.NOMINATION_DECIDE,
        object_type="nomination",
        object_id=nomination.id,
        submission_id=submission.id,
        at=now,
        detail={"status": nomination.status.value, "partner_org_id": nomination.partner_org_id},
    )
    return nomination
