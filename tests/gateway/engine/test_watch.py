"""Cutting access off: the next request fails, and streams in flight end."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest

from prereview.gateway import GatewayConfig, GrantLimits, SecretHeaders
from prereview.gateway.engine.serving import ThreadedServer
from prereview.gateway.testing.harness import RunningGateway, running_gateway
from prereview.gateway.testing.upstream_sim import SimUpstream, running_sim
from support.factories.gateway import ANSWER_TEXT, GatedUpstream, SteppedStream

UPSTREAM_KEY = "sk-cutoff-upstream"
MODEL = "preview"
LONG_PROMPT = " ".join(f"w{i}" for i in range(60))


@pytest.fixture
def sim() -> Iterator[tuple[SimUpstream, str]]:
    with running_sim(UPSTREAM_KEY) as running:
        yield running


@pytest.fixture
def gateway(sim: tuple[SimUpstream, str]) -> Iterator[RunningGateway]:
    _, upstream_url = sim
    with running_gateway(config=GatewayConfig(liveness_interval=0.05), allow=(upstream_url,)) as gw:
        gw.resolver.add(
            "key-slow",
            access_id="grant-slow",
            upstream_base_url=upstream_url,
            upstream_model="sim-model+slow=0.02",
            public_model=MODEL,
            credential_headers=SecretHeaders.bearer(UPSTREAM_KEY),
            limits=GrantLimits(concurrent_streams=1),
        )
        yield gw


def _slow_stream(gw: RunningGateway) -> openai.Stream:  # type: ignore[type-arg]
    client = openai.OpenAI(api_key="key-slow", base_url=gw.base_url, max_retries=0)
    return client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": LONG_PROMPT}],
        max_tokens=60,
        stream=True,
    )


@pytest.mark.parametrize("reason", ["withdrawn", "released", "revoked", "expired"])
def test_stream_in_flight_ends_when_the_grant_closes(gateway: RunningGateway, reason: str) -> None:
    stream = _slow_stream(gateway)
    received = 0

    def read_and_close_after_three() -> None:
        nonlocal received
        for _ in stream:
            received += 1
            if received == 3:
                gateway.resolver.close("grant-slow", reason)

    with pytest.raises(openai.APIError) as caught:
        read_and_close_after_three()
    # 60 tokens come 20 ms apart; the cut comes within a liveness interval (50 ms), long
    # before the stream's end: counted in events, not timed.
    assert received < 20
    assert caught.value.code == "gateway-access-closed"
    # And the very next request is refused.
    client = openai.OpenAI(api_key="key-slow", base_url=gateway.base_url, max_retries=0)
    with pytest.raises(openai.PermissionDeniedError) as refused:
        client.chat.completions.create(model=MODEL, messages=[])
    assert refused.value.response.json()["reason"] == reason
    record = next(c for c in gateway.settled_calls() if c.stream)
    assert record.error == "gateway-access-closed"


def test_client_disconnect_frees_the_stream_slot(gateway: RunningGateway) -> None:
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": LONG_PROMPT}],
        "max_tokens": 60,
        "stream": True,
    }
    headers = {"Authorization": "Bearer key-slow"}
    with httpx.stream(
        "POST", gateway.base_url + "/chat/completions", json=body, headers=headers
    ) as response:
        assert response.status_code == 200
        # Keep the iterator: dropping it would close the connection at once.
        chunks = response.iter_bytes()
        next(chunks)
        # A second stream is over the grant's limit of one while the first is open.
        second = httpx.post(gateway.base_url + "/chat/completions", json=body, headers=headers)
        assert second.status_code == 429
        assert second.json()["limit"] == "concurrent-streams"
    # The client went away: the slot must come free without the stream (60 tokens) finishing.
    deadline = time.monotonic() + 10
    while True:
        calls = gateway.settled_calls(quiet=0.01)
        if any(c.client_disconnected for c in calls) or time.monotonic() > deadline:
            break
    gone = [c for c in calls if c.client_disconnected]
    assert gone and gone[0].completion_tokens < 60
    client = openai.OpenAI(api_key="key-slow", base_url=gateway.base_url, max_retries=0)
    reply = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}])
    assert reply.choices[0].message.content == "sim reply to x"


def test_reopened_grant_works_again(gateway: RunningGateway) -> None:
    client = openai.OpenAI(api_key="key-slow", base_url=gateway.base_url, max_retries=0)
    gateway.resolver.close("grant-slow", "revoked")
    with pytest.raises(openai.PermissionDeniedError):
        client.models.list()
    gateway.resolver.reopen("grant-slow")
    assert [m.id for m in client.models.list()] == [MODEL]


def test_streams_are_relayed_as_they_arrive() -> None:
    """Each event reaches the client as soon as the upstream sends it: no buffering. The
    upstream sends its next event only after the client has the previous one, so a gateway
    that held events back would leave the client waiting (a read timeout) instead."""
    upstream = SteppedStream(chunks=8)
    with (
        ThreadedServer(upstream, lifespan="off") as stepped,
        running_gateway(allow=(stepped.url,)) as gw,
    ):
        gw.resolver.add(
            "key-stepped",
            access_id="grant-stepped",
            upstream_base_url=stepped.url + "/v1",
            upstream_model="stepped",
            public_model=MODEL,
            credential_headers=SecretHeaders.bearer("sk-stepped"),
        )
        client = openai.OpenAI(
            api_key="key-stepped", base_url=gw.base_url, max_retries=0, timeout=10
        )
        stream = iter(
            client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "x"}], stream=True
            )
        )
        for index in range(upstream.chunks):
            upstream.step()
            chunk = next(stream)
            assert chunk.choices[0].delta.content == f"t{index} "
        assert list(stream) == []


@pytest.mark.parametrize("reason", ["withdrawn", "released", "revoked", "expired"])
def test_plain_answer_arriving_after_the_cutoff_is_withheld(reason: str) -> None:
    """Attack: a non-streaming call in flight when access ended still delivered its answer
    (audited as 200). The engine re-checks access after the upstream answers: the answer is
    withheld with 403 and the call is recorded as cut off."""
    upstream = GatedUpstream()
    with ThreadedServer(upstream, lifespan="off") as server, running_gateway() as gw:
        gw.allow(server.url)
        gw.resolver.add(
            "key-gated",
            access_id="grant-gated",
            upstream_base_url=server.url + "/v1",
            upstream_model="gated",
            public_model=MODEL,
            credential_headers=SecretHeaders.bearer(UPSTREAM_KEY),
        )
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(
                httpx.post,
                gw.base_url + "/chat/completions",
                json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]},
                headers={"Authorization": "Bearer key-gated"},
                timeout=30,
            )
            assert upstream.received.wait(30)
            # Access ends while the upstream is still working on the answer.
            gw.resolver.close("grant-gated", reason)
            upstream.release()
            answer = pending.result(timeout=30)
        calls = gw.settled_calls()
    assert answer.status_code == 403
    assert ANSWER_TEXT not in answer.text
    body = answer.json()
    assert body["type"] == "urn:prereview:problem:gateway-access-closed"
    assert body["reason"] == reason
    assert body["error"]["code"] == "gateway-access-closed"
    (record,) = calls
    assert record.status == 403
    assert record.cut_off
    assert record.error == "gateway-access-closed"
    # The upstream did the work: the record counts its tokens.
    assert (record.prompt_tokens, record.completion_tokens) == (3, 4)
