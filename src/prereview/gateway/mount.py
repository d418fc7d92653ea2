"""The gateway wired into the platform: the engine at ``/gateway`` with the database resolver,
the call journal in front of the audit log, the vault as its transcript store, and the limiter.

:func:`mount_gateway` is what :func:`prereview.api.create_app` calls. Call records and
transcripts are written in batches, each batch in one transaction in a worker thread, so the
event loop never waits for the database. A call's record is committed to the journal (group
commit) before its answer is released, and moved into the audit log in the background (see
:mod:`prereview.gateway.journal`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from prereview.core.context import AppContext
from prereview.core.db import transaction
from prereview.gateway import service
from prereview.gateway.engine.interfaces import CallRecord, TranscriptRecord
from prereview.gateway.engine.limits import Limiter, MemoryLimiter, RedisLimiter
from prereview.gateway.engine.memory import BatchingSink
from prereview.gateway.engine.proxy import GatewayApp, GatewayConfig
from prereview.gateway.engine.upstreams import UpstreamGuard
from prereview.gateway.errors import InvalidUpstream
from prereview.gateway.journal import DbCallJournal
from prereview.gateway.resolver import DbGrantResolver, RedisInvalidation
from prereview.vault.service import Vault

log = logging.getLogger(__name__)

GATEWAY_PATH = "/gateway"


class AuditCallWriter:
    """Flush target of the usage sink: a batch of calls, one audit transaction."""

    def __init__(self, context: AppContext) -> None:
        self._context = context

    async def __call__(self, batch: Sequence[CallRecord]) -> None:
        await anyio.to_thread.run_sync(self._write, list(batch))

    def _write(self, batch: list[CallRecord]) -> None:
        with transaction(self._context.sessions) as db:
            service.record_calls(db, batch, self._context.clock.now())


class TranscriptWriter:
    """Flush target of the transcript sink: encrypts a batch into the vault, one transaction."""

    def __init__(self, context: AppContext, vault: Callable[[], Vault]) -> None:
        self._context = context
        self._vault = vault

    async def __call__(self, batch: Sequence[TranscriptRecord]) -> None:
        await anyio.to_thread.run_sync(self._write, list(batch))

    def _write(self, batch: list[TranscriptRecord]) -> None:
        with transaction(self._context.sessions) as db:
            service.store_transcripts(db, self._vault(), batch, self._context.clock.now())


@dataclass
class MountedGateway:
    """Handles on the gateway of one app (``app.state.gateway``)."""

    engine: GatewayApp
    resolver: DbGrantResolver
    usage: BatchingSink[CallRecord]
    transcripts: BatchingSink[TranscriptRecord]
    limiter: Limiter
    journal: DbCallJournal
    invalidation: RedisInvalidation | None = None

    @property
    def upstreams(self) -> UpstreamGuard:
        """The guard of upstream addresses, shared by registration and the engine."""
        return self.engine.upstreams

    async def aclose(self) -> None:
        """Flush the sinks and close upstream connections and the limiter's store."""
        await self.engine.aclose()
        await self.journal.aclose()
        await self.usage.aclose()
        await self.transcripts.aclose()
        if isinstance(self.limiter, RedisLimiter):
            await self.limiter.aclose()
        if self.invalidation is not None:
            await self.invalidation.aclose()
        self.resolver.forget()


class GatewayFastPath:
    """Pure ASGI middleware: hands ``/gateway/...`` HTTP requests straight to the engine."""

    def __init__(self, app: ASGIApp, engine: GatewayApp) -> None:
        self._app = app
        self._engine = engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(_FAST_PREFIX):
            await self._engine(scope, receive, send)
            return
        await self._app(scope, receive, send)


_FAST_PREFIX = GATEWAY_PATH + "/"


def _vault_of(app: FastAPI, context: AppContext) -> Callable[[], Vault]:
    """The app's vault, opened on first use, shared with the API's ``get_vault``."""

    def vault() -> Vault:
        opened: Vault | None = getattr(app.state, "vault", None)
        if opened is None:
            settings = context.settings
            opened = Vault.local(settings.master_key_file, settings.blob_dir)
            app.state.vault = opened
        return opened

    return vault


def mount_gateway(
    app: FastAPI, context: AppContext, *, config: GatewayConfig | None = None
) -> MountedGateway:
    """Mount the gateway at ``/gateway`` on ``app`` and close it with the app's lifespan.

    Rate-limit counters live in Redis when ``PREREVIEW_REDIS_URL`` is set (several replicas),
    in memory otherwise (one replica).
    """
    vault = _vault_of(app, context)
    resolver = DbGrantResolver(context.sessions, vault, context.clock)
    usage: BatchingSink[CallRecord] = BatchingSink(
        AuditCallWriter(context), max_batch=512, max_delay=0.25
    )
    transcripts: BatchingSink[TranscriptRecord] = BatchingSink(
        TranscriptWriter(context, vault), max_batch=64, max_delay=0.25
    )
    redis_url = context.settings.redis_url
    limiter: Limiter = RedisLimiter.from_url(redis_url) if redis_url else MemoryLimiter()
    # With several replicas, access changes travel between them over Redis as well.
    invalidation = RedisInvalidation(redis_url) if redis_url else None
    # The prefix lets the engine serve full paths too (the fast path below keeps them whole).
    config = replace(config or GatewayConfig(), path_prefix=GATEWAY_PATH)
    # Reads PREREVIEW_GATEWAY_UPSTREAM_ALLOW on every check: the demo adds its simulator later.
    upstreams = UpstreamGuard.from_settings(context.settings)
    try:
        upstreams.allowed_origins()
    except ValueError:
        raise InvalidUpstream(
            "PREREVIEW_GATEWAY_UPSTREAM_ALLOW must be a JSON list of origins such as "
            '["http://127.0.0.1:8123"] (scheme, host and port).'
        ) from None
    # Audited calls are committed to the journal before their answers are released.
    journal = DbCallJournal(context.sessions, context.clock)
    engine = GatewayApp(
        resolver,
        usage,
        transcripts=transcripts,
        limiter=limiter,
        config=config,
        upstreams=upstreams,
        journal=journal,
    )
    mounted = MountedGateway(engine, resolver, usage, transcripts, limiter, journal, invalidation)
    app.mount(GATEWAY_PATH, engine, name="gateway")
    # The mount is what the app's route table shows; calls take a shorter way in. Through the
    # router, a model call would first be matched against every API route and pass FastAPI's
    # exception layers: about a millisecond, more than the whole gateway is allowed to add.
    app.add_middleware(GatewayFastPath, engine=engine)
    app.state.gateway = mounted

    # A mounted app gets no lifespan events: the main app's lifespan closes it.
    previous = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(outer: Any) -> AsyncIterator[Any]:
        async with previous(outer) as state:
            # Before serving: audit what a killed process left in the journal.
            await journal.start()
            if invalidation is not None:
                await invalidation.start()
            try:
                yield state
            finally:
                await mounted.aclose()

    app.router.lifespan_context = lifespan
    return mounted
