"""The engine mounted at /gateway on a FastAPI app, as the API will mount it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import openai
from fastapi import FastAPI

from prereview.gateway import (
    BatchingSink,
    CallRecord,
    CollectingStore,
    GatewayApp,
    InMemoryGrantResolver,
    SecretHeaders,
)
from prereview.gateway.serving import ThreadedServer
from prereview.gateway.upstream_sim import running_sim


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
            grant_id="grant-mounted",
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
