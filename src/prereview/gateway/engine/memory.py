"""In-memory implementations of the gateway's interfaces.

:class:`BatchingSink` keeps per-call writes off the request path where losing the last
records on a crash is acceptable (transcripts, tests, the benchmark). The platform's audited
calls do not go through it: they are written ahead to the journal
(:mod:`prereview.gateway.journal`), because a sink in memory loses what a killed process held.

The resolver here is for tests and the demo; the service layer provides the
real one over the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from prereview.gateway.engine.interfaces import (
    GrantContext,
    GrantLimits,
    LivenessCheck,
    SecretHeaders,
)
from prereview.gateway.errors import GatewayAccessClosed, GatewayKeyUnknown

log = logging.getLogger(__name__)

T = TypeVar("T")


class BatchingSink(Generic[T]):
    """Queues records and hands them in batches to ``flush`` from a background task.

    ``record`` only appends to a deque, so the request that produced the record never waits for
    the store. The task flushes when ``max_batch`` records are waiting or ``max_delay`` seconds
    after the first one arrived. A failing ``flush`` is retried with the same batch (after
    ``retry_delay``); if the store stays down and more than ``max_queue`` records pile up, the
    oldest are dropped and counted in :attr:`dropped`, rather than letting memory grow without
    bound or blocking model access.

    The task starts on the first ``record`` inside a running event loop, or with :meth:`start`;
    :meth:`aclose` flushes what is left. Use one sink per event loop.
    """

    def __init__(
        self,
        flush: Callable[[Sequence[T]], Awaitable[None]],
        *,
        max_batch: int = 512,
        max_delay: float = 0.25,
        max_queue: int = 100_000,
        retry_delay: float = 1.0,
    ) -> None:
        self._flush = flush
        self._max_batch = max_batch
        self._max_delay = max_delay
        self._max_queue = max_queue
        self._retry_delay = retry_delay
        self._queue: deque[T] = deque()
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.dropped = 0
        self.flushed = 0

    def record(self, item: T) -> None:
        """Queue ``item``; returns at once."""
        queue = self._queue
        queue.append(item)
        if len(queue) > self._max_queue:
            queue.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 10_000 == 0:
                log.error("gateway sink is dropping records: %d dropped so far", self.dropped)
        if self._task is None:
            self.start()
        # Wake the flusher when the queue stops being empty (it then waits ``max_delay`` to
        # gather a batch) or when a full batch is waiting.
        if (len(queue) == 1 or len(queue) >= self._max_batch) and self._wakeup is not None:
            self._wakeup.set()

    def start(self) -> None:
        """Start the background flusher in the running event loop (idempotent)."""
        if self._task is not None and not self._task.done():
            return
        self._wakeup = asyncio.Event()
        self._closing = False
        self._task = asyncio.get_running_loop().create_task(self._run())

    @property
    def pending(self) -> int:
        """Records queued and not yet flushed."""
        return len(self._queue)

    async def _run(self) -> None:
        assert self._wakeup is not None
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            if len(self._queue) < self._max_batch and not self._closing:
                # Wait a little so that one flush carries many records.
                self._wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self._max_delay)
            count = min(len(self._queue), self._max_batch)
            batch = list(itertools.islice(self._queue, count))
            try:
                await self._flush(batch)
            except Exception:
                log.exception("gateway sink flush failed; %d records will be retried", count)
                if self._closing:
                    return
                await asyncio.sleep(self._retry_delay)
                continue
            for _ in range(count):
                self._queue.popleft()
            self.flushed += count

    async def drain(self) -> None:
        """Wait until everything queued so far has been flushed (for tests and shutdown)."""
        while self._queue and self._task is not None and not self._task.done():
            if self._wakeup is not None:
                self._wakeup.set()
            await asyncio.sleep(0.005)

    async def aclose(self) -> None:
        """Flush what is queued and stop the background task."""
        task = self._task
        if task is None:
            return
        if task.get_loop() is not asyncio.get_running_loop():
            # The sink ran on another event loop (the app was served by another server than the
            # one shutting down now): that loop flushes it, or is gone with its records.
            return
        self._closing = True
        if self._wakeup is not None:
            self._wakeup.set()
        await task
        self._task = None


class CollectingStore(Generic[T]):
    """A ``flush`` target that keeps every batch in a list; for tests and the demo."""

    def __init__(self) -> None:
        self.items: list[T] = []

    async def __call__(self, batch: Sequence[T]) -> None:
        self.items.extend(batch)


class InMemoryGrantResolver:
    """A :class:`~prereview.gateway.engine.interfaces.GrantResolver` over a dictionary of keys.

    :meth:`close` plays the part of a release, withdrawal, expiry or revocation: from then on
    :meth:`resolve` refuses the key and the grant's liveness check raises, which ends streams in
    flight at their next check.
    """

    def __init__(self) -> None:
        self._by_key: dict[str, GrantContext] = {}
        self._closed: dict[str, str] = {}

    def add(
        self,
        presented_key: str,
        *,
        access_id: str,
        upstream_base_url: str,
        upstream_model: str,
        credential_headers: SecretHeaders,
        public_model: str | None = None,
        org_id: str = "org-test",
        submission_id: str = "sub-test",
        key_id: str | None = None,
        limits: GrantLimits | None = None,
        keep_transcripts: bool = False,
    ) -> GrantContext:
        """Register a key for a grant and return the grant's context."""
        context = GrantContext(
            access_id=access_id,
            org_id=org_id,
            submission_id=submission_id,
            key_id=key_id or f"key-{len(self._by_key) + 1}",
            public_model=public_model or upstream_model,
            upstream_model=upstream_model,
            upstream_base_url=upstream_base_url,
            credential_headers=credential_headers,
            recheck=self._liveness(access_id),
            limits=limits or GrantLimits(),
            keep_transcripts=keep_transcripts,
        )
        self._by_key[presented_key] = context
        return context

    def close(self, access_id: str, reason: str = "revoked") -> None:
        """End the grant: ``reason`` is one of ``GatewayAccessClosed.CLOSED_REASONS``."""
        if reason not in GatewayAccessClosed.CLOSED_REASONS:
            raise ValueError(f"unknown access-closed reason {reason!r}")
        self._closed[access_id] = reason

    def reopen(self, access_id: str) -> None:
        """Undo :meth:`close` (for tests that move a window back and forth)."""
        self._closed.pop(access_id, None)

    def _refusal(self, context: GrantContext) -> GatewayAccessClosed | None:
        reason = self._closed.get(context.access_id)
        if reason is None:
            return None
        return GatewayAccessClosed(
            _CLOSED_DETAIL[reason],
            reason=reason,
            access_id=context.access_id,
            org_id=context.org_id,
            submission_id=context.submission_id,
            key_id=context.key_id,
        )

    def _liveness(self, access_id: str) -> LivenessCheck:
        async def recheck() -> None:
            reason = self._closed.get(access_id)
            if reason is not None:
                raise GatewayAccessClosed(_CLOSED_DETAIL[reason], reason=reason)

        return recheck

    async def resolve(self, presented_key: str) -> GrantContext:
        """The grant for ``presented_key``, or a 401/403 error."""
        context = self._by_key.get(presented_key)
        if context is None:
            raise GatewayKeyUnknown("This gateway key is not known.")
        refusal = self._refusal(context)
        if refusal is not None:
            raise refusal
        return context


_CLOSED_DETAIL = {
    "not-yet-open": "The review window for this grant has not opened yet.",
    "expired": "The review window for this grant has ended.",
    "released": "The model has been publicly released; the pre-release window is over.",
    "withdrawn": "The developer withdrew the submission; access has ended.",
    "revoked": "This gateway key or its grant was revoked.",
    "grant-ended": "This grant has ended.",
}

#: What a refused client reads for each ``GatewayAccessClosed`` reason.
CLOSED_DETAIL = _CLOSED_DETAIL
