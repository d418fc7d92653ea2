"""Watching a suite run from the command line: what the gateway says, and stopping at once.

An evaluation can wait for hours behind a gateway limit (a tokens-per-day limit answers 429
with ``retry_after`` in the thousands of seconds) while Inspect retries quietly. The run's
model calls go through an HTTP client whose response hook reads every 429 the gateway
answers (its problem document names the ``limit`` and ``retry_after``), so the command can
say which limit was reached and when it resets, instead of an unchanging spinner.

Inspect runs in a worker thread (:func:`run_in_background`); the main thread only waits, so
Ctrl+C reaches it at once however busy the run is, and the command decides what to keep.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Refusal:
    """The gateway's last 429: which limit, why, and when it lifts."""

    limit: str
    detail: str
    resets_at: datetime


def countdown(seconds: float) -> str:
    """``8337`` as ``2h 18m``: days, hours and minutes, seconds only under a minute."""
    whole = max(0, int(seconds))
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h {minutes}m"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {secs}s" if minutes else f"{secs}s"


class GatewayWatch:
    """What the gateway last answered the run's model calls, read by the waiting thread."""

    def __init__(self, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._now = now
        self._lock = threading.Lock()
        self._refusal: Refusal | None = None
        self.answered = 0

    @property
    def refusal(self) -> Refusal | None:
        """The limit the calls are waiting on now; ``None`` once a call gets through."""
        with self._lock:
            return self._refusal

    def saw(self, status: int, body: Any, retry_after_header: str | None) -> None:
        """Take note of one answer of the gateway (any status; only 429 and 2xx matter)."""
        with self._lock:
            self.answered += 1
            if status < 400:
                self._refusal = None
                return
            if status != 429:
                return
            problem = body if isinstance(body, dict) else {}
            wait = problem.get("retry_after", retry_after_header)
            try:
                seconds = float(wait) if wait is not None else 0.0
            except (TypeError, ValueError):
                seconds = 0.0
            self._refusal = Refusal(
                limit=str(problem.get("limit") or "rate"),
                detail=str(problem.get("detail") or "the gateway is refusing calls for now"),
                resets_at=self._now() + timedelta(seconds=seconds),
            )

    async def on_response(self, response: Any) -> None:
        """The HTTP client's response hook (the OpenAI SDK's client: an ``httpx2`` one)."""
        body: Any = None
        if response.status_code == 429:
            await response.aread()
            try:
                body = response.json()
            except ValueError:
                body = None
        self.saw(response.status_code, body, response.headers.get("retry-after"))

    def http_client(self) -> Any:
        """An HTTP client for Inspect's OpenAI provider that reports to this watch (the SDK's
        own default client, so its timeouts and connection limits stay as they are)."""
        from openai import DefaultAsyncHttpxClient

        return DefaultAsyncHttpxClient(event_hooks={"response": [self.on_response]})

    def status(self, running: str) -> str:
        """The line to show while waiting: ``running``, or the limit the run is held by."""
        refusal = self.refusal
        if refusal is None:
            return running
        left = (refusal.resets_at - self._now()).total_seconds()
        return (
            f"waiting: the gateway's {refusal.limit} limit is reached ({refusal.detail}); "
            f"it resets in {countdown(left)}, at {refusal.resets_at:%Y-%m-%d %H:%M}Z. "
            "Ctrl+C stops and uploads the tasks that finished."
        )


def run_in_background(work: Callable[[], T], on_tick: Callable[[], None], tick: float = 0.25) -> T:
    """``work()`` in a daemon thread, ``on_tick()`` every ``tick`` seconds while it runs; its
    result or its exception. A ``KeyboardInterrupt`` reaches the caller at once: the thread is
    left behind (a daemon, it ends with the process)."""
    done = threading.Event()
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # handed to the waiting thread, which raises it
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=target, name="prereview-eval", daemon=True).start()
    while not done.wait(tick):
        on_tick()
    if "error" in outcome:
        raise outcome["error"]
    value: T = outcome["value"]
    return value
