"""Tables of evaluation results: one run per upload, one row per task, the log in the vault.

A result's ``kind`` says what it may be used for: ``pending`` (no log yet: the numbers are
the client's, never evidence), ``evidence`` (recomputed from the log, the submission's gateway
model, its calls in the gateway's audit trail) or ``calibration`` (anything else, with the
reason in ``kind_reason``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from prereview.core.db import Base


class EvalRun(Base):
    """One run of the suite against a submission's model, as a reviewer uploaded it."""

    __tablename__ = "eval_runs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), index=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    model: Mapped[str] = mapped_column(String(200))
    duration_s: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime]

    results: Mapped[list[EvalTaskResult]] = relationship(
        back_populates="run", order_by="EvalTaskResult.position"
    )


class EvalTaskResult(Base):
    """The summary of one task's Inspect log; the log itself is a vault blob named by ``id``."""

    __tablename__ = "eval_results"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("eval_runs.id"), index=True)
    submission_id: Mapped[str] = mapped_column(ForeignKey("submissions.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    task: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    accuracy: Mapped[float | None] = mapped_column(Float)
    stderr: Mapped[float | None] = mapped_column(Float)
    ci_lower: Mapped[float | None] = mapped_column(Float)
    ci_upper: Mapped[float | None] = mapped_column(Float)
    pass_at_k: Mapped[dict[str, float]] = mapped_column(JSON)
    metrics: Mapped[dict[str, float]] = mapped_column(JSON)
    samples: Mapped[int] = mapped_column(Integer)
    scored: Mapped[int] = mapped_column(Integer)
    failed_samples: Mapped[int] = mapped_column(Integer)
    tokens: Mapped[dict[str, int]] = mapped_column(JSON)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    duration_s: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    log_filename: Mapped[str | None] = mapped_column(String(255))
    log_size: Mapped[int | None] = mapped_column(BigInteger)
    log_sha256: Mapped[str | None] = mapped_column(String(64))
    log_uploaded_at: Mapped[datetime | None]
    # What the server read from the log (see :mod:`prereview.evals.evidence`): until the log
    # arrives a result is ``pending`` and its numbers are only what the client posted.
    kind: Mapped[str] = mapped_column(String(20), server_default="pending")
    kind_reason: Mapped[str | None] = mapped_column(Text)
    suite_version: Mapped[str | None] = mapped_column(String(200))
    config_sha256: Mapped[str | None] = mapped_column(String(64))
    distinct_samples: Mapped[int | None] = mapped_column(Integer)
    clusters: Mapped[int | None] = mapped_column(Integer)
    model_calls: Mapped[int | None] = mapped_column(Integer)
    log_model: Mapped[str | None] = mapped_column(String(200))
    log_started_at: Mapped[datetime | None]
    log_completed_at: Mapped[datetime | None]
    # The task pack the task came from, as the log names it and the server checked it: the
    # built-in suite (``prereview-suite``, no ``pack_id``) or an agency's private pack.
    pack_id: Mapped[str | None] = mapped_column(ForeignKey("eval_packs.id"), index=True)
    pack_name: Mapped[str | None] = mapped_column(String(100))
    pack_version: Mapped[str | None] = mapped_column(String(40))
    pack_sha256: Mapped[str | None] = mapped_column(String(64))

    run: Mapped[EvalRun] = relationship(back_populates="results")
