"""The HTTP server's connection limits: no connection is held by a client that never finishes.

uvicorn closes idle keep-alive connections, but a connection that has sent part of a request's
headers (or nothing at all) is kept open forever, so a few hundred slow clients hold every
worker's sockets (slowloris). :class:`HeaderTimeoutH11Protocol` closes a connection that has
not delivered a complete request head within the header timeout, counted from the connection
or from the previous response; h11 refuses heads over the size limit with a 400.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from prereview.core.settings import Settings


class HeaderTimeoutH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's head."""

    header_timeout: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_deadline: asyncio.TimerHandle | None = None

    def _arm_head_deadline(self) -> None:
        if self._head_deadline is None:
            self._head_deadline = self.loop.call_later(self.header_timeout, self._head_timed_out)

    def _disarm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_deadline()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self._arm_head_deadline()  # still waiting for this request's head
        else:
            self._disarm_head_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Idle now: uvicorn's keep-alive timeout applies until the next byte, then ours.
        self._disarm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def _head_timed_out(self) -> None:
        self._head_deadline = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.logger.info("closing a connection that sent no complete request head in time")
            self.transport.close()


def protocol_for(settings: Settings) -> type[HeaderTimeoutH11Protocol]:
    """The h11 protocol class with ``settings``' header timeout."""
    return type(
        "HeaderTimeoutH11Protocol",
        (HeaderTimeoutH11Protocol,),
        {"header_timeout": settings.http_header_timeout_s},
    )


def server_config(app: Any, settings: Settings, *, host: str, port: int) -> uvicorn.Config:
    """The uvicorn configuration the platform is served with: header and keep-alive timeouts
    and a header size limit from ``settings``."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="info",
        http=protocol_for(settings),
        timeout_keep_alive=max(1, round(settings.http_keep_alive_timeout_s)),
        h11_max_incomplete_event_size=settings.http_max_header_bytes,
    )


__all__ = ["HeaderTimeoutH11Protocol", "protocol_for", "server_config"]
