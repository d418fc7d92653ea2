"""`prereview eval run` says what the gateway holds it on, stops on Ctrl+C within seconds and
uploads the tasks that finished; `prereview eval upload` stores logs already on disk."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from inspect_ai.log import read_eval_log
from typer.testing import CliRunner

from prereview.cli import app as cli
from prereview.evals.watch import GatewayWatch, countdown, run_in_background
from prereview.gateway.engine.serving import ThreadedServer
from prereview.gateway.testing.upstream_sim import running_sim
from support.factories import Platform

needs_bwrap = pytest.mark.skipif(not Path("/usr/bin/bwrap").exists(), reason="needs bubblewrap")
UPSTREAM_KEY = "sk-watch-upstream"
NOW = datetime(2026, 6, 10, 21, 41, tzinfo=UTC)


def test_a_429_says_which_limit_and_when_it_resets() -> None:
    watch = GatewayWatch(now=lambda: NOW)
    assert watch.status("running ctf") == "running ctf"
    problem = {
        "type": "urn:prereview:problem:gateway-rate-limited",
        "detail": "This grant has used all of its tokens for today (UTC).",
        "limit": "tokens-per-day",
        "retry_after": 8337,
    }
    watch.saw(429, problem, "8337")
    said = watch.status("running ctf")
    assert "tokens-per-day" in said and "all of its tokens" in said
    assert "2h 18m" in said and "2026-06-10 23:59Z" in said and "Ctrl+C" in said
    watch.saw(200, None, None)  # a call got through: no longer waiting
    assert watch.status("running ctf") == "running ctf"
    watch.saw(429, "not a problem document", "7")
    assert "rate limit" in watch.status("x") and "7s" in watch.status("x")


@pytest.mark.parametrize(
    ("seconds", "shown"), [(5, "5s"), (75, "1m 15s"), (8337, "2h 18m"), (90061, "1d 1h 1m")]
)
def test_countdowns_read_as_a_person_says_them(seconds: int, shown: str) -> None:
    assert countdown(seconds) == shown


def test_the_waiting_thread_gets_the_result_or_the_error_or_is_interrupted() -> None:
    assert run_in_background(lambda: 42, lambda: None, tick=0.01) == 42
    with pytest.raises(ValueError, match="boom"):
        run_in_background(lambda: (_ for _ in ()).throw(ValueError("boom")), lambda: None)

    def interrupt() -> None:
        raise KeyboardInterrupt

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        run_in_background(lambda: time.sleep(30), interrupt, tick=0.01)
    assert time.monotonic() - started < 2


# --- Against the real gateway, in a real process ---------------------------------------------


def _finished(folder: Path) -> list[Path]:
    found = []
    for path in folder.glob("*.eval"):
        try:
            if read_eval_log(str(path), header_only=True).status == "success":
                found.append(path)
        except Exception:  # still being written
            continue
    return found


def _wait_for(condition: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
    return found


@pytest.fixture
def gateway(platform: Platform, app: FastAPI) -> Iterator[dict[str, str]]:
    """A live server whose gateway reaches the upstream simulator, a granted submission, and
    the agency's gateway key."""
    with running_sim(UPSTREAM_KEY) as (_sim, upstream_url), ThreadedServer(app) as server:
        app.state.gateway.upstreams.allow(upstream_url)
        sub = platform.submit()
        grant = platform.grant(sub["id"], window_days=20)
        platform.call(
            "developer",
            "PUT",
            f"/submissions/{sub['id']}/gateway/upstream",
            200,
            json={
                "base_url": upstream_url,
                "upstream_model": "sim-model",
                "public_model": "helios-2",
                "api_key": UPSTREAM_KEY,
            },
        )
        key = platform.call(
            "agency", "POST", f"/submissions/{sub['id']}/gateway/keys", 201, json={"name": "run"}
        ).json()["key"]
        yield {"url": server.url, "sub": sub["id"], "grant": grant["id"], "key": key}


@needs_bwrap
def test_ctrl_c_stops_at_once_and_uploads_what_finished(
    platform: Platform, gateway: dict[str, str], tmp_path: Path
) -> None:
    logs = tmp_path / "logs"
    task_args = {"vuln_discovery": {"pairs": 1, "message_limit": 3}, "ctf": {"message_limit": 40}}
    env = os.environ | {
        "PREREVIEW_SERVER": gateway["url"],
        "PREREVIEW_TOKEN": platform["agency"].token,
        "PREREVIEW_GATEWAY_KEY": gateway["key"],
        "COLUMNS": "200",
    }
    command = [sys.executable, "-c", "from prereview.cli import main; main()"]
    args = ["eval", "run", "--submission", gateway["sub"], "--tasks", "vuln_discovery,ctf"]
    args += ["--task-args", json.dumps(task_args), "--log-dir", str(logs)]
    stderr_path = tmp_path / "stderr.txt"
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            [*command, *args], env=env, stdout=subprocess.PIPE, stderr=stderr, text=True
        )
        try:
            # The first task finishes; then the grant's tokens for today are spent.
            [finished] = _wait_for(lambda: _finished(logs), 180, "the first task's log")
            platform.call(
                "developer",
                "PUT",
                f"/submissions/{gateway['sub']}/grants/{gateway['grant']}/limits",
                200,
                json={"tokens_per_day": 1},
            )
            _wait_for(
                lambda: "tokens-per-day limit is reached" in stderr_path.read_text(),
                60,
                "the command to say which limit holds it",
            )
            said = " ".join(stderr_path.read_text().split())
            assert "it resets in" in said and "Ctrl+C" in said
            interrupted = time.monotonic()
            process.send_signal(signal.SIGINT)
            out, _ = process.communicate(timeout=30)
            stopped_after = time.monotonic() - interrupted
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    said = " ".join(stderr_path.read_text().split())
    assert process.returncode == 130, said
    assert stopped_after < 5, stopped_after  # the upload of one small log included
    assert "stopped (Ctrl+C)" in said
    runs = platform.call("agency", "GET", f"/submissions/{gateway['sub']}/evals", 200).json()[
        "items"
    ]
    [run] = runs
    [task] = run["tasks"]
    assert task["task"] == "vuln_discovery" and task["log"]["filename"] == finished.name
    assert "vuln_discovery" in out


@pytest.fixture(scope="module")
def inspect_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real .eval log of a two-sample ctf run, made offline by the scripted model."""
    from inspect_ai import Task, eval
    from inspect_ai.dataset import Sample
    from inspect_ai.scorer import match
    from inspect_ai.solver import generate

    task = Task(
        dataset=[
            Sample(input="Find the flag.", target="no flag found"),
            Sample(input="Find it again.", target="no flag found"),
        ],
        solver=generate(),
        scorer=match(),
        name="ctf",
    )
    folder = tmp_path_factory.mktemp("inspect-logs")
    [log] = eval(task, model="prereview-scripted/reference", log_dir=str(folder), display="none")
    assert log.status == "success"
    return Path(log.location)


def test_eval_upload_stores_logs_already_on_disk(
    platform: Platform, app: FastAPI, inspect_log: Path, tmp_path: Path
) -> None:
    sub = platform.submit()
    platform.grant(sub["id"])
    with ThreadedServer(app) as server:
        env = {
            "PREREVIEW_SERVER": server.url,
            "PREREVIEW_TOKEN": platform["agency"].token,
            "COLUMNS": "200",
        }
        done = CliRunner().invoke(
            cli, ["eval", "upload", str(inspect_log), "--submission", sub["id"], "--json"], env=env
        )
        assert done.exit_code == 0, done.output
        [run] = json.loads(done.stdout)
        [task] = run["tasks"]
        assert task["log"]["filename"] == inspect_log.name
        listed = platform.call("agency", "GET", f"/submissions/{sub['id']}/evals", 200).json()
        assert [r["id"] for r in listed["items"]] == [run["id"]]

        not_a_log = tmp_path / "notes.eval"
        not_a_log.write_text("not an inspect log")
        refused = CliRunner().invoke(
            cli, ["eval", "upload", str(not_a_log), "--submission", sub["id"]], env=env
        )
        assert refused.exit_code == 2 and "not an Inspect log" in refused.output
        assert (
            platform.call("agency", "GET", f"/submissions/{sub['id']}/evals", 200).json()["total"]
            == 1
        )
