"""The upstream simulator speaks the OpenAI protocol and misbehaves on request."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from prereview.gateway.testing.upstream_sim import Behaviour, SimUpstream, main, running_sim

KEY = "sk-sim-test"


@pytest.fixture(scope="module")
def sim() -> Iterator[tuple[SimUpstream, str]]:
    with running_sim(KEY, models=("sim-model", "other")) as running:
        yield running


def test_wrong_key_is_401_like_openai(sim: tuple[SimUpstream, str]) -> None:
    _, url = sim
    client = openai.OpenAI(api_key="sk-wrong", base_url=url, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        client.models.list()
    assert caught.value.code == "invalid_api_key"
    assert httpx.get(url + "/models").status_code == 401


def test_models_and_deterministic_answers(sim: tuple[SimUpstream, str]) -> None:
    _, url = sim
    client = openai.OpenAI(api_key=KEY, base_url=url)
    assert [m.id for m in client.models.list()] == ["sim-model", "other"]
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "tell me more"}]
    first = client.chat.completions.create(model="sim-model", messages=messages)
    second = client.chat.completions.create(model="sim-model", messages=messages)
    assert first.choices[0].message.content == second.choices[0].message.content
    assert first.choices[0].message.content == "sim reply to tell me more"
    assert first.usage is not None
    assert (first.usage.prompt_tokens, first.usage.completion_tokens) == (3, 6)
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="missing", messages=messages)


def test_stream_includes_usage_only_when_asked(sim: tuple[SimUpstream, str]) -> None:
    _, url = sim
    client = openai.OpenAI(api_key=KEY, base_url=url)
    plain = list(client.chat.completions.create(model="sim-model", messages=[], stream=True))
    assert all(chunk.usage is None for chunk in plain)
    with_usage = list(
        client.chat.completions.create(
            model="sim-model",
            messages=[{"role": "user", "content": "a"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert with_usage[-1].choices == []
    assert with_usage[-1].usage is not None
    assert with_usage[-1].usage.total_tokens == 5
    legacy = list(client.completions.create(model="sim-model", prompt="p q", stream=True))
    assert "".join(c.choices[0].text for c in legacy) == "sim reply to p q"


def test_behaviour_by_model_name_header_and_server(sim: tuple[SimUpstream, str]) -> None:
    app, url = sim
    headers = {"Authorization": f"Bearer {KEY}"}
    body = {"model": "sim-model+fail=503", "messages": []}
    assert httpx.post(url + "/chat/completions", json=body, headers=headers).status_code == 503
    limited = httpx.post(
        url + "/chat/completions",
        json={"model": "sim-model", "messages": []},
        headers={**headers, "x-sim-behaviour": "fail=429"},
    )
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "7"
    app.behaviour = Behaviour.parse("malformed")
    try:
        broken = httpx.post(
            url + "/chat/completions", json={"model": "sim-model", "messages": []}, headers=headers
        )
        assert broken.status_code == 200
        with pytest.raises(json.JSONDecodeError):
            broken.json()
    finally:
        app.behaviour = Behaviour()
    # The delays asked for, seen through the simulator's sleep, not timed on the wall clock.
    delays: list[float] = []

    async def record_delay(seconds: float) -> None:
        delays.append(seconds)

    app.sleep = record_delay
    try:
        slow = httpx.post(
            url + "/chat/completions",
            # "sim reply to one two ...": enough words that max_tokens, not the text, stops at 5.
            json={
                "model": "sim-model+slow=0.02",
                "messages": [{"role": "user", "content": "one two three four five"}],
                "max_tokens": 5,
            },
            headers=headers,
        )
    finally:
        app.sleep = asyncio.sleep
    assert slow.status_code == 200
    assert delays == [pytest.approx(0.1)]  # 5 tokens at 20 ms, waited before the answer
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            url + "/chat/completions",
            json={"model": "sim-model+hang", "messages": []},
            headers=headers,
            timeout=0.3,
        )


def test_unknown_behaviour_is_rejected(sim: tuple[SimUpstream, str]) -> None:
    _, url = sim
    response = httpx.post(
        url + "/chat/completions",
        json={"model": "sim-model+explode", "messages": []},
        headers={"Authorization": f"Bearer {KEY}"},
    )
    assert response.status_code == 400
    assert "explode" in response.json()["error"]["message"]


def test_the_server_records_what_it_received(sim: tuple[SimUpstream, str]) -> None:
    app, url = sim
    httpx.post(
        url + "/completions",
        json={"model": "other", "prompt": "x"},
        headers={"Authorization": f"Bearer {KEY}", "X-Trace": "t-1"},
    )
    seen = app.received[-1]
    assert seen.path == "/v1/completions"
    assert seen.headers["x-trace"] == "t-1"
    assert seen.body == {"model": "other", "prompt": "x"}


def test_cli_requires_a_key(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([])
    assert "--api-key" in capsys.readouterr().err
