"""``prereview gateway``: secrets come from the environment and are never printed."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from prereview.core.client import ApiClient
from prereview.gateway import commands
from support.factories import Platform

cli = typer.Typer()
commands.register(cli)

API_KEY = "sk-cli-upstream-7d1e"
BASE_URL = "https://cli-secret-host.example/v1"


def as_member(platform: Platform, who: str) -> Callable[..., ApiClient]:
    def make(server: str, token: str | None = None, timeout: float = 30.0) -> ApiClient:
        client = ApiClient(server, token="unused")
        client.http = TestClient(platform.client.app, headers=platform[who].headers)  # type: ignore[assignment]
        return client

    return make


def run(platform: Platform, monkeypatch: pytest.MonkeyPatch, who: str, *args: str) -> str:
    monkeypatch.setattr(commands, "ApiClient", as_member(platform, who))
    result = CliRunner().invoke(
        cli,
        ["gateway", *args],
        env={
            "PREREVIEW_UPSTREAM_BASE_URL": BASE_URL,
            "PREREVIEW_UPSTREAM_API_KEY": API_KEY,
            "TENANT": "tenant-secret-99",
        },
    )
    return f"{result.exit_code}\n{' '.join(result.output.split())}"


def test_the_gateway_commands(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def go(who: str, *args: str) -> str:
        seen.append(run(platform, monkeypatch, who, *args))
        return seen[-1]

    sub = platform.submit()
    grant = platform.grant(sub["id"])
    out = go(
        "developer",
        "upstream",
        "set",
        sub["id"],
        "--upstream-model",
        "atlas-rc",
        "--header",
        "X-Tenant=TENANT",
        "--json",
    )
    assert out.startswith("0\n") and '"authorization", "x-tenant"' in out, out
    out = go("developer", "upstream", "show", sub["id"], "--json")
    assert out.startswith("0\n") and "atlas-rc" in out, out
    out = go("agency", "key", "create", sub["id"], "--name", "nb", "--json")
    assert out.startswith("0\n") and "pgw_" in out, out
    out = go("developer", "key", "list", sub["id"], "--json")
    assert out.startswith("0\n") and "nb" in out and "pgw_" in out, out  # the prefix only
    out = go(
        "developer",
        "limits",
        "set",
        sub["id"],
        "--grant",
        grant["id"],
        "--rpm",
        "30",
        "--json",
    )
    assert out.startswith("0\n") and '"requests_per_minute": 30' in out, out
    out = go("agency", "limits", "set", sub["id"], "--grant", grant["id"])
    assert out.startswith("1\n") and "403" in out, out
    out = go("developer", "limits", "set", sub["id"])
    assert out.startswith("2\n"), out
    out = go("agency", "upstream", "show", sub["id"])
    assert out.startswith("1\n") and "403" in out, out
    for secret in (API_KEY, BASE_URL, "cli-secret-host", "tenant-secret-99"):
        assert secret not in " ".join(seen)
