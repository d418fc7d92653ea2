"""Relaying one completion: forward it to the developer's endpoint, pass the answer back.

A plain answer is read whole, checked to be JSON, counted, and released only once access is
re-checked and the call's record is written ahead; a stream is relayed event by event as it
arrives (server-sent events, waiting on the client's socket so back-pressure reaches the
upstream) while a :class:`~prereview.gateway.engine.watch.StreamWatcher` re-checks access and
the client. Upstream failures become problems that never name the upstream, and every answer
names the public model, never the upstream's internal id
(:mod:`~prereview.gateway.engine.renaming`).

The :class:`~prereview.gateway.engine.proxy.GatewayApp` owns the connection pool, the journal
and the resolver; it hands the relay what it needs of them as callables.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import aiohttp
from yarl import URL

from prereview.core.errors import PrereviewError
from prereview.gateway.engine import answers
from prereview.gateway.engine.calls import CallInProgress, JournalState
from prereview.gateway.engine.interfaces import GrantContext
from prereview.gateway.engine.limits import Limiter
from prereview.gateway.engine.renaming import rename_for
from prereview.gateway.engine.sse import EventRelay, MalformedStream, token_counts
from prereview.gateway.engine.upstreams import UpstreamRefused
from prereview.gateway.engine.watch import ClientGone, StreamWatcher
from prereview.gateway.errors import (
    GatewayAccessClosed,
    GatewayBadRequest,
    UpstreamFailed,
    UpstreamRateLimited,
    gateway_problem,
)

log = logging.getLogger(__name__)

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON = b"application/json"
_DECODER = json.JSONDecoder()
#: How long to wait for an upstream to finish its response after ``[DONE]``.
_DRAIN_SECONDS = 0.5
_SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


class Relay:
    """Forwards completions upstream and relays their answers to the client.

    ``client`` gives the pooled upstream session of the running event loop; ``plain_timeout``
    bounds a whole plain answer. ``still_open`` re-checks the call's access before a plain
    answer is released (raising ``GatewayAccessClosed``); ``write_ahead`` makes the call's
    record durable before its answer, or its stream, goes out.
    """

    def __init__(
        self,
        client: Callable[[], aiohttp.ClientSession],
        plain_timeout: aiohttp.ClientTimeout,
        limiter: Limiter,
        liveness_interval: float,
        still_open: Callable[[CallInProgress], Awaitable[None]],
        write_ahead: Callable[[CallInProgress, JournalState], Awaitable[None]],
    ) -> None:
        self._client = client
        self._plain_timeout = plain_timeout
        self._limiter = limiter
        self._liveness_interval = liveness_interval
        self._still_open = still_open
        self._write_ahead = write_ahead
        self._background: set[asyncio.Task[None]] = set()

    async def plain(
        self,
        context: GrantContext,
        call: CallInProgress,
        url: URL,
        headers: dict[str, str],
        body: bytes,
        send: Send,
    ) -> None:
        try:
            async with self._client().post(
                url, data=body, headers=headers, timeout=self._plain_timeout
            ) as response:
                answer = await response.read()
                status = response.status
                content_type = response.headers.get("Content-Type", "application/json")
                retry_after = response.headers.get("Retry-After")
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise answers.upstream_timeout(context) from None
        except UpstreamRefused:
            raise answers.upstream_refused(context) from None
        except aiohttp.ClientError as exc:
            raise answers.upstream_unreachable(context, exc) from None
        if status != 200:
            await self._still_open(call)
            await self._upstream_error(context, call, status, answer, retry_after, send)
            return
        if not (answer.startswith(b"{") and answer.rstrip().endswith(b"}")):
            raise UpstreamFailed("The model's endpoint sent an answer that is not JSON.")
        counts = token_counts(_usage_of(answer))
        if counts is None:
            counts = (len(body) // 4, len(answer) // 4)
            call.usage_estimated = True
        call.prompt_tokens, call.completion_tokens = counts
        await self._still_open(call)
        answer = rename_for(context.public_model, context.upstream_model).field(answer)
        call.status = 200
        call.ttft_ms = (time.perf_counter() - call.started) * 1000
        if context.keep_transcripts:
            call.transcript.append(answer)
        await self._write_ahead(call, "final")
        await answers.send_bytes(send, 200, answer, content_type.encode("latin-1"))

    async def _upstream_error(
        self,
        context: GrantContext,
        call: CallInProgress,
        status: int,
        answer: bytes,
        retry_after: str | None,
        send: Send,
    ) -> None:
        log.warning("upstream answered %d for access %s", status, context.access_id)
        if status in (401, 403):
            raise UpstreamFailed(
                "The model's endpoint refused the gateway's credentials; "
                "the developer has to update them."
            )
        if status == 429:
            seconds = int(retry_after) if retry_after and retry_after.isdigit() else 1
            raise UpstreamRateLimited(
                "The model's endpoint is rate-limiting; try again later.", retry_after=seconds
            )
        if 400 <= status < 500:
            # The client's own mistake (bad parameter, context too long): pass the upstream's
            # explanation on, scrubbed of the developer's secrets.
            try:
                json.loads(answer)
            except ValueError:
                raise GatewayBadRequest(
                    f"The model's endpoint refused the request ({status})."
                ) from None
            call.status = status
            call.error = "upstream-client-error"
            await self._write_ahead(call, "final")
            answer = rename_for(context.public_model, context.upstream_model).text(answer)
            await answers.send_bytes(send, status, answers.scrub(answer, context), JSON)
            return
        raise UpstreamFailed(f"The model's endpoint failed ({status}).", upstream_status=status)

    async def stream(
        self,
        context: GrantContext,
        call: CallInProgress,
        url: URL,
        headers: dict[str, str],
        body: bytes,
        hide_usage: bool,
        lease: str | None,
        receive: Receive,
        send: Send,
    ) -> None:
        session = self._client()
        try:
            response = await session.post(url, data=body, headers=headers)
        except (TimeoutError, aiohttp.ServerTimeoutError):
            raise answers.upstream_timeout(context) from None
        except UpstreamRefused:
            raise answers.upstream_refused(context) from None
        except aiohttp.ClientError as exc:
            raise answers.upstream_unreachable(context, exc) from None
        try:
            if response.status != 200:
                try:
                    answer = await response.read()
                except (TimeoutError, aiohttp.ClientError):
                    answer = b""
                response.release()
                await self._upstream_error(
                    context,
                    call,
                    response.status,
                    answer,
                    response.headers.get("Retry-After"),
                    send,
                )
                return
            relay = EventRelay(
                hide_usage=hide_usage,
                secrets=answers.secret_bytes(context),
                rename=rename_for(context.public_model, context.upstream_model),
            )
            watcher = StreamWatcher(
                context, response, receive, self._limiter, lease, self._liveness_interval
            )
            try:
                call.status = 200
                await self._write_ahead(call, "open")
                await send({"type": "http.response.start", "status": 200, "headers": _SSE_HEADERS})
                failure = await self._pump(context, call, response, relay, watcher, send)
            finally:
                watcher.close()
            if failure is not None:
                call.error = failure.slug
                call.cut_off = isinstance(failure, GatewayAccessClosed)
                if isinstance(failure, ClientGone):
                    call.client_disconnected = True
                else:
                    event = b"data: " + json.dumps(gateway_problem(failure)).encode() + b"\n\n"
                    await send({"type": "http.response.body", "body": event, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except BaseException:
            response.close()
            raise
        if failure is None and not response.content.is_eof():
            # Let the upstream finish its response in the background, so its connection goes
            # back to the pool, while this call is counted at once.
            task = asyncio.get_running_loop().create_task(_drain(response))
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        else:
            # Returns the connection to the pool if the upstream finished, closes it otherwise.
            response.release()
        counts = token_counts(relay.usage)
        if counts is None:
            counts = (len(body) // 4, relay.content_events)
            call.usage_estimated = True
        call.prompt_tokens, call.completion_tokens = counts

    async def _pump(
        self,
        context: GrantContext,
        call: CallInProgress,
        response: aiohttp.ClientResponse,
        relay: EventRelay,
        watcher: StreamWatcher,
        send: Send,
    ) -> PrereviewError | None:
        """Forward events until the stream ends; the error to end it with, if any."""
        keep = context.keep_transcripts
        try:
            async for chunk in response.content.iter_any():
                if watcher.cut is not None:
                    break
                out = relay.feed(chunk)
                if not out:
                    continue
                if call.ttft_ms is None:
                    call.ttft_ms = (time.perf_counter() - call.started) * 1000
                if keep:
                    call.transcript.append(out)
                # Waits while the client's socket is full: back-pressure reaches the upstream.
                await send({"type": "http.response.body", "body": out, "more_body": True})
                if relay.done:
                    break
        except MalformedStream:
            log.warning("upstream sent a malformed stream for access %s", context.access_id)
            return UpstreamFailed("The model's endpoint sent a malformed stream.")
        except (TimeoutError, aiohttp.ServerTimeoutError):
            if watcher.cut is None:
                return answers.upstream_timeout(context)
        except aiohttp.ClientError as exc:
            if watcher.cut is None:
                return answers.upstream_unreachable(context, exc, during_stream=True)
        if watcher.cut is not None:
            return watcher.cut
        if not relay.done:
            log.warning("upstream stream for access %s ended before [DONE]", context.access_id)
            return UpstreamFailed("The model's endpoint ended the stream before it was complete.")
        return None


def _usage_of(answer: bytes) -> dict[str, Any] | None:
    """The ``usage`` object of a completion, decoding only that member (it comes last)."""
    at = answer.rfind(b'"usage"')
    if at < 0:
        return None
    colon = answer.find(b":", at)
    try:
        usage, _ = _DECODER.raw_decode(answer[colon + 1 :].decode().lstrip())
    except ValueError:
        return None
    return usage if isinstance(usage, dict) else None


async def _drain(response: aiohttp.ClientResponse) -> None:
    """Read the end of a response after ``[DONE]`` so its connection can be reused."""
    try:
        await asyncio.wait_for(response.content.read(), _DRAIN_SECONDS)
    except (TimeoutError, aiohttp.ClientError):
        response.close()
    else:
        response.release()
