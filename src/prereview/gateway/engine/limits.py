"""Per-grant limits: requests per minute, tokens per day, concurrent streams.

One interface, :class:`Limiter`, two stores: :class:`MemoryLimiter` for a single gateway
replica and :class:`RedisLimiter` for several replicas sharing counters. Both apply the same
rules:

* requests per minute: GCRA (the generic cell rate algorithm). A grant may burst up to its
  whole minute's allowance, then is admitted at the steady rate; unlike a fixed window it never
  lets through twice the limit across a minute boundary. One number per grant.
* tokens per day: a counter per grant and UTC day. A request is refused once the day's tokens are
  spent; tokens are charged after the call, when the upstream has said how many it used.
* concurrent calls (``concurrent_streams``, kept under its old name): every call in flight,
  streaming or not, holds a lease with an expiry, so a replica that dies mid-call does not hold
  its slots for ever; a long stream renews its lease. Plain calls count too: without that a
  grant limited to one stream could still have any number of plain calls in flight.

A refused request raises :class:`~prereview.gateway.errors.GatewayRateLimited` with the seconds
after which the same request would be admitted (for ``Retry-After``). Admission is all or
nothing: a request refused for one limit spends nothing from the others.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from prereview.gateway.engine.interfaces import GrantLimits
from prereview.gateway.errors import GatewayRateLimited

SECONDS_PER_DAY = 86_400
#: How long a call's slot is held without renewal: longer than a plain call may last (the
#: engine's default read timeout, 300 s); streams renew theirs while they run.
STREAM_LEASE_SECONDS = 330.0
#: Retry-After for a refused stream: slots free up when a stream ends, which cannot be known.
STREAM_RETRY_SECONDS = 1.0


class Limiter(Protocol):
    """Admits or refuses calls for a grant and keeps the counters."""

    async def admit(self, access_id: str, limits: GrantLimits, *, stream: bool) -> str | None:
        """Admit one call or raise ``GatewayRateLimited``.

        Returns a lease id when the grant limits concurrent calls (``concurrent_streams``),
        for a stream or a plain call alike; the caller must pass it to :meth:`release_stream`
        when the call ends.
        """
        ...

    async def renew_stream(self, access_id: str, lease: str) -> None:
        """Keep a long stream's slot (call well within ``STREAM_LEASE_SECONDS``)."""
        ...

    async def release_stream(self, access_id: str, lease: str) -> None:
        """Free a stream's slot."""
        ...

    async def charge_tokens(self, access_id: str, tokens: int) -> None:
        """Add ``tokens`` to the grant's count for today."""
        ...


def _tokens_refusal(now: float) -> GatewayRateLimited:
    return GatewayRateLimited(
        "This grant has used all of its tokens for today (UTC).",
        limit="tokens-per-day",
        retry_after=SECONDS_PER_DAY - (now % SECONDS_PER_DAY),
    )


def _streams_refusal(limit: int) -> GatewayRateLimited:
    return GatewayRateLimited(
        f"This grant already has {limit} calls in flight, its limit.",
        limit="concurrent-streams",
        retry_after=STREAM_RETRY_SECONDS,
    )


def _requests_refusal(rpm: int, wait: float) -> GatewayRateLimited:
    return GatewayRateLimited(
        f"This grant may make {rpm} requests per minute.",
        limit="requests-per-minute",
        retry_after=wait,
    )


class MemoryLimiter:
    """Counters in this process; right for a single gateway replica.

    ``now`` returns Unix seconds (wall clock: the tokens-per-day count follows the UTC day);
    tests pass a controllable one.
    """

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self._tat: dict[str, float] = {}
        self._tokens: dict[str, tuple[int, int]] = {}
        self._streams: dict[str, dict[str, float]] = {}

    async def admit(self, access_id: str, limits: GrantLimits, *, stream: bool) -> str | None:
        """See :meth:`Limiter.admit`."""
        now = self._now()
        if limits.tokens_per_day is not None:
            day, used = self._tokens.get(access_id, (-1, 0))
            if day == int(now // SECONDS_PER_DAY) and used >= limits.tokens_per_day:
                raise _tokens_refusal(now)
        streams: dict[str, float] | None = None
        if limits.concurrent_streams is not None:
            streams = self._streams.setdefault(access_id, {})
            for lease, expires in list(streams.items()):
                if expires <= now:
                    del streams[lease]
            if len(streams) >= limits.concurrent_streams:
                raise _streams_refusal(limits.concurrent_streams)
        rpm = limits.requests_per_minute
        if rpm is not None:
            tat = max(self._tat.get(access_id, now), now) + 60.0 / rpm
            if tat - now > 60.0:
                raise _requests_refusal(rpm, tat - now - 60.0)
            self._tat[access_id] = tat
        if streams is None:
            return None
        lease = uuid.uuid4().hex
        streams[lease] = now + STREAM_LEASE_SECONDS
        return lease

    async def renew_stream(self, access_id: str, lease: str) -> None:
        """See :meth:`Limiter.renew_stream`."""
        streams = self._streams.get(access_id)
        if streams is not None and lease in streams:
            streams[lease] = self._now() + STREAM_LEASE_SECONDS

    async def release_stream(self, access_id: str, lease: str) -> None:
        """See :meth:`Limiter.release_stream`."""
        streams = self._streams.get(access_id)
        if streams is not None:
            streams.pop(lease, None)

    async def charge_tokens(self, access_id: str, tokens: int) -> None:
        """See :meth:`Limiter.charge_tokens`."""
        if tokens <= 0:
            return
        today = int(self._now() // SECONDS_PER_DAY)
        day, used = self._tokens.get(access_id, (today, 0))
        self._tokens[access_id] = (today, (used if day == today else 0) + tokens)


# One round trip per admission. Replies are strings: Redis truncates Lua numbers to integers.
_ADMIT_LUA = """
local now = tonumber(ARGV[1])
local rpm = tonumber(ARGV[2])
local tokens_limit = tonumber(ARGV[3])
local streams_limit = tonumber(ARGV[4])
local lease_seconds = tonumber(ARGV[6])
if tokens_limit > 0 then
  local used = tonumber(redis.call('GET', KEYS[2]) or '0')
  if used >= tokens_limit then return {'tokens-per-day', '0'} end
end
if streams_limit > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
  if redis.call('ZCARD', KEYS[3]) >= streams_limit then return {'concurrent-streams', '0'} end
end
if rpm > 0 then
  local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
  if tat < now then tat = now end
  tat = tat + 60.0 / rpm
  if tat - now > 60.0 then return {'requests-per-minute', tostring(tat - now - 60.0)} end
  redis.call('SET', KEYS[1], string.format('%.6f', tat), 'PX', math.ceil((tat - now) * 1000) + 1000)
end
if streams_limit > 0 then
  redis.call('ZADD', KEYS[3], now + lease_seconds, ARGV[5])
  redis.call('PEXPIRE', KEYS[3], math.ceil(lease_seconds * 1000) + 1000)
end
return {'ok', '0'}
"""

_CHARGE_LUA = """
redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""

_RENEW_LUA = """
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 1
"""


class RedisLimiter:
    """Counters in Redis, shared by every gateway replica.

    Each admission is one Lua script, so concurrent replicas cannot both take the last slot.
    Keys are ``<prefix>{<grant>}:rpm|tokens:<day>|streams``; the braces keep a grant's keys in one
    Redis Cluster slot. ``now`` is the replicas' wall clock (keep them NTP-synchronised).
    """

    def __init__(
        self,
        redis: Any,
        *,
        prefix: str = "prereview:gateway:",
        now: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._now = now
        self._admit = redis.register_script(_ADMIT_LUA)
        self._charge = redis.register_script(_CHARGE_LUA)
        self._renew = redis.register_script(_RENEW_LUA)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "prereview:gateway:") -> RedisLimiter:
        """A limiter on a new ``redis.asyncio`` client for ``url``."""
        import redis.asyncio

        return cls(redis.asyncio.Redis.from_url(url), prefix=prefix)

    def _key(self, access_id: str, name: str) -> str:
        return f"{self._prefix}{{{access_id}}}:{name}"

    async def admit(self, access_id: str, limits: GrantLimits, *, stream: bool) -> str | None:
        """See :meth:`Limiter.admit`."""
        now = self._now()
        day = int(now // SECONDS_PER_DAY)
        streams_limit = limits.concurrent_streams
        lease = uuid.uuid4().hex if streams_limit is not None else ""
        verdict, wait = await self._admit(
            keys=[
                self._key(access_id, "rpm"),
                self._key(access_id, f"tokens:{day}"),
                self._key(access_id, "streams"),
            ],
            args=[
                repr(now),
                limits.requests_per_minute or 0,
                limits.tokens_per_day or 0,
                streams_limit or 0,
                lease,
                STREAM_LEASE_SECONDS,
            ],
        )
        verdict = verdict.decode() if isinstance(verdict, bytes) else str(verdict)
        if verdict == "ok":
            return lease or None
        if verdict == "tokens-per-day":
            raise _tokens_refusal(now)
        if verdict == "concurrent-streams":
            assert streams_limit is not None
            raise _streams_refusal(streams_limit)
        assert limits.requests_per_minute is not None
        raise _requests_refusal(limits.requests_per_minute, float(wait))

    async def renew_stream(self, access_id: str, lease: str) -> None:
        """See :meth:`Limiter.renew_stream`."""
        await self._renew(
            keys=[self._key(access_id, "streams")],
            args=[
                lease,
                repr(self._now() + STREAM_LEASE_SECONDS),
                math.ceil(STREAM_LEASE_SECONDS * 1000) + 1000,
            ],
        )

    async def release_stream(self, access_id: str, lease: str) -> None:
        """See :meth:`Limiter.release_stream`."""
        await self._redis.zrem(self._key(access_id, "streams"), lease)

    async def charge_tokens(self, access_id: str, tokens: int) -> None:
        """See :meth:`Limiter.charge_tokens`."""
        if tokens <= 0:
            return
        day = int(self._now() // SECONDS_PER_DAY)
        await self._charge(
            keys=[self._key(access_id, f"tokens:{day}")], args=[tokens, 2 * SECONDS_PER_DAY]
        )

    async def aclose(self) -> None:
        """Close the Redis connection pool."""
        await self._redis.aclose()
