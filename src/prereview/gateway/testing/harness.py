"""A whole gateway on real sockets, with in-memory grants: for tests, the benchmark and the demo.

:func:`running_gateway` serves a :class:`~prereview.gateway.engine.proxy.GatewayApp` with an
:class:`~prereview.gateway.engine.memory.InMemoryGrantResolver` and collecting sinks on a free
loopback port, in a thread, so that real clients (the official ``openai`` client, Inspect AI,
curl) can talk to it exactly as they would to the deployed one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from prereview.gateway.engine.interfaces import CallJournal, CallRecord, TranscriptRecord
from prereview.gateway.engine.limits import Limiter
from prereview.gateway.engine.memory import BatchingSink, CollectingStore, InMemoryGrantResolver
from prereview.gateway.engine.proxy import GatewayApp, GatewayConfig
from prereview.gateway.engine.serving import ThreadedServer
from prereview.gateway.engine.upstreams import UpstreamGuard


@dataclass
class RunningGateway:
    """Handles on a gateway served by :func:`running_gateway`."""

    app: GatewayApp
    resolver: InMemoryGrantResolver
    calls: CollectingStore[CallRecord]
    transcripts: CollectingStore[TranscriptRecord]
    url: str
    usage_sink: BatchingSink[CallRecord]

    def settled_calls(self, *, quiet: float = 0.05, timeout: float = 5.0) -> list[CallRecord]:
        """The call records, once none has arrived for ``quiet`` seconds and none is queued.

        A call is recorded just after its response is sent, so a client may see the answer
        a moment before the record exists.
        """
        deadline = time.monotonic() + timeout
        seen, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            count = len(self.calls.items) + self.usage_sink.pending
            if count != seen:
                seen, since = count, time.monotonic()
            elif self.usage_sink.pending == 0 and time.monotonic() - since >= quiet:
                break
            time.sleep(0.005)
        return list(self.calls.items)

    def allow(self, upstream_url: str) -> None:
        """Allow-list the exact origin of ``upstream_url`` (a loopback simulator, in tests)."""
        self.app.upstreams.allow(upstream_url)

    @property
    def base_url(self) -> str:
        """The OpenAI ``base_url`` for clients: ``<url>/gateway/v1``."""
        return self.url + "/gateway/v1"


@contextmanager
def running_gateway(
    *,
    config: GatewayConfig | None = None,
    limiter: Limiter | None = None,
    flush_delay: float = 0.01,
    allow: tuple[str, ...] = (),
    journal: CallJournal | None = None,
) -> Iterator[RunningGateway]:
    """Serve a gateway at ``/gateway`` on a free 127.0.0.1 port until the block ends.

    Register keys on ``.resolver``; call records and transcripts land in ``.calls.items`` and
    ``.transcripts.items`` (flushed every ``flush_delay`` seconds). ``allow`` lists the exact
    upstream origins (loopback simulators) the engine may connect to; see also
    :meth:`RunningGateway.allow`. With a ``journal``, calls of a submission go to it (before
    their answers) instead of ``.calls``.
    """
    resolver = InMemoryGrantResolver()
    calls: CollectingStore[CallRecord] = CollectingStore()
    transcripts: CollectingStore[TranscriptRecord] = CollectingStore()
    usage_sink = BatchingSink(calls, max_delay=flush_delay)
    app = GatewayApp(
        resolver,
        usage_sink,
        transcripts=BatchingSink(transcripts, max_delay=flush_delay),
        limiter=limiter,
        config=replace(config or GatewayConfig(), path_prefix="/gateway"),
        upstreams=UpstreamGuard(allow),
        journal=journal,
    )
    with ThreadedServer(app) as server:
        yield RunningGateway(app, resolver, calls, transcripts, server.url, usage_sink)
