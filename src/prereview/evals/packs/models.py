"""Tables of private task packs: the pack (its bytes are a vault blob named by its id, under
the owning agency's data key) and the shares its owner grants other agencies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from prereview.core.db import Base


class TaskPack(Base):
    """One version of an agency's task pack; never replaced (a new version is a new row)."""

    __tablename__ = "eval_packs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner_org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    uploaded_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text)
    package: Mapped[str] = mapped_column(String(100))
    #: The @task names the manifest lists: for the agencies that may read the pack only.
    tasks: Mapped[list[str]] = mapped_column(JSON)
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON)
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime]

    shares: Mapped[list[TaskPackShare]] = relationship(
        back_populates="pack", order_by="TaskPackShare.created_at"
    )

    __table_args__ = (UniqueConstraint("owner_org_id", "name", "version"),)


class TaskPackShare(Base):
    """The owner shares the pack with one agency from ``created_at`` until it is unshared
    (``revoked_at``) or ``ends_at`` passes; a share that ended stays as history."""

    __tablename__ = "eval_pack_shares"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    pack_id: Mapped[str] = mapped_column(ForeignKey("eval_packs.id"), index=True)
    agency_org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    shared_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))

    pack: Mapped[TaskPack] = relationship(back_populates="shares")

    def live(self, now: datetime) -> bool:
        """Whether the share lets its agency reach the pack at ``now``."""
        return self.revoked_at is None and (self.ends_at is None or now < self.ends_at)
