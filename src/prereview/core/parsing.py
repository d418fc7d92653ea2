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
from collections.abc import Callable
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
    ``max_depth`` or holds a string that is not valid Unicode. Iterative: no recursion.

    Bulk intake checks every node of every record: a sound tree (nearly all) is confirmed by a
    quick pass that only says yes or no (:func:`_tree_is_sound`); the walk that finds and
    names the first fault runs only when that pass says no, so the errors are as before."""
    if not _tree_is_sound(value, max_depth):
        _find_fault(value, max_depth, what)


def _tree_is_sound(value: Any, max_depth: int) -> bool:
    """No container at depth ``max_depth`` or below, no string that UTF-8 cannot encode.

    Level by level, containers only: each value is looked at once, in its parent, and the
    non-ASCII strings are encoded together at the end (a lone surrogate stays lone when
    joined: Python strings never pair surrogates)."""
    level: list[Any] = [value]
    texts: list[str] = []
    depth = 0
    while level:
        below: list[Any] = []
        for node in level:
            if isinstance(node, dict):
                if depth >= max_depth:
                    return False
                try:  # JSON's keys are all strings: one join and one test per object
                    keys = "".join(node)
                except TypeError:  # YAML's may be numbers, dates...
                    keys = "".join(k for k in node if isinstance(k, str))
                if not keys.isascii():
                    texts.append(keys)
                items: Any = node.values()
            elif isinstance(node, list):
                if depth >= max_depth:
                    return False
                items = node
            else:  # only the root can be a leaf here
                if isinstance(node, str) and not node.isascii():
                    texts.append(node)
                continue
            for item in items:
                if type(item) is str:
                    if not item.isascii():
                        texts.append(item)
                elif isinstance(item, dict | list):
                    below.append(item)
                elif isinstance(item, str) and not item.isascii():
                    texts.append(item)
        level = below
        depth += 1
    try:
        "".join(texts).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _find_fault(value: Any, max_depth: int, what: str) -> None:
    """Raise for the first fault of ``value`` met in depth-first order (see check_tree)."""
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
    """PyYAML's pure-Python safe loader, composing no anchor, no alias and no collection deeper
    than ``max_depth``: the refusal happens while composing, before anything is expanded. Used
    only where libyaml is missing or does not bound nesting itself (see :data:`_C_COMPOSER`)."""

    max_depth = MAX_DEPTH

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _refused_alias(event.start_mark)
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


def _refused_alias(mark: Any) -> RefusedYamlFeature:
    return RefusedYamlFeature(
        f"YAML anchors and aliases are not accepted (line {mark.line + 1}, "
        f"column {mark.column + 1}); write each value out"
    )


def _yaml_loader(max_depth: int) -> type[_UntrustedYamlLoader]:
    if max_depth == _UntrustedYamlLoader.max_depth:
        return _UntrustedYamlLoader
    return type("_UntrustedYamlLoaderN", (_UntrustedYamlLoader,), {"max_depth": max_depth})


_STR_TAG = "tag:yaml.org,2002:str"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MAP_TAG = "tag:yaml.org,2002:map"
# Plain scalars repeat across records (keys, ecosystems, event names, "true"): their tag
# depends on the text alone, so it is looked up once. Bounded: a hostile stream of distinct
# values fills it and is then resolved the slow way.
_RESOLVED: dict[str, str] = {}
_RESOLVED_MAX = 8192
_RESOLVED_LONGEST = 64


if yaml.__with_libyaml__:

    class _CSafeLoader(yaml.CSafeLoader):
        """libyaml's scanner, parser and composer with the safe constructor; tags resolved as
        :class:`yaml.SafeLoader` resolves them (it has no path resolvers), plain scalars
        through a cache: the resolver's regular expressions were half the time of a load."""

        def resolve(self, kind: type[yaml.Node], value: Any, implicit: Any) -> str:
            if kind is not yaml.ScalarNode:
                return _SEQ_TAG if kind is yaml.SequenceNode else _MAP_TAG
            if not implicit[0]:
                return _STR_TAG  # quoted: a string
            tag = _RESOLVED.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
                if len(_RESOLVED) < _RESOLVED_MAX and len(value) <= _RESOLVED_LONGEST:
                    _RESOLVED[value] = tag
            return tag


def _libyaml_bounds_nesting() -> bool:
    """Whether libyaml refuses deep nesting itself (0.2.5 stops at 1,000 levels). Its composer
    recurses once per level in C, so it is used only where that bound holds; elsewhere the
    pure-Python loader, which counts levels as it composes, is used."""
    if not yaml.__with_libyaml__ or _CSafeLoader.yaml_path_resolvers:
        return False
    try:
        _CSafeLoader("[" * 2000).get_single_node()
    except yaml.YAMLError as exc:
        return _NESTING_LIMIT in str(exc)
    return False


_NESTING_LIMIT = "exceeded maximum nesting depth"
_C_COMPOSER = _libyaml_bounds_nesting()


def _check_node_graph(root: yaml.Node, max_depth: int) -> None:
    """Refuse a composed document that uses an alias or nests collections past ``max_depth``.

    libyaml composes an alias as the very node its anchor names, so a node reached twice is an
    alias (an alias bomb is a few nodes reached 9**9 ways): each node is visited once and the
    walk stops descending where it has been, before anything is expanded. Iterative."""
    seen: set[int] = set()
    shared: list[yaml.Node] = []
    stack: list[tuple[yaml.Node, int]] = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:
            shared.append(node)
            continue
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            if depth >= max_depth:
                raise TooDeeplyNested(f"the document is nested more than {max_depth} levels deep")
            stack.extend((item, depth + 1) for item in node.value)
        elif isinstance(node, yaml.MappingNode):
            if depth >= max_depth:
                raise TooDeeplyNested(f"the document is nested more than {max_depth} levels deep")
            for key, item in node.value:
                stack.append((key, depth + 1))
                stack.append((item, depth + 1))
    if shared:
        # Named at the first anchor in the document, as a person reads it.
        first = min(shared, key=lambda n: (n.start_mark.line, n.start_mark.column))
        raise _refused_alias(first.start_mark)


class _Unusual(Exception):
    """A node the fast builder leaves to PyYAML's safe constructor (a merge key, a set, a
    mapping as a key, an alias, an explicit tag of another kind)."""


_SCALAR_BUILDERS: dict[str, Callable[[yaml.constructor.SafeConstructor, yaml.ScalarNode], Any]]
_SCALAR_BUILDERS = {
    "tag:yaml.org,2002:null": yaml.constructor.SafeConstructor.construct_yaml_null,
    "tag:yaml.org,2002:bool": yaml.constructor.SafeConstructor.construct_yaml_bool,
    "tag:yaml.org,2002:int": yaml.constructor.SafeConstructor.construct_yaml_int,
    "tag:yaml.org,2002:float": yaml.constructor.SafeConstructor.construct_yaml_float,
    "tag:yaml.org,2002:timestamp": yaml.constructor.SafeConstructor.construct_yaml_timestamp,
}


def _build(
    loader: yaml.constructor.SafeConstructor,
    node: yaml.Node,
    depth: int,
    max_depth: int,
    seen: set[int],
) -> Any:
    """What PyYAML's safe constructor builds from ``node``, for plain JSON-like documents
    (strings, numbers, booleans, nulls, times, lists and mappings with scalar keys), in a
    fraction of its time; anything else raises :class:`_Unusual`. Depth is bounded first, so
    the recursion is too."""
    if id(node) in seen:
        raise _Unusual  # an alias: refused by _check_node_graph, which names the anchor
    seen.add(id(node))
    kind = node.__class__
    if kind is yaml.ScalarNode:
        if node.tag == _STR_TAG:
            return node.value
        builder = _SCALAR_BUILDERS.get(node.tag)
        if builder is None:
            raise _Unusual
        return builder(loader, node)  # type: ignore[arg-type]
    if depth >= max_depth:
        raise TooDeeplyNested(f"the document is nested more than {max_depth} levels deep")
    if kind is yaml.SequenceNode and node.tag == _SEQ_TAG:
        return [_build(loader, item, depth + 1, max_depth, seen) for item in node.value]
    if kind is yaml.MappingNode and node.tag == _MAP_TAG:
        built: dict[Any, Any] = {}
        for key, item in node.value:
            if key.__class__ is not yaml.ScalarNode or key.tag not in _PLAIN_KEY_TAGS:
                raise _Unusual
            built[_build(loader, key, depth, max_depth, seen)] = _build(
                loader, item, depth + 1, max_depth, seen
            )
        return built
    raise _Unusual


# Keys the fast builder takes as they are; others (the merge key ``<<``, the value key ``=``)
# mean something to the safe constructor.
_PLAIN_KEY_TAGS = frozenset([_STR_TAG, *_SCALAR_BUILDERS])


def _load_c(text: str, max_depth: int) -> list[Any]:
    loader = _CSafeLoader(text)
    documents: list[Any] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                break
            try:
                documents.append(_build(loader, node, 0, max_depth, set()))
            except _Unusual:
                _check_node_graph(node, max_depth)
                documents.append(loader.construct_document(node))
    except yaml.YAMLError as exc:
        if _NESTING_LIMIT in str(exc):
            raise TooDeeplyNested(
                f"the document is nested more than {max_depth} levels deep"
            ) from None
        raise
    finally:
        loader.dispose()
    return documents


def load_yaml_all(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> list[Any]:
    """Every document of an untrusted (multi-document) YAML stream, safely loaded.

    libyaml parses and composes (where it bounds nesting itself; else PyYAML's pure-Python
    loader, which refuses at the first anchor); each composed document is checked before it is
    constructed. Raises :class:`InvalidEncoding`, :class:`RefusedYamlFeature` (any alias; an
    anchor that nothing refers to is harmless), :class:`TooDeeplyNested`, or
    ``yaml.YAMLError`` for text that is not YAML (the caller names its own problem type for
    that). Values YAML cannot build (a timestamp in year 0, an integer of more than 4,300
    digits) raise ``yaml.YAMLError`` too.
    """
    text = decode_utf8(data)
    try:
        if _C_COMPOSER:
            # The text holds no lone surrogate and libyaml refuses escapes of one, so what it
            # builds is valid Unicode; depth is checked on the composed nodes.
            _check_text(text, "the document")
            return _load_c(text, max_depth)
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
