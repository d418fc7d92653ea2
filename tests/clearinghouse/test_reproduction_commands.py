"""`prereview vuln poc` and `prereview vuln reproduction` against a live server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from prereview.cli import app as cli
from support.factories import Platform
from support.factories.clearinghouse import report
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


def test_the_reporter_attaches_a_poc_and_reads_its_reproduction(
    platform: Platform, server: str, tmp_path: Path
) -> None:
    body = report()
    platform.call("agency", "POST", "/clearinghouse/reports", 201, json=body)
    script = tmp_path / "poc.py"
    script.write_text("import yaml\nprint(yaml.__version__)\n")
    token = platform["agency"].token
    args = ["vuln", "poc", body["id"], str(script), "--package", "pyyaml"]
    attached = json.loads(
        run(server, token, *args, "--affected", "5.3.1", "--fixed", "5.4", "--json")
    )
    assert attached["state"] == "queued" and attached["version"] == 1
    assert attached["script_bytes"] == len(script.read_bytes())
    shown = json.loads(run(server, token, "vuln", "reproduction", body["id"], "--json"))
    assert shown["status"] == "unknown" and not shown["claim_only"]
    # Another organisation cannot attach one to a report it did not make (it cannot see it).
    other = platform["other_agency"].token
    run(server, other, *args, "--affected", "5.3.1", code=1)
