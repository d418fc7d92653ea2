"""Untrusted documents and bodies: every malformed, deep, oversized or ambiguous one is a 4xx
with a stable type, never a 500 or a blow-up in CPU or memory (:mod:`prereview.core.parsing`).

The typed request fields (dates, strict numbers, form text) are in test_fields.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from starlette.requests import Request

from prereview.core.errors import (
    InvalidEncoding,
    MalformedJson,
    PayloadTooLarge,
    RefusedYamlFeature,
    TooDeeplyNested,
)
from prereview.core.parsing import load_json, load_toml, load_yaml_all, read_body
from support.factories import Platform

# The 379-byte alias bomb: nine levels of nine aliases, 9**9 strings once expanded (20 s of CPU
# and 410 MiB before aliases were refused).
ALIAS_BOMB = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [
        f"{name}: &{name} [{','.join([f'*{prev}'] * 9)}]"
        for prev, name in zip("abcdefgh", "bcdefghi", strict=True)
    ]
)


# -- JSON ---------------------------------------------------------------------------------------


def test_json_nested_beyond_the_limit_is_refused_not_a_recursion_error() -> None:
    for depth in (65, 100_000):
        with pytest.raises(TooDeeplyNested):
            load_json("[" * depth + "]" * depth)
    assert load_json("[" * 64 + "]" * 64) is not None
    with pytest.raises(TooDeeplyNested):
        load_json('{"a": ' * 11 + "1" + "}" * 11, max_depth=10)


def test_json_that_is_not_utf8_or_not_unicode_is_an_encoding_problem() -> None:
    for raw in (b'{"title": "\xff\xfe"}', b"\xc3\x28", '{"title": "\\ud800"}'):
        with pytest.raises(InvalidEncoding) as refused:
            load_json(raw)
        assert refused.value.type_uri == "urn:prereview:problem:invalid-encoding"
    assert load_json('\ufeff{"a": "\\u00e9"}'.encode()) == {"a": "é"}


def test_json_numbers_a_database_cannot_store_are_refused() -> None:
    for text in ('{"a": NaN}', "[Infinity]", "1" * 5000):
        with pytest.raises(MalformedJson):
            load_json(text)


# -- YAML ---------------------------------------------------------------------------------------


def test_yaml_alias_bomb_is_refused_at_its_first_anchor() -> None:
    assert len(ALIAS_BOMB) < 400
    with pytest.raises(RefusedYamlFeature) as refused:
        load_yaml_all(ALIAS_BOMB)
    assert refused.value.type_uri == "urn:prereview:problem:yaml-alias-refused"
    assert "line 1" in refused.value.detail


def test_recursive_and_deep_yaml_are_refused() -> None:
    with pytest.raises(RefusedYamlFeature):
        load_yaml_all("a: &a [*a]")
    for deep in ("[" * 10_000, "- " * 200 + "x", "\n".join("  " * n + "a:" for n in range(100))):
        with pytest.raises(TooDeeplyNested):
            load_yaml_all(deep)


def test_yaml_values_python_cannot_build_are_yaml_errors() -> None:
    for text in ("when: 0000-01-01", "n: " + "1" * 5000):
        with pytest.raises(yaml.YAMLError):
            load_yaml_all(text)
    assert load_yaml_all("a: 1\n---\nb: [1, 2]\n") == [{"a": 1}, {"b": [1, 2]}]


# -- TOML ---------------------------------------------------------------------------------------


def test_deep_toml_is_refused() -> None:
    for text in ("a = " + "[" * 5000 + "]" * 5000, "[" + ".".join(["t"] * 100) + "]\nx = 1"):
        with pytest.raises(TooDeeplyNested):
            load_toml(text)
    assert load_toml("a = 1") == {"a": 1}


def test_deep_toml_policy_in_what_if_is_a_policy_problem(platform: Platform) -> None:
    sub = platform.submit()
    platform.grant(sub["id"])
    deep = "format = 1\na = " + "[" * 5000 + "]" * 5000
    refused = platform.call(
        "agency", "POST", f"/submissions/{sub['id']}/coverage/what-if", 422, json={"policy": deep}
    ).json()
    assert refused["type"] == "urn:prereview:problem:coverage-policy-invalid"
    assert "nested" in refused["detail"] or "nested" in str(refused.get("errors"))


# -- bodies read with a running count -----------------------------------------------------------


def _request(pieces: list[bytes], pulled: list[int], headers: dict[str, str]) -> Request:
    messages: Iterator[dict[str, Any]] = iter(
        {"type": "http.request", "body": piece, "more_body": n < len(pieces) - 1}
        for n, piece in enumerate(pieces)
    )

    async def receive() -> dict[str, Any]:
        pulled.append(1)
        return next(messages)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
    }
    return Request(scope, receive)


@pytest.mark.anyio
async def test_a_body_is_refused_as_soon_as_it_passes_the_limit() -> None:
    pulled: list[int] = []
    request = _request([b"x" * 100] * 1000, pulled, {})
    with pytest.raises(PayloadTooLarge):
        await read_body(request, 1000)
    assert len(pulled) == 11  # ten pieces fit, the eleventh passes it: nothing more is read


@pytest.mark.anyio
async def test_a_declared_length_over_the_limit_reads_nothing() -> None:
    pulled: list[int] = []
    request = _request([b"x"], pulled, {"content-length": str(400 * 2**20)})
    with pytest.raises(PayloadTooLarge) as refused:
        await read_body(request, 64 * 2**20)
    assert pulled == [] and refused.value.status == 413
    ok = _request([b"ab", b"cd"], [], {"content-length": "4"})
    assert await read_body(ok, 4) == b"abcd"


# -- JSON and form bodies are capped while they arrive ------------------------------------------


def test_json_and_form_bodies_over_the_limit_are_413(platform: Platform) -> None:
    platform.context.settings.max_parsed_body_bytes = 2048
    body = {"model_name": "M", "model_version": "1", "description": "x" * 5000}
    declared = platform.call("developer", "POST", "/submissions", 413, json=body)
    assert declared.headers["content-type"].startswith("application/problem+json")
    assert declared.json()["type"] == "urn:prereview:problem:payload-too-large"

    def pieces() -> Iterator[bytes]:  # no Content-Length: only the running count can stop it
        raw = json.dumps(body).encode()
        for start in range(0, len(raw), 512):
            yield raw[start : start + 512]

    streamed = platform.call(
        "developer",
        "POST",
        "/submissions",
        413,
        content=pieces(),
        headers={"content-type": "application/json"},
    )
    assert streamed.json()["type"] == "urn:prereview:problem:payload-too-large"
    assert platform.call("developer", "GET", "/submissions", 200).json()["total"] == 0
    platform.call("developer", "POST", "/submissions", 201, json=body | {"description": "ok"})
