"""The whole review flow from the command line, against a real server over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from prereview.cli import app as cli
from support.factories import Platform
from support.live import serve


@pytest.fixture
def server(app: FastAPI) -> Iterator[str]:
    with serve(app) as url:
        yield url


def run(server: str, token: str | None, *args: str) -> str:
    env = {"PREREVIEW_SERVER": server, "PREREVIEW_TOKEN": token or "", "COLUMNS": "200"}
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exit_code == 0, (args, result.output)
    return result.stdout


def run_json(server: str, token: str, *args: str) -> object:
    return json.loads(run(server, token, *args, "--json"))


def test_review_flow_from_the_command_line(platform: Platform, server: str) -> None:
    dev, agency, partner = platform["developer"], platform["agency"], platform["partner"]
    sub = run_json(
        server,
        dev.token,
        "submission",
        "create",
        "--model-name",
        "Atlas",
        "--model-version",
        "2.0",
        "--training-compute-flop",
        "2e26",
        "--modality",
        "text",
        "--modality",
        "code",
        "--access",
        "hosted_api",
        "--access",
        "weights",
        "--contact",
        "Ada Lovelace <ada@atlas-ai.com> (release lead)",
        "--planned-release-at",
        "2026-07-01T00:00:00Z",
    )
    assert isinstance(sub, dict)
    sid = sub["id"]
    assert sub["contacts"][0]["role"] == "release lead"

    grant = run_json(
        server, dev.token, "grant", "create", sid, "--agency", agency.org_id, "--window-days", "21"
    )
    assert isinstance(grant, dict) and grant["active"] is True
    window = run_json(server, agency.token, "window", "show", sid)
    assert isinstance(window, dict) and window["state"] == "open"
    assert sid in run(server, agency.token, "queue")

    nomination = run_json(
        server,
        agency.token,
        "nomination",
        "create",
        sid,
        "--partner",
        partner.org_id,
        "--reason",
        "hospital EHR",
    )
    assert isinstance(nomination, dict)
    run(server, dev.token, "nomination", "consent", sid, nomination["id"], "--note", "ok")
    finding = run_json(
        server,
        partner.token,
        "finding",
        "create",
        sid,
        "--title",
        "Finds auth bypass",
        "--description",
        "in PACS admin API",
        "--severity",
        "medium",
        "--category",
        "third_party_vulnerability",
    )
    assert isinstance(finding, dict)
    answered = run_json(
        server,
        dev.token,
        "finding",
        "respond",
        finding["id"],
        "--status",
        "acknowledged",
        "--text",
        "thanks",
    )
    assert isinstance(answered, dict) and answered["status"] == "acknowledged"

    updated = run_json(
        server,
        dev.token,
        "submission",
        "update",
        sid,
        "--planned-release-at",
        "2026-06-20T00:00:00+00:00",
    )
    assert isinstance(updated, dict) and updated["planned_release_at"].startswith("2026-06-20")
    released = run_json(server, dev.token, "submission", "release", sid, "--yes")
    assert isinstance(released, dict) and released["window"]["state"] == "closed_released"
    table = run(server, dev.token, "submission", "list")
    assert sid in table and "closed_released" in table
    trail = run(server, dev.token, "submission", "audit", sid)
    assert "review:submission:release" in trail


def test_errors_are_explained_and_exit_non_zero(platform: Platform, server: str) -> None:
    env = {"PREREVIEW_SERVER": server, "PREREVIEW_TOKEN": platform["agency"].token}
    result = CliRunner().invoke(cli, ["submission", "release", "sub_nope", "--yes"], env=env)
    assert result.exit_code == 1
    assert "submission-not-found" in result.output
    unreachable = CliRunner().invoke(
        cli, ["queue"], env=env | {"PREREVIEW_SERVER": "http://127.0.0.1:9"}
    )
    assert unreachable.exit_code == 2
    assert "cannot reach" in unreachable.output
    bad = CliRunner().invoke(
        cli,
        [
            "submission",
            "create",
            "--model-name",
            "X",
            "--model-version",
            "1",
            "--planned-release-at",
            "2026-07-01",
        ],
        env=env,
    )
    assert bad.exit_code != 0 and "time zone" in bad.output


def test_token_lifecycle_from_the_command_line(platform: Platform, server: str) -> None:
    created = run_json(server, platform["agency"].token, "token", "create", "--name", "laptop")
    assert isinstance(created, dict)
    assert "Elena" not in run(server, created["token"], "whoami")
    run(server, created["token"], "token", "revoke", created["id"], "--yes")
    env = {"PREREVIEW_SERVER": server, "PREREVIEW_TOKEN": created["token"]}
    refused = CliRunner().invoke(cli, ["whoami"], env=env)
    assert refused.exit_code == 1 and "token-revoked" in refused.output


def test_material_upload_and_verified_download(platform: Platform, server: str, tmp_path) -> None:
    dev = platform["developer"]
    sub = run_json(
        server, dev.token, "submission", "create", "--model-name", "M", "--model-version", "1"
    )
    assert isinstance(sub, dict)
    source = tmp_path / "weights.bin"
    source.write_bytes(bytes(range(256)) * 20000)
    material = run_json(
        server,
        dev.token,
        "material",
        "upload",
        sub["id"],
        str(source),
        "--kind",
        "weights",
        "--tlp",
        "TLP:RED",
        "--marking",
        "PROPRIETARY",
        "--marking",
        "EXPORT-CONTROLLED",
    )
    assert isinstance(material, dict)
    assert material["size"] == source.stat().st_size
    assert material["markings"] == ["PROPRIETARY", "EXPORT-CONTROLLED"]
    assert material["id"] in run(server, dev.token, "material", "list", sub["id"])
    target = tmp_path / "out.bin"
    out = run(server, dev.token, "material", "download", material["id"], "-o", str(target))
    assert "verified" in out
    assert target.read_bytes() == source.read_bytes()


def test_irreversible_actions_need_yes_without_a_terminal(platform: Platform, server: str) -> None:
    dev = platform["developer"]
    sub = run_json(
        server, dev.token, "submission", "create", "--model-name", "M", "--model-version", "1"
    )
    assert isinstance(sub, dict)
    env = {"PREREVIEW_SERVER": server, "PREREVIEW_TOKEN": dev.token, "COLUMNS": "200"}
    for args in (["release", sub["id"]], ["withdraw", sub["id"]]):
        refused = CliRunner().invoke(cli, ["submission", *args], env=env)
        assert refused.exit_code == 2, refused.output
        said = " ".join(refused.output.split())
        assert "--yes" in said and "cannot be undone" in said
    after = run_json(server, dev.token, "submission", "show", sub["id"])
    assert isinstance(after, dict) and after["window"]["state"] == sub["window"]["state"]
    asked = CliRunner().invoke(cli, ["submission", "release", sub["id"]], env=env, input="n\n")
    assert asked.exit_code != 0  # no terminal: refused before any question


def test_the_servers_text_is_shown_as_text(platform: Platform, server: str) -> None:
    dev = platform["developer"]
    name = "gateway:key:create [red]x[/red]"
    run_json(
        server, dev.token, "submission", "create", "--model-name", name, "--model-version", "1"
    )
    table = run(server, dev.token, "submission", "list")
    assert name in table and "🔑" not in table


def test_a_missing_token_says_what_to_do(server: str) -> None:
    env = {"PREREVIEW_SERVER": server, "PREREVIEW_TOKEN": ""}
    refused = CliRunner().invoke(cli, ["whoami"], env=env)
    assert refused.exit_code == 1
    said = " ".join(refused.output.split())
    assert "set PREREVIEW_TOKEN" in said and "header" not in said


def test_download_keeps_an_existing_file_unless_forced(
    platform: Platform, server: str, tmp_path
) -> None:
    dev = platform["developer"]
    sub = run_json(
        server, dev.token, "submission", "create", "--model-name", "M", "--model-version", "1"
    )
    assert isinstance(sub, dict)
    source = tmp_path / "card.txt"
    source.write_text("the model card")
    material = run_json(
        server, dev.token, "material", "upload", sub["id"], str(source), "--kind", "model_card"
    )
    assert isinstance(material, dict)
    target = tmp_path / "existing.txt"
    target.write_text("mine")
    env = {"PREREVIEW_SERVER": server, "PREREVIEW_TOKEN": dev.token, "COLUMNS": "200"}
    args = ["material", "download", material["id"], "-o", str(target)]
    kept = CliRunner().invoke(cli, args, env=env)
    said = " ".join(kept.output.split())
    assert kept.exit_code == 1 and "already exists" in said and "--force" in said
    assert target.read_text() == "mine"
    run(server, dev.token, *args, "--force")
    assert target.read_text() == "the model card"


def test_a_download_that_is_not_the_recorded_bytes_leaves_no_file(
    platform: Platform, server: str, tmp_path
) -> None:
    """The server's record says one size and SHA-256, the bytes say another: the command
    fails and writes nothing (no file, no ``.partial``)."""
    from sqlalchemy import text

    dev = platform["developer"]
    sub = run_json(
        server, dev.token, "submission", "create", "--model-name", "M", "--model-version", "1"
    )
    assert isinstance(sub, dict)
    source = tmp_path / "card.txt"
    source.write_text("the model card")
    material = run_json(
        server, dev.token, "material", "upload", sub["id"], str(source), "--kind", "model_card"
    )
    assert isinstance(material, dict)
    with platform.context.engine.begin() as c:
        c.execute(
            text("UPDATE materials SET sha256 = :h WHERE id = :i"),
            {"h": "0" * 64, "i": material["id"]},
        )
    out = tmp_path / "out"
    out.mkdir()
    env = {"PREREVIEW_SERVER": server, "PREREVIEW_TOKEN": dev.token, "COLUMNS": "200"}
    refused = CliRunner().invoke(
        cli, ["material", "download", material["id"], "-o", str(out / "card.txt")], env=env
    )
    said = " ".join(refused.output.split())
    assert refused.exit_code == 1 and "nothing was written" in said, said
    assert list(out.iterdir()) == []
