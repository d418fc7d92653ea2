"""Model access for reviewers: an OpenAI-compatible gateway to the developer's endpoint.

Three parts. :mod:`prereview.gateway.engine` is the proxy machinery (:class:`GatewayApp`, a
bare ASGI application the API mounts at ``/gateway``, with its relay, SSE, limits and sinks);
it knows none of the platform's tables and depends on the rest of prereview only through the
protocols in :mod:`prereview.gateway.engine.interfaces`: a :class:`GrantResolver`, a
:class:`UsageSink` and a :class:`TranscriptSink`. The capability modules at this level plug the
platform in: ``models``, ``service`` (the use cases), ``snapshots`` and ``resolver`` (who may
reach the model now), ``journal``, ``mount``, ``routes``, ``commands``, ``schemas`` and
``errors``. :mod:`prereview.gateway.testing` holds the upstream simulator and the harness.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prereview.gateway.engine.interfaces import (
        CallRecord,
        GrantContext,
        GrantLimits,
        GrantResolver,
        LivenessCheck,
        SecretHeaders,
        TranscriptRecord,
        TranscriptSink,
        UsageSink,
    )
    from prereview.gateway.engine.limits import Limiter, MemoryLimiter, RedisLimiter
    from prereview.gateway.engine.memory import BatchingSink, CollectingStore, InMemoryGrantResolver
    from prereview.gateway.engine.proxy import GatewayApp, GatewayConfig

# Loaded on first use: the command line imports the gateway's commands, and must not pay for
# the proxy's HTTP stack (aiohttp) to print its help.
_LAZY = {
    "BatchingSink": "prereview.gateway.engine.memory",
    "CallRecord": "prereview.gateway.engine.interfaces",
    "CollectingStore": "prereview.gateway.engine.memory",
    "GatewayApp": "prereview.gateway.engine.proxy",
    "GatewayConfig": "prereview.gateway.engine.proxy",
    "GrantContext": "prereview.gateway.engine.interfaces",
    "GrantLimits": "prereview.gateway.engine.interfaces",
    "GrantResolver": "prereview.gateway.engine.interfaces",
    "InMemoryGrantResolver": "prereview.gateway.engine.memory",
    "Limiter": "prereview.gateway.engine.limits",
    "LivenessCheck": "prereview.gateway.engine.interfaces",
    "MemoryLimiter": "prereview.gateway.engine.limits",
    "RedisLimiter": "prereview.gateway.engine.limits",
    "SecretHeaders": "prereview.gateway.engine.interfaces",
    "TranscriptRecord": "prereview.gateway.engine.interfaces",
    "TranscriptSink": "prereview.gateway.engine.interfaces",
    "UsageSink": "prereview.gateway.engine.interfaces",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BatchingSink",
    "CallRecord",
    "CollectingStore",
    "GatewayApp",
    "GatewayConfig",
    "GrantContext",
    "GrantLimits",
    "GrantResolver",
    "InMemoryGrantResolver",
    "Limiter",
    "LivenessCheck",
    "MemoryLimiter",
    "RedisLimiter",
    "SecretHeaders",
    "TranscriptRecord",
    "TranscriptSink",
    "UsageSink",
]
