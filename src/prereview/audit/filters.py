"""Which audit entries a list shows, and in which order.

A trail of thousands of entries is read from its end: lists are newest first unless asked
otherwise, and narrow to one actor, one action (or a family of them), a span of time or one
submission. The same filter serves ``GET /audit/entries`` and a submission's trail
(``GET /submissions/{id}/audit``, in review), so this module is public: the query parameters
are declared once, in :func:`entry_filter`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Literal, TypeVar

from fastapi import Query
from sqlalchemy import ColumnElement, Select, and_, or_, true

from prereview.audit.models import AuditEntry
from prereview.core.fields import UtcDatetime

T = TypeVar("T")
Order = Literal["newest", "oldest"]
_ID = r"^[a-z]{3}_[0-9a-z]{26}$"
_ACTION = r"^[a-z0-9_.-]+(:[a-z0-9_.-]+)*$"


@dataclass(frozen=True, slots=True)
class EntryFilter:
    """A list's filters; the default shows every entry, newest first."""

    actor: str | None = None
    """A user's or an organisation's id: the entries it acted in."""
    action: str | None = None
    """An action (``review:grant:create``) or its family (``review:grant``, ``review``)."""
    since: datetime | None = None
    """Entries at or after this instant."""
    until: datetime | None = None
    """Entries strictly before this instant."""
    submission_id: str | None = None
    """Entries about this submission."""
    oldest_first: bool = False

    def where(self) -> ColumnElement[bool]:
        """The SQL condition that selects what this filter lets through."""
        parts: list[ColumnElement[bool]] = []
        if self.actor is not None:
            parts.append(
                or_(AuditEntry.actor_user_id == self.actor, AuditEntry.actor_org_id == self.actor)
            )
        if self.action is not None:
            parts.append(
                or_(
                    AuditEntry.action == self.action,
                    AuditEntry.action.startswith(f"{self.action}:", autoescape=True),
                )
            )
        if self.since is not None:
            parts.append(AuditEntry.at >= self.since)
        if self.until is not None:
            parts.append(AuditEntry.at < self.until)
        if self.submission_id is not None:
            parts.append(AuditEntry.submission_id == self.submission_id)
        return and_(true(), *parts)

    def apply(self, query: Select[T]) -> Select[T]:
        """``query`` narrowed by this filter and put in its order."""
        order = AuditEntry.seq if self.oldest_first else AuditEntry.seq.desc()
        return query.where(self.where()).order_by(order)


def entry_filter(
    actor: Annotated[
        str | None, Query(pattern=_ID, description="A user's or an organisation's id.")
    ] = None,
    action: Annotated[
        str | None,
        Query(
            max_length=80,
            pattern=_ACTION,
            description="An action, or its family: `review:grant` matches `review:grant:create`.",
        ),
    ] = None,
    since: Annotated[UtcDatetime | None, Query(description="At or after (RFC 3339).")] = None,
    until: Annotated[UtcDatetime | None, Query(description="Before (RFC 3339).")] = None,
    order: Annotated[Order, Query(description="`newest` first (default) or `oldest`.")] = "newest",
) -> EntryFilter:
    """The filter given by a list's query parameters (the submission, where the list has no
    submission in its path, is its own parameter)."""
    return EntryFilter(
        actor=actor, action=action, since=since, until=until, oldest_first=order == "oldest"
    )
