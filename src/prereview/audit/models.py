"""The audit log's tables: the entries (leaves), the log head, and stored Merkle subtree hashes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from prereview.core.db import Base


class AuditEntry(Base):
    """One leaf of the log. ``leaf`` holds the exact bytes that were hashed into the tree."""

    __tablename__ = "audit_entries"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime]
    actor_user_id: Mapped[str | None] = mapped_column(String(40))
    actor_org_id: Mapped[str | None] = mapped_column(String(40), index=True)
    action: Mapped[str] = mapped_column(String(80))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(40))
    submission_id: Mapped[str | None] = mapped_column(String(40))
    leaf: Mapped[str] = mapped_column(Text)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))

    __table_args__ = (Index("ix_audit_entries_submission_seq", "submission_id", "seq"),)


class AuditHead(Base):
    """The single row that serialises appends: the log size and its right edge.

    ``right_edge`` is the concatenation of the roots of the maximal perfect subtrees of the
    current tree (its compact range), enough to extend the tree without reading any node.
    """

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger)
    right_edge: Mapped[bytes] = mapped_column(LargeBinary)


class AuditNode(Base):
    """The hash of a perfect subtree at ``level``: leaves [index*2^level, (index+1)*2^level)."""

    __tablename__ = "audit_nodes"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditCheckpoint(Base):
    """A signed checkpoint (C2SP tlog-checkpoint note) of the log at some size."""

    __tablename__ = "audit_checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[datetime]
    key_id: Mapped[str] = mapped_column(String(200), ForeignKey("audit_keys.name"))


class AuditKey(Base):
    """A public verifier key that has signed checkpoints, kept so old checkpoints stay checkable."""

    __tablename__ = "audit_keys"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    verifier: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class AuditPublishedCheckpoint(Base):
    """Every checkpoint the server has signed, kept apart from the log's own tables.

    Self-contained (the verifier key is stored with each row, no foreign key), and append-only:
    the migration adds triggers that refuse ``UPDATE`` and ``DELETE``, so that rebuilding the log
    and deleting its ``audit_checkpoints`` rows leaves these behind for ``audit verify`` to
    check the rebuilt log against. The journal file next to the signing key and the
    checkpoints that clients saved (witnesses) are the copies outside the database.
    """

    __tablename__ = "audit_published_checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    verifier: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[datetime]


class AuditCosignature(Base):
    """A witness's cosignature (C2SP tlog-cosignature) of one checkpoint.

    ``witness`` is the witness key's ``<name>+<key ID>``; ``line`` the signature line as the
    witness returned it (checked before it is stored), appended to the note when the
    checkpoint is served. The largest ``size`` per witness is the size it last cosigned.
    """

    __tablename__ = "audit_cosignatures"

    # No foreign key: like the published checkpoints, the cosignatures outlive a rebuilt log's
    # checkpoint rows, and a line is served only on the checkpoint it verifies over.
    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    witness: Mapped[str] = mapped_column(String(300), primary_key=True)
    line: Mapped[str] = mapped_column(Text)
    timestamp: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime]

    __table_args__ = (Index("ix_audit_cosignatures_witness_size", "witness", "size"),)
