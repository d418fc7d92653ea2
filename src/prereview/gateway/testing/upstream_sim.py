"""A small OpenAI-compatible server that stands in for a lab's pre-release API.

It serves ``GET /v1/models``, ``POST /v1/chat/completions`` and ``POST /v1/completions``, plain
and streaming (with ``usage`` in a final chunk when ``stream_options.include_usage`` is set),
answers with deterministic text (``"sim reply to"`` followed by the words of the last prompt, cut
at ``max_tokens``), and requires ``Authorization: Bearer <api_key>``, answering others with a 401
shaped like OpenAI's.

It can be told to misbehave, for one request or for the whole server:

* per request, after a ``+`` in the model name (``"sim-model+slow=0.05+fail=500"``) or in an
  ``x-sim-behaviour`` header (``"slow=0.05,hang"``);
* per server, through :attr:`SimUpstream.behaviour`.

Switches: ``slow=<s>`` (delay before each token), ``ttft=<s>`` (delay before the first),
``fail=<status>`` (an OpenAI-style error; 429 carries ``Retry-After: 7``), ``malformed`` (a 200
that is not valid JSON / not valid SSE), ``hang`` (never answers), ``hang_after=<n>`` (a stream
stops after n tokens and never ends), ``drop_after=<n>`` (a stream's connection is cut after n
tokens), ``echo_key`` (an error message that repeats the presented key, as careless servers do,
to prove the gateway scrubs it).

Run it with ``python -m prereview.gateway.testing.upstream_sim --port 8001 --api-key sk-sim``, or in
a thread with :func:`running_sim`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from prereview.gateway.engine.serving import ThreadedServer

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

CREATED = 1_700_000_000
DEFAULT_MAX_TOKENS = 16


@dataclass(frozen=True)
class Behaviour:
    """How the simulator misbehaves; the default behaves."""

    slow: float = 0.0
    ttft: float = 0.0
    fail: int | None = None
    malformed: bool = False
    hang: bool = False
    hang_after: int | None = None
    drop_after: int | None = None
    echo_key: bool = False

    @classmethod
    def parse(cls, spec: str, base: Behaviour | None = None) -> Behaviour:
        """Apply ``"slow=0.05,fail=500"`` (``,`` or ``+`` separated) on top of ``base``."""
        changes: dict[str, Any] = {}
        for item in re.split(r"[,+]", spec):
            name, _, value = item.strip().partition("=")
            if not name:
                continue
            if name in {"slow", "ttft"}:
                changes[name] = float(value)
            elif name in {"fail", "hang_after", "drop_after"}:
                changes[name] = int(value)
            elif name in {"malformed", "hang", "echo_key"}:
                changes[name] = True
            else:
                raise ValueError(f"unknown simulator behaviour {name!r}")
        behaviour = replace(base or cls(), **changes)
        return behaviour


class _Dropped(Exception):
    """Raised mid-stream so that uvicorn cuts the connection without ending the response."""


@dataclass(frozen=True)
class ReceivedRequest:
    """What the simulator saw, so tests can check what the gateway sent upstream."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None


def _words(value: Any) -> list[str]:
    """The words of a prompt or message content (string or list of content parts)."""
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        words: list[str] = []
        for part in value:
            if isinstance(part, str):
                words.extend(part.split())
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                words.extend(part["text"].split())
        return words
    return []


class SimUpstream:
    """The simulator as an ASGI application (no framework, so it is cheap to run)."""

    def __init__(
        self,
        api_key: str,
        *,
        models: tuple[str, ...] = ("sim-model",),
        behaviour: Behaviour | None = None,
        keep_requests: int = 100,
    ) -> None:
        self._expected_auth = f"Bearer {api_key}".encode()
        self.models = models
        self.behaviour = behaviour or Behaviour()
        self.received: deque[ReceivedRequest] = deque(maxlen=keep_requests)
        #: How the simulator waits out its ``slow`` and ``ttft`` delays; a test may replace it
        #: to see the delays asked for without timing them on the wall clock.
        self.sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
        self._counter = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        method, path = scope["method"], scope["path"]
        raw = b""
        more = True
        while more:
            message = await receive()
            raw += message.get("body", b"")
            more = message.get("more_body", False)
        body: dict[str, Any] | None = None
        if raw:
            try:
                parsed = json.loads(raw)
            except ValueError:
                await _json(send, 400, _error("The body is not valid JSON.", "invalid_json"))
                return
            body = parsed if isinstance(parsed, dict) else None
        self.received.append(ReceivedRequest(method, path, headers, body))

        presented = headers.get("authorization", "").encode("latin-1")
        if presented != self._expected_auth:
            await _json(
                send,
                401,
                _error("Incorrect API key provided.", "invalid_api_key"),
            )
            return
        if path == "/v1/models" and method == "GET":
            data = [
                {"id": m, "object": "model", "created": CREATED, "owned_by": "prereview-sim"}
                for m in self.models
            ]
            await _json(send, 200, {"object": "list", "data": data})
            return
        if path not in {"/v1/chat/completions", "/v1/completions"} or method != "POST":
            await _json(send, 404, _error(f"No route {method} {path}.", "not_found"))
            return
        if body is None:
            await _json(send, 400, _error("The body must be a JSON object.", "invalid_body"))
            return
        model = str(body.get("model", ""))
        base_model, _, model_spec = model.partition("+")
        try:
            behaviour = Behaviour.parse(model_spec, self.behaviour)
            behaviour = Behaviour.parse(headers.get("x-sim-behaviour", ""), behaviour)
        except ValueError as exc:
            await _json(send, 400, _error(str(exc), "invalid_behaviour"))
            return
        if base_model not in self.models:
            await _json(
                send, 404, _error(f"The model {model!r} does not exist.", "model_not_found")
            )
            return
        await self._complete(path, body, model, behaviour, headers, receive, send)

    async def _complete(
        self,
        path: str,
        body: dict[str, Any],
        model: str,
        behaviour: Behaviour,
        headers: dict[str, str],
        receive: Receive,
        send: Send,
    ) -> None:
        chat = path == "/v1/chat/completions"
        if behaviour.hang:
            # Never answer; return once the client gives up, so the server can stop cleanly.
            while (await receive())["type"] != "http.disconnect":
                pass
            return
        if behaviour.fail is not None:
            detail = "The simulator was told to fail."
            if behaviour.echo_key:
                detail += f" You sent {headers.get('authorization', '')}."
            extra = [(b"retry-after", b"7")] if behaviour.fail == 429 else []
            await _json(send, behaviour.fail, _error(detail, "sim_failure"), extra)
            return

        if chat:
            messages = body.get("messages") or []
            prompt_words = [
                w for m in messages if isinstance(m, dict) for w in _words(m.get("content"))
            ]
            last = next((m for m in reversed(messages) if isinstance(m, dict)), {})
            reply_source = _words(last.get("content"))
        else:
            prompt_words = _words(body.get("prompt"))
            reply_source = prompt_words
        limit = body.get("max_completion_tokens") or body.get("max_tokens") or DEFAULT_MAX_TOKENS
        words = ["sim", "reply", "to", *reply_source]
        tokens = [w if i == 0 else " " + w for i, w in enumerate(words[: max(1, int(limit))])]
        finish = "length" if len(words) > len(tokens) else "stop"
        usage = {
            "prompt_tokens": len(prompt_words),
            "completion_tokens": len(tokens),
            "total_tokens": len(prompt_words) + len(tokens),
        }
        self._counter += 1
        call_id = f"{'chatcmpl' if chat else 'cmpl'}-sim-{self._counter}"

        if not body.get("stream"):
            if behaviour.ttft or behaviour.slow:
                await self.sleep(behaviour.ttft + behaviour.slow * len(tokens))
            if behaviour.malformed:
                await _raw(send, 200, b'{"id": "broken', b"application/json")
                return
            text = "".join(tokens)
            choice: dict[str, Any] = (
                {"index": 0, "message": {"role": "assistant", "content": text}}
                if chat
                else {"index": 0, "text": text}
            )
            choice.update(finish_reason=finish, logprobs=None)
            await _json(
                send,
                200,
                {
                    "id": call_id,
                    "object": "chat.completion" if chat else "text_completion",
                    "created": CREATED,
                    "model": model,
                    "choices": [choice],
                    "usage": usage,
                },
            )
            return
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        await self._stream(
            call_id, chat, model, tokens, finish, usage, include_usage, behaviour, receive, send
        )

    async def _stream(
        self,
        call_id: str,
        chat: bool,
        model: str,
        tokens: list[str],
        finish: str,
        usage: dict[str, int],
        include_usage: bool,
        behaviour: Behaviour,
        receive: Receive,
        send: Send,
    ) -> None:
        obj = "chat.completion.chunk" if chat else "text_completion"

        def event(choices: list[dict[str, Any]], usage_value: Any = None) -> bytes:
            chunk: dict[str, Any] = {
                "id": call_id,
                "object": obj,
                "created": CREATED,
                "model": model,
                "choices": choices,
            }
            if include_usage:
                chunk["usage"] = usage_value
            return b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n"

        def choice(
            text: str | None, finish_reason: str | None, role: bool = False
        ) -> dict[str, Any]:
            if chat:
                delta: dict[str, Any] = {"role": "assistant"} if role else {}
                if text is not None:
                    delta["content"] = text
                return {
                    "index": 0,
                    "delta": delta,
                    "finish_reason": finish_reason,
                    "logprobs": None,
                }
            return {
                "index": 0,
                "text": text or "",
                "finish_reason": finish_reason,
                "logprobs": None,
            }

        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream"),
                    (b"cache-control", b"no-cache"),
                ],
            }
        )
        if behaviour.malformed:
            await send(
                {"type": "http.response.body", "body": b"data: {not json\n\n", "more_body": True}
            )
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        # Stop generating once the client has gone, as a real server would.
        gone = asyncio.get_running_loop().create_task(_wait_for_disconnect(receive))
        try:
            await self._stream_tokens(
                tokens, chat, finish, usage, include_usage, behaviour, event, choice, gone, send
            )
        finally:
            gone.cancel()

    async def _stream_tokens(
        self,
        tokens: list[str],
        chat: bool,
        finish: str,
        usage: dict[str, int],
        include_usage: bool,
        behaviour: Behaviour,
        event: Callable[..., bytes],
        choice: Callable[..., dict[str, Any]],
        gone: asyncio.Task[None],
        send: Send,
    ) -> None:
        if chat:
            await send(
                {
                    "type": "http.response.body",
                    "body": event([choice("", None, role=True)]),
                    "more_body": True,
                }
            )
        if behaviour.ttft:
            await self.sleep(behaviour.ttft)
        for index, token in enumerate(tokens):
            if behaviour.hang_after is not None and index >= behaviour.hang_after:
                await gone
                return
            if behaviour.drop_after is not None and index >= behaviour.drop_after:
                raise _Dropped("the simulator was told to drop the connection")
            if behaviour.slow:
                await self.sleep(behaviour.slow)
            if gone.done():
                return
            await send(
                {
                    "type": "http.response.body",
                    "body": event([choice(token, None)]),
                    "more_body": True,
                }
            )
        tail = event([choice(None if chat else "", finish)])
        if include_usage:
            tail += event([], usage)
        tail += b"data: [DONE]\n\n"
        await send({"type": "http.response.body", "body": tail, "more_body": False})


async def _wait_for_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _error(message: str, code: str) -> dict[str, Any]:
    return {
        "error": {"message": message, "type": "invalid_request_error", "param": None, "code": code}
    }


async def _raw(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send(
        {"type": "http.response.start", "status": status, "headers": headers + (extra or [])}
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _json(
    send: Send, status: int, payload: dict[str, Any], extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = json.dumps(payload, separators=(",", ":")).encode()
    await _raw(send, status, body, b"application/json", extra)


@contextmanager
def running_sim(
    api_key: str,
    *,
    models: tuple[str, ...] = ("sim-model",),
    behaviour: Behaviour | None = None,
) -> Iterator[tuple[SimUpstream, str]]:
    """Serve a simulator on a free 127.0.0.1 port in a thread; yields it and its base URL.

    The base URL ends in ``/v1``, as an OpenAI client's ``base_url`` does.
    """
    app = SimUpstream(api_key, models=models, behaviour=behaviour)
    with ThreadedServer(app, lifespan="off") as server:
        yield app, server.url + "/v1"


def main(argv: list[str] | None = None) -> None:
    """Command line: serve the simulator until interrupted."""
    import uvicorn

    parser = argparse.ArgumentParser(description="Deterministic OpenAI-compatible upstream.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--api-key", required=True, help="the bearer key clients must present")
    parser.add_argument("--model", action="append", dest="models", help="model name (repeatable)")
    parser.add_argument("--behaviour", default="", help='server-wide behaviour, e.g. "slow=0.02"')
    args = parser.parse_args(argv)
    app = SimUpstream(
        args.api_key,
        models=tuple(args.models or ["sim-model"]),
        behaviour=Behaviour.parse(args.behaviour),
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", lifespan="off")


if __name__ == "__main__":
    main()
