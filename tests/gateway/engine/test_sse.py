"""The SSE relay: events split across reads, injected usage hidden, secrets scrubbed."""

from __future__ import annotations

import json

import pytest

from prereview.gateway.engine.sse import EventRelay, MalformedStream


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
