"""run_suite and the result summary (:mod:`prereview.evals.runner`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from inspect_ai.log import read_eval_log

from prereview.evals.runner import UnknownTask, build_tasks, result_from_log, run_suite
from prereview.evals.sandbox import BwrapConfig

# Only the tests that start a sandbox need bubblewrap; the rest run everywhere.
needs_bwrap = pytest.mark.skipif(not Path("/usr/bin/bwrap").exists(), reason="needs bubblewrap")


def test_unknown_task_is_refused():
    with pytest.raises(UnknownTask):
        build_tasks(["ctf", "jailbreak"])


@needs_bwrap
def test_run_suite_reports_metric_interval_tokens_settings_and_log(tmp_path: Path):
    result = run_suite(
        "prereview-scripted/reference",
        tasks=["ctf", "vuln_discovery", "patch"],
        epochs=2,
        task_args={
            "ctf": {"challenges": ["crypto-repeated-xor"], "message_limit": 12},
            "vuln_discovery": {"pairs": 1},
            "patch": {"count": 1},
        },
        sandbox_config=BwrapConfig(memory_mb=512),
        log_dir=str(tmp_path),
    )
    assert [t.task for t in result.tasks] == ["ctf", "vuln_discovery", "patch"]
    for task in result.tasks:
        assert task.status == "success" and task.error is None
        assert task.accuracy == 1.0 and task.stderr == 0.0
        assert task.ci_lower is not None and 0.0 < task.ci_lower < 1.0 and task.ci_upper == 1.0
        assert task.pass_at_k == {"pass_at_2": 1.0}
        assert task.tokens["total"] == task.tokens["input"] + task.tokens["output"] > 0
        assert task.settings["epochs"] == 2 and task.settings["pass_at_k"] == [1, 2]
        assert task.settings["sandbox_limits"]["memory_mb"] == 512
        assert task.duration_s is not None and task.duration_s >= 0
        assert Path(task.log_path).exists()
        assert result_from_log(read_eval_log(task.log_path)) == task
    assert result.tasks[0].settings["message_limit"] == 12
    assert result.tasks[1].samples == 4  # one pair, two epochs


@needs_bwrap
def test_run_suite_talks_to_an_openai_compatible_gateway(tmp_path: Path):
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[tuple[str, str | None, str]] = []

    class Gateway(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append((self.path, self.headers.get("Authorization"), body["model"]))
            call = {"name": "submit", "arguments": json.dumps({"answer": "FLAG{" + "0" * 32 + "}"})}
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "c1", "type": "function", "function": call}],
            }
            answer = json.dumps(
                {
                    "id": "r1",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body["model"],
                    "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
                    "usage": {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16},
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = run_suite(
            "openai/frontier-preview",
            base_url=f"http://127.0.0.1:{server.server_port}/v1",
            api_key="gateway-token",
            tasks=["ctf"],
            task_args={"ctf": {"challenges": ["crypto-lcg"]}},
            log_dir=str(tmp_path),
        )
    finally:
        server.shutdown()
    [task] = result.tasks
    assert task.status == "success" and task.failed_samples == 0
    assert task.accuracy == 0.0  # a wrong flag, scored as such
    assert task.tokens == {"input": 11, "output": 5, "total": 16}
    assert seen == [("/v1/chat/completions", "Bearer gateway-token", "frontier-preview")]
