"""Tables of the gateway: the developer's upstream, gateway keys, per-grant limits, transcripts.

Nothing confidential is stored in the clear here: the upstream's base URL and credential headers
are sealed in the vault under the submission's data key (so withdrawal shreds them), keys are
kept as SHA-256 digests, and transcripts are encrypted blobs in the vault.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from prereview.core.db import Base


class GatewayUpstream(Base):
    """The developer's OpenAI-compatible endpoint for one submission.

    ``credential_header_names`` lists which headers are sealed (``["authorization"]``), never
    their values; ``version`` moves on every change so caches of the sealed secret know to drop it.
    """

    __tablename__ = "gateway_upstreams"

    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), primary_key=True)
    public_model: Mapped[str] = mapped_column(String(200))
    upstream_model: Mapped[str] = mapped_column(String(200))
    credential_header_names: Mapped[list[str]] = mapped_column(JSON)
    keep_transcripts: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class GatewayKey(Base):
    """A key for the gateway, bound to an agency's grant or a partner's consented nomination.

    Exactly one of ``grant_id`` and ``nomination_id`` is set; ``access_id`` repeats it, so
    limits and call records name the access the same way for both.
    """

    __tablename__ = "gateway_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), index=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    grant_id: Mapped[str | None] = mapped_column(ForeignKey("grants.id"))
    nomination_id: Mapped[str | None] = mapped_column(ForeignKey("nominations.id"))
    access_id: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(ForeignKey("users.id"))


class GatewayLimit(Base):
    """Limits the developer set on one access (a grant or a nomination); null is unlimited."""

    __tablename__ = "gateway_limits"

    access_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), index=True)
    requests_per_minute: Mapped[int | None] = mapped_column(Integer)
    tokens_per_day: Mapped[int | None] = mapped_column(BigInteger)
    concurrent_streams: Mapped[int | None] = mapped_column(Integer)
    updated_by: Mapped[str] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime]


class GatewayTranscript(Base):
    """A kept prompt and completion: the bytes are one encrypted blob in the vault
    (request, then response; ``request_size`` tells where one ends)."""

    __tablename__ = "gateway_transcripts"

    call_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), index=True)
    access_id: Mapped[str] = mapped_column(String(40))
    org_id: Mapped[str] = mapped_column(String(40), index=True)
    endpoint: Mapped[str] = mapped_column(String(40))
    request_size: Mapped[int] = mapped_column(BigInteger)
    response_size: Mapped[int] = mapped_column(BigInteger)
    started_at: Mapped[datetime]
    stored_at: Mapped[datetime]


class GatewayCallJournal(Base):
    """Write-ahead journal of gateway calls: a call's record is committed here before its
    answer is released, and moved into the audit log (and deleted here) in one transaction.

    ``state`` is ``final`` for a finished call and ``open`` for a stream that has started:
    its row is completed when the stream ends, or, if the process died meanwhile, moved as
    interrupted once it is older than the journal's grace period. Rows left by a process
    killed mid-flight are moved when any gateway process starts.
    """

    __tablename__ = "gateway_call_journal"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    call_id: Mapped[str] = mapped_column(String(64), unique=True)
    submission_id: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(8))
    recorded_at: Mapped[datetime]
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
