"""The HTTP side of ``prereview audit``: checkpoint, proofs and entries, each checked locally."""

from __future__ import annotations

import base64
import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from prereview.audit import commands, merkle, service, signing
from prereview.audit.checkpoint import NoteSigner, write_signer_key
from prereview.audit.routes import router as audit_router
from prereview.audit.trust import load_witness
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


def trust_dir(platform: Platform) -> Path:
    """Where this test's client keeps its pinned key and checkpoints (never the real home)."""
    return platform.context.settings.audit_key_file.parent / "trust"


def run(
    platform: Platform,
    monkeypatch: pytest.MonkeyPatch,
    who: str,
    *args: str,
    env: dict[str, str] | None = None,
) -> str:
    monkeypatch.setattr(commands, "ApiClient", as_member(platform, who))
    environment = {"PREREVIEW_AUDIT_TRUST_DIR": str(trust_dir(platform))} | (env or {})
    result = CliRunner().invoke(cli, ["audit", *args], env=environment)
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


# --- The client pins the log's key and keeps the last checkpoint it saw ----------------------


def rebuild(platform: Platform, *, rewrite: int | None = None, keep: int | None = None) -> None:
    """A server operator's forgery: entry ``rewrite`` changed, or the log cut to ``keep``
    entries, every stored hash and the head rebuilt, and the checkpoint rows deleted, so the
    server signs the forged log afresh."""
    with platform.context.engine.begin() as c:
        if keep is not None:
            c.execute(text("DELETE FROM audit_entries WHERE seq >= :s"), {"s": keep})
        if rewrite is not None:
            leaf = c.execute(
                text("SELECT leaf FROM audit_entries WHERE seq = :s"), {"s": rewrite}
            ).scalar_one()
            forged = service.canonical_leaf(json.loads(leaf) | {"object_id": "nothing_here"})
            c.execute(
                text("UPDATE audit_entries SET leaf = :l, leaf_hash = :h WHERE seq = :s"),
                {"l": forged, "h": service.leaf_hash(forged), "s": rewrite},
            )
        leaves = [
            bytes(r[0]) for r in c.execute(text("SELECT leaf_hash FROM audit_entries ORDER BY seq"))
        ]
        tree = merkle.TreeAppender()
        nodes = tree.extend(leaves)
        c.execute(text("DELETE FROM audit_nodes"))
        c.execute(
            text('INSERT INTO audit_nodes (level, "index", hash) VALUES (:l, :i, :h)'),
            [{"l": lv, "i": ix, "h": h} for lv, ix, h in nodes],
        )
        c.execute(
            text("UPDATE audit_head SET size = :s, right_edge = :e"),
            {"s": tree.size, "e": tree.packed_right_edge},
        )
        c.execute(text("DELETE FROM audit_checkpoints"))


def new_signing_key(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = platform.context.settings
    write_signer_key(
        settings.audit_key_file, NoteSigner.generate(settings.audit_origin), overwrite=True
    )
    monkeypatch.setattr(signing, "_signers", {})


def test_first_use_pins_the_key_and_later_checkpoints_must_extend_the_saved_one(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = platform.submit()
    out = run(platform, monkeypatch, "agency", "checkpoint")
    assert out.startswith("0\n") and "first use of this log: pinned its key" in out, out
    [state_file] = trust_dir(platform).iterdir()
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(trust_dir(platform).stat().st_mode) == 0o700
    first = json.loads(state_file.read_text())["checkpoints"][-1]["size"]

    platform.grant(sub["id"])
    out = run(platform, monkeypatch, "agency", "checkpoint")
    assert out.startswith("0\n") and "pinned" not in out, out
    saved = json.loads(state_file.read_text())["checkpoints"]
    assert saved[0]["size"] == first and saved[-1]["size"] > first
    out = run(platform, monkeypatch, "agency", "trust", "show", "--json")
    assert out.startswith("0\n") and f'"latest_size": {saved[-1]["size"]}' in out, out


def test_a_forged_log_served_with_a_new_key_is_refused(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform.grant(platform.submit()["id"])
    assert run(platform, monkeypatch, "developer", "checkpoint").startswith("0\n")
    saved = next(trust_dir(platform).iterdir()).read_bytes()

    rebuild(platform, rewrite=3)
    new_signing_key(platform, monkeypatch)
    for args in (("checkpoint",), ("entries", "--with-proofs"), ("proof", "inclusion", "3")):
        out = run(platform, monkeypatch, "developer", *args)
        assert out.startswith("1\n") and "the log's signing key changed" in out, (args, out)
    assert next(trust_dir(platform).iterdir()).read_bytes() == saved  # nothing accepted


@pytest.mark.parametrize("grown", [False, True], ids=["same-size", "grown"])
def test_a_log_rebuilt_under_the_same_key_is_refused(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, grown: bool
) -> None:
    sub = platform.submit()
    platform.grant(sub["id"])
    assert run(platform, monkeypatch, "agency", "checkpoint").startswith("0\n")

    rebuild(platform, rewrite=2)
    if grown:
        platform.call("agency", "GET", f"/submissions/{sub['id']}", 200)
    out = run(platform, monkeypatch, "agency", "checkpoint")
    expected = "does not extend the log of" if grown else "has another root"
    assert out.startswith("1\n") and expected in out, out
    out = run(platform, monkeypatch, "agency", "proof", "inclusion", "1")
    assert out.startswith("1\n") and "checkpoint does NOT verify" in out, out


def test_a_log_cut_short_is_refused(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    platform.grant(platform.submit()["id"])
    assert run(platform, monkeypatch, "agency", "checkpoint").startswith("0\n")
    with platform.context.sessions() as db:
        size = service.log_size(db)
    rebuild(platform, keep=size - 3)
    out = run(platform, monkeypatch, "agency", "checkpoint")
    assert out.startswith("1\n") and "the log was truncated or replaced" in out, out


def test_a_configured_key_is_required_from_the_first_use(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    stranger = str(NoteSigner.generate(platform.context.settings.audit_origin).verifier)
    out = run(
        platform, monkeypatch, "agency", "checkpoint", env={"PREREVIEW_AUDIT_PUBLIC_KEY": stranger}
    )
    assert out.startswith("1\n") and "the log's signing key changed" in out, out
    assert not trust_dir(platform).exists()

    key_file = tmp_path / "audit.pub"
    key_file.write_text(str(service.load_signer(platform.context.settings).verifier) + "\n")
    env = {"PREREVIEW_AUDIT_PUBLIC_KEY": str(key_file)}
    out = run(platform, monkeypatch, "agency", "checkpoint", env=env)
    assert out.startswith("0\n") and "pinned" not in out, out


def test_the_saved_checkpoints_export_as_a_witness_and_can_be_forgotten(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    out = run(platform, monkeypatch, "agency", "trust", "export")
    assert out.startswith("2\n") and "nothing saved" in out, out
    platform.submit()
    assert run(platform, monkeypatch, "agency", "checkpoint").startswith("0\n")
    witness = tmp_path / "witness.json"
    out = run(platform, monkeypatch, "agency", "trust", "export", "--out", str(witness))
    assert out.startswith("0\n"), out
    assert stat.S_IMODE(witness.stat().st_mode) == 0o600
    [published] = load_witness(witness, origin=platform.context.settings.audit_origin)
    with platform.context.sessions() as db:
        assert published.size == service.log_size(db)

    out = run(platform, monkeypatch, "agency", "trust", "forget")
    assert out.startswith("0\n") and not list(trust_dir(platform).iterdir()), out
    out = run(platform, monkeypatch, "agency", "checkpoint")
    assert out.startswith("0\n") and "pinned" in out, out


def test_a_corrupt_trust_file_is_an_error_not_a_new_pin(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(platform, monkeypatch, "agency", "checkpoint").startswith("0\n")
    state_file = next(trust_dir(platform).iterdir())
    state = json.loads(state_file.read_text())
    state["checkpoints"][-1]["root"] = base64.b64encode(b"\0" * 32).decode()
    state_file.write_text(json.dumps(state))
    out = run(platform, monkeypatch, "agency", "checkpoint")
    assert out.startswith("1\n") and "holds a bad checkpoint" in out, out
    assert "pinned" not in out


def test_entries_are_newest_first_filtered_and_name_organisations(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = platform.submit()
    platform.grant(first["id"])
    second = platform.submit(model_name="Other")

    def seqs(*args: str) -> list[tuple[str, str]]:
        out = run(platform, monkeypatch, "developer", "entries", *args, "--json")
        assert out.startswith("0\n"), out
        text = out.split("\n", 1)[1]
        page = json.loads(text[text.index("{") :])  # after a first-use note, with proofs
        return [(e["action"], e["submission_id"]) for e in page["items"]]

    newest = seqs()
    assert newest == [
        ("review:submission:create", second["id"]),
        ("review:grant:create", first["id"]),
        ("review:submission:create", first["id"]),
    ]
    assert seqs("--oldest-first") == newest[::-1]
    assert seqs("--submission", first["id"]) == newest[1:]
    assert seqs("--action", "review:grant") == newest[1:2]
    assert seqs("--actor", platform["agency"].org_id) == []
    assert seqs("--submission", second["id"], "--with-proofs") == newest[:1]
    table = run(platform, monkeypatch, "developer", "entries", "--action", "review:grant")
    assert "developer org" in table and platform["developer"].org_id not in table
    refused = run(platform, monkeypatch, "developer", "entries", "--until", "tomorrow")
    assert refused.startswith("2\n") and "ISO 8601" in refused
