"""The gateway cannot be turned against the platform: internal upstream addresses are refused
at registration and at every connection, unless their exact origin is allow-listed."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any

import aiohttp
import httpx
import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from prereview.core.settings import Settings
from prereview.gateway import SecretHeaders
from prereview.gateway.engine.upstreams import (
    GuardedConnector,
    Origin,
    UpstreamGuard,
    UpstreamRefused,
    parse_ip_literal,
    parse_ipv4_any,
    refused_reason,
)
from prereview.gateway.testing.harness import running_gateway
from prereview.gateway.testing.upstream_sim import running_sim
from support.factories import Platform

PROBLEM = "urn:prereview:problem:"
UPSTREAM_KEY = "sk-upstreams"
NO_OWN: frozenset[Any] = frozenset()


# -- parsing every notation --------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "2130706433",
        "0x7f000001",
        "0X7F000001",
        "0177.0.0.1",
        "0x7f.0.0.1",
        "127.1",
        "127.0.1",
        "127.0.0.1.",
        "017700000001",
    ],
)
def test_every_ipv4_notation_of_loopback_is_parsed(host: str) -> None:
    assert parse_ipv4_any(host) == ipaddress.IPv4Address("127.0.0.1")


@pytest.mark.parametrize("host", ["example.com", "1.2.3.4.5", "256.1.1.1", "0x1g", "", "1..2"])
def test_names_and_invalid_numbers_are_not_addresses(host: str) -> None:
    assert parse_ipv4_any(host) is None


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("[::1]", "loopback"),
        ("[::ffff:127.0.0.1]", "loopback"),
        ("[::ffff:7f00:1]", "loopback"),
        ("[64:ff9b::a00:1]", "private"),
        ("[2002:a00:1::]", "private"),
        ("10.0.0.5", "private"),
        ("172.16.3.4", "private"),
        ("192.168.1.1", "private"),
        ("[fd00::1]", "private"),
        ("169.254.169.254", "link-local"),
        ("[fe80::1]", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("[::]", "unspecified"),
        ("100.64.0.1", "not globally routable"),
        ("224.0.0.1", "multicast"),
    ],
)
def test_internal_addresses_are_refused(host: str, reason: str) -> None:
    address = parse_ip_literal(host)
    assert address is not None
    assert refused_reason(address, NO_OWN) == reason


def test_public_addresses_pass_and_own_addresses_do_not() -> None:
    public = ipaddress.ip_address("8.8.8.8")
    assert refused_reason(public, NO_OWN) is None
    assert refused_reason(public, frozenset({public})) == "this machine's own address"


def test_origins_are_exact() -> None:
    assert Origin.of("http://127.0.0.1:8123/v1") == Origin("http", "127.0.0.1", 8123)
    assert Origin.of("HTTPS://Models.Example/v1") == Origin("https", "models.example", 443)
    guard = UpstreamGuard(["http://127.0.0.1:8123"], own=NO_OWN)
    assert guard.check_registration("http://127.0.0.1:8123/v1") is None
    for other in (
        "http://127.0.0.1:8124/v1",
        "https://127.0.0.1:8123/v1",
        "http://localhost:8123/v1",
        "http://0x7f000001:8123/v1",
    ):
        assert guard.check_registration(other) is not None, other


def test_a_name_resolving_to_an_internal_address_is_refused() -> None:
    answers = {"public.example": ["93.184.215.14"], "sneaky.example": ["93.184.215.14", "10.1.2.3"]}
    guard = UpstreamGuard(own=NO_OWN, resolve=lambda host, port: answers[host])
    assert guard.check_registration("https://public.example/v1") is None
    reason = guard.check_registration("https://sneaky.example/v1")
    assert reason is not None
    assert "private" in reason


# -- registration through the API ---------------------------------------------------------


def _register(platform: Platform, submission_id: str, base_url: str) -> httpx.Response:
    return platform.call(  # type: ignore[no-any-return]
        "developer",
        "PUT",
        f"/submissions/{submission_id}/gateway/upstream",
        None,
        json={"base_url": base_url, "upstream_model": "m", "api_key": "sk-x"},
    )


INTERNAL_UPSTREAMS = [
    "http://127.0.0.1:8000/v1",  # the platform's own port
    "http://127.0.0.1:6379",  # Redis
    "http://127.0.0.1:5432",  # PostgreSQL
    "http://0x7f000001:6379/v1",
    "http://2130706433:8000/v1",
    "http://0177.0.0.1/v1",
    "http://127.1/v1",
    "http://[::1]:8000/v1",
    "http://[::ffff:127.0.0.1]:6379/v1",
    "http://localhost:8000/v1",
    "http://api.localhost/v1",
    "http://169.254.169.254/latest/meta-data",
    "http://10.0.0.7/v1",
    "http://0.0.0.0:8000/v1",
]


def test_registration_refuses_internal_upstreams(platform: Platform) -> None:
    """Attack: loopback, the platform's port, Redis, PostgreSQL and encoded forms were accepted,
    and an internal service's JSON went back to the reviewer."""
    sub_id = platform.submit()["id"]
    for base_url in INTERNAL_UPSTREAMS:
        answer = _register(platform, sub_id, base_url)
        assert answer.status_code == 422, (base_url, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["type"] == PROBLEM + "gateway-upstream-address-refused"
        host = base_url.split("//", 1)[1].split("/", 1)[0]
        assert base_url not in answer.text
        assert host not in answer.text
    # Nothing was registered.
    platform.call("developer", "GET", f"/submissions/{sub_id}/gateway/upstream", 404)


def test_an_allow_listed_origin_is_accepted_and_no_other_port(
    platform: Platform, settings: Settings
) -> None:
    settings.gateway_upstream_allow = ["http://127.0.0.1:8123"]
    sub_id = platform.submit()["id"]
    assert _register(platform, sub_id, "http://127.0.0.1:8123/v1").status_code == 200
    for other in (
        "http://127.0.0.1:8124/v1",
        "https://127.0.0.1:8123/v1",
        "http://localhost:8123/v1",
    ):
        assert _register(platform, sub_id, other).status_code == 422, other


# -- at connection time --------------------------------------------------------------------


def test_the_engine_refuses_internal_upstreams_at_connection_time() -> None:
    """A registration that slipped past (or DNS that changed since) is refused when the
    gateway connects: nothing reaches the internal service, and the answer names nothing."""
    with (
        running_sim(UPSTREAM_KEY) as (sim, sim_url),
        running_sim(UPSTREAM_KEY) as (other, other_url),
        running_gateway() as gw,
    ):
        gw.allow(sim_url)
        port = sim_url.rsplit(":", 1)[1].split("/", 1)[0]
        targets = {
            "key-allowed": sim_url,
            "key-other-port": other_url,
            "key-by-name": f"http://localhost:{port}/v1",
            "key-encoded": f"http://0x7f000001:{port}/v1",
        }
        for key, url in targets.items():
            gw.resolver.add(
                key,
                access_id=f"grant-{key}",
                upstream_base_url=url,
                upstream_model="sim-model",
                public_model="preview",
                credential_headers=SecretHeaders.bearer(UPSTREAM_KEY),
            )
        body = {"model": "preview", "messages": [{"role": "user", "content": "x"}]}
        answers = {
            key: httpx.post(
                gw.base_url + "/chat/completions",
                json=body,
                headers={"Authorization": f"Bearer {key}"},
            )
            for key in targets
        }
        streamed = httpx.post(
            gw.base_url + "/chat/completions",
            json=body | {"stream": True},
            headers={"Authorization": "Bearer key-other-port"},
        )
        assert answers["key-allowed"].status_code == 200
        for key in ("key-other-port", "key-by-name", "key-encoded"):
            refused = answers[key]
            assert refused.status_code == 502, (key, refused.text)
            assert refused.json()["type"] == PROBLEM + "gateway-upstream-forbidden"
            assert port not in refused.text
        assert streamed.status_code == 502
        assert streamed.json()["type"] == PROBLEM + "gateway-upstream-forbidden"
        assert not other.received
        assert len(sim.received) == 1


class _Rebinding(AbstractResolver):
    """DNS that answers a public address first and a loopback one afterwards."""

    def __init__(self) -> None:
        self.answers = ["93.184.215.14", "127.0.0.1"]

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        address = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
        ]

    async def close(self) -> None:
        return None


def test_dns_rebinding_is_refused_before_connecting() -> None:
    async def scenario() -> None:
        resolver = _Rebinding()
        connector = GuardedConnector(
            UpstreamGuard(own=NO_OWN), resolver=resolver, use_dns_cache=False, force_close=True
        )
        async with aiohttp.ClientSession(connector=connector) as session:
            # The first answer is public: the guard lets the connection be attempted (whether
            # it then succeeds depends on the network; only a refusal would be wrong).
            try:
                response = await session.get(
                    "http://rebind.example:9/", timeout=aiohttp.ClientTimeout(total=1)
                )
                response.release()
            except UpstreamRefused:
                pytest.fail("a public address was refused")
            except (aiohttp.ClientError, TimeoutError):
                pass
            # Then the name points at loopback: refused before any connection is made.
            with pytest.raises(UpstreamRefused):
                await session.get("http://rebind.example:9/")

    asyncio.run(scenario())
