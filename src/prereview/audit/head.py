"""The log's head row: the one row that serialises appends, and the log's size."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from prereview.audit.models import AuditHead

HEAD_ID = 1


def locked_head(db: Session) -> AuditHead:
    """The head row, locked until the caller's transaction ends, so appends stay contiguous."""
    return db.execute(
        select(AuditHead).where(AuditHead.id == HEAD_ID).with_for_update()
    ).scalar_one()


def log_size(db: Session) -> int:
    """Entries in the log now (the head's size; not locked)."""
    return db.execute(select(AuditHead.size).where(AuditHead.id == HEAD_ID)).scalar_one()
