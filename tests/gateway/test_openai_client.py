"""The official openai client, sync and async, plain and streaming, through the gateway."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import openai
import pytest

from prereview.gateway import SecretHeaders
from prereview.gateway.testing.harness import RunningGateway, running_gateway
from prereview.gateway.testing.upstream_sim import SimUpstream, running_sim

UPSTREAM_KEY = "sk-upstream-very-secret-0123456789"
GATEWAY_KEY = "pgw-reviewer-key"
PUBLIC_MODEL = "frontier-preview"


@pytest.fixture(scope="module")
def sim() -> Iterator[tuple[SimUpstream, str]]:
    with running_sim(UPSTREAM_KEY, models=("lab-internal-7",)) as running:
        yield running


@pytest.fixture(scope="module")
def gateway(sim: tuple[SimUpstream, str]) -> Iterator[RunningGateway]:
    _, upstream_url = sim
    with running_gateway(allow=(upstream_url,)) as gw:
        gw.resolver.add(
            GATEWAY_KEY,
            access_id="grant-1",
            org_id="agency-1",
            submission_id="sub-1",
            upstream_base_url=upstream_url,
            upstream_model="lab-internal-7",
            public_model=PUBLIC_MODEL,
            credential_headers=SecretHeaders.bearer(UPSTREAM_KEY),
        )
        yield gw


def test_models_lists_the_public_name_only(gateway: RunningGateway) -> None:
    client = openai.OpenAI(api_key=GATEWAY_KEY, base_url=gateway.base_url)
    assert [m.id for m in client.models.list()] == [PUBLIC_MODEL]
    assert client.models.retrieve(PUBLIC_MODEL).id == PUBLIC_MODEL


def test_chat_completion_is_forwarded_with_the_developer_credentials(
    gateway: RunningGateway, sim: tuple[SimUpstream, str]
) -> None:
    upstream, _ = sim
    client = openai.OpenAI(api_key=GATEWAY_KEY, base_url=gateway.base_url)
    reply = client.chat.completions.create(
        model=PUBLIC_MODEL, messages=[{"role": "user", "content": "scan this host"}]
    )
    assert reply.choices[0].message.content == "sim reply to scan this host"
    assert reply.usage is not None
    assert reply.usage.prompt_tokens == 3
    seen = upstream.received[-1]
    assert seen.headers["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert GATEWAY_KEY not in repr(seen.headers)
    assert seen.body is not None
    assert seen.body["model"] == "lab-internal-7"


def test_streaming_chat_arrives_token_by_token(gateway: RunningGateway) -> None:
    client = openai.OpenAI(api_key=GATEWAY_KEY, base_url=gateway.base_url)
    stream = client.chat.completions.create(
        model=PUBLIC_MODEL, messages=[{"role": "user", "content": "a b c"}], stream=True
    )
    chunks = list(stream)
    # The gateway asks upstream for usage, but hides it from a client that did not ask.
    assert all(chunk.choices for chunk in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == "sim reply to a b c"
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_streaming_with_usage_requested_passes_usage_on(gateway: RunningGateway) -> None:
    client = openai.OpenAI(api_key=GATEWAY_KEY, base_url=gateway.base_url)
    chunks = list(
        client.chat.completions.create(
            model=PUBLIC_MODEL,
            messages=[{"role": "user", "content": "x y"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 5


def test_legacy_completions_plain_and_streaming(gateway: RunningGateway) -> None:
    client = openai.OpenAI(api_key=GATEWAY_KEY, base_url=gateway.base_url)
    plain = client.completions.create(model=PUBLIC_MODEL, prompt="one two", max_tokens=4)
    assert plain.choices[0].text == "sim reply to one"
    assert plain.choices[0].finish_reason == "length"
    streamed = client.completions.create(model=PUBLIC_MODEL, prompt="one two", stream=True)
    assert "".join(c.choices[0].text for c in streamed) == "sim reply to one two"


def test_async_client_plain_and_streaming(gateway: RunningGateway) -> None:
    asyncio.run(_async_plain_and_streaming(gateway))


async def _async_plain_and_streaming(gateway: RunningGateway) -> None:
    client = openai.AsyncOpenAI(api_key=GATEWAY_KEY, base_url=gateway.base_url)
    reply = await client.chat.completions.create(
        model=PUBLIC_MODEL, messages=[{"role": "user", "content": "async"}]
    )
    assert reply.choices[0].message.content == "sim reply to async"
    stream = await client.chat.completions.create(
        model=PUBLIC_MODEL, messages=[{"role": "user", "content": "async"}], stream=True
    )
    text = ""
    async for chunk in stream:
        text += chunk.choices[0].delta.content or ""
    assert text == "sim reply to async"
    await client.close()


def test_every_call_is_recorded_with_grant_and_tokens(gateway: RunningGateway) -> None:
    before = len(gateway.settled_calls())
    client = openai.OpenAI(api_key=GATEWAY_KEY, base_url=gateway.base_url)
    client.chat.completions.create(
        model=PUBLIC_MODEL, messages=[{"role": "user", "content": "count me"}]
    )
    list(
        client.chat.completions.create(
            model=PUBLIC_MODEL, messages=[{"role": "user", "content": "count me"}], stream=True
        )
    )
    records = gateway.settled_calls()[before:]
    plain, streamed = records
    for record in (plain, streamed):
        assert (record.access_id, record.org_id, record.submission_id) == (
            "grant-1",
            "agency-1",
            "sub-1",
        )
        assert record.model == PUBLIC_MODEL
        assert record.status == 200
        assert (record.prompt_tokens, record.completion_tokens) == (2, 5)
        assert not record.usage_estimated
        assert record.latency_ms > 0
    assert streamed.stream
    assert not plain.stream
    assert streamed.ttft_ms is not None


def test_wrong_model_name_is_a_clear_404(gateway: RunningGateway) -> None:
    client = openai.OpenAI(api_key=GATEWAY_KEY, base_url=gateway.base_url, max_retries=0)
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=[])
    assert PUBLIC_MODEL in str(caught.value)
