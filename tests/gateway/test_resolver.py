"""The database resolver's cache: one read per key however many ask, stale entries re-read."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
import redis
import redis.asyncio
from sqlalchemy.exc import OperationalError

from prereview.core.clock import FixedClock
from prereview.gateway import resolver
from prereview.gateway.errors import GatewayKeyUnknown, GatewayUnavailable
from prereview.gateway.resolver import DbGrantResolver, RedisInvalidation
from prereview.vault.service import Vault
from support.factories import Platform


@pytest.fixture
def key(platform: Platform) -> str:
    sub = platform.submit()
    platform.grant(sub["id"])
    platform.call(
        "developer",
        "PUT",
        f"/submissions/{sub['id']}/gateway/upstream",
        200,
        json={
            "base_url": "https://resolver-test.invalid/v1",
            "upstream_model": "m",
            "api_key": "sk-r",
        },
    )
    issued = platform.call(
        "agency", "POST", f"/submissions/{sub['id']}/gateway/keys", 201, json={"name": "r"}
    ).json()
    return str(issued["key"])


def _resolver(platform: Platform, clock: FixedClock, ttl: float = 60.0) -> DbGrantResolver:
    settings = platform.context.settings
    vault = Vault.local(settings.master_key_file, settings.blob_dir)
    return DbGrantResolver(platform.context.sessions, lambda: vault, clock, ttl=ttl)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts the resolver's database reads."""
    seen: list[str] = []
    original = resolver.key_snapshot

    def counted(db: Any, key_hash: str) -> Any:
        seen.append(key_hash)
        return original(db, key_hash)

    monkeypatch.setattr(resolver, "key_snapshot", counted)
    return seen


def test_concurrent_calls_share_one_read_and_a_commit_invalidates(
    platform: Platform, clock: FixedClock, key: str, reads: list[str]
) -> None:
    resolver = _resolver(platform, clock)

    async def many() -> list[Any]:
        return await asyncio.gather(*(resolver.resolve(key) for _ in range(20)))

    contexts = asyncio.run(many())
    assert len(reads) == 1 and len({c.key_id for c in contexts}) == 1
    asyncio.run(resolver.resolve(key))
    assert len(reads) == 1  # cached
    # Any commit that touches access (here: another key) makes the next call re-read.
    sub_id = contexts[0].submission_id
    platform.call(
        "agency", "POST", f"/submissions/{sub_id}/gateway/keys", 201, json={"name": "other"}
    )
    asyncio.run(resolver.resolve(key))
    assert len(reads) == 2


def test_unknown_keys_are_cached_too_and_entries_expire(
    platform: Platform, clock: FixedClock, key: str, reads: list[str]
) -> None:
    resolver = _resolver(platform, clock)
    for _ in range(3):
        with pytest.raises(GatewayKeyUnknown):
            asyncio.run(resolver.resolve("pgw_guessed"))
    assert len(reads) == 1
    eager = _resolver(platform, clock, ttl=0.0)
    for _ in range(3):
        asyncio.run(eager.resolve(key))
    assert len(reads) == 4


def test_a_database_failure_is_a_503_problem_not_a_crash(
    platform: Platform, clock: FixedClock, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(db: Any, key_hash: str) -> Any:
        raise OperationalError("SELECT ... secret-ish parameters", {}, Exception("down"))

    monkeypatch.setattr(resolver, "key_snapshot", broken)
    with pytest.raises(GatewayUnavailable) as failed:
        asyncio.run(_resolver(platform, clock).resolve(key))
    assert failed.value.status == 503 and "secret-ish" not in failed.value.detail


def test_access_changes_travel_between_replicas_over_redis(platform: Platform, key: str) -> None:
    url = "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url).ping()
    except (OSError, redis.RedisError) as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"Redis at {url} is not reachable: {exc}")
    channel = f"prereview-test:{uuid.uuid4().hex}"

    async def scenario() -> tuple[int, int, list[bytes]]:
        invalidation = RedisInvalidation(url, channel=channel)
        listener = redis.asyncio.Redis.from_url(url)
        heard: list[bytes] = []
        async with listener.pubsub() as pubsub:
            await pubsub.subscribe(channel)
            await invalidation.start()
            # Wait until the replica's subscription has landed (ours is the other subscriber).
            deadline = asyncio.get_running_loop().time() + 5
            while dict(await listener.pubsub_numsub(channel)).get(channel.encode(), 0) < 2:
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.01)
            # Another replica published: this one moves its generation.
            before = resolver.GENERATION.value
            await listener.publish(channel, b"another-replica")
            deadline = asyncio.get_running_loop().time() + 3
            while resolver.GENERATION.value == before:
                assert asyncio.get_running_loop().time() < deadline
                await asyncio.sleep(0.01)
            after_remote = resolver.GENERATION.value
            # This process commits an access change: the other replicas are told.
            await asyncio.to_thread(
                platform.call, "developer", "POST", f"/submissions/{sub_id}/release", 200
            )
            while len(heard) < 2 and asyncio.get_running_loop().time() < deadline:
                message = await pubsub.get_message(timeout=0.1)
                if message and message["type"] == "message":
                    heard.append(message["data"])
            await invalidation.aclose()
        await listener.aclose()
        return before, after_remote, heard

    sub_id = platform.call("agency", "GET", "/queue", 200).json()["items"][0]["submission_id"]
    before, after_remote, heard = asyncio.run(scenario())
    assert after_remote > before
    assert b"another-replica" in heard and len(heard) == 2
