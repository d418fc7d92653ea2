"""The gateway engine: an OpenAI-compatible reverse proxy as a bare ASGI application.

It serves ``GET /v1/models``, ``GET /v1/models/{id}``, ``POST /v1/chat/completions`` and
``POST /v1/completions`` under whatever it is mounted at (``/gateway`` on the main app). Per
request it: finds the grant behind the bearer key (:class:`GrantResolver`, which also decides
the window), applies the grant's limits (:class:`Limiter`), forwards the body with the model
name rewritten and the developer's credentials in place of the client's key, relays the answer
(:mod:`~prereview.gateway.engine.relay`: server-sent events one by one as they arrive), and
records one :class:`CallRecord` (and a transcript where allowed).

Three checks keep it from being turned against the platform or outliving access: it connects
only to upstream addresses its :class:`~prereview.gateway.engine.upstreams.UpstreamGuard` accepts
(checked after DNS, at every connection); it re-checks access after a plain answer arrives and
withholds the answer if access ended meanwhile (403, recorded as cut off); and, given a
:class:`CallJournal`, it releases no answer of a submission's call before the call's record is
durable (503 ``gateway-audit-unavailable`` otherwise).

No web framework runs on this path: the budget is a fraction of a millisecond per call. Errors
are answered as ``application/problem+json`` with an OpenAI ``error`` member; nothing the client
sees or the log shows names the upstream URL or its credentials.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
from yarl import URL

from prereview.core.errors import PrereviewError
from prereview.gateway.engine import answers
from prereview.gateway.engine.bodies import parse_object, read_body
from prereview.gateway.engine.calls import CallInProgress, JournalState
from prereview.gateway.engine.interfaces import (
    CallJournal,
    GrantContext,
    GrantResolver,
    TranscriptRecord,
    TranscriptSink,
    UsageSink,
)
from prereview.gateway.engine.limits import Limiter, MemoryLimiter
from prereview.gateway.engine.relay import JSON, Relay
from prereview.gateway.engine.upstreams import GuardedConnector, UpstreamGuard
from prereview.gateway.errors import (
    GatewayAccessClosed,
    GatewayAuditBehind,
    GatewayKeyMissing,
    GatewayMethodNotAllowed,
    GatewayModelNotFound,
    GatewayRouteNotFound,
)

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_COMPLETION_ROUTES = {"/v1/chat/completions": "chat.completions", "/v1/completions": "completions"}
# Built once: json.dumps with non-default arguments builds a new encoder on every call.
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """Tunables of the engine.

    ``read_timeout`` bounds the upstream: a plain answer must be complete within it, and a
    stream may not stay silent longer (before its first byte or between two chunks); past it
    the call fails with 504. ``liveness_interval`` is how
    often a stream re-checks its grant. ``path_prefix`` is stripped from paths when the engine is
    served on its own rather than mounted (``"/gateway"`` to serve ``/gateway/v1/...``).
    """

    connect_timeout: float = 10.0
    read_timeout: float = 300.0
    liveness_interval: float = 2.0
    max_body_bytes: int = 8 * 1024 * 1024
    max_connections: int = 1024
    path_prefix: str = ""


class GatewayApp:
    """The ASGI application. Mount it, or serve it with uvicorn directly.

    ``usage`` receives a :class:`CallRecord` per call; make it a
    :class:`~prereview.gateway.engine.memory.BatchingSink` (or anything else whose ``record``
    returns at once). With a ``journal``, calls of a submission go to it, write-ahead, instead.
    ``upstreams`` decides which addresses may be connected to (default: no internal one).
    Call :meth:`aclose` on shutdown (the app does so itself on an ASGI lifespan
    shutdown, which a mounted sub-application does not receive).
    """

    def __init__(
        self,
        resolver: GrantResolver,
        usage: UsageSink,
        *,
        transcripts: TranscriptSink | None = None,
        limiter: Limiter | None = None,
        config: GatewayConfig | None = None,
        upstreams: UpstreamGuard | None = None,
        journal: CallJournal | None = None,
    ) -> None:
        self._resolver = resolver
        self._journal = journal
        #: Which upstream addresses may be connected to (default: none internal).
        self.upstreams = upstreams or UpstreamGuard()
        self._usage = usage
        self._transcripts = transcripts
        self._limiter: Limiter = limiter or MemoryLimiter()
        self._config = config or GatewayConfig()
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None
        self._urls: dict[tuple[str, str], URL] = {}
        # A plain call gets one deadline for the whole answer (one timer per call); a stream
        # may run long but must not fall silent (a timer re-armed on every read).
        self._plain_timeout = aiohttp.ClientTimeout(
            total=self._config.read_timeout, sock_connect=self._config.connect_timeout
        )
        self._stream_timeout = aiohttp.ClientTimeout(
            total=None,
            sock_connect=self._config.connect_timeout,
            sock_read=self._config.read_timeout,
        )
        self._relay = Relay(
            self._client,
            self._plain_timeout,
            self._limiter,
            self._config.liveness_interval,
            self._still_open,
            self._write_ahead,
        )

    # -- ASGI ------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def aclose(self) -> None:
        """Close the pooled upstream connections."""
        if self._session is not None:
            if self._session_loop is asyncio.get_running_loop():
                await self._session.close()
            # A pool made on another event loop cannot be closed from this one; that loop's
            # end closes its sockets.
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session_loop is not loop:
            connector = GuardedConnector(
                self.upstreams,
                limit=self._config.max_connections,
                ttl_dns_cache=300,
                keepalive_timeout=30,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._stream_timeout,
                auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept-Encoding"),
            )
            self._session_loop = loop
        return self._session

    # -- dispatch --------------------------------------------------------------------------

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        started_at = datetime.now(UTC)
        call = CallInProgress(started, started_at)
        path: str = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        prefix = self._config.path_prefix
        if prefix and path.startswith(prefix):
            path = path[len(prefix) :]
        method: str = scope["method"]
        try:
            endpoint = _COMPLETION_ROUTES.get(path)
            if endpoint is not None:
                call.endpoint = endpoint
                if method != "POST":
                    raise GatewayMethodNotAllowed(f"{path} takes POST.")
                context = await self._authorize(scope, call)
                await self._completion(context, call, receive, send)
            elif path == "/v1/models" or path.startswith("/v1/models/"):
                call.endpoint = "models"
                if method != "GET":
                    raise GatewayMethodNotAllowed(f"{path} takes GET.")
                context = await self._authorize(scope, call)
                await self._models(context, call, path, send)
            else:
                raise GatewayRouteNotFound(
                    "The gateway serves /v1/models, /v1/chat/completions and /v1/completions."
                )
        except PrereviewError as error:
            call.status = error.status
            call.error = error.slug
            refused_for_audit = isinstance(error, GatewayAuditBehind)
            if self._journal is not None and call.journal_state is None and not refused_for_audit:
                try:
                    await self._write_ahead(call, "final")
                except GatewayAuditBehind as behind:
                    error = behind
            await answers.send_problem(send, error)
        finally:
            record = call.finish()
            if self._journal is None or record.submission_id is None:
                self._usage.record(record)
            elif call.journal_state != "final" and call.error != GatewayAuditBehind.slug:
                # A stream's end, or a call that ended some other way (the client left).
                state: JournalState = "close" if call.journal_state == "open" else "final"
                try:
                    await self._journal.write(record, state=state)
                except GatewayAuditBehind:
                    # An open record stays in the journal and is audited as interrupted.
                    log.error("gateway could not complete the record of call %s", call.call_id)

    async def _write_ahead(self, call: CallInProgress, state: JournalState) -> None:
        """Commit the call's record to the journal before its answer (or stream) goes out."""
        if self._journal is None or call.submission_id is None:
            return
        await self._journal.write(call.finish(), state=state)
        call.journal_state = state

    async def _authorize(self, scope: Scope, call: CallInProgress) -> GrantContext:
        presented = ""
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer":
                    presented = token.strip()
                break
        if not presented:
            raise GatewayKeyMissing("Send the gateway key as 'Authorization: Bearer <key>'.")
        call.presented_key = presented
        try:
            context = await self._resolver.resolve(presented)
        except GatewayAccessClosed as closed:
            call.access_id, call.org_id = closed.access_id, closed.org_id
            call.submission_id, call.key_id = closed.submission_id, closed.key_id
            raise
        call.context = context
        call.access_id, call.org_id = context.access_id, context.org_id
        call.submission_id, call.key_id = context.submission_id, context.key_id
        return context

    async def _models(
        self, context: GrantContext, call: CallInProgress, path: str, send: Send
    ) -> None:
        entry = {
            "id": context.public_model,
            "object": "model",
            "created": 0,
            "owned_by": "prereview-gateway",
        }
        if path == "/v1/models":
            payload: dict[str, Any] = {"object": "list", "data": [entry]}
        elif path == f"/v1/models/{context.public_model}":
            payload = entry
        else:
            raise GatewayModelNotFound(
                f"This key gives access to the model {context.public_model!r} only."
            )
        call.status = 200
        await self._write_ahead(call, "final")
        await answers.send_bytes(send, 200, json.dumps(payload).encode(), JSON)

    # -- completions -----------------------------------------------------------------------

    async def _completion(
        self, context: GrantContext, call: CallInProgress, receive: Receive, send: Send
    ) -> None:
        raw = await read_body(receive, self._config.max_body_bytes)
        body = parse_object(raw)
        requested = body.get("model")
        if requested != context.public_model:
            raise GatewayModelNotFound(
                f"This key gives access to the model {context.public_model!r}; "
                f"the request names {requested!r}."
            )
        call.model = context.public_model
        body["model"] = context.upstream_model
        stream = body.get("stream") is True
        call.stream = stream
        hide_usage = False
        if stream:
            options = body.get("stream_options")
            options = dict(options) if isinstance(options, dict) else {}
            if not options.get("include_usage"):
                # Ask for usage so the call can be counted; the relay hides it from the client.
                hide_usage = True
                options["include_usage"] = True
                body["stream_options"] = options
        upstream_body = _COMPACT_JSON.encode(body).encode()

        if self._journal is not None:
            self._journal.check_capacity()
        limits = context.limits
        lease = None
        if limits.any:
            lease = await self._limiter.admit(context.access_id, limits, stream=stream)
        try:
            url = self._upstream_url(context.upstream_base_url, call.endpoint)
            headers = {"Content-Type": "application/json", "Accept": "application/json"}
            if stream:
                headers["Accept"] = "text/event-stream"
            headers.update(context.credential_headers.items())
            if stream:
                await self._relay.stream(
                    context, call, url, headers, upstream_body, hide_usage, lease, receive, send
                )
            else:
                await self._relay.plain(context, call, url, headers, upstream_body, send)
        finally:
            if lease is not None:
                await self._limiter.release_stream(context.access_id, lease)
        if limits.tokens_per_day is not None:
            await self._limiter.charge_tokens(context.access_id, call.total_tokens)
        if context.keep_transcripts and self._transcripts is not None:
            self._transcripts.record(
                TranscriptRecord(
                    call_id=call.call_id,
                    started_at=call.started_at,
                    access_id=context.access_id,
                    submission_id=context.submission_id,
                    endpoint=call.endpoint,
                    request_body=raw,
                    response_body=b"".join(call.transcript),
                )
            )

    def _upstream_url(self, base_url: str, endpoint: str) -> URL:
        # Parsed once per upstream: parsing a URL on every call is measurable at this scale.
        key = (base_url, endpoint)
        url = self._urls.get(key)
        if url is None:
            if len(self._urls) > 10_000:
                self._urls.clear()
            suffix = "/chat/completions" if endpoint == "chat.completions" else "/completions"
            url = self._urls[key] = URL(base_url.rstrip("/") + suffix)
        return url

    async def _still_open(self, call: CallInProgress) -> None:
        """Ask the resolver (with the clock, through its cache) whether the key may still reach
        the model; an answer that arrives after access ended is withheld (403)."""
        try:
            await self._resolver.resolve(call.presented_key)
        except GatewayAccessClosed:
            call.cut_off = True
            raise
