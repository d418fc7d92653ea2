"""Tables of the review workflow: submissions, grants, nominations, findings, responses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from prereview.core.db import Base, str_enum
from prereview.core.markings import TLP
from prereview.review.kinds import (
    FindingCategory,
    MaterialKind,
    NominationStatus,
    ResponseStatus,
    Severity,
)


class Submission(Base):
    """A model a developer puts up for review.

    The window's state is never stored: it is derived from ``window_opened_at``,
    ``window_ends_at``, ``planned_release_at``, ``released_at`` and ``withdrawn_at`` and the
    clock, when asked (see :mod:`prereview.review.window`).
    """

    __tablename__ = "submissions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    developer_org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    model_name: Mapped[str] = mapped_column(String(200))
    model_version: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    modalities: Mapped[list[str]] = mapped_column(JSON)
    training_compute_flop: Mapped[float | None] = mapped_column(Float)
    parameter_count: Mapped[int | None] = mapped_column(BigInteger)
    access_offered: Mapped[list[str]] = mapped_column(JSON)
    contacts: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    planned_release_at: Mapped[datetime | None]
    window_opened_at: Mapped[datetime | None]
    window_ends_at: Mapped[datetime | None]
    released_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    grants: Mapped[list[Grant]] = relationship(
        back_populates="submission", order_by="Grant.granted_at"
    )


class Grant(Base):
    """Access for one agency. It is live only while the submission's window is open."""

    __tablename__ = "grants"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), index=True)
    agency_org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    granted_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    granted_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    submission: Mapped[Submission] = relationship(back_populates="grants")


class Nomination(Base):
    """An agency's proposal that a trusted partner join a review; the developer decides."""

    __tablename__ = "nominations"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), index=True)
    agency_org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    partner_org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    nominated_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[NominationStatus] = mapped_column(str_enum(NominationStatus))
    decision_note: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]


class Finding(Base):
    """Advice from a reviewer. It never changes what the developer may do."""

    __tablename__ = "findings"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), index=True)
    author_org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    author_user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    severity: Mapped[Severity] = mapped_column(str_enum(Severity))
    category: Mapped[FindingCategory] = mapped_column(str_enum(FindingCategory))
    recommended_mitigation: Mapped[str] = mapped_column(Text, default="")
    tlp: Mapped[TLP] = mapped_column(str_enum(TLP), server_default=TLP.AMBER_STRICT.value)
    markings: Mapped[list[str]] = mapped_column(JSON, server_default="[]")
    created_at: Mapped[datetime]

    responses: Mapped[list[FindingResponse]] = relationship(
        back_populates="finding", order_by="FindingResponse.created_at"
    )


class FindingResponse(Base):
    __tablename__ = "finding_responses"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    finding_id: Mapped[str] = mapped_column(ForeignKey("findings.id"), index=True)
    responder_user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    status: Mapped[ResponseStatus] = mapped_column(str_enum(ResponseStatus))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]

    finding: Mapped[Finding] = relationship(back_populates="responses")


class Material(Base):
    """A document or weights file; its bytes live encrypted in the vault under the
    submission's data key, and only its description is kept here."""

    __tablename__ = "materials"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), index=True)
    uploaded_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[MaterialKind] = mapped_column(str_enum(MaterialKind))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    tlp: Mapped[TLP] = mapped_column(str_enum(TLP))
    markings: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime]
