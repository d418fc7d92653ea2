"""Factories of the gateway's tests: upstreams that move only when the test says so.

:class:`GatedUpstream` answers a plain chat completion once released, so a test can act
(withdraw, revoke) at a known moment: after the upstream has received the call and before it
answers. :class:`SteppedStream` sends one streamed event per :meth:`~SteppedStream.step`, so a
test can tell relaying from buffering by what has arrived, not by when. Neither sleeps or races
the clock.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]
ANSWER_TEXT = "the withheld answer"


async def _drain(receive: Callable[[], Awaitable[Message]]) -> None:
    """Read the whole request body, as an upstream does before it answers."""
    more = True
    while more:
        message = await receive()
        more = bool(message.get("more_body", False))


class GatedUpstream:
    """An OpenAI-style upstream: each POST waits for :meth:`release`, then answers."""

    def __init__(self) -> None:
        self.received = threading.Event()
        self._gate = threading.Event()

    def release(self) -> None:
        """Let the waiting calls (and every later one) answer."""
        self._gate.set()

    async def __call__(
        self,
        scope: Message,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            return
        await _drain(receive)
        self.received.set()
        await asyncio.to_thread(self._gate.wait, 30)
        body = json.dumps(
            {
                "id": "chatcmpl-gated",
                "object": "chat.completion",
                "created": 0,
                "model": "gated",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": ANSWER_TEXT},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


class SteppedStream:
    """An OpenAI-style upstream that streams one chat chunk each time the test calls
    :meth:`step`, then ``[DONE]`` after the last."""

    def __init__(self, chunks: int) -> None:
        self.chunks = chunks
        self._steps = threading.Semaphore(0)

    def step(self) -> None:
        """Let the upstream send its next event."""
        self._steps.release()

    async def __call__(
        self,
        scope: Message,
        receive: Callable[[], Awaitable[Message]],
        send: Callable[[Message], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            return
        await _drain(receive)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        for index in range(self.chunks):
            if not await asyncio.to_thread(self._steps.acquire, True, 30):
                return
            chunk = {
                "id": "chatcmpl-stepped",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "stepped",
                "choices": [
                    {"index": 0, "delta": {"content": f"t{index} "}, "finish_reason": None}
                ],
            }
            event = b"data: " + json.dumps(chunk).encode() + b"\n\n"
            await send({"type": "http.response.body", "body": event, "more_body": True})
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})
