"""What the gateway engine needs from the rest of prereview, as protocols.

The engine (:mod:`prereview.gateway.engine.proxy`) knows nothing of the database. It asks a
:class:`GrantResolver` who holds a presented key, hands a :class:`CallRecord` for every call to a
:class:`UsageSink`, and, where the developer allows it, the prompt and completion to a
:class:`TranscriptSink`. The service layer implements these over grants, the vault and the audit
log; :mod:`prereview.gateway.engine.memory` implements them in memory for tests and the demo.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class GrantLimits:
    """Per-grant limits set by the developer; ``None`` means unlimited.

    ``concurrent_streams`` bounds the calls in flight at once, streaming or not (the name is
    kept for compatibility with stored limits and the API).
    """

    requests_per_minute: int | None = None
    tokens_per_day: int | None = None
    concurrent_streams: int | None = None

    def __post_init__(self) -> None:
        for name in ("requests_per_minute", "tokens_per_day", "concurrent_streams"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1 (or None for no limit)")

    @property
    def any(self) -> bool:
        """Whether any limit is set (if none, the engine skips the limiter entirely)."""
        return (
            self.requests_per_minute is not None
            or self.tokens_per_day is not None
            or self.concurrent_streams is not None
        )


class SecretHeaders:
    """HTTP headers that carry the developer's credentials for its endpoint.

    The values never appear in ``repr``/``str``, so a stray log line or a traceback with locals
    cannot show them. Only the engine reads them, to put them on the upstream request.
    """

    __slots__ = ("_items",)

    def __init__(self, headers: Mapping[str, str]) -> None:
        for name, value in headers.items():
            if not name or "\n" in name or "\r" in name or "\n" in value or "\r" in value:
                raise ValueError("credential header names and values must be single lines")
        self._items: tuple[tuple[str, str], ...] = tuple(
            (name.lower(), value) for name, value in headers.items()
        )

    @classmethod
    def bearer(cls, api_key: str) -> SecretHeaders:
        """The usual OpenAI-style ``Authorization: Bearer <api_key>``."""
        return cls({"Authorization": f"Bearer {api_key}"})

    def items(self) -> Iterator[tuple[str, str]]:
        """The (lower-cased name, value) pairs."""
        return iter(self._items)

    def names(self) -> frozenset[str]:
        """The lower-cased header names; safe to show."""
        return frozenset(name for name, _ in self._items)

    def secret_values(self) -> tuple[str, ...]:
        """Every secret string, for scrubbing upstream text before a client sees it."""
        values: list[str] = []
        for _, value in self._items:
            values.append(value)
            # "Bearer sk-..." also leaks if only the token part is echoed back.
            scheme, _, token = value.partition(" ")
            if token and scheme.lower() in {"bearer", "basic", "token"}:
                values.append(token)
        return tuple(v for v in values if len(v) >= 4)

    def __repr__(self) -> str:
        return f"SecretHeaders(<{len(self._items)} redacted>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretHeaders) and other._items == self._items

    def __hash__(self) -> int:
        return hash(self._items)


class LivenessCheck(Protocol):
    """Re-checks, cheaply, that a grant may still reach the model.

    Raises :class:`~prereview.gateway.errors.GatewayAccessClosed` once the window has closed,
    the model was released or withdrawn, or the key or grant was revoked. The engine calls it
    every ``liveness_interval`` seconds during a stream and cuts the stream when it raises.
    """

    async def __call__(self) -> None: ...


@dataclass(frozen=True, slots=True)
class GrantContext:
    """Everything the engine needs to serve one gateway key.

    ``public_model`` is the name clients send and see in ``/v1/models``; ``upstream_model`` is
    what the developer's endpoint expects. ``upstream_base_url`` is an OpenAI base URL (the
    part before ``/chat/completions``, usually ending in ``/v1``); it is confidential, like the
    credential headers, and never shown to the client.
    """

    access_id: str
    org_id: str
    submission_id: str
    key_id: str
    public_model: str
    upstream_model: str
    upstream_base_url: str = field(repr=False)
    credential_headers: SecretHeaders = field(repr=False)
    recheck: LivenessCheck = field(repr=False, compare=False)
    limits: GrantLimits = GrantLimits()
    keep_transcripts: bool = False

    def __post_init__(self) -> None:
        parts = urlsplit(self.upstream_base_url)
        # The URL itself is deliberately not in these messages: it may be confidential.
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("the upstream base URL must be an absolute http(s) URL")
        if parts.username is not None or parts.password is not None:
            raise ValueError(
                "the upstream base URL must not embed credentials; use credential headers"
            )


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One gateway call, for the audit log and usage accounting.

    ``access_id`` names the access behind the key: an agency's grant or a partner's
    nomination. Calls refused before it was known (no key, unknown key) have no access fields.
    ``usage_estimated`` is true when the upstream reported no usage and the counts were
    estimated from the text. ``cut_off`` is true when access ended while the call was in
    flight: a plain answer was then withheld (the status is the 403 the client got), a stream
    was ended.
    """

    call_id: str
    started_at: datetime
    endpoint: str
    status: int
    latency_ms: float
    access_id: str | None = None
    org_id: str | None = None
    submission_id: str | None = None
    key_id: str | None = None
    model: str | None = None
    stream: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    usage_estimated: bool = False
    ttft_ms: float | None = None
    error: str | None = None
    client_disconnected: bool = False
    cut_off: bool = False

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class TranscriptRecord:
    """The full request and response of one call, kept only where the developer allows it.

    The bodies are confidential: the sink must encrypt them (in the submission's vault) before
    they touch a disk. For a stream, ``response_body`` is the server-sent event stream as sent.
    """

    call_id: str
    started_at: datetime
    access_id: str
    submission_id: str
    endpoint: str
    request_body: bytes = field(repr=False)
    response_body: bytes = field(repr=False)


class GrantResolver(Protocol):
    """Finds the grant behind a presented gateway key.

    Called on every request, so it must be fast (a cache with short expiry, or an in-memory
    index kept current by the service layer). It decides the window on every call, so the very
    next request after a release, withdrawal, expiry or revocation is refused.
    """

    async def resolve(self, presented_key: str) -> GrantContext:
        """The grant for ``presented_key``.

        Raises :class:`~prereview.gateway.errors.GatewayKeyUnknown` for a key it does not know
        and :class:`~prereview.gateway.errors.GatewayAccessClosed` (with a reason) for a key
        whose grant may not reach the model now.
        """
        ...


class UsageSink(Protocol):
    """Receives one :class:`CallRecord` per call. ``record`` must return at once."""

    def record(self, call: CallRecord) -> None:
        """Queue ``call``; never blocks, never raises for a slow or failing store."""
        ...


class TranscriptSink(Protocol):
    """Receives transcripts of calls whose submission keeps them. Must return at once."""

    def record(self, transcript: TranscriptRecord) -> None:
        """Queue ``transcript``; never blocks."""
        ...


class CallJournal(Protocol):
    """Keeps call records durably *before* the engine releases an answer (write-ahead).

    ``state`` is ``final`` for a finished call, ``open`` for a stream about to start (its
    record is completed with ``close`` when it ends). Where a journal is given, the engine hands
    audited calls to it instead of the :class:`UsageSink`.
    """

    def check_capacity(self) -> None:
        """Raise ``GatewayAuditBehind`` (503) if the journal cannot take more calls now."""
        ...

    async def write(self, call: CallRecord, *, state: Literal["open", "close", "final"]) -> None:
        """Return once ``call`` is durable; raise ``GatewayAuditBehind`` if it cannot be."""
        ...
