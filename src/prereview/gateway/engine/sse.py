"""Relaying an OpenAI server-sent event stream, event by event, without buffering it.

:class:`EventRelay` takes the upstream's bytes as they arrive and returns, at once, the complete
events among them for the client: only the tail of an event that has not fully arrived waits for
the next read. On the way it

* picks up the token ``usage`` from the final chunk (the gateway asks the upstream for it with
  ``stream_options.include_usage`` even where the client did not, and then hides that chunk, so
  the client sees exactly the stream it asked for);
* counts content events, as a fallback estimate when an upstream reports no usage;
* notices ``[DONE]`` and events that are not JSON (a broken upstream), and scrubs the
  developer's secrets out of any error event an upstream sends;
* given a :class:`~prereview.gateway.engine.renaming.ModelRename`, puts the public model name
  in every chunk's ``model`` (and in error events) in place of the upstream's internal id.
"""

from __future__ import annotations

import json
from typing import Any

from prereview.gateway.engine.renaming import ModelRename

_USAGE_MARKERS = (b'"usage":{', b'"usage": {')
_NULL_USAGE = (b',"usage":null', b', "usage": null')


class MalformedStream(Exception):
    """The upstream sent an event that is not an OpenAI stream event."""


class EventRelay:
    """Splits upstream bytes into events and decides what the client gets."""

    __slots__ = (
        "_hide_usage",
        "_pending",
        "_rename",
        "_secrets",
        "content_events",
        "done",
        "usage",
    )

    def __init__(
        self,
        *,
        hide_usage: bool,
        secrets: tuple[bytes, ...],
        rename: ModelRename | None = None,
    ) -> None:
        self._hide_usage = hide_usage
        self._secrets = secrets
        self._rename = rename
        self._pending = b""
        self.done = False
        self.usage: dict[str, Any] | None = None
        self.content_events = 0

    def feed(self, chunk: bytes) -> bytes:
        """The complete events in ``chunk`` (plus what was pending), ready for the client.

        Raises :class:`MalformedStream` on an event whose data is not JSON.
        """
        if self.done:
            return b""
        if b"\r" in chunk:
            # SSE allows CRLF line ends; LF-only events mean the same and split in one way.
            chunk = chunk.replace(b"\r\n", b"\n")
        data = self._pending + chunk if self._pending else chunk
        end = data.rfind(b"\n\n")
        if end < 0:
            self._pending = data
            return b""
        self._pending = data[end + 2 :]
        out: list[bytes] = []
        for event in data[:end].split(b"\n\n"):
            kept = self._event(event)
            if kept is not None:
                out.append(kept)
            if self.done:
                self._pending = b""
                break
        return b"".join(out)

    def _event(self, event: bytes) -> bytes | None:
        event = event.lstrip(b"\n")
        if not event:
            return None
        if not event.startswith(b"data:") or b"\ndata:" in event:
            # Comments (keep-alives), named or multi-line events: pass through unexamined.
            return event + b"\n\n"
        payload = event[5:].strip()
        if payload == b"[DONE]":
            self.done = True
            return b"data: [DONE]\n\n"
        if not (payload.startswith(b"{") and payload.endswith(b"}")):
            raise MalformedStream("an event's data is not a JSON object")
        if b'"error"' in payload:
            for secret in self._secrets:
                payload = payload.replace(secret, b"[redacted]")
            if self._rename is not None:
                payload = self._rename.text(payload)
            return b"data: " + payload + b"\n\n"
        if self._rename is not None:
            payload = self._rename.field(payload)
        if _USAGE_MARKERS[0] in payload or _USAGE_MARKERS[1] in payload:
            return self._usage_event(payload)
        self.content_events += 1
        if self._hide_usage:
            for marker in _NULL_USAGE:
                payload = payload.replace(marker, b"")
        return b"data: " + payload + b"\n\n"

    def _usage_event(self, payload: bytes) -> bytes | None:
        try:
            chunk = json.loads(payload)
        except ValueError as exc:
            raise MalformedStream("an event's data is not valid JSON") from exc
        usage = chunk.get("usage") if isinstance(chunk, dict) else None
        if isinstance(usage, dict):
            self.usage = usage
        if not self._hide_usage:
            return b"data: " + payload + b"\n\n"
        if not chunk.get("choices"):
            return None
        # Usage on a chunk that also carries content (some servers do): keep the content.
        self.content_events += 1
        del chunk["usage"]
        return b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n"

    @property
    def truncated(self) -> bool:
        """Whether bytes of an unfinished event are still waiting (the stream was cut)."""
        return bool(self._pending.strip())


def token_counts(usage: dict[str, Any] | None) -> tuple[int, int] | None:
    """(prompt, completion) tokens from an OpenAI ``usage`` object, if it has them."""
    if not usage:
        return None
    prompt = usage.get("prompt_tokens")
    completion = usage.get("completion_tokens")
    if isinstance(prompt, int) and isinstance(completion, int):
        return prompt, completion
    return None
