"""What is known about a gateway call while it runs; it becomes a :class:`CallRecord`."""

from __future__ import annotations

import itertools
import os
import time
from datetime import datetime
from typing import Literal

from prereview.gateway.engine.interfaces import CallRecord, GrantContext

# Call ids: unique across replicas and restarts (random prefix), cheap per call (a counter).
_CALL_ID_PREFIX = os.urandom(6).hex() + "-"
_call_numbers = itertools.count(1)

JournalState = Literal["open", "close", "final"]


class CallInProgress:
    """What is known about a call so far; becomes a :class:`CallRecord` at the end."""

    __slots__ = (
        "access_id",
        "call_id",
        "client_disconnected",
        "completion_tokens",
        "context",
        "cut_off",
        "endpoint",
        "error",
        "journal_state",
        "key_id",
        "model",
        "org_id",
        "presented_key",
        "prompt_tokens",
        "started",
        "started_at",
        "status",
        "stream",
        "submission_id",
        "transcript",
        "ttft_ms",
        "usage_estimated",
    )

    def __init__(self, started: float, started_at: datetime) -> None:
        self.call_id = f"{_CALL_ID_PREFIX}{next(_call_numbers):x}"
        self.started = started
        self.started_at = started_at
        self.endpoint = "unknown"
        self.status = 500
        self.error: str | None = None
        self.context: GrantContext | None = None
        self.access_id: str | None = None
        self.org_id: str | None = None
        self.submission_id: str | None = None
        self.key_id: str | None = None
        self.model: str | None = None
        self.stream = False
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.usage_estimated = False
        self.ttft_ms: float | None = None
        self.client_disconnected = False
        self.cut_off = False
        # What the call journal holds of this call so far: None, "open" or "final".
        self.journal_state: JournalState | None = None
        # Kept to re-check access just before a plain answer is released; never recorded.
        self.presented_key = ""
        self.transcript: list[bytes] = []

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens so far."""
        return self.prompt_tokens + self.completion_tokens

    def finish(self) -> CallRecord:
        """The immutable record of this call, with its latency up to now."""
        return CallRecord(
            call_id=self.call_id,
            started_at=self.started_at,
            endpoint=self.endpoint,
            status=self.status,
            latency_ms=(time.perf_counter() - self.started) * 1000,
            access_id=self.access_id,
            org_id=self.org_id,
            submission_id=self.submission_id,
            key_id=self.key_id,
            model=self.model,
            stream=self.stream,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            usage_estimated=self.usage_estimated,
            ttft_ms=self.ttft_ms,
            error=self.error,
            client_disconnected=self.client_disconnected,
            cut_off=self.cut_off,
        )
