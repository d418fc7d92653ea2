"""One-time invitations: how a newly admitted organisation gets its first administrator.

Whoever admits an organisation (an administrator of the clearinghouse, or the platform operator
on the server) invites its first administrator; an organisation's own administrators may invite
more people. The invitation is a random secret shown once and stored as its SHA-256; it names
the email and role of the account it creates, expires (``PREREVIEW_INVITATION_TTL_DAYS``), and
works once: redeeming claims it with a single conditional ``UPDATE`` before anything else, so
of two simultaneous redemptions exactly one creates the account.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from prereview.audit.usecase import commit_audited
from prereview.authz.actor import Actor
from prereview.authz.permissions import Permission
from prereview.authz.policy import Access, authorize
from prereview.authz.usecase import use_case
from prereview.core.ids import new_id
from prereview.identity import errors
from prereview.identity.models import Invitation, Organisation, User
from prereview.identity.schemas import InvitationCreate, UserCreate
from prereview.identity.service import (
    IssuedToken,
    _new_token,
    _new_user,
    actor_for,
    get_organisation,
    hash_token,
)

INVITATION_PREFIX = "pri_"  # a label, not a secret
_INVITATION_BYTES = 32


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: Invitation
    secret: str


@dataclass(frozen=True)
class Redemption:
    user: User
    token: IssuedToken


def _new_invitation(
    db: Session,
    actor: Actor | None,
    org: Organisation,
    data: InvitationCreate,
    now: datetime,
    ttl: timedelta,
) -> IssuedInvitation:
    email = data.email.lower()
    if db.scalar(select(User.id).where(User.organisation_id == org.id, User.email == email)):
        raise errors.EmailTaken(f"the organisation already has a user with email '{email}'")
    secret = INVITATION_PREFIX + secrets.token_urlsafe(_INVITATION_BYTES)
    invitation = Invitation(
        id=new_id("inv"),
        organisation_id=org.id,
        email=email,
        role=data.role,
        secret_hash=hash_token(secret),
        created_by=actor.user_id if actor else None,
        created_at=now,
        expires_at=now + ttl,
        redeemed_at=None,
        redeemed_by=None,
    )
    db.add(invitation)
    db.flush()
    commit_audited(
        db,
        actor,
        Permission.INVITATION_CREATE,
        object_type="invitation",
        object_id=invitation.id,
        at=now,
        detail={
            "organisation_id": org.id,
            "role": data.role.value,
            "expires_at": invitation.expires_at.isoformat(),
        },
    )
    return IssuedInvitation(invitation=invitation, secret=secret)


@use_case(Permission.INVITATION_CREATE)
def create_invitation(
    db: Session,
    actor: Actor,
    org_id: str,
    data: InvitationCreate,
    now: datetime,
    ttl: timedelta,
) -> IssuedInvitation:
    """An invitation into ``org_id``: by its administrators, or by the clearinghouse's for the
    first person of an organisation that has nobody yet."""
    org = get_organisation(db, actor, org_id)
    people = db.scalar(select(func.count()).select_from(User).where(User.organisation_id == org.id))
    access = Access(same_org=org.id == actor.organisation_id, first_user=not people)
    authorize(actor, Permission.INVITATION_CREATE, access)
    return _new_invitation(db, actor, org, data, now, ttl)


def create_invitation_by_operator(
    db: Session, org_id: str, data: InvitationCreate, now: datetime, ttl: timedelta
) -> IssuedInvitation:
    """The platform operator's invitation, from the server's command line (audited, no actor)."""
    org = db.get(Organisation, org_id)
    if org is None:
        raise errors.OrganisationNotFound(f"no organisation '{org_id}'")
    return _new_invitation(db, None, org, data, now, ttl)


def redeem_invitation(
    db: Session, secret: str, name: str, now: datetime, token_ttl: timedelta
) -> Redemption:
    """Create the invited account and a first API token for it; the invitation is spent.

    The claim is the transaction's first statement, so no earlier read can be stale; if
    anything after it fails (the email was taken meanwhile) the claim is rolled back with it.
    """
    digest = hash_token(secret)
    claimed = db.execute(
        update(Invitation)
        .where(
            Invitation.secret_hash == digest,
            Invitation.redeemed_at.is_(None),
            Invitation.expires_at > now,
        )
        .values(redeemed_at=now)
        .returning(Invitation.id)
        .execution_options(synchronize_session=False)
    ).scalar_one_or_none()
    if claimed is None:
        db.rollback()
        _explain_refusal(db, digest)
    invitation = db.get(Invitation, claimed)
    assert invitation is not None
    _check_still_first(db, invitation)
    user = _new_user(
        db,
        invitation.organisation,
        UserCreate(email=invitation.email, name=name, role=invitation.role),
        now,
    )
    db.flush()
    invitation.redeemed_by = user.id
    issued = _new_token(db, user, "invitation", token_ttl, now)
    db.flush()
    commit_audited(
        db,
        actor_for(user, issued.token.id),
        Permission.INVITATION_REDEEM,
        object_type="invitation",
        object_id=invitation.id,
        at=now,
        detail={"organisation_id": invitation.organisation_id, "user_id": user.id},
    )
    return Redemption(user=user, token=issued)


def _check_still_first(db: Session, invitation: Invitation) -> None:
    """An invitation from outside the organisation (the clearinghouse, the operator) is for
    its first person only: once it has people, only they let others in. Otherwise a spare
    invitation, kept back at admission, would be a way in later."""
    inviter = db.get(User, invitation.created_by) if invitation.created_by else None
    if inviter is not None and inviter.organisation_id == invitation.organisation_id:
        return
    people = db.scalar(
        select(func.count())
        .select_from(User)
        .where(User.organisation_id == invitation.organisation_id)
    )
    if people:
        raise errors.InvitationGone(
            "this invitation was for the organisation's first person, and it has people now: "
            "ask its administrators to invite you"
        )


def _explain_refusal(db: Session, digest: str) -> NoReturn:
    found = db.scalar(select(Invitation).where(Invitation.secret_hash == digest))
    if found is None:
        raise errors.InvitationNotFound(
            "no such invitation: check that you copied all of it, or ask for a new one"
        )
    if found.redeemed_at is not None:
        raise errors.InvitationGone(
            "this invitation has already been used; ask whoever invited you for a new one"
        )
    raise errors.InvitationGone(
        "this invitation has expired; ask whoever invited you for a new one"
    )
