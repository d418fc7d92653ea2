"""Watching a stream in flight: the grant may close, the client may leave.

The relay loop in :mod:`prereview.gateway.engine.proxy` only moves bytes; a :class:`StreamWatcher`
beside it decides when the stream has to end and wakes the loop by closing the upstream response.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import aiohttp

from prereview.core.errors import PrereviewError
from prereview.gateway.engine.interfaces import GrantContext
from prereview.gateway.engine.limits import Limiter
from prereview.gateway.errors import GatewayAccessClosed

log = logging.getLogger(__name__)

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


class ClientGone(PrereviewError):
    """The client closed its connection mid-stream (recorded, never sent: nobody is listening)."""

    slug = "gateway-client-disconnected"
    status = 499
    title = "The client went away"


class StreamWatcher:
    """Runs beside a stream: re-checks the grant, renews the stream's lease, notices the client
    leaving. When the stream must end it records why and closes the upstream response, which
    wakes the relay loop wherever it waits.

    It costs one task (waiting for the client's disconnect) and one timer per stream; the
    re-check runs only when the timer fires, so a short stream never pays for it.
    """

    # Renew a stream's lease this often (well within limits.STREAM_LEASE_SECONDS).
    RENEW_SECONDS = 30.0

    def __init__(
        self,
        context: GrantContext,
        response: aiohttp.ClientResponse,
        receive: Receive,
        limiter: Limiter,
        lease: str | None,
        interval: float,
    ) -> None:
        self._context = context
        self._response = response
        self._receive = receive
        self._limiter = limiter
        self._lease = lease
        self._interval = interval
        self._loop = asyncio.get_running_loop()
        self._renewed = time.monotonic()
        self._check: asyncio.Task[None] | None = None
        self._timer = self._loop.call_later(interval, self._tick)
        self._disconnect = self._loop.create_task(self._wait_for_disconnect())
        self._disconnect.add_done_callback(self._on_disconnect)
        self.cut: PrereviewError | None = None

    def close(self) -> None:
        """Stop watching (the stream is over)."""
        self._timer.cancel()
        self._disconnect.remove_done_callback(self._on_disconnect)
        self._disconnect.cancel()
        if self._check is not None:
            self._check.cancel()

    async def _wait_for_disconnect(self) -> None:
        while (await self._receive())["type"] != "http.disconnect":
            pass

    def _on_disconnect(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled():
            self._stop(ClientGone("The client closed the connection."))

    def _tick(self) -> None:
        self._check = self._loop.create_task(self._recheck())

    async def _recheck(self) -> None:
        try:
            await self._context.recheck()
        except GatewayAccessClosed as closed:
            self._stop(closed)
            return
        except Exception:
            # A failing check (database briefly away) does not end a stream; the next does.
            log.exception("liveness check failed for access %s", self._context.access_id)
        if self._lease is not None and time.monotonic() - self._renewed > self.RENEW_SECONDS:
            await self._limiter.renew_stream(self._context.access_id, self._lease)
            self._renewed = time.monotonic()
        if self.cut is None:
            self._timer = self._loop.call_later(self._interval, self._tick)

    def _stop(self, error: PrereviewError) -> None:
        if self.cut is None:
            self.cut = error
            self._response.close()
