"""The engine as an ASGI app: request validation, routing, transcripts, and mounting under
FastAPI at /gateway as the API mounts it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import openai
import pytest
from fastapi import FastAPI

from prereview.gateway import (
    BatchingSink,
    CallRecord,
    CollectingStore,
    GatewayApp,
    GatewayConfig,
    InMemoryGrantResolver,
    SecretHeaders,
)
from prereview.gateway.engine.serving import ThreadedServer
from prereview.gateway.testing.harness import RunningGateway, running_gateway
from prereview.gateway.testing.upstream_sim import running_sim

UPSTREAM_KEY = "sk-requests-upstream"
AUTH = {"Authorization": "Bearer key-plain"}


@pytest.fixture(scope="module")
def gateway() -> Iterator[RunningGateway]:
    with (
        running_sim(UPSTREAM_KEY) as (_, upstream_url),
        running_gateway(config=GatewayConfig(max_body_bytes=4096)) as gw,
    ):
        gw.allow(upstream_url)
        for name, keep in (("plain", False), ("kept", True)):
            gw.resolver.add(
                f"key-{name}",
                access_id=f"grant-{name}",
                submission_id=f"sub-{name}",
                upstream_base_url=upstream_url,
                upstream_model="sim-model",
                public_model="preview",
                credential_headers=SecretHeaders.bearer(UPSTREAM_KEY),
                keep_transcripts=keep,
            )
        yield gw


def _problem_type(response: httpx.Response) -> str:
    assert response.headers["content-type"] == "application/problem+json"
    return str(response.json()["type"]).removeprefix("urn:prereview:problem:")


def test_bad_bodies_are_4xx_problems(gateway: RunningGateway) -> None:
    url = gateway.base_url + "/chat/completions"
    not_json = httpx.post(url, content=b"{nope", headers=AUTH)
    assert not_json.status_code == 400
    assert _problem_type(not_json) == "gateway-bad-request"
    array = httpx.post(url, json=[1, 2], headers=AUTH)
    assert array.status_code == 400
    huge = httpx.post(url, json={"model": "preview", "prompt": "x" * 10_000}, headers=AUTH)
    assert huge.status_code == 413
    assert _problem_type(huge) == "gateway-body-too-large"


def test_routes_and_methods(gateway: RunningGateway) -> None:
    missing = httpx.post(gateway.base_url + "/embeddings", json={}, headers=AUTH)
    assert missing.status_code == 404
    assert _problem_type(missing) == "gateway-route-not-found"
    wrong_method = httpx.get(gateway.base_url + "/chat/completions", headers=AUTH)
    assert wrong_method.status_code == 405
    other_model = httpx.get(gateway.base_url + "/models/gpt-4o", headers=AUTH)
    assert other_model.status_code == 404
    assert _problem_type(other_model) == "gateway-model-not-found"


def test_transcripts_only_where_the_developer_allows(gateway: RunningGateway) -> None:
    for key in ("key-plain", "key-kept"):
        client = openai.OpenAI(api_key=key, base_url=gateway.base_url)
        client.chat.completions.create(
            model="preview", messages=[{"role": "user", "content": f"prompt for {key}"}]
        )
        list(
            client.chat.completions.create(
                model="preview", messages=[{"role": "user", "content": "streamed"}], stream=True
            )
        )
    gateway.settled_calls()
    transcripts = gateway.transcripts.items
    assert {t.access_id for t in transcripts} == {"grant-kept"}
    plain, streamed = transcripts[-2:]
    assert b"prompt for key-kept" in plain.request_body
    assert b"sim reply to prompt for key-kept" in plain.response_body
    assert b"data: [DONE]" in streamed.response_body
    assert b" streamed" in streamed.response_body
    assert "prompt for" not in repr(plain)
    calls = {c.call_id for c in gateway.calls.items}
    assert {t.call_id for t in transcripts} <= calls


@pytest.mark.parametrize("depth", [65, 1500, 3000])
def test_deeply_nested_bodies_are_400_problems(gateway: RunningGateway, depth: int) -> None:
    """Attack: a body nested past the JSON decoder's recursion limit was a 500. Bodies nested
    deeper than 64 levels are refused while reading, with the OpenAI ``error`` member."""
    nested = b"[" * depth + b"]" * depth
    body = b'{"model":"preview","messages":' + nested + b"}"
    answer = httpx.post(
        gateway.base_url + "/chat/completions",
        content=body,
        headers={**AUTH, "content-type": "application/json"},
    )
    if len(body) > 4096:
        assert answer.status_code == 413
        return
    assert answer.status_code == 400, answer.text
    assert _problem_type(answer) == "gateway-too-deeply-nested"
    assert answer.json()["error"]["code"] == "gateway-too-deeply-nested"
    assert answer.json()["error"]["type"] == "invalid_request_error"


def test_nesting_within_the_limit_is_forwarded(gateway: RunningGateway) -> None:
    content: object = "hi"
    for _ in range(60):
        content = {"x": content}
    body = {"model": "preview", "messages": [{"role": "user", "content": "hi"}], "meta": content}
    answer = httpx.post(gateway.base_url + "/chat/completions", json=body, headers=AUTH)
    assert answer.status_code == 200, answer.text


def test_mounted_under_fastapi() -> None:
    resolver = InMemoryGrantResolver()
    calls: CollectingStore[CallRecord] = CollectingStore()
    sink: BatchingSink[CallRecord] = BatchingSink(calls, max_delay=0.01)
    engine = GatewayApp(resolver, sink)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        # A mounted app gets no lifespan events of its own: the main app closes it.
        await engine.aclose()
        await sink.aclose()

    app = FastAPI(lifespan=lifespan)
    app.mount("/gateway", engine)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    with running_sim("sk-mounted") as (_, upstream_url), ThreadedServer(app) as server:
        engine.upstreams.allow(upstream_url)
        resolver.add(
            "key-mounted",
            access_id="grant-mounted",
            upstream_base_url=upstream_url,
            upstream_model="sim-model",
            public_model="preview",
            credential_headers=SecretHeaders.bearer("sk-mounted"),
        )
        client = openai.OpenAI(api_key="key-mounted", base_url=server.url + "/gateway/v1")
        assert [m.id for m in client.models.list()] == ["preview"]
        reply = client.chat.completions.create(
            model="preview", messages=[{"role": "user", "content": "mounted"}]
        )
        assert reply.choices[0].message.content == "sim reply to mounted"
        streamed = client.chat.completions.create(
            model="preview", messages=[{"role": "user", "content": "mounted"}], stream=True
        )
        assert "".join(c.choices[0].delta.content or "" for c in streamed) == (
            "sim reply to mounted"
        )
    # The lifespan flushed the sink on shutdown.
    assert [c.endpoint for c in calls.items] == ["models", "chat.completions", "chat.completions"]
