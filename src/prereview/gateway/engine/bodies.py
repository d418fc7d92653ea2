"""Reading a client's request body: bounded in size while it arrives, bounded in depth.

A body is counted as it arrives and refused (413) as soon as it passes its limit, before it is
all in memory. The JSON is parsed by the C decoder, which recurses: a body nested deeper than
the interpreter's recursion limit would raise ``RecursionError`` (a 500), and one nested a
little less deep would be forwarded to the upstream as it is. Both are refused with 400
``gateway-too-deeply-nested``. The depth is measured only when the body holds more brackets
than the limit, so an ordinary chat request pays two ``bytes.count`` calls.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prereview.gateway.errors import GatewayBadRequest, GatewayBodyTooLarge, GatewayTooDeeplyNested

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]

#: Deepest nesting of objects and arrays a request body may have.
MAX_DEPTH = 64


async def read_body(receive: Receive, limit: int) -> bytes:
    """The request body; raises :class:`GatewayBodyTooLarge` once it passes ``limit`` bytes."""
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        if len(body) > limit:
            raise GatewayBodyTooLarge(f"The request body is larger than {limit} bytes.")
        return body
    parts = [body]
    size = len(body)
    while message.get("more_body", False):
        message = await receive()
        part = message.get("body", b"")
        size += len(part)
        if size > limit:
            raise GatewayBodyTooLarge(f"The request body is larger than {limit} bytes.")
        parts.append(part)
    return b"".join(parts)


def _too_deep(value: Any, max_depth: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            return True
        items = node.values() if isinstance(node, dict) else node
        stack.extend((item, depth + 1) for item in items if isinstance(item, dict | list))
    return False


def parse_object(raw: bytes, *, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """``raw`` as a JSON object nested at most ``max_depth`` deep, or a 400 problem."""
    refusal = GatewayTooDeeplyNested(
        f"The request body is nested more than {max_depth} levels deep."
    )
    try:
        body = json.loads(raw)
    except RecursionError:
        raise refusal from None
    except ValueError:
        raise GatewayBadRequest("The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise GatewayBadRequest("The request body must be a JSON object.")
    if raw.count(b"{") + raw.count(b"[") > max_depth and _too_deep(body, max_depth):
        raise refusal
    return body
