"""Refusals and upstream failures become clean problem+json errors that never leak secrets."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from prereview.gateway import GatewayConfig, SecretHeaders
from prereview.gateway.testing.harness import RunningGateway, running_gateway
from prereview.gateway.testing.upstream_sim import SimUpstream, running_sim

UPSTREAM_KEY = "sk-lab-SECRET-7f3a9c1e55d2"
MODEL = "preview"
PROBLEM = "urn:prereview:problem:"

# Each gateway key is bound to a grant whose upstream model tells the simulator how to fail.
BEHAVIOURS = {
    "ok": "sim-model",
    "fail500": "sim-model+fail=500",
    "fail429": "sim-model+fail=429",
    "fail400-echo": "sim-model+fail=400+echo_key",
    "hang": "sim-model+hang",
    "malformed": "sim-model+malformed",
    "drop": "sim-model+drop_after=2",
    "stall": "sim-model+hang_after=2",
}


@pytest.fixture(scope="module")
def sim() -> Iterator[tuple[SimUpstream, str]]:
    with running_sim(UPSTREAM_KEY) as running:
        yield running


@pytest.fixture(scope="module")
def gateway(sim: tuple[SimUpstream, str]) -> Iterator[RunningGateway]:
    _, upstream_url = sim
    config = GatewayConfig(read_timeout=0.5, connect_timeout=0.5, liveness_interval=0.1)
    with running_gateway(config=config, allow=(upstream_url,)) as gw:
        for name, upstream_model in BEHAVIOURS.items():
            gw.resolver.add(
                f"key-{name}",
                access_id=f"grant-{name}",
                upstream_base_url=upstream_url,
                upstream_model=upstream_model,
                public_model=MODEL,
                credential_headers=SecretHeaders.bearer(UPSTREAM_KEY),
            )
        gw.resolver.add(
            "key-badcreds",
            access_id="grant-badcreds",
            upstream_base_url=upstream_url,
            upstream_model="sim-model",
            public_model=MODEL,
            credential_headers=SecretHeaders.bearer(UPSTREAM_KEY + "-stale"),
        )
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            dead_port = closed.getsockname()[1]
        # Allowed, so that the test reaches the connection attempt (and its refusal).
        gw.allow(f"http://127.0.0.1:{dead_port}")
        gw.resolver.add(
            "key-unreachable",
            access_id="grant-unreachable",
            upstream_base_url=f"http://127.0.0.1:{dead_port}/v1",
            upstream_model="sim-model",
            public_model=MODEL,
            credential_headers=SecretHeaders.bearer(UPSTREAM_KEY),
        )
        for reason in ("released", "withdrawn", "expired", "revoked", "not-yet-open"):
            gw.resolver.add(
                f"key-{reason}",
                access_id=f"grant-{reason}",
                upstream_base_url=upstream_url,
                upstream_model="sim-model",
                public_model=MODEL,
                credential_headers=SecretHeaders.bearer(UPSTREAM_KEY),
            )
            gw.resolver.close(f"grant-{reason}", reason)
        yield gw


def _post(gw: RunningGateway, key: str | None, *, stream: bool = False) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    return httpx.post(gw.base_url + "/chat/completions", json=body, headers=headers, timeout=10)


def _assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == PROBLEM + slug
    assert body["status"] == status
    assert body["detail"]
    assert body["error"]["code"] == slug
    assert UPSTREAM_KEY not in response.text
    assert "127.0.0.1" not in response.text
    return body


def test_missing_and_unknown_keys_are_401(gateway: RunningGateway) -> None:
    _assert_problem(_post(gateway, None), 401, "gateway-key-missing")
    _assert_problem(_post(gateway, "not-a-key"), 401, "gateway-key-unknown")
    client = openai.OpenAI(api_key="not-a-key", base_url=gateway.base_url, max_retries=0)
    with pytest.raises(openai.AuthenticationError, match="not known"):
        client.models.list()


@pytest.mark.parametrize("reason", ["released", "withdrawn", "expired", "revoked", "not-yet-open"])
def test_closed_window_is_a_403_naming_the_reason(gateway: RunningGateway, reason: str) -> None:
    body = _assert_problem(_post(gateway, f"key-{reason}"), 403, "gateway-access-closed")
    assert body["reason"] == reason
    client = openai.OpenAI(api_key=f"key-{reason}", base_url=gateway.base_url, max_retries=0)
    with pytest.raises(openai.PermissionDeniedError):
        client.models.list()
    refused = [c for c in gateway.settled_calls() if c.access_id == f"grant-{reason}"]
    assert refused
    assert all(c.status == 403 and c.error == "gateway-access-closed" for c in refused)


def test_upstream_500_is_a_502(gateway: RunningGateway) -> None:
    body = _assert_problem(_post(gateway, "key-fail500"), 502, "gateway-upstream-failed")
    assert body["upstream_status"] == 500


def test_upstream_429_is_passed_on_with_retry_after(gateway: RunningGateway) -> None:
    response = _post(gateway, "key-fail429")
    _assert_problem(response, 429, "gateway-upstream-rate-limited")
    assert response.headers["retry-after"] == "7"


def test_upstream_client_error_is_passed_on_scrubbed(gateway: RunningGateway) -> None:
    response = _post(gateway, "key-fail400-echo")
    assert response.status_code == 400
    assert "told to fail" in response.text
    assert UPSTREAM_KEY not in response.text
    assert "[redacted]" in response.text


def test_upstream_refusing_the_developer_credentials_is_a_502(gateway: RunningGateway) -> None:
    body = _assert_problem(_post(gateway, "key-badcreds"), 502, "gateway-upstream-failed")
    assert "credentials" in body["detail"]


def test_unreachable_upstream_is_a_502(gateway: RunningGateway) -> None:
    _assert_problem(_post(gateway, "key-unreachable"), 502, "gateway-upstream-failed")
    _assert_problem(_post(gateway, "key-unreachable", stream=True), 502, "gateway-upstream-failed")


def test_hanging_upstream_is_a_504(gateway: RunningGateway) -> None:
    _assert_problem(_post(gateway, "key-hang"), 504, "gateway-upstream-timeout")
    _assert_problem(_post(gateway, "key-hang", stream=True), 504, "gateway-upstream-timeout")


def test_malformed_answers_are_502(gateway: RunningGateway) -> None:
    _assert_problem(_post(gateway, "key-malformed"), 502, "gateway-upstream-failed")
    client = openai.OpenAI(api_key="key-malformed", base_url=gateway.base_url, max_retries=0)
    with pytest.raises(openai.APIError, match="malformed stream"):
        list(client.chat.completions.create(model=MODEL, messages=[], stream=True))


@pytest.mark.parametrize(
    ("key", "message"),
    [("key-drop", "broke during the stream"), ("key-stall", "did not answer in time")],
)
def test_stream_that_breaks_midway_ends_with_an_error_event(
    gateway: RunningGateway, key: str, message: str
) -> None:
    client = openai.OpenAI(api_key=key, base_url=gateway.base_url, max_retries=0)
    received: list[str] = []
    stream = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "a b c d e"}], stream=True
    )

    def read_all() -> None:
        for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")

    with pytest.raises(openai.APIError, match=message):
        read_all()
    assert "".join(received) == "sim reply"


def test_the_upstream_secret_never_shows(
    gateway: RunningGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    for key in [*(f"key-{name}" for name in BEHAVIOURS), "key-badcreds", "key-unreachable"]:
        for stream in (False, True):
            response = _post(gateway, key, stream=stream)
            texts.append(response.text)
            texts.append(repr(dict(response.headers)))
    calls = gateway.settled_calls()
    assert calls
    texts.extend(repr(call) for call in calls)
    texts.append(repr(gateway.resolver._by_key))
    texts.append(caplog.text)
    texts.extend(repr(record.args) for record in caplog.records)
    for text in texts:
        assert UPSTREAM_KEY not in text
        assert UPSTREAM_KEY[-12:] not in text
    # The log did say something about the failures, just not the secret.
    assert "upstream" in caplog.text
