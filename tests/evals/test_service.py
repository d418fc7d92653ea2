"""Use cases of evaluation results (:mod:`prereview.evals.service`): who may store and read
runs and results, bad input refused whole; Inspect logs uploaded encrypted, downloaded by the
authorized only (the developer a redacted copy), audited, readable by Inspect afterwards, and
shredded with the submission."""

from __future__ import annotations

import dataclasses
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from inspect_ai import Task, eval
from inspect_ai.dataset import Sample
from inspect_ai.log import read_eval_log
from inspect_ai.scorer import match
from inspect_ai.solver import generate
from sqlalchemy import func, select

import prereview.evals._registry  # noqa: F401 - the offline model APIs
from prereview.core.clock import FixedClock
from prereview.core.db import transaction
from prereview.evals.models import EvalRun, EvalTaskResult
from prereview.evals.runner import result_from_log
from prereview.evals.schemas import TaskResultIn
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


FLAG = "FLAG{" + "0123456789abcdef" * 2 + "}"


def task_result(task: str = "ctf", **fields: Any) -> dict[str, Any]:
    return {
        "task": task,
        "status": "success",
        "accuracy": 0.75,
        "stderr": 0.08,
        "ci_lower": 0.53,
        "ci_upper": 0.89,
        "pass_at_k": {"pass_at_2": 0.8},
        "metrics": {"accuracy": 0.75, "stderr": 0.08},
        "samples": 24,
        "scored": 24,
        "tokens": {"input": 1200, "output": 300, "total": 1500},
        "settings": {"scaffold": "basic_agent", "epochs": 2, "message_limit": 30},
        "duration_s": 41.5,
        "error": None,
    } | fields


def run_payload(*tasks: dict[str, Any]) -> dict[str, Any]:
    return {"model": "openai/atlas", "duration_s": 60.0, "tasks": list(tasks or [task_result()])}


def counts(platform: Platform) -> tuple[int, int, int]:
    with transaction(platform.context.sessions) as db:
        from prereview.audit.models import AuditEntry

        return (
            db.scalar(select(func.count()).select_from(EvalRun)) or 0,
            db.scalar(select(func.count()).select_from(EvalTaskResult)) or 0,
            db.scalar(select(func.count()).select_from(AuditEntry)) or 0,
        )


def test_results_are_stored_and_shown_to_the_developer_and_granted_agencies(
    platform: Platform,
) -> None:
    sub = platform.submit()
    platform.grant(sub["id"])
    platform.grant(sub["id"], agency="other_agency")
    path = f"/submissions/{sub['id']}/evals"
    run = platform.call(
        "agency", "POST", path, 201, json=run_payload(task_result(), task_result("patch"))
    ).json()
    assert [t["task"] for t in run["tasks"]] == ["ctf", "patch"]
    ctf = run["tasks"][0]
    assert (ctf["accuracy"], ctf["stderr"], ctf["ci_lower"], ctf["ci_upper"]) == (
        0.75,
        0.08,
        0.53,
        0.89,
    )
    assert ctf["settings"]["message_limit"] == 30 and ctf["tokens"]["total"] == 1500
    assert ctf["samples"] == 24 and ctf["duration_s"] == 41.5 and ctf["log"] is None
    for who in ("developer", "agency", "other_agency"):
        seen = platform.call(who, "GET", path, 200).json()["items"]
        assert [r["id"] for r in seen] == [run["id"]]
        assert seen[0]["tasks"][1]["task"] == "patch"
    for who in ("other_developer", "clearinghouse"):
        platform.call(who, "GET", path, 404)
    audit = platform.call("developer", "GET", f"/submissions/{sub['id']}/audit", 200).json()
    actions = [e["action"] for e in audit["items"]]
    assert "evals:run:create" in actions
    assert actions.count("evals:result:read") == 2  # the agencies' reads; not the developer's


def test_partners_and_outsiders_cannot_store_or_read(platform: Platform) -> None:
    sub = platform.submit()
    platform.grant(sub["id"])
    nomination = platform.call(
        "agency",
        "POST",
        f"/submissions/{sub['id']}/nominations",
        201,
        json={"partner_org_id": platform["partner"].org_id, "reason": "hospital"},
    ).json()
    platform.call(
        "developer",
        "POST",
        f"/submissions/{sub['id']}/nominations/{nomination['id']}/consent",
        200,
    )
    path = f"/submissions/{sub['id']}/evals"
    platform.call("agency", "POST", path, 201, json=run_payload())
    before = counts(platform)
    platform.call("partner", "GET", path, 403)
    platform.call("partner", "POST", path, 403, json=run_payload())
    platform.call("developer", "POST", path, 403, json=run_payload())
    platform.call("other_agency", "POST", path, 404, json=run_payload())
    platform.call(None, "GET", path, 401)
    assert counts(platform) == before


def test_after_the_window_the_agency_reads_but_stores_no_more(
    platform: Platform, clock: FixedClock
) -> None:
    sub = platform.submit()
    platform.grant(sub["id"], window_days=14)
    path = f"/submissions/{sub['id']}/evals"
    platform.call("agency", "POST", path, 201, json=run_payload())
    clock.advance(timedelta(days=15))
    assert platform.call("agency", "GET", path, 200).json()["total"] == 1
    refused = platform.call("agency", "POST", path, 403, json=run_payload())
    assert refused.headers["content-type"].startswith("application/problem+json")


def test_bad_results_are_refused_whole(platform: Platform) -> None:
    sub = platform.submit()
    platform.grant(sub["id"])
    path = f"/submissions/{sub['id']}/evals"
    before = counts(platform)
    for body in (
        run_payload(task_result(), task_result(ci_lower=0.9, ci_upper=0.5)),
        run_payload(task_result(accuracy=0.2)),  # outside its own interval
        run_payload(task_result(status="exploded")),
        run_payload(task_result(samples=-1)),
        run_payload(task_result(accuracy=1.5, ci_upper=None, ci_lower=None)),
        {"model": "m", "tasks": []},
        run_payload(task_result(unexpected=1)),
    ):
        answer = platform.call("agency", "POST", path, 422, json=body)
        problem = answer.json()
        assert problem["type"] == "urn:prereview:problem:invalid-input"
        assert problem["errors"]
    assert counts(platform) == before


def _run_with_log(platform: Platform, who: str, sub_id: str, folder: Path) -> tuple[str, str]:
    """A run whose posted numbers (0.75 of 24) its log supports."""
    run = platform.call(who, "POST", f"/submissions/{sub_id}/evals", 201, json=run_payload())
    body = run.json()
    result_id = body["tasks"][0]["id"]
    outcomes = {f"s{n}": [n < 18] for n in range(24)}
    log = eval_log(folder / f"{who}.eval", outcomes, started=START)
    platform.call(
        who,
        "POST",
        f"/eval-results/{result_id}/log",
        201,
        params={"filename": "ctf.eval"},
        content=log.read_bytes(),
    )
    return body["id"], result_id


def test_after_its_grant_ends_an_agency_keeps_its_own_results_and_logs_only(
    platform: Platform, tmp_path: Path
) -> None:
    sub = platform.submit()
    platform.grant(sub["id"])
    other_grant = platform.grant(sub["id"], agency="other_agency")
    path = f"/submissions/{sub['id']}/evals"
    mine, my_log = _run_with_log(platform, "agency", sub["id"], tmp_path)
    theirs, their_log = _run_with_log(platform, "other_agency", sub["id"], tmp_path)
    # While both grants are live each agency reads all results, but another agency's logs
    # are never its business.
    assert {r["id"] for r in platform.call("other_agency", "GET", path, 200).json()["items"]} == {
        mine,
        theirs,
    }
    platform.call("other_agency", "GET", f"/eval-results/{my_log}/log", 403)
    platform.call("agency", "GET", f"/eval-results/{their_log}/log", 403)
    # The developer revokes the other agency's grant: it keeps its own work, nothing more.
    platform.call(
        "developer", "POST", f"/submissions/{sub['id']}/grants/{other_grant['id']}/revoke", 200
    )
    assert [r["id"] for r in platform.call("other_agency", "GET", path, 200).json()["items"]] == [
        theirs
    ]
    platform.call("other_agency", "GET", f"/eval-results/{my_log}/log", 403)
    assert platform.call("other_agency", "GET", f"/eval-results/{their_log}/log", 200).content == (
        (tmp_path / "other_agency.eval").read_bytes()
    )
    # Released: the window is closed for every agency, each keeps its own.
    platform.call("developer", "POST", f"/submissions/{sub['id']}/release", 200)
    assert [r["id"] for r in platform.call("agency", "GET", path, 200).json()["items"]] == [mine]
    platform.call("agency", "GET", f"/eval-results/{their_log}/log", 403)
    platform.call("agency", "GET", f"/eval-results/{my_log}/log", 200)
    assert {r["id"] for r in platform.call("developer", "GET", path, 200).json()["items"]} == {
        mine,
        theirs,
    }
    platform.call("developer", "GET", f"/eval-results/{their_log}/log", 200)


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
    assert platform.call("developer", "GET", f"/submissions/{sub['id']}/evals", 200).json()["items"]


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
        platform.call("agency", "GET", f"/submissions/{sub['id']}/evals", 200).json()["items"][0][
            "tasks"
        ][0]["kind"]
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
        for r in platform.call("agency", "GET", f"/submissions/{sub['id']}/evals", 200).json()[
            "items"
        ]
        if r["id"] == refused["run_id"]
    ]
    assert run["tasks"][0]["kind"] == "pending" and run["tasks"][0]["log"] is None
    # The same log with no numbers posted: the server's numbers, 0 of 26.
    stored = upload_run(platform, sub["id"], log)
    assert stored["kind"] == "evidence"
    assert (stored["accuracy"], stored["samples"], stored["model_calls"]) == (0.0, 26, 26)
    assert stored["suite_version"] and len(stored["config_sha256"]) == 64


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
