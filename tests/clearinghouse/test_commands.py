"""`prereview vuln import|list|show` against a real server over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from prereview.cli import app as cli
from support.factories import Platform
from support.factories.clearinghouse import V31, V40, report
from support.live import serve


@pytest.fixture
def server(app: FastAPI) -> Iterator[str]:
    with serve(app) as url:
        yield url


def run(server: str, token: str, *args: str, code: int = 0) -> str:
    env = {"PREREVIEW_SERVER": server, "PREREVIEW_TOKEN": token, "COLUMNS": "200"}
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exit_code == code, (args, result.output)
    return result.stdout


def test_import_a_folder_then_list_and_show(
    platform: Platform, server: str, tmp_path: Path
) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    lines = [json.dumps(report(f"CLI-{n}", cvss_v3=V31, cvss_v4=V40)) for n in range(7)]
    (folder / "batch.jsonl").write_text("\n".join(lines) + "\n")
    seeds = resources.files("prereview.clearinghouse.data").joinpath("seed_advisories.yaml")
    (folder / "seeds.yaml").write_bytes(seeds.read_bytes())
    (folder / "notes.txt").write_text("not a report")
    token = platform["clearinghouse"].token
    out = json.loads(
        run(server, token, "vuln", "import", str(folder), "--batch-lines", "3", "--json")
    )
    assert out["counts"]["accepted"] >= 7 and out["counts"]["rejected"] == 0
    again = json.loads(run(server, token, "vuln", "import", str(folder), "--json"))
    assert again["counts"]["accepted"] == 0
    assert again["counts"]["duplicate"] == out["counts"]["accepted"]
    listed = run(server, token, "vuln", "list", "--limit", "200")
    assert "CLI-3" in listed
    shown = run(server, token, "vuln", "show", "CLI-3")
    assert "9.8" in shown and "9.3" in shown and "pkg:pypi/uploadkit@1.2.0" in shown
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(report("CLI-X", cwes=["nope"])) + "\n")
    run(server, token, "vuln", "import", str(bad), code=1)


def test_an_analyst_lists_and_verifies_product_claims(platform: Platform, server: str) -> None:
    (claim,) = platform.call(
        "developer",
        "POST",
        "/clearinghouse/products",
        201,
        json={"identifiers": ["pkg:pypi/uploadkit"], "proof": "https://uploadkit.org/.claim"},
    ).json()
    token = platform["clearinghouse"].token
    listed = json.loads(run(server, token, "vuln", "claims", "list", "--json"))
    assert [c["id"] for c in listed["items"]] == [claim["id"]]
    assert "pkg:pypi/uploadkit" in run(server, token, "vuln", "claims", "list")
    verified = json.loads(
        run(server, token, "vuln", "claims", "verify", claim["id"], "--note", "URL ok", "--json")
    )
    assert verified["status"] == "verified" and verified["decision_note"] == "URL ok"
    assert json.loads(run(server, token, "vuln", "claims", "list", "--json"))["items"] == []
    run(server, token, "vuln", "claims", "reject", claim["id"], code=1)
    revoked = json.loads(run(server, token, "vuln", "claims", "revoke", claim["id"], "--json"))
    assert revoked["status"] == "revoked"
    run(server, platform["developer"].token, "vuln", "claims", "list", code=1)
