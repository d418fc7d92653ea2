"""Inspect AI's openai-api provider evaluates a model through the gateway, unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest
from inspect_ai import Task, eval
from inspect_ai.dataset import Sample
from inspect_ai.scorer import includes
from inspect_ai.solver import generate

from prereview.gateway import SecretHeaders
from prereview.gateway.testing.harness import running_gateway
from prereview.gateway.testing.upstream_sim import running_sim

UPSTREAM_KEY = "sk-inspect-upstream-secret"


@pytest.mark.slow
def test_inspect_eval_through_the_gateway(tmp_path: Path) -> None:
    with running_sim(UPSTREAM_KEY) as (_, upstream_url), running_gateway() as gw:
        gw.allow(upstream_url)
        gw.resolver.add(
            "pgw-inspect",
            access_id="grant-inspect",
            upstream_base_url=upstream_url,
            upstream_model="sim-model",
            public_model="preview",
            credential_headers=SecretHeaders.bearer(UPSTREAM_KEY),
        )
        task = Task(
            dataset=[
                Sample(input="find the overflow", target="overflow"),
                Sample(input="check the parser", target="parser"),
            ],
            solver=generate(),
            scorer=includes(),
        )
        [log] = eval(
            task,
            model="openai-api/prereview/preview",
            model_base_url=gw.base_url,
            model_args={"api_key": "pgw-inspect"},
            log_dir=str(tmp_path),
            display="none",
            log_format="json",
        )
        calls = gw.settled_calls()
    assert log.status == "success", log.error
    assert log.results is not None
    assert log.results.scores[0].metrics["accuracy"].value == 1.0
    assert [s.output.completion for s in log.samples or []] == [
        "sim reply to find the overflow",
        "sim reply to check the parser",
    ]
    completions = [c for c in calls if c.endpoint == "chat.completions"]
    assert len(completions) == 2
    assert all(c.status == 200 and c.access_id == "grant-inspect" for c in completions)
    log_text = "".join(p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file())
    assert UPSTREAM_KEY not in log_text
