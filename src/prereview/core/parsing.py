"""Parsing untrusted input: JSON, YAML and TOML with depth limits, UTF-8 checked, bodies capped.

Every parser here turns bad input into a :class:`~prereview.core.errors.PrereviewError` with a
stable problem type (a 4xx), never a ``RecursionError``, ``UnicodeDecodeError`` or a blow-up in
memory: JSON and TOML are checked for nesting depth (and lone surrogates, which no database
stores); YAML is composed without anchors or aliases (so an alias bomb is refused at its first
anchor, not expanded) and with a depth limit; request bodies are counted as they arrive and
refused as soon as they pass their limit.
"""

from __future__ import annotations

import json
import tomllib
from typing import Any

import yaml
from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from prereview.core.errors import (
    PROBLEM_BASE,
    InvalidEncoding,
    MalformedJson,
    PayloadTooLarge,
    RefusedYamlFeature,
    TooDeeplyNested,
)

MAX_DEPTH = 64


def decode_utf8(data: bytes | str, *, what: str = "the document") -> str:
    """``data`` as text: UTF-8 (a leading BOM is dropped); raises :class:`InvalidEncoding`."""
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidEncoding(
            f"{what} is not valid UTF-8 (byte {exc.start} cannot be decoded); send UTF-8 text"
        ) from None


def _check_text(text: str, what: str) -> None:
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidEncoding(
                f"{what} holds a lone surrogate (an unpaired \\ud800-\\udfff escape)"
            ) from None


def check_tree(value: Any, *, max_depth: int = MAX_DEPTH, what: str = "the document") -> None:
    """Raise if ``value`` (parsed JSON, YAML or TOML) nests containers deeper than
    ``max_depth`` or holds a string that is not valid Unicode. Iterative: no recursion."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth >= max_depth:
                raise TooDeeplyNested(f"{what} is nested more than {max_depth} levels deep")
            if isinstance(node, dict):
                for key, item in node.items():
                    if isinstance(key, str):
                        _check_text(key, what)
                    stack.append((item, depth + 1))
            else:
                stack.extend((item, depth + 1) for item in node)
        elif isinstance(node, str):
            _check_text(node, what)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def load_json(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse untrusted JSON. Raises :class:`InvalidEncoding` (not UTF-8, lone surrogates),
    :class:`MalformedJson` (not JSON; also ``NaN`` and ``Infinity``, and integers of more than
    4,300 digits) or :class:`TooDeeplyNested` (containers deeper than ``max_depth``)."""
    text = decode_utf8(data)
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise MalformedJson(
            f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise TooDeeplyNested(f"the document is nested more than {max_depth} levels deep") from None
    except ValueError as exc:
        # Only our own messages and the interpreter's integer-size limit end up here.
        reason = str(exc) if "JSON number" in str(exc) else "a number has too many digits"
        raise MalformedJson(f"not valid JSON: {reason}") from None
    check_tree(value, max_depth=max_depth)
    return value


class _UntrustedYamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader, composing no anchor, no alias and no collection deeper than
    ``max_depth``: the refusal happens while composing, before anything is expanded."""

    max_depth = MAX_DEPTH

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            mark = event.start_mark
            raise RefusedYamlFeature(
                f"YAML anchors and aliases are not accepted (line {mark.line + 1}, "
                f"column {mark.column + 1}); write each value out"
            )
        nested = isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent)
        if nested:
            self._depth += 1
            if self._depth > self.max_depth:
                raise TooDeeplyNested(
                    f"the document is nested more than {self.max_depth} levels deep"
                )
        try:
            node: yaml.Node | None = super().compose_node(parent, index)
        finally:
            if nested:
                self._depth -= 1
        return node


def _yaml_loader(max_depth: int) -> type[_UntrustedYamlLoader]:
    if max_depth == _UntrustedYamlLoader.max_depth:
        return _UntrustedYamlLoader
    return type("_UntrustedYamlLoaderN", (_UntrustedYamlLoader,), {"max_depth": max_depth})


def load_yaml_all(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> list[Any]:
    """Every document of an untrusted (multi-document) YAML stream, safely loaded.

    Raises :class:`InvalidEncoding`, :class:`RefusedYamlFeature` (any anchor or alias),
    :class:`TooDeeplyNested`, or ``yaml.YAMLError`` for text that is not YAML (the caller names
    its own problem type for that). Values YAML cannot build (a timestamp in year 0, an integer
    of more than 4,300 digits) raise ``yaml.YAMLError`` too.
    """
    text = decode_utf8(data)
    try:
        documents = list(yaml.load_all(text, Loader=_yaml_loader(max_depth)))
    except (ValueError, OverflowError) as exc:
        raise yaml.YAMLError(f"a value cannot be read: {type(exc).__name__}") from None
    for document in documents:
        check_tree(document, max_depth=max_depth)
    return documents


def load_toml(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """Parse untrusted TOML; raises :class:`InvalidEncoding`, :class:`TooDeeplyNested`, or
    ``tomllib.TOMLDecodeError`` for text that is not TOML."""
    text = decode_utf8(data)
    try:
        value = tomllib.loads(text)
    except RecursionError:
        raise TooDeeplyNested(f"the document is nested more than {max_depth} levels deep") from None
    check_tree(value, max_depth=max_depth)
    return value


async def read_body(request: Request, limit: int, *, what: str = "the request body") -> bytes:
    """The whole body of ``request``, refused with :class:`PayloadTooLarge` (413) as soon as
    it passes ``limit`` bytes: by its ``Content-Length`` before anything is read, else while
    it streams in, so an oversized body is never buffered whole."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"{what} is limited to {limit} bytes; split it")
    received = bytearray()
    async for piece in request.stream():
        if len(received) + len(piece) > limit:
            raise PayloadTooLarge(f"{what} is limited to {limit} bytes; split it")
        received += piece
    return bytes(received)


_PARSED_TYPES = ("application/json", "application/x-www-form-urlencoded", "multipart/form-data")
DEFAULT_MAX_PARSED_BODY = 16 * 2**20


def _is_parsed(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media in _PARSED_TYPES or (media.startswith("application/") and media.endswith("+json"))


class LimitParsedBodies:
    """ASGI middleware: JSON and form bodies, which the framework reads whole into memory
    before validating them, are refused (413 problem+json) past ``max_parsed_body_bytes``:
    at once if their ``Content-Length`` says so, else as soon as the running count passes it.
    Streamed uploads (``application/octet-stream`` and the like) keep their own limits."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if not _is_parsed(headers.get("content-type", "")):
            await self.app(scope, receive, send)
            return
        context = getattr(scope["app"].state, "context", None) if "app" in scope else None
        limit: int = getattr(
            getattr(context, "settings", None), "max_parsed_body_bytes", DEFAULT_MAX_PARSED_BODY
        )
        detail = f"a JSON or form body is limited to {limit} bytes"
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _too_large(detail)(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise HTTPException(413, detail)  # FastAPI passes HTTPException through
            return message

        await self.app(scope, counted, send)


def _too_large(detail: str) -> JSONResponse:
    return JSONResponse(
        {
            "type": PROBLEM_BASE + "payload-too-large",
            "title": "The request body is too large",
            "status": 413,
            "detail": detail,
        },
        status_code=413,
        media_type="application/problem+json",
        headers={"Connection": "close"},
    )


__all__ = [
    "DEFAULT_MAX_PARSED_BODY",
    "MAX_DEPTH",
    "LimitParsedBodies",
    "check_tree",
    "decode_utf8",
    "load_json",
    "load_toml",
    "load_yaml_all",
    "read_body",
]
