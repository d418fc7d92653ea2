"""What the gateway may ask review about who can reach a submission's model.

The gateway decides on every model call whether a key's access (an agency's grant or a trusted
partner's nomination) may still reach the model, without an :class:`~prereview.authz.actor.Actor`
and in one cheap read, which no review use case offers. Rather than reading review's tables
itself, it asks these questions; they are read-only and answer in plain values (ids, dates,
booleans), never in review's rows, so review may change its tables without the gateway noticing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from prereview.authz.kinds import OrgKind
from prereview.review.kinds import NominationStatus
from prereview.review.models import Grant, Nomination, Submission
from prereview.review.service import nomination_is_live

AccessKind = Literal["grant", "nomination"]
"""The two ways into a submission's model: an agency's grant, a partner's nomination."""


@dataclass(frozen=True, slots=True)
class SubmissionDates:
    """The dates a window depends on, copied out of the row (implements ``WindowDates``)."""

    window_opened_at: datetime | None
    window_ends_at: datetime | None
    planned_release_at: datetime | None
    released_at: datetime | None
    withdrawn_at: datetime | None


def submission_dates(db: Session, submission_id: str) -> SubmissionDates | None:
    """The window's dates of ``submission_id``, or None if there is no such submission."""
    submission = db.get(Submission, submission_id)
    if submission is None:
        return None
    return SubmissionDates(
        submission.window_opened_at,
        submission.window_ends_at,
        submission.planned_release_at,
        submission.released_at,
        submission.withdrawn_at,
    )


def live_access_of(
    db: Session, submission_id: str, org_id: str, org_kind: OrgKind
) -> tuple[AccessKind, str] | None:
    """The organisation's oldest unrevoked grant (an agency) or consented nomination (a
    partner) on the submission, as ``(kind, id)``; None if it holds neither."""
    if org_kind is OrgKind.AGENCY:
        grant_id = db.scalar(
            select(Grant.id)
            .where(
                Grant.submission_id == submission_id,
                Grant.agency_org_id == org_id,
                Grant.revoked_at.is_(None),
            )
            .order_by(Grant.granted_at)
            .limit(1)
        )
        return ("grant", grant_id) if grant_id else None
    if org_kind is OrgKind.TRUSTED_PARTNER:
        nomination_id = db.scalar(
            select(Nomination.id)
            .where(
                Nomination.submission_id == submission_id,
                Nomination.partner_org_id == org_id,
                Nomination.status == NominationStatus.CONSENTED,
            )
            .order_by(Nomination.created_at)
            .limit(1)
        )
        return ("nomination", nomination_id) if nomination_id else None
    return None


def access_exists(db: Session, submission_id: str, kind: AccessKind, access_id: str) -> bool:
    """Whether ``access_id`` names a grant (or nomination, by ``kind``) of this submission,
    revoked or not."""
    row = db.get(Grant, access_id) if kind == "grant" else db.get(Nomination, access_id)
    return row is not None and row.submission_id == submission_id


def access_ids_of(submission_id: str, org_id: str) -> tuple[Select[str], Select[str]]:
    """SQL: the ids of every grant and nomination the organisation holds or held on the
    submission (one query each), to filter what the gateway keeps per access."""
    grants = select(Grant.id).where(
        Grant.submission_id == submission_id, Grant.agency_org_id == org_id
    )
    nominations = select(Nomination.id).where(
        Nomination.submission_id == submission_id, Nomination.partner_org_id == org_id
    )
    return grants, nominations


def org_of_access(db: Session, access_id: str) -> str | None:
    """The organisation a grant (its agency) or nomination (its partner) lets in, if any."""
    grant = db.get(Grant, access_id)
    if grant is not None:
        return grant.agency_org_id
    nomination = db.get(Nomination, access_id)
    return nomination.partner_org_id if nomination is not None else None


def access_revoked(db: Session, grant_id: str | None, nomination_id: str | None) -> bool:
    """Whether the grant (when ``grant_id`` is given) or else the nomination no longer lets
    anyone in, the window aside: revoked, gone, or (a nomination) no longer consented or its
    nominating agency's grant revoked (see :func:`~prereview.review.service.nomination_is_live`).
    """
    if grant_id is not None:
        grant = db.get(Grant, grant_id)
        return grant is None or grant.revoked_at is not None
    nomination = db.get(Nomination, nomination_id) if nomination_id is not None else None
    return nomination is None or not nomination_is_live(db, nomination)
