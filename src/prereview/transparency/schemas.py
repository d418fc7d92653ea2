"""Response models of the transparency report's auditor route."""

from __future__ import annotations

from pydantic import BaseModel, Field


class CheckpointOut(BaseModel):
    origin: str
    size: int
    rootHash: str = Field(description="Standard base64 of the tree's root hash.")
    note: str = Field(description="The signed checkpoint (C2SP tlog-checkpoint note).")
    verifierKey: str


class ReportEntryOut(BaseModel):
    seq: int
    leaf: str = Field(description="The exact text hashed into the log (canonical JSON).")
    proof: list[str] = Field(description="RFC 9162 inclusion proof, standard base64 hashes.")


class ReportEntriesPage(BaseModel):
    """A page of the entries the report of ``period`` at the checkpoint rests on."""

    period: str
    checkpoint: CheckpointOut
    items: list[ReportEntryOut]
    next_after: int | None = Field(
        description="Pass as `after` for the next page; null on the last page."
    )
