"""The audit log's single write path, and reads of it.

Every change, and every read of confidential material, goes through :func:`record`, inside the
same transaction as the thing it records: an action that is rolled back leaves no entry, and an
entry cannot be missing for an action that was committed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from prereview.audit.models import AuditEntry, AuditHead
from prereview.core.pagination import PageRequest, Slice, paginate
from prereview.identity.actor import Actor

HEAD_ID = 1


def canonical_leaf(fields: Mapping[str, Any]) -> str:
    """The exact text hashed into the log: JSON with sorted keys and no insignificant space."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def leaf_hash(leaf: str) -> bytes:
    """RFC 9162 leaf hash: SHA-256(0x00 || entry)."""
    return hashlib.sha256(b"\x00" + leaf.encode("utf-8")).digest()


def record(
    db: Session,
    *,
    actor: Actor | None,
    action: str,
    object_type: str,
    object_id: str | None,
    at: datetime,
    submission_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry to the log in the caller's transaction.

    ``detail`` must hold no secret: it is readable by the developer concerned and by auditors.
    """
    head = db.execute(
        select(AuditHead).where(AuditHead.id == HEAD_ID).with_for_update()
    ).scalar_one()
    seq = head.size
    fields: dict[str, Any] = {
        "seq": seq,
        "at": at.isoformat(),
        "actor_user_id": actor.user_id if actor else None,
        "actor_org_id": actor.organisation_id if actor else None,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "submission_id": submission_id,
        "detail": dict(detail or {}),
    }
    leaf = canonical_leaf(fields)
    entry = AuditEntry(
        seq=seq,
        at=at,
        actor_user_id=fields["actor_user_id"],
        actor_org_id=fields["actor_org_id"],
        action=action,
        object_type=object_type,
        object_id=object_id,
        submission_id=submission_id,
        leaf=leaf,
        leaf_hash=leaf_hash(leaf),
    )
    db.add(entry)
    head.size = seq + 1
    return entry


def entries_for_submissions(
    db: Session, submission_ids: list[str], page: PageRequest
) -> Slice[AuditEntry]:
    """The entries that concern any of ``submission_ids``, oldest first."""
    query = (
        select(AuditEntry)
        .where(AuditEntry.submission_id.in_(submission_ids))
        .order_by(AuditEntry.seq)
    )
    return paginate(db, query, page)
