"""Whether an uploaded log is evidence (:mod:`prereview.evals.provenance`): the gateway's
model, reached through the gateway, its calls in the gateway's audit trail and unclaimed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from support.factories import Platform
from support.factories.evals import (
    GATEWAY_MODEL,
    eval_log,
    gateway_calls,
    register_gateway,
    solved,
    upload_run,
)

START = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)


def test_a_log_needs_the_gateway_model_and_its_calls_to_be_evidence(
    platform: Platform, tmp_path: Path
) -> None:
    sub = platform.submit()
    sid = sub["id"]
    platform.grant(sid)
    platform.grant(sid, agency="other_agency")
    register_gateway(platform, sid)
    outcomes = solved(10, 10)

    def kind_of(name: str, **fields: Any) -> tuple[str, str | None]:
        log = eval_log(tmp_path / f"{name}.eval", outcomes, started=START, **fields)
        result = upload_run(platform, sid, log)
        return result["kind"], result["kind_reason"]

    # The scripted model (or any other) is a calibration run, whatever it scores.
    kind, why = kind_of("scripted", model="prereview-scripted/reference", base_url=None)
    assert kind == "calibration" and "never evidence" in str(why)
    # The gateway model's name, but another endpoint.
    kind, why = kind_of("elsewhere", base_url="https://api.example.com/v1")
    assert kind == "calibration" and "/gateway/v1" in str(why)
    # The right name and URL, but the gateway served no such calls: a made-up log.
    kind, why = kind_of("made-up")
    assert kind == "calibration" and "audit trail has 0" in str(why)
    # Calls by another agency's keys are not this agency's.
    gateway_calls(platform, sid, 10, START, who="other_agency")
    assert kind_of("theirs")[0] == "calibration"
    # Its own calls, but fewer than the log claims.
    gateway_calls(platform, sid, 9, START, prefix="few")
    assert kind_of("too-few")[0] == "calibration"
    gateway_calls(platform, sid, 1, START, prefix="last")
    assert kind_of("backed") == ("evidence", None)
    # The same calls cannot back a second log.
    kind, why = kind_of("again")
    assert kind == "calibration" and "unclaimed" in str(why)
    # Nor a log whose time span lies away from the calls.
    later = eval_log(tmp_path / "later.eval", outcomes, started=START.replace(hour=15))
    assert upload_run(platform, sid, later)["kind"] == "calibration"
    assert GATEWAY_MODEL == "openai/helios-2"
