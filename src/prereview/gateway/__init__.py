"""Model access for reviewers: an OpenAI-compatible gateway to the developer's endpoint.

The engine (:class:`GatewayApp`) is a bare ASGI application that the API mounts at
``/gateway``. It depends on the rest of prereview only through the protocols in
:mod:`prereview.gateway.interfaces`: a :class:`GrantResolver`, a :class:`UsageSink` and a
:class:`TranscriptSink`.
"""

from prereview.gateway.interfaces import (
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
from prereview.gateway.limits import Limiter, MemoryLimiter, RedisLimiter
from prereview.gateway.memory import BatchingSink, CollectingStore, InMemoryGrantResolver
from prereview.gateway.proxy import GatewayApp, GatewayConfig

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
