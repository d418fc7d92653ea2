"""The HTTP side of ``prereview audit``: checkpoint, proofs and entries, each checked locally."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import typer
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from prereview.audit import commands
from prereview.audit.checkpoint import NoteSigner
from prereview.audit.routes import router as audit_router
from prereview.core.client import ApiClient
from support.factories import Platform

cli = typer.Typer()
commands.register(cli)


@pytest.fixture(autouse=True)
def audit_routes(app: FastAPI) -> None:
    """Serve the audit routes, until the app factory does it itself."""
    if not any(getattr(r, "path", "").startswith("/api/v1/audit/") for r in app.routes):
        app.include_router(audit_router, prefix="/api/v1")


def as_member(platform: Platform, who: str) -> Callable[..., ApiClient]:
    """An ApiClient factory whose requests go to the test app as ``who``."""

    def make(server: str, token: str | None = None, timeout: float = 30.0) -> ApiClient:
        client = ApiClient(server, token="unused")
        # TestClient is an httpx.Client that calls the app in-process.
        client.http = TestClient(platform.client.app, headers=platform[who].headers)  # type: ignore[assignment]
        return client

    return make


def run(platform: Platform, monkeypatch: pytest.MonkeyPatch, who: str, *args: str) -> str:
    monkeypatch.setattr(commands, "ApiClient", as_member(platform, who))
    result = CliRunner().invoke(cli, ["audit", *args])
    return f"{result.exit_code}\n{' '.join(result.output.split())}"


def test_cli_checks_what_the_server_answers(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = platform.submit()
    platform.grant(sub["id"])
    size = platform.call("agency", "GET", "/audit/checkpoint", 200).json()["size"]

    out = run(platform, monkeypatch, "agency", "checkpoint")
    assert out.startswith("0\n") and str(size) in out, out
    out = run(platform, monkeypatch, "agency", "proof", "inclusion", "3")
    assert out.startswith("0\n") and "inclusion proof verified" in out, out
    out = run(platform, monkeypatch, "agency", "proof", "consistency", "2", str(size))
    assert out.startswith("0\n") and "consistency proof verified" in out, out
    out = run(platform, monkeypatch, "developer", "entries", "--with-proofs", "--json")
    assert out.startswith("0\n") and sub["id"] in out, out

    out = run(platform, monkeypatch, "agency", "proof", "inclusion", str(size + 5))
    assert out.startswith("1\n") and "audit-range-invalid" in out, out
    out = run(platform, monkeypatch, "agency", "entries")
    assert out.startswith("1\n") and "403" in out, out


def test_cli_refuses_a_checkpoint_from_another_key(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    stranger = str(NoteSigner.generate(platform.context.settings.audit_origin).verifier)
    out = run(platform, monkeypatch, "agency", "checkpoint", "--verifier-key", stranger)
    assert out.startswith("1\n") and "does NOT verify" in out, out
