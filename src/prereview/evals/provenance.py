"""Whether an uploaded Inspect log is evidence or calibration, and why.

A log is ``evidence`` only when it is the submission's gateway model reached through the
gateway, and the gateway's audit trail holds enough calls by the uploading agency's keys in the
log's time span, with the tokens to match, that no other evidence log of that agency already
claims. Anything else (the scripted or guesser models, another endpoint) is ``calibration``,
with the reason. Kept apart from the upload use cases because it is the one rule that decides
what coverage may count, and it reads the gateway, not the vault.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from prereview.evals.evidence import Recomputed
from prereview.evals.models import EvalRun, EvalTaskResult
from prereview.gateway import service as gateway

PENDING, EVIDENCE, CALIBRATION = "pending", "evidence", "calibration"
#: How far the gateway's audit entries may lie outside the log's time span: the reviewer's
#: clock may run ahead of the server's, and the gateway writes an entry after the call ends
#: (its journal is moved into the log in batches).
CALLS_EARLY = timedelta(minutes=5)
CALLS_LATE = timedelta(minutes=15)
#: The log may count this many more tokens than the gateway recorded (relative, plus per call):
#: the gateway estimates usage when an upstream reports none.
TOKEN_TOLERANCE = 0.05
TOKEN_SLACK_PER_CALL = 16
GATEWAY_PATH = "/gateway/v1"


def _overlaps(result: EvalTaskResult, start: datetime, end: datetime) -> bool:
    if result.log_started_at is None or result.log_completed_at is None:
        return False
    return result.log_started_at - CALLS_EARLY <= end and start <= (
        result.log_completed_at + CALLS_LATE
    )


def classify(db: Session, result: EvalTaskResult, found: Recomputed) -> tuple[str, str | None]:
    """``evidence``, or ``calibration`` with the reason: is the log the submission's gateway
    model, reached through the gateway, and are its calls in the gateway's audit trail?"""
    public = gateway.public_model(db, result.submission_id)
    expected = f"openai/{public}" if public else None
    base_path = urlsplit(found.model_base_url or "").path.rstrip("/")
    if found.status != "success":
        return CALIBRATION, f"the log's status is {found.status!r}, not 'success'"
    if expected is None:
        return CALIBRATION, "the submission has no gateway endpoint, so no gateway model"
    if found.model != expected:
        return CALIBRATION, (
            f"the log's model is {found.model!r}, not the gateway's {expected!r}: "
            "a calibration run (scripted, guesser or another model) is never evidence"
        )
    if not base_path.endswith(GATEWAY_PATH):
        return CALIBRATION, f"the model was not reached through the gateway ({GATEWAY_PATH})"
    if found.call_models - {found.model}:
        others = ", ".join(sorted(found.call_models - {found.model}))
        return CALIBRATION, f"the log also calls other models ({others})"
    if found.model_calls == 0:
        return CALIBRATION, "the log records no model calls"
    if found.started_at is None or found.completed_at is None:
        return CALIBRATION, "the log has no start and completion time"
    start, end = found.started_at - CALLS_EARLY, found.completed_at + CALLS_LATE
    calls = [
        c
        for c in gateway.audited_calls(db, result.submission_id, result.run.org_id)
        if start <= c.at <= end
    ]
    # Calls that already back another evidence log of this agency cannot back this one too.
    claimed = sum(
        other.model_calls or 0
        for other in db.scalars(
            select(EvalTaskResult)
            .join(EvalRun, EvalRun.id == EvalTaskResult.run_id)
            .where(
                EvalTaskResult.submission_id == result.submission_id,
                EvalTaskResult.kind == EVIDENCE,
                EvalTaskResult.id != result.id,
                EvalRun.org_id == result.run.org_id,
            )
        )
        if _overlaps(other, start, end)
    )
    available = len(calls) - claimed
    if available < found.model_calls:
        return CALIBRATION, (
            f"the log has {found.model_calls} model calls; the gateway's audit trail has "
            f"{max(available, 0)} unclaimed calls by your keys between {start.isoformat()} and "
            f"{end.isoformat()}"
        )
    served = sum(c.prompt_tokens + c.completion_tokens for c in calls)
    allowed_tokens = served * (1 + TOKEN_TOLERANCE) + TOKEN_SLACK_PER_CALL * len(calls)
    if found.tokens.get("total", 0) > allowed_tokens:
        return CALIBRATION, (
            f"the log counts {found.tokens.get('total', 0)} tokens; the gateway served "
            f"{served} in that time"
        )
    return EVIDENCE, None
