"""`prereview eval run` at scale: --max-samples and --max-sandboxes reach Inspect, progress
is told per task (printed once per step without a terminal), --sandbox is checked."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
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


def _invoke(server: str, token: str, *args: str) -> tuple[int, str, str]:
    env = {"PREREVIEW_SERVER": server, "PREREVIEW_TOKEN": token, "COLUMNS": "200"}
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


@needs_bwrap
def test_eval_run_passes_parallelism_and_tells_progress(
    platform: Platform, server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    sub = platform.submit(training_compute_flop=2e25)
    platform.grant(sub["id"])
    code, _out, err = _invoke(
        server,
        platform["agency"].token,
        *("eval", "run", "--submission", sub["id"], "--tasks", "vuln_discovery"),
        *("--model", "prereview-scripted/reference", "--epochs", "2"),
        *("--task-args", '{"vuln_discovery": {"pairs": 1}}', "--log-dir", str(tmp_path / "l")),
        *("--max-samples", "2", "--max-sandboxes", "3", "--json"),
    )
    assert code == 0, err
    assert "vuln_discovery: started, 4 samples" in err
    assert "vuln_discovery: done, 4/4 samples" in err
    [log] = sorted((tmp_path / "l").glob("*.eval"))
    config = read_eval_log(str(log), header_only=True).eval.config
    assert (config.max_samples, config.max_sandboxes) == (2, 3)


def test_eval_run_refuses_an_unknown_sandbox(platform: Platform, server: str) -> None:
    sub = platform.submit(training_compute_flop=2e25)
    code, _out, err = _invoke(
        server,
        platform["agency"].token,
        *("eval", "run", "--submission", sub["id"], "--model", "mockllm/model"),
        *("--sandbox", "local"),
    )
    assert code == 2 and "--sandbox must be one of bwrap, docker, k8s" in err
