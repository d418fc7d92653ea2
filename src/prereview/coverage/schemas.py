"""Request and response models of coverage determinations."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from prereview.core.markings import TLP, Marking
from prereview.coverage.criteria import Outcome, Status
from prereview.coverage.policy import MAX_POLICY_CHARS


class PolicyChoice(BaseModel):
    """A policy given whole as TOML text, or a shipped preset by name: exactly one."""

    model_config = ConfigDict(extra="forbid")

    policy: Annotated[str, Field(min_length=1, max_length=MAX_POLICY_CHARS)] | None = None
    preset: Annotated[str, Field(min_length=1, max_length=120)] | None = None
    runs: (
        list[Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]] | None
    ) = Field(
        default=None,
        max_length=100,
        description="The evidence runs (your agency's) the judgement rests on; omitted: all "
        "your agency's evidence runs. Either way the intervals are corrected for the number "
        "of evidence runs on record per task.",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> PolicyChoice:
        if (self.policy is None) == (self.preset is None):
            raise ValueError("give either 'policy' (the TOML text) or 'preset' (a name)")
        return self


class DeterminationCreate(PolicyChoice):
    rationale: Annotated[str, Field(min_length=1, max_length=20_000)]
    tlp: TLP = TLP.AMBER_STRICT
    markings: list[Marking] = Field(default_factory=list, max_length=8)


class PolicyOut(BaseModel):
    id: str
    version: str
    title: str
    source: str
    sha256: str
    disclose_outcome_to_developer: bool


class WhatIfOut(BaseModel):
    """What a policy would decide now; nothing of it is recorded."""

    submission_id: str
    policy: PolicyOut
    outcome: Outcome
    status: Status
    criteria: dict[str, Any]


class DeterminationOut(BaseModel):
    id: str
    submission_id: str
    agency_org_id: str
    reviewer_user_id: str
    policy: PolicyOut
    policy_text: str
    outcome: Outcome
    criteria: dict[str, Any]
    rationale: str
    tlp: TLP
    markings: list[str]
    evidence_runs: list[str] | None
    evidence_packs: list[dict[str, str | None]] | None = Field(
        default=None,
        description="The task packs (name, version, SHA-256) the evidence came from: "
        "prereview-suite and any agency's private packs",
    )
    created_at: datetime


class DeterminationNoticeOut(BaseModel):
    """What the developer is told: that a determination exists, and its outcome only where the
    policy says so."""

    id: str
    submission_id: str
    agency_org_id: str
    created_at: datetime
    outcome: Outcome | None
    outcome_disclosed: bool


class PresetOut(BaseModel):
    name: str
    policy: PolicyOut
    text: str
