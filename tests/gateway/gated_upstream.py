"""An upstream that answers a plain chat completion only when the test says so.

It lets a test act (withdraw, revoke) at a known moment: after the upstream has received the
call and before it answers, without sleeping or racing the clock.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]
ANSWER_TEXT = "the withheld answer"


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
        more = True
        while more:
            message = await receive()
            more = bool(message.get("more_body", False))
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
