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
