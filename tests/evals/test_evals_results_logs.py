"""Inspect logs: uploaded encrypted, downloaded by the authorized only, audited, readable by
Inspect afterwards, and shredded with the submission."""

from __future__ import annotations

import dataclasses
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from inspect_ai import Task, eval
from inspect_ai.dataset import Sample
from inspect_ai.log import read_eval_log
from inspect_ai.scorer import match
from inspect_ai.solver import generate

import prereview.evals._registry  # noqa: F401 - the offline model APIs
from prereview.evals import evidence
from prereview.evals.runner import result_from_log
from prereview.evals.schemas import TaskResultIn
from prereview.evals.scoring import wilson_interval
from support.evidence import (
    GATEWAY_MODEL,
    eval_log,
    gateway_calls,
    register_gateway,
    solved,
    upload_run,
)
from support.factories import Platform

START = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)
FLAG = "FLAG{" + "0123456789abcdef" * 2 + "}"


@pytest.fixture(scope="module")
def inspect_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real .eval log of a two-sample task, made offline by the scripted model."""
    folder = tmp_path_factory.mktemp("inspect-logs")
    task = Task(
        dataset=[
            Sample(input="Find the flag.", target="no flag found"),
            Sample(input="Find it again.", target="no flag found"),
        ],
        solver=generate(),
        scorer=match(),
        name="ctf",
    )
    [log] = eval(task, model="prereview-scripted/reference", log_dir=str(folder), display="none")
    assert log.status == "success"
    return Path(log.location)


def payload(log_path: Path) -> dict[str, Any]:
    summary = result_from_log(read_eval_log(str(log_path)))
    known = set(TaskResultIn.model_fields)
    task = {k: v for k, v in dataclasses.asdict(summary).items() if k in known}
    return {"model": "prereview-scripted/reference", "tasks": [task]}


def upload(platform: Platform, who: str, result_id: str, content: bytes, name: str) -> Any:
    return platform.call(
        who,
        "POST",
        f"/eval-results/{result_id}/log",
        params={"filename": name},
        content=content,
    )


def test_log_round_trip_opens_in_inspect(
    platform: Platform, inspect_log: Path, tmp_path: Path
) -> None:
    sub = platform.submit()
    platform.grant(sub["id"])
    run = platform.call(
        "agency", "POST", f"/submissions/{sub['id']}/evals", 201, json=payload(inspect_log)
    ).json()
    stored = run["tasks"][0]
    assert stored["task"] == "ctf" and stored["accuracy"] == 1.0 and stored["samples"] == 2
    content = inspect_log.read_bytes()
    answer = upload(platform, "agency", stored["id"], content, inspect_log.name)
    assert answer.status_code == 201, answer.text
    assert answer.json()["log"]["size"] == len(content)
    # At rest the blob is ciphertext, not the zip.
    blobs = list(platform.context.settings.blob_dir.rglob(f"{stored['id']}.prvs"))
    assert len(blobs) == 1 and b"PK\x03\x04" not in blobs[0].read_bytes()[:64]
    for who in ("developer", "agency"):
        got = platform.call(who, "GET", f"/eval-results/{stored['id']}/log", 200)
        # The agency gets the log whole, the developer a redacted copy (see below).
        assert (got.content == content) == (who == "agency")
        assert got.headers["x-log-redacted"] == ("true" if who == "developer" else "false")
        target = tmp_path / f"{who}.eval"
        target.write_bytes(got.content)
        assert read_eval_log(str(target)).results is not None
    for who in ("other_developer", "other_agency", "clearinghouse"):
        platform.call(who, "GET", f"/eval-results/{stored['id']}/log", 404)
    platform.call(None, "GET", f"/eval-results/{stored['id']}/log", 401)
    audit = platform.call("developer", "GET", f"/submissions/{sub['id']}/audit", 200).json()
    actions = [e["action"] for e in audit["items"]]
    assert actions.count("evals:log:download") == 2 and "evals:log:create" in actions


def test_log_uploads_are_checked_and_never_replaced(platform: Platform, inspect_log: Path) -> None:
    sub = platform.submit()
    platform.grant(sub["id"])
    platform.grant(sub["id"], agency="other_agency")
    run = platform.call(
        "agency", "POST", f"/submissions/{sub['id']}/evals", 201, json=payload(inspect_log)
    ).json()
    rid = run["tasks"][0]["id"]
    content = inspect_log.read_bytes()
    for who, body, name, status, slug in [
        ("agency", b"not a zip at all", "x.eval", 422, "eval-log-not-inspect"),
        ("agency", content, "x.txt", 422, "eval-log-not-inspect"),
        ("agency", b"", "x.eval", 422, "eval-log-empty"),
        ("other_agency", content, "x.eval", 403, "forbidden"),
        ("developer", content, "x.eval", 403, "forbidden"),
    ]:
        answer = upload(platform, who, rid, body, name)
        assert answer.status_code == status, (who, name, answer.text)
        assert answer.json()["type"].endswith(slug)
    platform.call("agency", "GET", f"/eval-results/{rid}/log", 404)  # nothing was kept
    assert list(platform.context.settings.blob_dir.rglob(f"{rid}*")) == []
    assert upload(platform, "agency", rid, content, inspect_log.name).status_code == 201
    again = upload(platform, "agency", rid, content, inspect_log.name)
    assert again.status_code == 409 and again.json()["type"].endswith("eval-log-exists")


def test_withdrawal_shreds_the_logs(platform: Platform, inspect_log: Path) -> None:
    sub = platform.submit()
    platform.grant(sub["id"])
    run = platform.call(
        "agency", "POST", f"/submissions/{sub['id']}/evals", 201, json=payload(inspect_log)
    ).json()
    rid = run["tasks"][0]["id"]
    assert upload(platform, "agency", rid, inspect_log.read_bytes(), "a.eval").status_code == 201
    platform.call("developer", "POST", f"/submissions/{sub['id']}/withdraw", 200)
    gone = platform.call("developer", "GET", f"/eval-results/{rid}/log")
    assert gone.status_code == 410 and gone.json()["type"].endswith("vault-key-shredded")
    # The numbers stay on record; only the log, which holds the transcripts, is gone.
    assert platform.call("developer", "GET", f"/submissions/{sub['id']}/evals", 200).json()


def test_a_log_inspect_cannot_read_is_refused_and_not_kept(platform: Platform) -> None:
    sub = platform.submit()
    platform.grant(sub["id"])
    run = platform.call(
        "agency",
        "POST",
        f"/submissions/{sub['id']}/evals",
        201,
        json={"model": "m", "tasks": [{"task": "ctf", "status": "success"}]},
    ).json()
    rid = run["tasks"][0]["id"]
    answer = upload(platform, "agency", rid, b"PK\x03\x04 looks like a zip, is not", "x.eval")
    assert answer.status_code == 422 and answer.json()["type"].endswith("eval-log-unreadable")
    assert list(platform.context.settings.blob_dir.rglob(f"{rid}*")) == []
    assert (
        platform.call("agency", "GET", f"/submissions/{sub['id']}/evals", 200).json()[0]["tasks"][
            0
        ]["kind"]
        == "pending"
    )


def test_the_forged_upload_is_never_evidence(platform: Platform, tmp_path: Path) -> None:
    """A hand-made run, ``samples: 5000`` for a 26-challenge task and no log, used to be
    stored as it came (201) and counted. Now it stays ``pending``; its log, once it comes,
    must bear the numbers out (422 otherwise, and nothing kept)."""
    sub = platform.submit()
    platform.grant(sub["id"])
    register_gateway(platform, sub["id"])
    posted = {"accuracy": 0.97, "ci_lower": 0.96, "ci_upper": 0.98, "samples": 5000}
    log = eval_log(tmp_path / "ctf.eval", solved(0, 26), started=START)
    gateway_calls(platform, sub["id"], 26, START)
    refused = upload_run(platform, sub["id"], log, posted=posted, expect=422)
    assert refused["type"].endswith("eval-log-mismatch")
    assert "5000" in refused["detail"] and "26 distinct samples" in refused["detail"]
    [run] = [
        r
        for r in platform.call("agency", "GET", f"/submissions/{sub['id']}/evals", 200).json()
        if r["id"] == refused["run_id"]
    ]
    assert run["tasks"][0]["kind"] == "pending" and run["tasks"][0]["log"] is None
    # The same log with no numbers posted: the server's numbers, 0 of 26.
    stored = upload_run(platform, sub["id"], log)
    assert stored["kind"] == "evidence"
    assert (stored["accuracy"], stored["samples"], stored["model_calls"]) == (0.0, 26, 26)
    assert stored["suite_version"] and len(stored["config_sha256"]) == 64


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


def test_the_developer_receives_no_flag_solution_or_ground_truth(
    platform: Platform, tmp_path: Path
) -> None:
    sub = platform.submit()
    platform.grant(sub["id"])
    register_gateway(platform, sub["id"])
    secrets = {
        "solution": [{"tool": "bash", "code": "cat /tmp/.flag"}],
        "truth": {"vulnerable": True, "locations": [["src/app.py", "login"]]},
        "category": "web",
    }
    log = eval_log(
        tmp_path / "flagged.eval",
        {"web-1": [True], "web-2": [False]},
        started=START,
        metadata={"web-1": secrets, "web-2": secrets},
        sample_target=FLAG,
        store={"prereview:flag": FLAG},
        answer=f"the flag is {FLAG}",
    )
    gateway_calls(platform, sub["id"], 2, START)
    stored = upload_run(platform, sub["id"], log)
    full = platform.call("agency", "GET", f"/eval-results/{stored['id']}/log", 200).content
    mine = platform.call("developer", "GET", f"/eval-results/{stored['id']}/log", 200)
    assert full == log.read_bytes()

    def text_of(data: bytes, name: str) -> bytes:
        path = tmp_path / name
        path.write_bytes(data)
        with zipfile.ZipFile(path) as archive:
            return b"".join(archive.read(n) for n in archive.namelist())

    assert FLAG.encode() in text_of(full, "full.eval")
    everything = text_of(mine.content, "mine.eval")
    for secret in (FLAG.encode(), b"cat /tmp/.flag", b"src/app.py", b"prereview:flag"):
        assert secret not in everything
    redacted = read_eval_log(str(tmp_path / "mine.eval"))
    assert redacted.samples and all(s.target == "" for s in redacted.samples)
    assert redacted.samples[0].metadata == {"category": "web"}
    assert redacted.results is None or redacted.eval.model == GATEWAY_MODEL
    assert mine.headers["x-content-sha256"] and mine.headers["x-log-redacted"] == "true"


def test_paired_samples_are_one_unit_of_the_interval(tmp_path: Path) -> None:
    """A vulnerable program and its safe twin are not independent: the interval counts pairs,
    and epochs of one sample are one sample."""
    outcomes = {f"p{n}-{half}": [n < 6] * 3 for n in range(10) for half in ("vuln", "safe")}
    metadata = {key: {"pair": key.split("-")[0]} for key in outcomes}
    log = eval_log(
        tmp_path / "vd.eval", outcomes, started=START, task="vuln_discovery", metadata=metadata
    )
    found = evidence.recompute(evidence.read_log(log))
    assert (found.samples, found.clusters, found.sample_epochs) == (20, 10, 60)
    assert found.accuracy == 0.6 and found.metrics["pair_accuracy"] == 0.6
    assert (found.ci_lower, found.ci_upper) == wilson_interval(6, 10)  # 10 pairs, not 60
    assert found.pass_at_k == {"pass_at_3": 0.6}
