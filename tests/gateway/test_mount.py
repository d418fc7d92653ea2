"""The gateway as the platform serves it: the official openai client on a real socket, with keys
made through the API, access decided from the database, and calls in the audit log."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import openai
import pytest
import redis
from fastapi import FastAPI

from prereview.api import create_app
from prereview.core.clock import FixedClock
from prereview.core.context import AppContext
from prereview.gateway.engine.limits import RedisLimiter
from prereview.gateway.engine.serving import ThreadedServer
from prereview.gateway.testing.upstream_sim import SimUpstream, running_sim
from support.factories import Platform
from support.factories.gateway import ANSWER_TEXT, GatedUpstream

UPSTREAM_KEY = "sk-live-upstream-4f9a2c7e1b"
REDIS_URL = "redis://127.0.0.1:6379/0"
MODEL = "atlas-preview"


@dataclass
class Setup:
    platform: Platform
    url: str
    sim: SimUpstream
    upstream_url: str
    submission_id: str
    grant_id: str

    @property
    def base_url(self) -> str:
        return self.url + "/gateway/v1"

    def key(self, who: str = "agency", expect: int = 201) -> dict[str, Any]:
        return self.platform.call(  # type: ignore[no-any-return]
            who,
            "POST",
            f"/submissions/{self.submission_id}/gateway/keys",
            expect,
            json={"name": f"{who} notebook"},
        ).json()

    def fresh(self) -> Setup:
        """Another submission under review, with its own grant and the same upstream."""
        sub = self.platform.submit()
        grant = self.platform.grant(sub["id"], window_days=20)
        register(self.platform, sub["id"], self.upstream_url)
        return Setup(self.platform, self.url, self.sim, self.upstream_url, sub["id"], grant["id"])

    def client(self, key: str) -> openai.OpenAI:
        return openai.OpenAI(api_key=key, base_url=self.base_url, max_retries=0, timeout=20)

    def audit(self) -> list[dict[str, Any]]:
        page = self.platform.call(
            "developer",
            "GET",
            f"/submissions/{self.submission_id}/audit",
            200,
            params={"limit": 200},
        ).json()
        return page["items"]  # type: ignore[no-any-return]

    def calls(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """The audited gateway calls, once at least ``count`` have been flushed."""
        deadline = time.monotonic() + timeout
        while True:
            found = [e for e in self.audit() if e["action"] == "gateway:call:complete"]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.05)


def register(platform: Platform, submission_id: str, upstream_url: str, **extra: Any) -> Any:
    body = {
        "base_url": upstream_url,
        "upstream_model": "sim-model",
        "public_model": MODEL,
        "api_key": UPSTREAM_KEY,
    } | extra
    return platform.call(
        "developer", "PUT", f"/submissions/{submission_id}/gateway/upstream", 200, json=body
    ).json()


@pytest.fixture
def setup(platform: Platform, app: FastAPI) -> Iterator[Setup]:
    # A real uvicorn with the app's lifespan, so shutdown flushes the sinks and closes the pool.
    with running_sim(UPSTREAM_KEY) as (sim, upstream_url), ThreadedServer(app) as server:
        url = server.url
        # The simulator is on loopback: the gateway refuses it unless its origin is listed.
        app.state.gateway.upstreams.allow(upstream_url)
        sub = platform.submit()
        grant = platform.grant(sub["id"], window_days=20)
        register(platform, sub["id"], upstream_url)
        yield Setup(platform, url, sim, upstream_url, sub["id"], grant["id"])


def _secrets_absent(text: str, setup: Setup) -> None:
    host_and_port = setup.upstream_url.split("//", 1)[1].split("/", 1)[0]
    for secret in (UPSTREAM_KEY, setup.upstream_url, host_and_port):
        assert secret not in text


def test_openai_client_plain_and_streaming_and_every_call_audited(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    issued = setup.key("agency")
    assert issued["key"].startswith("pgw_") and issued["access"] == "grant"
    client = setup.client(issued["key"])

    assert [m.id for m in client.models.list()] == [MODEL]
    reply = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "hello gateway"}]
    )
    assert reply.choices[0].message.content == "sim reply to hello gateway"
    stream = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "stream me"}], stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == (
        "sim reply to stream me"
    )
    legacy = client.completions.create(model=MODEL, prompt="plain prompt")
    assert legacy.choices[0].text == "sim reply to plain prompt"
    # The upstream saw the developer's credentials and model name, never the gateway key.
    seen = setup.sim.received[-1]
    assert seen.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert seen.body is not None and seen.body["model"] == "sim-model"

    calls = setup.calls(4)
    assert len(calls) == 4
    by_endpoint = sorted(c["detail"]["endpoint"] for c in calls)
    assert by_endpoint == ["chat.completions", "chat.completions", "completions", "models"]
    for entry in calls:
        detail = entry["detail"]
        assert entry["object_type"] == "gateway_call"
        assert entry["submission_id"] == setup.submission_id
        assert detail["access_id"] == setup.grant_id
        assert detail["org_id"] == setup.platform["agency"].org_id
        assert detail["key_id"] == issued["id"]
        assert detail["status"] == 200
        assert detail["latency_ms"] > 0
    chat = [c["detail"] for c in calls if c["detail"]["endpoint"] == "chat.completions"]
    assert all(d["model"] == MODEL and d["completion_tokens"] > 0 for d in chat)
    assert {d["stream"] for d in chat} == {True, False}
    # No prompt, completion, upstream address or credential anywhere in the log or its lines.
    everything = json.dumps(setup.audit())
    assert "hello gateway" not in everything and "sim reply" not in everything
    _secrets_absent(everything, setup)
    _secrets_absent(caplog.text, setup)
    assert issued["key"] not in everything and issued["key"] not in caplog.text


def test_a_partner_key_works_only_after_consent(setup: Setup) -> None:
    platform, sub_id = setup.platform, setup.submission_id
    nomination = platform.call(
        "agency",
        "POST",
        f"/submissions/{sub_id}/nominations",
        201,
        json={"partner_org_id": platform["partner"].org_id, "reason": "runs a hospital"},
    ).json()
    setup.key("partner", expect=404)
    platform.call(
        "developer", "POST", f"/submissions/{sub_id}/nominations/{nomination['id']}/consent", 200
    )
    issued = setup.key("partner")
    assert issued["access"] == "nomination" and issued["access_id"] == nomination["id"]
    client = setup.client(issued["key"])
    reply = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "partner test"}]
    )
    assert reply.choices[0].message.content == "sim reply to partner test"

    # The developer changes its mind: the very next call is refused.
    platform.call(
        "developer", "POST", f"/submissions/{sub_id}/nominations/{nomination['id']}/decline", 200
    )
    with pytest.raises(openai.PermissionDeniedError) as refused:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}])
    assert refused.value.response.json()["reason"] == "revoked"


def _cut(setup: Setup, how: str, clock: FixedClock, key: dict[str, Any]) -> str:
    platform, sub_id = setup.platform, setup.submission_id
    if how == "released":
        platform.call("developer", "POST", f"/submissions/{sub_id}/release", 200)
    elif how == "withdrawn":
        platform.call(
            "developer", "POST", f"/submissions/{sub_id}/withdraw", 200, json={"reason": "x"}
        )
    elif how == "expired":
        clock.advance(timedelta(days=21))
    elif how == "key-revoked":
        platform.call(
            "agency", "POST", f"/submissions/{sub_id}/gateway/keys/{key['id']}/revoke", 200
        )
        return "revoked"
    elif how == "grant-revoked":
        platform.call(
            "developer", "POST", f"/submissions/{sub_id}/grants/{setup.grant_id}/revoke", 200
        )
        return "revoked"
    return how


def test_the_very_next_call_is_refused(setup: Setup, clock: FixedClock) -> None:
    # Expiry last: it moves the clock past every window open so far.
    for how in ("released", "withdrawn", "key-revoked", "grant-revoked", "expired"):
        current = setup.fresh()
        key = current.key("agency")
        client = current.client(key["key"])
        ask = {"model": MODEL, "messages": [{"role": "user", "content": "before"}]}
        assert client.chat.completions.create(**ask).choices  # type: ignore[call-overload]
        reason = _cut(current, how, clock, key)
        with pytest.raises(openai.PermissionDeniedError) as refused:
            client.chat.completions.create(**ask)  # type: ignore[call-overload]
        body = refused.value.response.json()
        assert refused.value.response.headers["content-type"] == "application/problem+json"
        assert body["type"] == "urn:prereview:problem:gateway-access-closed"
        assert body["reason"] == reason, how
        _secrets_absent(refused.value.response.text, current)
        # The refusal is audited like any call.
        statuses = [c["detail"]["status"] for c in current.calls(2)]
        assert sorted(statuses) == [200, 403], how


def test_a_stream_in_flight_ends_when_access_ends(setup: Setup, clock: FixedClock) -> None:
    for how in ("released", "key-revoked"):
        current = setup.fresh()
        # The simulator reads its behaviour from the model name the gateway sends it.
        register(
            current.platform,
            current.submission_id,
            current.upstream_url,
            upstream_model="sim-model+slow=0.1",
        )
        key = current.key("agency")
        stream = current.client(key["key"]).chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": " ".join(f"w{i}" for i in range(80))}],
            max_tokens=80,
            stream=True,
        )
        received = 0

        def read_and_cut_after_two() -> None:
            nonlocal received
            for _ in stream:  # noqa: B023 - called at once, in this iteration
                received += 1
                if received == 2:
                    _cut(current, how, clock, key)  # noqa: B023

        with pytest.raises(openai.APIError) as ended:
            read_and_cut_after_two()
        # 80 tokens come 100 ms apart; the liveness check (every 2 s) ends the stream long
        # before its end: counted in events, not timed.
        assert received < 40, how
        assert ended.value.code == "gateway-access-closed", how


def test_limits_answer_429_with_retry_after(setup: Setup) -> None:
    platform, sub_id = setup.platform, setup.submission_id
    limits = platform.call(
        "developer",
        "PUT",
        f"/submissions/{sub_id}/grants/{setup.grant_id}/limits",
        200,
        json={"requests_per_minute": 2},
    ).json()
    assert limits["requests_per_minute"] == 2 and limits["tokens_per_day"] is None
    client = setup.client(setup.key("agency")["key"])
    ask = {"model": MODEL, "messages": [{"role": "user", "content": "x"}]}
    client.chat.completions.create(**ask)  # type: ignore[call-overload]
    client.chat.completions.create(**ask)  # type: ignore[call-overload]
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(**ask)  # type: ignore[call-overload]
    assert int(limited.value.response.headers["retry-after"]) >= 1
    assert limited.value.response.json()["limit"] == "requests-per-minute"
    # The agency sees its own limits; lifting them applies to the next call.
    seen = platform.call("agency", "GET", f"/submissions/{sub_id}/gateway/limits", 200).json()[
        "items"
    ]
    assert [row["access_id"] for row in seen] == [setup.grant_id]
    platform.call(
        "developer", "PUT", f"/submissions/{sub_id}/grants/{setup.grant_id}/limits", 200, json={}
    )
    assert client.chat.completions.create(**ask).choices  # type: ignore[call-overload]


def test_transcripts_are_kept_only_when_allowed_encrypted_and_readable_by_both_sides(
    setup: Setup, app: FastAPI, tmp_path: Any
) -> None:
    platform, sub_id = setup.platform, setup.submission_id
    client = setup.client(setup.key("agency")["key"])
    client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "unkept words"}]
    )
    # Once the call is audited, its transcript (had one been taken) is in the sink already:
    # wait until the sink holds nothing, then nothing may have been handed to the vault.
    setup.calls(1)
    transcripts = app.state.gateway.transcripts
    deadline = time.monotonic() + 5
    while transcripts.pending:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert transcripts.flushed == 0
    assert (
        platform.call("developer", "GET", f"/submissions/{sub_id}/gateway/transcripts", 200).json()[
            "items"
        ]
        == []
    )

    register(platform, sub_id, setup.upstream_url, keep_transcripts=True)
    client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "kept words"}]
    )
    deadline = time.monotonic() + 5
    while not (
        kept := platform.call(
            "developer", "GET", f"/submissions/{sub_id}/gateway/transcripts", 200
        ).json()["items"]
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    call_id = kept[0]["call_id"]
    for who in ("developer", "agency"):
        read = platform.call(
            who, "GET", f"/submissions/{sub_id}/gateway/transcripts/{call_id}", 200
        ).json()
        assert "kept words" in read["request"] and "sim reply to kept words" in read["response"]
    platform.call(
        "other_agency", "GET", f"/submissions/{sub_id}/gateway/transcripts/{call_id}", 404
    )
    # At rest, the blob is ciphertext.
    blobs = list((tmp_path / "blobs").rglob("*.prvs"))
    assert blobs and all(b"kept words" not in b.read_bytes() for b in blobs)
    reads = [e for e in setup.audit() if e["action"] == "gateway:transcript:read"]
    assert {e["actor_org_id"] for e in reads} == {
        platform["developer"].org_id,
        platform["agency"].org_id,
    }


def test_many_concurrent_calls_are_all_audited(setup: Setup) -> None:
    client = setup.client(setup.key("agency")["key"])
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                client.chat.completions.create(
                    model=MODEL, messages=[{"role": "user", "content": "burst"}]
                )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(setup.calls(30)) == 30


def test_unknown_and_missing_keys_are_401_problems(setup: Setup) -> None:
    for headers in ({}, {"Authorization": "Bearer pgw_not-a-key"}):
        answer = httpx.post(
            setup.base_url + "/chat/completions",
            headers=headers,
            json={"model": MODEL, "messages": []},
        )
        assert answer.status_code == 401
        assert answer.headers["content-type"] == "application/problem+json"
        _secrets_absent(answer.text, setup)


def test_two_replicas_share_limits_in_redis(
    platform: Platform, context: AppContext, clock: FixedClock
) -> None:
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except (OSError, redis.RedisError) as exc:  # pragma: no cover - depends on the machine
        pytest.skip(f"Redis at {REDIS_URL} is not reachable: {exc}")
    shared = AppContext(
        context.settings.model_copy(update={"redis_url": REDIS_URL}),
        context.engine,
        context.sessions,
        clock,
    )
    replicas = [create_app(context=shared), create_app(context=shared)]
    assert all(isinstance(r.state.gateway.limiter, RedisLimiter) for r in replicas)
    with (
        running_sim(UPSTREAM_KEY) as (_, upstream_url),
        ThreadedServer(replicas[0]) as first,
        ThreadedServer(replicas[1]) as second,
    ):
        a, b = first.url, second.url
        for gateway_app in (platform.client.app, *replicas):
            gateway_app.state.gateway.upstreams.allow(upstream_url)
        sub = platform.submit()
        grant = platform.grant(sub["id"])
        register(platform, sub["id"], upstream_url)
        platform.call(
            "developer",
            "PUT",
            f"/submissions/{sub['id']}/grants/{grant['id']}/limits",
            200,
            json={"requests_per_minute": 2},
        )
        key = platform.call(
            "agency", "POST", f"/submissions/{sub['id']}/gateway/keys", 201, json={"name": "r"}
        ).json()["key"]
        ask = {"model": MODEL, "messages": [{"role": "user", "content": "x"}]}
        clients = [
            openai.OpenAI(api_key=key, base_url=url + "/gateway/v1", max_retries=0)
            for url in (a, b)
        ]
        clients[0].chat.completions.create(**ask)  # type: ignore[call-overload]
        clients[1].chat.completions.create(**ask)  # type: ignore[call-overload]
        # Each replica has seen one call; together they have spent the minute's allowance.
        for client in clients:
            with pytest.raises(openai.RateLimitError):
                client.chat.completions.create(**ask)  # type: ignore[call-overload]


@pytest.mark.parametrize("how", ["withdrawn", "expired"])
def test_a_plain_answer_after_the_cutoff_is_withheld_and_audited_as_cut_off(
    setup: Setup, app: FastAPI, clock: FixedClock, how: str
) -> None:
    """Attack: a non-streaming call in flight at a withdrawal still delivered its answer and
    was audited as 200. The answer is withheld (403) and the call audited as cut off."""
    upstream = GatedUpstream()
    with ThreadedServer(upstream, lifespan="off") as gated:
        app.state.gateway.upstreams.allow(gated.url)
        current = setup.fresh()
        register(current.platform, current.submission_id, gated.url + "/v1")
        key = current.key("agency")["key"]
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(
                httpx.post,
                current.base_url + "/chat/completions",
                json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]},
                headers={"Authorization": f"Bearer {key}"},
                timeout=30,
            )
            assert upstream.received.wait(30)
            _cut(current, how, clock, {})
            upstream.release()
            answer = pending.result(timeout=30)
    assert answer.status_code == 403
    assert ANSWER_TEXT not in answer.text
    assert answer.json()["reason"] == how
    (entry,) = current.calls(1)
    assert entry["detail"]["status"] == 403
    assert entry["detail"]["cut_off"] is True
    assert entry["detail"]["error"] == "gateway-access-closed"
