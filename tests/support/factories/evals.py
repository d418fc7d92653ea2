"""Factories of evals: Inspect logs made by hand (a real ``.eval`` file with the samples,
scores, model calls and times a test needs), the gateway's audit entries to back them, and the
upload of a run with its log, for the evals and coverage tests and the demo scenario."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from inspect_ai.event import ModelEvent
from inspect_ai.log import (
    EvalConfig,
    EvalDataset,
    EvalLog,
    EvalSample,
    EvalSpec,
    EvalStats,
    write_eval_log,
)
from inspect_ai.model import GenerateConfig, ModelOutput, ModelUsage
from inspect_ai.scorer import Score

from prereview.core.db import transaction
from prereview.gateway import CallRecord
from prereview.gateway import service as gateway
from support.factories import Platform

PUBLIC_MODEL = "helios-2"
GATEWAY_MODEL = f"openai/{PUBLIC_MODEL}"
GATEWAY_URL = "http://testserver/gateway/v1"
TOKENS_PER_CALL = (100, 20)


def register_gateway(platform: Platform, submission_id: str) -> None:
    """The developer's endpoint for the submission, served under :data:`PUBLIC_MODEL`."""
    platform.call(
        "developer",
        "PUT",
        f"/submissions/{submission_id}/gateway/upstream",
        200,
        json={
            "base_url": "https://evidence-test.invalid/v1",
            "upstream_model": "helios-internal",
            "public_model": PUBLIC_MODEL,
            "api_key": "sk-evidence",
        },
    )


def eval_log(
    target: Path,
    outcomes: Mapping[str, Sequence[bool]],
    *,
    started: datetime,
    task: str = "ctf",
    model: str = GATEWAY_MODEL,
    base_url: str | None = GATEWAY_URL,
    metadata: Mapping[str, Mapping[str, Any]] | None = None,
    sample_target: str = "",
    store: Mapping[str, Any] | None = None,
    answer: str = "done",
) -> Path:
    """Write a ``.eval`` log: one sample per key of ``outcomes``, one epoch per entry (solved
    or not), one model call per sample-epoch, over one minute from ``started``."""
    samples = []
    prompt, completion = TOKENS_PER_CALL
    for sample_id, epochs in outcomes.items():
        for epoch, solved in enumerate(epochs, start=1):
            output = ModelOutput.from_content(model, answer)
            output.usage = ModelUsage(
                input_tokens=prompt, output_tokens=completion, total_tokens=prompt + completion
            )
            samples.append(
                EvalSample(
                    id=sample_id,
                    epoch=epoch,
                    input="Find the flag.",
                    target=sample_target,
                    metadata=dict((metadata or {}).get(sample_id, {})),
                    store=dict(store or {}),
                    output=output,
                    scores={"flag_scorer": Score(value="C" if solved else "I", answer=answer)},
                    events=[
                        ModelEvent(
                            model=model,
                            input=[],
                            tools=[],
                            tool_choice="none",
                            config=GenerateConfig(),
                            output=output,
                        )
                    ],
                )
            )
    calls = len(samples)
    log = EvalLog(
        status="success",
        eval=EvalSpec(
            created=started.isoformat(),
            task=f"prereview/{task}",
            dataset=EvalDataset(name=task, samples=len(outcomes)),
            model=model,
            model_base_url=base_url,
            config=EvalConfig(epochs=max((len(e) for e in outcomes.values()), default=1)),
            metadata={"elicitation": {"scaffold": "basic_agent"}},
        ),
        stats=EvalStats(
            started_at=started.isoformat(),
            completed_at=(started + timedelta(minutes=1)).isoformat(),
            model_usage={
                model: ModelUsage(
                    input_tokens=prompt * calls,
                    output_tokens=completion * calls,
                    total_tokens=(prompt + completion) * calls,
                )
            },
        ),
        samples=samples,
    )
    write_eval_log(log, str(target), format="eval")
    return target


def gateway_calls(
    platform: Platform,
    submission_id: str,
    count: int,
    at: datetime,
    who: str = "agency",
    prefix: str = "call",
) -> None:
    """``count`` completed gateway calls by ``who``'s keys, in the audit log at ``at``."""
    prompt, completion = TOKENS_PER_CALL
    records = [
        CallRecord(
            call_id=f"{prefix}-{who}-{n}",
            started_at=at,
            endpoint="chat.completions",
            status=200,
            latency_ms=10.0,
            access_id="gnt_evidence",
            org_id=platform[who].org_id,
            submission_id=submission_id,
            key_id="gwk_evidence",
            model=PUBLIC_MODEL,
            prompt_tokens=prompt,
            completion_tokens=completion,
        )
        for n in range(count)
    ]
    with transaction(platform.context.sessions) as db:
        gateway.record_calls(db, records, at)


def upload_run(
    platform: Platform,
    submission_id: str,
    log: Path,
    *,
    who: str = "agency",
    task: str = "ctf",
    posted: Mapping[str, Any] | None = None,
    expect: int = 201,
) -> Any:
    """Post a run of one task (only its name, unless ``posted`` adds numbers), then its log;
    the answer of the log upload (the result as the server recomputed it, or the problem)."""
    body = {"task": task, "status": "success"} | dict(posted or {})
    run = platform.call(
        who,
        "POST",
        f"/submissions/{submission_id}/evals",
        201,
        json={"model": GATEWAY_MODEL, "tasks": [body]},
    ).json()
    answer = platform.call(
        who,
        "POST",
        f"/eval-results/{run['tasks'][0]['id']}/log",
        expect,
        params={"filename": log.name},
        content=log.read_bytes(),
    )
    return answer.json() | {"run_id": run["id"]}


def evidence_run(
    platform: Platform,
    submission_id: str,
    folder: Path,
    outcomes: Mapping[str, Sequence[bool]],
    *,
    started: datetime,
    who: str = "agency",
    task: str = "ctf",
    metadata: Mapping[str, Mapping[str, Any]] | None = None,
) -> Any:
    """A run through the gateway: its calls in the audit log, its log uploaded; the result."""
    calls = sum(len(e) for e in outcomes.values())
    gateway_calls(
        platform, submission_id, calls, started + timedelta(seconds=30), who, f"{started:%d%H%M}"
    )
    log = eval_log(
        folder / f"{who}-{task}-{started:%H%M%S}.eval",
        outcomes,
        started=started,
        task=task,
        metadata=metadata,
    )
    return upload_run(platform, submission_id, log, who=who, task=task)


def solved(count: int, of: int, epochs: int = 1) -> dict[str, list[bool]]:
    """``of`` samples, the first ``count`` solved in every epoch."""
    return {f"s{n:03d}": [n < count] * epochs for n in range(of)}
