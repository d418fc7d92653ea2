"""The vault's tables: each submission's wrapped data key, and sealed secrets."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from prereview.core.db import Base


class DataKeyRecord(Base):
    """The wrapped data key of one context (a submission). ``wrapped`` NULL means shredded:
    the row stays as a tombstone so reads answer 'destroyed' rather than 'not found'."""

    __tablename__ = "vault_data_keys"

    context: Mapped[str] = mapped_column(String(120), primary_key=True)
    wrapped: Mapped[str | None] = mapped_column(Text)
    master_key_id: Mapped[str | None] = mapped_column(String(80), index=True)
    created_at: Mapped[datetime]
    rotated_at: Mapped[datetime | None]
    shredded_at: Mapped[datetime | None]


class SealedSecret(Base):
    """A short secret (an upstream API key) sealed under its context's data key."""

    __tablename__ = "vault_secrets"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    context: Mapped[str] = mapped_column(ForeignKey("vault_data_keys.context"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("context", "name"),)
