"""The batching sink keeps audit writes off the request path; the SSE relay; secret hygiene."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence

import pytest

from prereview.gateway import BatchingSink, CollectingStore, GrantContext, SecretHeaders
from prereview.gateway.errors import GatewayAccessClosed, GatewayRateLimited
from prereview.gateway.sse import EventRelay, MalformedStream


async def _never_closed() -> None:
    return None


def test_record_returns_at_once_while_the_store_is_slow() -> None:
    async def scenario() -> None:
        release = asyncio.Event()
        stored: list[int] = []

        async def slow_store(batch: Sequence[int]) -> None:
            await release.wait()
            stored.extend(batch)

        sink: BatchingSink[int] = BatchingSink(slow_store, max_batch=100, max_delay=0.001)
        started = time.perf_counter()
        for i in range(10_000):
            sink.record(i)
        assert time.perf_counter() - started < 0.5
        await asyncio.sleep(0.01)
        assert stored == []
        release.set()
        await sink.drain()
        await sink.aclose()
        assert stored == list(range(10_000))

    asyncio.run(scenario())


def test_records_are_flushed_in_batches() -> None:
    async def scenario() -> None:
        batches: list[int] = []

        async def store(batch: Sequence[int]) -> None:
            batches.append(len(batch))

        sink: BatchingSink[int] = BatchingSink(store, max_batch=50, max_delay=0.05)
        for i in range(120):
            sink.record(i)
        await sink.aclose()
        assert sum(batches) == 120
        assert max(batches) == 50
        assert len(batches) <= 4

    asyncio.run(scenario())


def test_a_failing_store_is_retried_then_catches_up() -> None:
    async def scenario() -> None:
        attempts = 0
        collected: CollectingStore[int] = CollectingStore()

        async def flaky(batch: Sequence[int]) -> None:
            nonlocal attempts
            attempts += 1
            if attempts < 3:
                raise ConnectionError("database away")
            await collected(batch)

        sink: BatchingSink[int] = BatchingSink(flaky, max_delay=0.001, retry_delay=0.01)
        for i in range(5):
            sink.record(i)
        await sink.drain()
        await sink.aclose()
        assert collected.items == [0, 1, 2, 3, 4]
        assert attempts == 3

    asyncio.run(scenario())


def test_a_dead_store_costs_bounded_memory() -> None:
    async def scenario() -> None:
        async def dead(batch: Sequence[int]) -> None:
            raise ConnectionError("gone")

        sink: BatchingSink[int] = BatchingSink(dead, max_queue=100, retry_delay=10)
        for i in range(250):
            sink.record(i)
        assert sink.pending == 100
        assert sink.dropped == 150
        task = sink._task
        assert task is not None
        task.cancel()

    asyncio.run(scenario())


def test_relay_splits_events_across_reads_and_hides_injected_usage() -> None:
    relay = EventRelay(hide_usage=True, secrets=())
    stream = (
        b'data: {"choices":[{"delta":{"content":"a"}}],"usage":null}\r\n\r\n'
        b'data: {"choices":[{"delta":{"content":"b"}}],"usage":null}\n\n'
        b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}\n\n'
        b": keep-alive\n\n"
        b"data: [DONE]\n\n"
    )
    out = b""
    for i in range(0, len(stream), 7):  # arbitrary read boundaries
        out += relay.feed(stream[i : i + 7])
    events = [e for e in out.split(b"\n\n") if e]
    assert events[0] == b'data: {"choices":[{"delta":{"content":"a"}}]}'
    assert events[1] == b'data: {"choices":[{"delta":{"content":"b"}}]}'
    assert events[2:] == [b": keep-alive", b"data: [DONE]"]
    assert relay.usage == {"prompt_tokens": 3, "completion_tokens": 2}
    assert relay.content_events == 2
    assert relay.done


def test_relay_passes_usage_on_when_the_client_asked() -> None:
    relay = EventRelay(hide_usage=False, secrets=())
    usage_event = b'data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1}}\n\n'
    assert relay.feed(usage_event) == usage_event
    assert relay.usage is not None


def test_relay_keeps_content_that_shares_a_chunk_with_usage() -> None:
    relay = EventRelay(hide_usage=True, secrets=())
    out = relay.feed(
        b'data: {"choices":[{"delta":{"content":"z"}}],'
        b'"usage":{"prompt_tokens":1,"completion_tokens":1}}\n\n'
    )
    assert json.loads(out[6:]) == {"choices": [{"delta": {"content": "z"}}]}


def test_relay_rejects_non_json_events_and_scrubs_error_events() -> None:
    with pytest.raises(MalformedStream):
        EventRelay(hide_usage=False, secrets=()).feed(b"data: {not json\n\n")
    relay = EventRelay(hide_usage=False, secrets=(b"sk-secret",))
    out = relay.feed(b'data: {"error":{"message":"bad key sk-secret"}}\n\n')
    assert b"sk-secret" not in out
    assert b"[redacted]" in out


def test_secret_headers_never_print_their_values() -> None:
    headers = SecretHeaders({"Authorization": "Bearer sk-abc-123", "X-Org": "lab-org-9"})
    context = GrantContext(
        grant_id="g",
        org_id="o",
        submission_id="s",
        key_id="k",
        public_model="m",
        upstream_model="u",
        upstream_base_url="https://lab.example/v1?token=abc",
        credential_headers=headers,
        recheck=_never_closed,
    )
    for text in (repr(headers), str(headers), repr(context), str(context)):
        assert "sk-abc-123" not in text
        assert "lab-org-9" not in text
        assert "token=abc" not in text
    assert set(headers.secret_values()) == {"Bearer sk-abc-123", "sk-abc-123", "lab-org-9"}


def test_context_refuses_urls_with_embedded_credentials() -> None:
    with pytest.raises(ValueError, match="must not embed credentials") as caught:
        GrantContext(
            grant_id="g",
            org_id="o",
            submission_id="s",
            key_id="k",
            public_model="m",
            upstream_model="u",
            upstream_base_url="https://user:hunter2@lab.example/v1",
            credential_headers=SecretHeaders({}),
            recheck=_never_closed,
        )
    assert "hunter2" not in str(caught.value)


def test_error_problem_documents() -> None:
    closed = GatewayAccessClosed("Window ended.", reason="expired", grant_id="g-1")
    problem = closed.problem()
    assert problem["type"] == "urn:prereview:problem:gateway-access-closed"
    assert problem["reason"] == "expired"
    assert "g-1" not in json.dumps(problem)
    with pytest.raises(ValueError, match="unknown access-closed reason"):
        GatewayAccessClosed("x", reason="tired")
    limited = GatewayRateLimited("Slow down.", limit="requests-per-minute", retry_after=0.2)
    assert limited.retry_after == 1
    assert limited.problem()["retry_after"] == 1
