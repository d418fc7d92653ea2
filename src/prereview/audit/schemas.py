"""Response models of the audit log.

Every hash is standard base64, as in the signed checkpoints themselves (C2SP tlog-checkpoint)
and in RFC 9162's JSON API, so a client decodes all of them the same way.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any, Self

from pydantic import BaseModel, Field

from prereview.audit.models import AuditCheckpoint, AuditEntry
from prereview.audit.service import ConsistencyProof, InclusionProof
from prereview.core.pagination import Page


def b64(digest: bytes) -> str:
    """A hash as the audit API writes it: standard base64."""
    return base64.b64encode(digest).decode("ascii")


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
    leaf: str = Field(description="The exact text hashed into the Merkle tree (UTF-8).")
    leaf_hash: str = Field(description="RFC 9162 leaf hash SHA-256(0x00 || leaf), base64.")

    @classmethod
    def from_entry(cls, entry: AuditEntry) -> Self:
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
            leaf_hash=b64(entry.leaf_hash),
        )


class CheckpointOut(BaseModel):
    origin: str = Field(description="The log's name, the first line of the checkpoint.")
    size: int = Field(description="Entries the checkpoint covers.")
    root: str = Field(description="RFC 9162 root of the tree of `size` entries, base64.")
    note: str = Field(
        description="The C2SP signed note (tlog-checkpoint), Ed25519-signed, followed by the "
        "witnesses' cosignature lines (C2SP tlog-cosignature) received so far."
    )
    verifier_key: str = Field(
        description="The signer's public key in note verifier format: <name>+<key ID>+<key>."
    )
    signed_at: datetime

    @classmethod
    def from_checkpoint(
        cls, checkpoint: AuditCheckpoint, verifier_key: str, note: str | None = None
    ) -> CheckpointOut:
        """``note``: the note as served, with cosignatures (default: the log's note alone)."""
        return cls(
            origin=checkpoint.note.split("\n", 1)[0],  # a checkpoint's first line is its origin
            size=checkpoint.size,
            root=b64(checkpoint.root),
            note=checkpoint.note if note is None else note,
            verifier_key=verifier_key,
            signed_at=checkpoint.signed_at,
        )


class InclusionProofOut(BaseModel):
    seq: int = Field(description="The entry (leaf index).")
    size: int = Field(description="The tree the proof is for.")
    leaf_hash: str = Field(description="The entry's leaf hash, base64.")
    proof: list[str] = Field(description="RFC 9162 audit path, leaf upwards, base64 hashes.")
    root: str = Field(description="Root of the tree of `size` entries, base64.")

    @classmethod
    def from_proof(cls, proof: InclusionProof) -> InclusionProofOut:
        return cls(
            seq=proof.seq,
            size=proof.size,
            leaf_hash=b64(proof.leaf_hash),
            proof=[b64(h) for h in proof.path],
            root=b64(proof.root),
        )


class ConsistencyProofOut(BaseModel):
    first: int = Field(description="The older tree's size.")
    second: int = Field(description="The newer tree's size.")
    first_root: str = Field(description="Root of the older tree, base64.")
    second_root: str = Field(description="Root of the newer tree, base64.")
    proof: list[str] = Field(description="RFC 9162 consistency proof, base64 hashes.")

    @classmethod
    def from_proof(cls, proof: ConsistencyProof) -> ConsistencyProofOut:
        return cls(
            first=proof.first,
            second=proof.second,
            first_root=b64(proof.first_root),
            second_root=b64(proof.second_root),
            proof=[b64(h) for h in proof.path],
        )


class ProvenEntryOut(AuditEntryOut):
    inclusion: InclusionProofOut | None = Field(
        default=None,
        description="With ?with_proofs=true: the entry's inclusion proof against `checkpoint`; "
        "null for an entry newer than that checkpoint.",
    )

    @classmethod
    def with_proof(cls, entry: AuditEntry, proof: InclusionProof | None) -> ProvenEntryOut:
        out = cls.from_entry(entry)
        out.inclusion = InclusionProofOut.from_proof(proof) if proof is not None else None
        return out


class AuditEntryPage(Page[ProvenEntryOut]):
    checkpoint: CheckpointOut | None = Field(
        default=None, description="With ?with_proofs=true: the checkpoint the proofs are for."
    )
