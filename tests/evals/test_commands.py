"""`prereview eval run / results / log-download` and `prereview coverage ...` against a real
server: the suite runs here with the scripted model, the results and logs go to the server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from fastapi import FastAPI
from inspect_ai.log import read_eval_log
from typer.testing import CliRunner

from prereview.cli import app as cli
from support.factories import Platform
from support.live import serve

needs_bwrap = pytest.mark.skipif(not Path("/usr/bin/bwrap").exists(), reason="needs bubblewrap")


@pytest.fixture
def server(app: FastAPI) -> Iterator[str]:
    with serve(app) as url:
        yield url


def run(server: str, token: str, *args: str, code: int = 0) -> str:
    env = {"PREREVIEW_SERVER": server, "PREREVIEW_TOKEN": token, "COLUMNS": "200"}
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exit_code == code, (args, result.output)
    # Progress bars go to stderr; answers to stdout; errors are read from both.
    return result.stdout if code == 0 else result.output


def run_json(server: str, token: str, *args: str) -> Any:
    return json.loads(run(server, token, *args, "--json"))


@needs_bwrap
def test_eval_run_stores_results_and_logs_then_coverage_decides(
    platform: Platform, server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    sub = platform.submit(training_compute_flop=2e25)
    platform.grant(sub["id"])
    agency, dev = platform["agency"].token, platform["developer"].token
    [stored] = run_json(
        server,
        agency,
        "eval",
        "run",
        "--submission",
        sub["id"],
        "--tasks",
        "vuln_discovery",
        "--model",
        "prereview-scripted/reference",
        "--task-args",
        '{"vuln_discovery": {"pairs": 1}}',
        "--log-dir",
        str(tmp_path / "logs"),
    )
    [task] = stored["tasks"]
    assert task["task"] == "vuln_discovery" and task["status"] == "success"
    assert task["accuracy"] == 1.0 and task["samples"] == 2
    assert 0 < task["ci_lower"] < 1 and task["ci_upper"] == 1.0
    assert task["tokens"]["total"] > 0 and task["settings"]["scaffold"]
    assert task["log"]["filename"].endswith(".eval")
    # The reference solver is not the submission's model: a calibration run, never evidence.
    assert task["kind"] == "calibration" and "gateway" in task["kind_reason"]

    table = run(server, dev, "eval", "results", sub["id"])
    assert "vuln_discovery" in table and task["id"] in table
    target = tmp_path / "downloaded.eval"
    run(server, dev, "eval", "log-download", task["id"], "-o", str(target))
    log = read_eval_log(str(target))
    assert log.eval.task.endswith("vuln_discovery") and log.results is not None
    # The developer's copy: no ground truth, no reference solution.
    assert log.samples and all(
        "truth" not in s.metadata and "solution" not in s.metadata for s in log.samples
    )
    run(server, platform["other_agency"].token, "eval", "results", sub["id"], code=1)

    policy = tmp_path / "policy.toml"
    policy.write_text(
        '# test\nformat = 1\nid = "p"\nversion = "1"\ntitle = "t"\n'
        '[criteria]\ncombine = "all"\n[[criteria.criterion]]\nkind = "task_metric"\n'
        'id = "vd"\ntask = "vuln_discovery"\nat_least = 0.3\n'
    )
    what_if = run_json(
        server, agency, "coverage", "what-if", "--policy", str(policy), "--submission", sub["id"]
    )
    assert what_if["outcome"] == "undetermined"
    assert what_if["criteria"]["parts"][0]["evidence"]["runs"] == []
    assert run_json(server, agency, "coverage", "list", sub["id"]) == []

    made = run_json(
        server,
        agency,
        "coverage",
        "determine",
        sub["id"],
        "--preset",
        "eu-ai-act-systemic-risk",
        "--rationale",
        "declared 2e25 FLOP",
        "--marking",
        "CUI",
    )
    assert made["outcome"] == "covered" and made["markings"] == ["CUI"]
    shown = run(server, agency, "coverage", "list", sub["id"])
    assert "training-compute-1e25" in shown and made["id"] in shown
    notices = run_json(server, dev, "coverage", "list", sub["id"], "--notices")
    assert [(n["id"], n["outcome"]) for n in notices["items"]] == [(made["id"], "covered")]
    assert "eu-ai-act-systemic-risk" in run(server, dev, "coverage", "presets")

    broken = tmp_path / "broken.toml"
    broken.write_text('format = 7\nid = "p"\n')
    out = run(
        server,
        agency,
        "coverage",
        "what-if",
        "--policy",
        str(broken),
        "--submission",
        sub["id"],
        code=1,
    )
    assert "coverage-policy-invalid" in out and "format" in out and "criteria" in out


def test_the_default_model_is_the_one_the_gateway_serves_the_key() -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from prereview.evals.commands import _served_model

    async def models(request: Request) -> JSONResponse:
        if request.headers.get("authorization") != "Bearer gw-key":
            return JSONResponse({"error": "no"}, status_code=401)
        return JSONResponse({"object": "list", "data": [{"id": "atlas-preview"}]})

    with serve(Starlette(routes=[Route("/gateway/v1/models", models)])) as url:
        assert _served_model(f"{url}/gateway/v1", "gw-key") == "atlas-preview"
        with pytest.raises(typer.Exit):
            _served_model(f"{url}/gateway/v1", "wrong-key")


def test_eval_run_needs_a_gateway_key_for_the_gateway(
    platform: Platform, server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PREREVIEW_GATEWAY_KEY", raising=False)
    sub = platform.submit()
    platform.grant(sub["id"])
    out = run(server, platform["agency"].token, "eval", "run", "--submission", sub["id"], code=2)
    assert "PREREVIEW_GATEWAY_KEY" in out
