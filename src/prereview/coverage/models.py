"""Table of coverage determinations: what an agency decided, under which policy, and why."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from prereview.core.db import Base, str_enum
from prereview.core.markings import TLP
from prereview.coverage.criteria import Outcome


class Determination(Base):
    """An agency's covered-frontier-model determination. The policy text is kept whole, with
    its SHA-256, so that anyone allowed to read the determination can re-run it."""

    __tablename__ = "coverage_determinations"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), index=True)
    agency_org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    reviewer_user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    policy_id: Mapped[str] = mapped_column(String(120))
    policy_version: Mapped[str] = mapped_column(String(40))
    policy_title: Mapped[str] = mapped_column(String(300))
    policy_sha256: Mapped[str] = mapped_column(String(64))
    policy_text: Mapped[str] = mapped_column(Text)
    disclose_outcome: Mapped[bool] = mapped_column(Boolean)
    outcome: Mapped[Outcome] = mapped_column(str_enum(Outcome))
    criteria: Mapped[dict[str, Any]] = mapped_column(JSON)
    rationale: Mapped[str] = mapped_column(Text)
    tlp: Mapped[TLP] = mapped_column(str_enum(TLP))
    markings: Mapped[list[str]] = mapped_column(JSON)
    #: The evidence runs the determination rests on (null: recorded before runs were named).
    evidence_runs: Mapped[list[str] | None] = mapped_column(JSON)
    #: The task packs (name, version, SHA-256) its evidence came from (null: recorded before).
    evidence_packs: Mapped[list[dict[str, str | None]] | None] = mapped_column(JSON)
    created_at: Mapped[datetime]
