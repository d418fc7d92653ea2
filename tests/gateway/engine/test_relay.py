"""The relay answers in the public model's name, never the upstream's internal id.

A developer registers its endpoint with the model id its own servers use (here
``lab-internal-7b-rc3``) and a public name for reviewers (``preview``). The simulator is
configured with the internal id, so it answers with it, as a real upstream does: every answer
the reviewer sees (the JSON ``model``, every streamed chunk's ``model``, an upstream's error
message, the model listing) must carry the public name instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from prereview.gateway import SecretHeaders
from prereview.gateway.engine.renaming import ModelRename
from prereview.gateway.engine.sse import EventRelay
from prereview.gateway.testing.harness import RunningGateway, running_gateway
from prereview.gateway.testing.upstream_sim import running_sim

UPSTREAM_KEY = "sk-relay-upstream"
INTERNAL = "lab-internal-7b-rc3"
PUBLIC = "preview"
MESSAGES = [{"role": "user", "content": "hello there"}]


@pytest.fixture(scope="module")
def gateway() -> Iterator[RunningGateway]:
    with (
        running_sim(UPSTREAM_KEY, models=(INTERNAL,)) as (_, upstream_url),
        running_gateway(allow=(upstream_url,)) as gw,
    ):
        gw.resolver.add(
            "key-renamed",
            access_id="grant-renamed",
            upstream_base_url=upstream_url,
            upstream_model=INTERNAL,
            public_model=PUBLIC,
            credential_headers=SecretHeaders.bearer(UPSTREAM_KEY),
        )
        # An upstream model the simulator does not serve: it answers 404 naming it.
        gw.resolver.add(
            "key-retired",
            access_id="grant-retired",
            upstream_base_url=upstream_url,
            upstream_model=INTERNAL + "-retired",
            public_model=PUBLIC,
            credential_headers=SecretHeaders.bearer(UPSTREAM_KEY),
        )
        yield gw


def _post(gateway: RunningGateway, key: str, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        gateway.base_url + path, json=body, headers={"Authorization": f"Bearer {key}"}
    )


def _events(stream: bytes) -> list[dict[str, Any]]:
    return [
        json.loads(event[len(b"data: ") :])
        for event in stream.split(b"\n\n")
        if event.startswith(b"data: {")
    ]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/chat/completions", {"messages": MESSAGES}),
        ("/completions", {"prompt": "hello there"}),
    ],
)
def test_plain_answers_name_the_public_model(
    gateway: RunningGateway, path: str, body: dict[str, Any]
) -> None:
    answer = _post(gateway, "key-renamed", path, {"model": PUBLIC, **body})
    assert answer.status_code == 200, answer.text
    assert INTERNAL.encode() not in answer.content
    assert answer.json()["model"] == PUBLIC
    # The rest of the answer is relayed as the upstream sent it.
    assert "sim reply to hello there" in answer.text
    assert int(answer.headers["content-length"]) == len(answer.content)


@pytest.mark.parametrize("include_usage", [False, True])
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/chat/completions", {"messages": MESSAGES}),
        ("/completions", {"prompt": "hello there"}),
    ],
)
def test_every_streamed_chunk_names_the_public_model(
    gateway: RunningGateway, path: str, body: dict[str, Any], include_usage: bool
) -> None:
    request: dict[str, Any] = {"model": PUBLIC, "stream": True, **body}
    if include_usage:
        request["stream_options"] = {"include_usage": True}
    answer = _post(gateway, "key-renamed", path, request)
    assert answer.status_code == 200, answer.text
    assert INTERNAL.encode() not in answer.content
    chunks = _events(answer.content)
    assert len(chunks) >= 3
    assert {chunk["model"] for chunk in chunks} == {PUBLIC}
    assert any(chunk.get("usage") for chunk in chunks) is include_usage


def test_the_openai_client_sees_only_the_public_model(gateway: RunningGateway) -> None:
    client = openai.OpenAI(api_key="key-renamed", base_url=gateway.base_url)
    assert [m.id for m in client.models.list()] == [PUBLIC]
    assert client.models.retrieve(PUBLIC).id == PUBLIC
    reply = client.chat.completions.create(model=PUBLIC, messages=MESSAGES)  # type: ignore[arg-type]
    assert reply.model == PUBLIC
    streamed = client.chat.completions.create(
        model=PUBLIC,
        messages=MESSAGES,  # type: ignore[arg-type]
        stream=True,
        stream_options={"include_usage": True},
    )
    assert {chunk.model for chunk in streamed} == {PUBLIC}


@pytest.mark.parametrize("stream", [False, True])
def test_upstream_errors_do_not_name_the_internal_model(
    gateway: RunningGateway, stream: bool
) -> None:
    answer = _post(
        gateway,
        "key-retired",
        "/chat/completions",
        {"model": PUBLIC, "messages": MESSAGES, "stream": stream},
    )
    assert answer.status_code == 404, answer.text
    assert INTERNAL.encode() not in answer.content
    assert PUBLIC in answer.json()["error"]["message"]


def test_listings_and_model_errors_name_only_the_public_model(gateway: RunningGateway) -> None:
    auth = {"Authorization": "Bearer key-renamed"}
    listing = httpx.get(gateway.base_url + "/models", headers=auth)
    assert [m["id"] for m in listing.json()["data"]] == [PUBLIC]
    for path in (f"/models/{INTERNAL}", f"/models/{PUBLIC}"):
        assert INTERNAL.encode() not in httpx.get(gateway.base_url + path, headers=auth).content
    wrong = _post(gateway, "key-renamed", "/chat/completions", {"model": INTERNAL, "messages": []})
    assert wrong.status_code == 404
    # The reviewer's own mistake is quoted back, but the gateway adds nothing internal.
    assert wrong.json()["error"]["message"].count(INTERNAL) == 1


# -- the renaming itself, on payloads a real upstream might send ------------------------------

RENAME = ModelRename(PUBLIC, INTERNAL)


@pytest.mark.parametrize(
    "payload",
    [
        # Served under a snapshot name other than the one asked for (OpenAI does this).
        b'{"id":"x","object":"chat.completion","created":1,"model":"lab-internal-7b-2026-01-01",'
        b'"choices":[]}',
        # Spaces around the colon, the model last, an escaped quote in the value.
        b'{"id": "x", "choices": [], "model" : "lab \\"internal\\""}',
        # A null model.
        b'{"model":null,"choices":[]}',
        # Content that says "model": ... inside a string, and a nested "model" key first.
        b'{"choices":[{"message":{"content":"\\"model\\": \\"x\\"","model":"inner"}}],'
        b'"note":"{\\"model\\":1}","model":"lab-internal-7b-rc3"}',
        # A string value that is exactly "model", and a key ending in it.
        b'{"kind":"model","x\\"model":"y","model":"lab-internal-7b-rc3"}',
    ],
)
def test_rename_rewrites_only_the_top_level_model(payload: bytes) -> None:
    before = json.loads(payload)
    after = json.loads(RENAME.field(payload))
    assert after == {**before, "model": PUBLIC}


def test_rename_leaves_payloads_without_a_model_alone() -> None:
    payload = b'{"choices":[{"message":{"model":"inner"}}],"text":"model"}'
    assert RENAME.field(payload) is payload
    already = b'{"model":"preview","choices":[]}'
    assert RENAME.field(already) is already


def test_rename_replaces_the_internal_name_in_error_text() -> None:
    body = b'{"error":{"message":"The model \'lab-internal-7b-rc3\' does not exist."}}'
    assert RENAME.text(body) == b'{"error":{"message":"The model \'preview\' does not exist."}}'
    assert ModelRename("same", "same").text(body) is body


def test_event_relay_renames_content_usage_and_error_events() -> None:
    relay = EventRelay(hide_usage=True, secrets=(b"sk-x",), rename=RENAME)
    stream = (
        b'data: {"id":"c","model":"lab-internal-7b-rc3","choices":[{"delta":{"content":"a"}}],'
        b'"usage":null}\n\n'
        b'data: {"id":"c","model":"lab-internal-7b-rc3","choices":[{"delta":{}}],'
        b'"usage":{"prompt_tokens":1,"completion_tokens":1}}\n\n'
        b'data: {"error":{"message":"lab-internal-7b-rc3 overloaded, key sk-x"}}\n\n'
        b"data: [DONE]\n\n"
    )
    out = relay.feed(stream)
    assert INTERNAL.encode() not in out
    assert b"sk-x" not in out
    first, second, error = _events(out)
    assert first["model"] == second["model"] == PUBLIC
    assert "usage" not in second
    assert error["error"]["message"] == "preview overloaded, key [redacted]"
    shown = EventRelay(hide_usage=False, secrets=(), rename=RENAME).feed(stream)
    assert [e.get("model") for e in _events(shown)] == [PUBLIC, PUBLIC, None]
