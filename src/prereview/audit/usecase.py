"""The one shape of a use case: load, hide, authorize; then change, audit and commit.

Every use case on a confidential object does the same six steps, and does them in this order
so that nothing leaks and nothing is left half-written:

1. **load** the object (``None`` when there is none);
2. **hide** it with the capability's 404 from anyone who may not even know it exists, the same
   answer as for an object that does not exist, so that ids cannot be probed;
3. **authorize** the permission with the actor's relation to it (an :class:`Access`), which
   answers 403 to those who know of the object but may not do this;
4. **change** it (the caller's own code, between :func:`reach` and :func:`commit_audited`);
5. **audit** the change in the same transaction, so the log and the data cannot disagree;
6. **commit** both at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from prereview.audit import service as audit
from prereview.authz.actor import Actor
from prereview.authz.permissions import Permission
from prereview.authz.policy import Access, authorize
from prereview.core.errors import NotFound

T = TypeVar("T")


def reach(
    actor: Actor,
    permission: Permission,
    found: T | None,
    relation: Callable[[T], Access],
    *,
    hidden: Callable[[], NotFound],
    knows: Callable[[Access], bool],
) -> tuple[T, Access]:
    """Steps 1-3: the object and the actor's access to it, or the 404 or 403 that says why not.

    ``found`` is the loaded object or ``None``; ``relation`` computes the actor's access to
    it; ``knows`` says whether that access lets the actor learn the object exists; ``hidden``
    builds the capability's not-found error, raised alike for missing and hidden objects.
    """
    if found is None:
        raise hidden()
    access = relation(found)
    if not knows(access):
        raise hidden()
    authorize(actor, permission, access)
    return found, access


def commit_audited(
    db: Session,
    actor: Actor | None,
    action: str,
    *,
    object_type: str,
    object_id: str | None,
    at: datetime,
    submission_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Steps 5-6: append the audit entry of the change to the log and commit them together."""
    audit.record(
        db,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        at=at,
        submission_id=submission_id,
        detail=detail,
    )
    db.commit()
