"""What the engine answers with when it cannot relay: problems, and upstream failures told
without naming the upstream.

Every message here is shown to a reviewer and may be logged; none names the upstream's URL,
host, port or credentials (see :mod:`prereview.gateway.errors`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prereview.core.errors import PrereviewError
from prereview.gateway.engine.interfaces import GrantContext
from prereview.gateway.errors import (
    UpstreamFailed,
    UpstreamForbidden,
    UpstreamTimeout,
    gateway_problem,
)

log = logging.getLogger("prereview.gateway.engine.proxy")

Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
_PROBLEM = b"application/problem+json"


def secret_bytes(context: GrantContext) -> tuple[bytes, ...]:
    """Every string the client must not see: credential values and the upstream's base URL."""
    values = [v.encode() for v in context.credential_headers.secret_values()]
    values.append(context.upstream_base_url.rstrip("/").encode())
    return tuple(values)


def scrub(text: bytes, context: GrantContext) -> bytes:
    """``text`` with every secret of ``context`` replaced by ``[redacted]``."""
    for secret in secret_bytes(context):
        text = text.replace(secret, b"[redacted]")
    return text


def upstream_timeout(context: GrantContext) -> UpstreamTimeout:
    log.warning("upstream timed out for access %s", context.access_id)
    return UpstreamTimeout("The model's endpoint did not answer in time.")


def upstream_refused(context: GrantContext) -> UpstreamForbidden:
    log.warning("upstream of access %s resolved to a refused address", context.access_id)
    return UpstreamForbidden(
        "The model's endpoint is on a loopback, private, link-local or platform address, "
        "which the gateway does not connect to; the developer has to register a public one."
    )


def upstream_unreachable(
    context: GrantContext, exc: BaseException, *, during_stream: bool = False
) -> UpstreamFailed:
    # The exception's text names the upstream host and port: log only its kind.
    log.warning(
        "upstream connection failed for access %s: %s", context.access_id, type(exc).__name__
    )
    if during_stream:
        return UpstreamFailed("The connection to the model's endpoint broke during the stream.")
    return UpstreamFailed("The model's endpoint could not be reached.")


async def send_bytes(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", content_type), (b"content-length", b"%d" % len(body))],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def send_problem(send: Send, error: PrereviewError) -> None:
    body = json.dumps(gateway_problem(error)).encode()
    headers = [(b"content-type", _PROBLEM), (b"content-length", b"%d" % len(body))]
    retry_after = getattr(error, "retry_after", None)
    if isinstance(retry_after, int):
        headers.append((b"retry-after", b"%d" % retry_after))
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
