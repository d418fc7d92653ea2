"""Evaluation results over the API: who may store and read them, and bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from prereview.core.clock import FixedClock
from prereview.core.db import transaction
from prereview.evals.models import EvalRun, EvalTaskResult
from support.evidence import eval_log
from support.factories import Platform

START = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)


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
        seen = platform.call(who, "GET", path, 200).json()
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
    assert len(platform.call("agency", "GET", path, 200).json()) == 1
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
    assert {r["id"] for r in platform.call("other_agency", "GET", path, 200).json()} == {
        mine,
        theirs,
    }
    platform.call("other_agency", "GET", f"/eval-results/{my_log}/log", 403)
    platform.call("agency", "GET", f"/eval-results/{their_log}/log", 403)
    # The developer revokes the other agency's grant: it keeps its own work, nothing more.
    platform.call(
        "developer", "POST", f"/submissions/{sub['id']}/grants/{other_grant['id']}/revoke", 200
    )
    assert [r["id"] for r in platform.call("other_agency", "GET", path, 200).json()] == [theirs]
    platform.call("other_agency", "GET", f"/eval-results/{my_log}/log", 403)
    assert platform.call("other_agency", "GET", f"/eval-results/{their_log}/log", 200).content == (
        (tmp_path / "other_agency.eval").read_bytes()
    )
    # Released: the window is closed for every agency, each keeps its own.
    platform.call("developer", "POST", f"/submissions/{sub['id']}/release", 200)
    assert [r["id"] for r in platform.call("agency", "GET", path, 200).json()] == [mine]
    platform.call("agency", "GET", f"/eval-results/{their_log}/log", 403)
    platform.call("agency", "GET", f"/eval-results/{my_log}/log", 200)
    assert {r["id"] for r in platform.call("developer", "GET", path, 200).json()} == {mine, theirs}
    platform.call("developer", "GET", f"/eval-results/{their_log}/log", 200)
