"""Per-grant limits, in memory and in Redis, and their 429 answers through the gateway."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import openai
import pytest
import redis.asyncio
from openai.types.chat import ChatCompletionMessageParam

from prereview.gateway import GrantLimits, MemoryLimiter, RedisLimiter, SecretHeaders
from prereview.gateway.engine.limits import SECONDS_PER_DAY, STREAM_LEASE_SECONDS, Limiter
from prereview.gateway.engine.serving import ThreadedServer
from prereview.gateway.errors import GatewayRateLimited
from prereview.gateway.testing.harness import running_gateway
from prereview.gateway.testing.upstream_sim import running_sim
from support.factories.gateway import GatedUpstream

REDIS_URL = "redis://127.0.0.1:6379/0"
# Noon UTC on some day, so "until midnight" is twelve hours.
NOON = 20_000 * SECONDS_PER_DAY + 12 * 3600.0


class FakeTime:
    def __init__(self, at: float = NOON) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


async def _redis_or_skip() -> Any:
    client = redis.asyncio.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except (OSError, redis.RedisError) as exc:
        await client.aclose()
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis at {REDIS_URL} is required in CI: {exc}")
        pytest.skip(f"Redis at {REDIS_URL} is not reachable: {exc}")
    return client


LimiterFactory = Callable[[FakeTime], Awaitable[Limiter]]


@pytest.fixture(params=["memory", "redis"])
def make_limiter(request: pytest.FixtureRequest) -> LimiterFactory:
    """Builds a limiter of each kind on a controllable clock; Redis keys get a unique prefix."""
    prefix = f"prereview-test:{uuid.uuid4().hex}:"
    clients: list[Any] = []

    async def make(clock: FakeTime) -> Limiter:
        if request.param == "memory":
            return MemoryLimiter(now=clock)
        client = await _redis_or_skip()
        clients.append(client)
        return RedisLimiter(client, prefix=prefix, now=clock)

    return make


def _run(coro: Awaitable[None]) -> None:
    async def main() -> None:
        await coro

    asyncio.run(main())


async def _cleanup(limiter: Limiter) -> None:
    if isinstance(limiter, RedisLimiter):
        keys = [k async for k in limiter._redis.scan_iter(match=limiter._prefix + "*")]
        if keys:
            await limiter._redis.delete(*keys)
        await limiter.aclose()


def test_requests_per_minute(make_limiter: LimiterFactory) -> None:
    async def scenario() -> None:
        clock = FakeTime()
        limiter = await make_limiter(clock)
        limits = GrantLimits(requests_per_minute=3)
        try:
            for _ in range(3):
                assert await limiter.admit("g", limits, stream=False) is None
            with pytest.raises(GatewayRateLimited) as refused:
                await limiter.admit("g", limits, stream=False)
            assert refused.value.limit == "requests-per-minute"
            assert refused.value.retry_after == 20
            # Another grant has its own allowance.
            await limiter.admit("other", limits, stream=False)
            clock.at += 20
            await limiter.admit("g", limits, stream=False)
            with pytest.raises(GatewayRateLimited):
                await limiter.admit("g", limits, stream=False)
        finally:
            await _cleanup(limiter)

    _run(scenario())


def test_tokens_per_day(make_limiter: LimiterFactory) -> None:
    async def scenario() -> None:
        clock = FakeTime()
        limiter = await make_limiter(clock)
        limits = GrantLimits(tokens_per_day=100)
        try:
            await limiter.admit("g", limits, stream=False)
            await limiter.charge_tokens("g", 60)
            await limiter.admit("g", limits, stream=False)
            await limiter.charge_tokens("g", 60)
            with pytest.raises(GatewayRateLimited) as refused:
                await limiter.admit("g", limits, stream=False)
            assert refused.value.limit == "tokens-per-day"
            assert refused.value.retry_after == 12 * 3600
            clock.at += 12 * 3600  # midnight UTC: a new day's allowance
            await limiter.admit("g", limits, stream=False)
        finally:
            await _cleanup(limiter)

    _run(scenario())


def test_concurrent_calls(make_limiter: LimiterFactory) -> None:
    async def scenario() -> None:
        clock = FakeTime()
        limiter = await make_limiter(clock)
        limits = GrantLimits(concurrent_streams=2, requests_per_minute=60)
        try:
            first = await limiter.admit("g", limits, stream=True)
            second = await limiter.admit("g", limits, stream=True)
            assert first
            assert second
            assert first != second
            with pytest.raises(GatewayRateLimited) as refused:
                await limiter.admit("g", limits, stream=True)
            assert refused.value.limit == "concurrent-streams"
            await limiter.release_stream("g", first)
            third = await limiter.admit("g", limits, stream=True)
            assert third
            # A lease nobody renews (its replica died) lapses; a renewed one does not.
            clock.at += STREAM_LEASE_SECONDS / 2
            await limiter.renew_stream("g", third)
            clock.at += STREAM_LEASE_SECONDS / 2 + 1
            assert await limiter.admit("g", limits, stream=True)
            with pytest.raises(GatewayRateLimited):
                await limiter.admit("g", limits, stream=True)
        finally:
            await _cleanup(limiter)

    _run(scenario())


def test_plain_calls_are_limited_too(make_limiter: LimiterFactory) -> None:
    """Attack: with only streams limited, a grant could keep any number of plain calls in
    flight. Every call in flight now holds a slot of ``concurrent_streams``."""

    async def scenario() -> None:
        limiter = await make_limiter(FakeTime())
        limits = GrantLimits(concurrent_streams=2)
        try:
            first = await limiter.admit("g", limits, stream=False)
            second = await limiter.admit("g", limits, stream=True)
            assert first
            assert second
            for stream in (False, True):
                with pytest.raises(GatewayRateLimited) as refused:
                    await limiter.admit("g", limits, stream=stream)
                assert refused.value.limit == "concurrent-streams"
            await limiter.release_stream("g", first)
            assert await limiter.admit("g", limits, stream=False)
        finally:
            await _cleanup(limiter)

    _run(scenario())


def test_refusal_spends_nothing(make_limiter: LimiterFactory) -> None:
    async def scenario() -> None:
        clock = FakeTime()
        limiter = await make_limiter(clock)
        limits = GrantLimits(concurrent_streams=1, requests_per_minute=2)
        try:
            await limiter.admit("g", limits, stream=True)
            for _ in range(5):
                with pytest.raises(GatewayRateLimited):
                    await limiter.admit("g", limits, stream=True)
            # The refused streams did not use the second request of this minute.
            await limiter.admit("g", GrantLimits(requests_per_minute=2), stream=False)
        finally:
            await _cleanup(limiter)

    _run(scenario())


def test_redis_replicas_share_counters() -> None:
    """Two replicas (two clients) racing for the same grant admit exactly the limit."""

    async def scenario() -> None:
        prefix = f"prereview-test:{uuid.uuid4().hex}:"
        first = RedisLimiter(await _redis_or_skip(), prefix=prefix)
        second = RedisLimiter(await _redis_or_skip(), prefix=prefix)
        limits = GrantLimits(requests_per_minute=25, concurrent_streams=3)

        async def attempt(limiter: RedisLimiter, stream: bool) -> bool:
            try:
                await limiter.admit("shared", limits, stream=stream)
            except GatewayRateLimited:
                return False
            return True

        try:
            streams = await asyncio.gather(*(attempt(lim, True) for lim in (first, second) * 5))
            assert sum(streams) == 3
            # With the three slots held, plain calls are refused as well.
            assert not any(await asyncio.gather(*(attempt(lim, False) for lim in (first, second))))
            limits = GrantLimits(requests_per_minute=25)
            plain = await asyncio.gather(*(attempt(lim, False) for lim in (first, second) * 20))
            assert sum(plain) == 25 - 3
        finally:
            await _cleanup(first)
            await second.aclose()

    _run(scenario())


def test_gateway_answers_429_with_retry_after() -> None:
    with (
        running_sim("sk-limits") as (_, upstream_url),
        running_gateway() as gw,
    ):
        gw.allow(upstream_url)
        gw.resolver.add(
            "key-limited",
            access_id="grant-limited",
            upstream_base_url=upstream_url,
            upstream_model="sim-model",
            public_model="preview",
            credential_headers=SecretHeaders.bearer("sk-limits"),
            limits=GrantLimits(requests_per_minute=2, tokens_per_day=1_000_000),
        )
        client = openai.OpenAI(api_key="key-limited", base_url=gw.base_url, max_retries=0)
        for _ in range(2):
            client.chat.completions.create(model="preview", messages=[])
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(model="preview", messages=[])
        response = httpx.post(
            gw.base_url + "/chat/completions",
            json={"model": "preview", "messages": []},
            headers={"Authorization": "Bearer key-limited"},
        )
        assert response.status_code == 429
        assert response.headers["content-type"] == "application/problem+json"
        assert 1 <= int(response.headers["retry-after"]) <= 30
        body = response.json()
        assert body["type"] == "urn:prereview:problem:gateway-rate-limited"
        assert body["limit"] == "requests-per-minute"


def test_gateway_stops_a_grant_that_spent_its_tokens() -> None:
    with (
        running_sim("sk-limits") as (_, upstream_url),
        running_gateway() as gw,
    ):
        gw.allow(upstream_url)
        gw.resolver.add(
            "key-tokens",
            access_id="grant-tokens",
            upstream_base_url=upstream_url,
            upstream_model="sim-model",
            public_model="preview",
            credential_headers=SecretHeaders.bearer("sk-limits"),
            limits=GrantLimits(tokens_per_day=12),
        )
        client = openai.OpenAI(api_key="key-tokens", base_url=gw.base_url, max_retries=0)
        prompt: list[ChatCompletionMessageParam] = [{"role": "user", "content": "one two three"}]
        # 3 prompt + 6 completion tokens each: the second call crosses the day's 12.
        client.chat.completions.create(model="preview", messages=prompt)
        list(client.chat.completions.create(model="preview", messages=prompt, stream=True))
        with pytest.raises(openai.RateLimitError, match="tokens"):
            client.chat.completions.create(model="preview", messages=prompt)


def test_two_replicas_share_limits_through_redis() -> None:
    asyncio.run(_redis_or_skip_and_close())
    prefix = f"prereview-test:{uuid.uuid4().hex}:"
    with (
        running_sim("sk-replicas") as (_, upstream_url),
        running_gateway(limiter=RedisLimiter.from_url(REDIS_URL, prefix=prefix)) as first,
        running_gateway(limiter=RedisLimiter.from_url(REDIS_URL, prefix=prefix)) as second,
    ):
        for replica in (first, second):
            replica.allow(upstream_url)
            replica.resolver.add(
                "key-shared",
                access_id="grant-shared",
                upstream_base_url=upstream_url,
                upstream_model="sim-model",
                public_model="preview",
                credential_headers=SecretHeaders.bearer("sk-replicas"),
                limits=GrantLimits(requests_per_minute=3),
            )
        statuses = [
            httpx.post(
                replica.base_url + "/chat/completions",
                json={"model": "preview", "messages": []},
                headers={"Authorization": "Bearer key-shared"},
            ).status_code
            for replica in (first, second, first, second, first)
        ]
    assert statuses == [200, 200, 200, 429, 429]


async def _redis_or_skip_and_close() -> None:
    client = await _redis_or_skip()
    await client.aclose()


def test_a_plain_call_in_flight_holds_a_slot_through_the_gateway() -> None:
    """Attack: ``concurrent_streams`` limited streams only, so plain calls were unlimited."""
    upstream = GatedUpstream()
    with ThreadedServer(upstream, lifespan="off") as server, running_gateway() as gw:
        gw.allow(server.url)
        gw.resolver.add(
            "key-one-at-a-time",
            access_id="grant-one",
            upstream_base_url=server.url + "/v1",
            upstream_model="gated",
            public_model="preview",
            credential_headers=SecretHeaders.bearer("sk-gated"),
            limits=GrantLimits(concurrent_streams=1),
        )
        url = gw.base_url + "/chat/completions"
        body = {"model": "preview", "messages": [{"role": "user", "content": "hi"}]}
        headers = {"Authorization": "Bearer key-one-at-a-time"}
        with ThreadPoolExecutor(max_workers=1) as pool:
            first = pool.submit(httpx.post, url, json=body, headers=headers, timeout=30)
            assert upstream.received.wait(30)
            try:
                second = httpx.post(url, json=body, headers=headers, timeout=5)
            finally:
                upstream.release()
            assert first.result(timeout=30).status_code == 200
        assert second.status_code == 429
        assert second.json()["limit"] == "concurrent-streams"
        assert second.headers["retry-after"] == "1"
        # The slot is free again once the first call has ended.
        assert httpx.post(url, json=body, headers=headers, timeout=30).status_code == 200
