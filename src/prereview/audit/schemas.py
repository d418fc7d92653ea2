"""Response models of the audit log."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from prereview.audit.models import AuditEntry


class AuditEntryOut(BaseModel):
    seq: int = Field(description="Position of the entry (leaf index) in the log.")
    at: datetime
    actor_user_id: str | None
    actor_org_id: str | None
    action: str
    object_type: str
    object_id: str | None
    submission_id: str | None
    detail: dict[str, Any]
    leaf: str = Field(description="The exact text hashed into the Merkle tree.")
    leaf_hash: str = Field(description="RFC 9162 leaf hash, hex.")

    @classmethod
    def from_entry(cls, entry: AuditEntry) -> AuditEntryOut:
        fields = json.loads(entry.leaf)
        return cls(
            seq=entry.seq,
            at=entry.at,
            actor_user_id=entry.actor_user_id,
            actor_org_id=entry.actor_org_id,
            action=entry.action,
            object_type=entry.object_type,
            object_id=entry.object_id,
            submission_id=entry.submission_id,
            detail=fields.get("detail", {}),
            leaf=entry.leaf,
            leaf_hash=entry.leaf_hash.hex(),
        )
