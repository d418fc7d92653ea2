"""`prereview attest request` over HTTP, `prereview attest verify` offline, `attest key`."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from typer.testing import CliRunner, Result

from prereview.attestation.signing import load_key
from prereview.cli import app as cli
from support.factories import Platform
from support.factories.attestation import Reviewed
from support.live import serve


@pytest.fixture
def server(app: FastAPI) -> Iterator[str]:
    with serve(app) as url:
        yield url


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env={"COLUMNS": "200"} | (env or {}))


def test_request_then_verify_offline_and_each_failure_names_itself(
    platform: Platform, reviewed: Reviewed, server: str, tmp_path: Path
) -> None:
    out = tmp_path / "atlas.intoto.json"
    env = {"PREREVIEW_SERVER": server, "PREREVIEW_TOKEN": platform["developer"].token}
    asked = run(
        "attest", "request", reviewed.submission_id, "-o", str(out), "--name-reviewers", env=env
    )
    assert asked.exit_code == 0, asked.output
    again = run("attest", "request", reviewed.submission_id, "-o", str(out), env=env)
    assert again.exit_code == 1 and "not overwriting" in again.output

    key_file = tmp_path / "attestation.pub"
    key_file.write_text(load_key(platform.context.settings).public_pem())
    # No server from here on: the environment names none, and nothing listens there.
    offline = {"PREREVIEW_SERVER": "http://127.0.0.1:9", "PREREVIEW_TOKEN": ""}
    ok = run("attest", "verify", str(out), "--key", str(key_file), env=offline)
    assert ok.exit_code == 0, ok.output
    assert "verified Atlas 1.0" in ok.output and "findings 4 (2 answered)" in ok.output
    by_setting = run(
        "attest",
        "verify",
        str(out),
        env=offline | {"PREREVIEW_ATTESTATION_PUBLIC_KEY": str(key_file)},
    )
    assert by_setting.exit_code == 0, by_setting.output

    envelope = json.loads(out.read_text())
    statement = json.loads(base64.b64decode(envelope["payload"]))
    statement["predicate"]["releasedAt"] = None
    tampered = tmp_path / "tampered.json"
    tampered.write_text(
        json.dumps(
            envelope | {"payload": base64.b64encode(json.dumps(statement).encode()).decode()}
        )
    )
    failed = run("attest", "verify", str(tampered), "--key", str(key_file), env=offline)
    assert failed.exit_code == 1
    assert (
        "FAILED signature:" in failed.output and "does not verify over its payload" in failed.output
    )

    wrong = tmp_path / "wrong.pub"
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from prereview.attestation.signing import AttestationKey

    wrong.write_text(AttestationKey(Ed25519PrivateKey.generate()).public_pem())
    refused = run("attest", "verify", str(out), "--key", str(wrong), env=offline)
    assert refused.exit_code == 1 and "FAILED key:" in refused.output

    missing = run(
        "attest", "verify", str(tmp_path / "nope.json"), "--key", str(key_file), env=offline
    )
    assert missing.exit_code == 2 and "cannot read" in missing.output


def test_request_by_someone_else_is_refused(
    platform: Platform, reviewed: Reviewed, server: str
) -> None:
    env = {"PREREVIEW_SERVER": server, "PREREVIEW_TOKEN": platform["other_developer"].token}
    refused = run("attest", "request", reviewed.submission_id, env=env)
    assert refused.exit_code == 1 and "submission" in refused.output


def test_key_prints_the_public_half_of_the_server_key(platform: Platform) -> None:
    settings = platform.context.settings
    printed = run(
        "attest", "key", env={"PREREVIEW_ATTESTATION_KEY_FILE": str(settings.attestation_key_file)}
    )
    assert printed.exit_code == 0, printed.output
    assert printed.stdout == load_key(settings).public_pem()
    assert "PRIVATE" not in printed.stdout
    assert settings.attestation_key_file.stat().st_mode & 0o077 == 0
