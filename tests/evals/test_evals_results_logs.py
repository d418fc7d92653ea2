"""Inspect logs: uploaded encrypted, downloaded by the authorized only, audited, readable by
Inspect afterwards, and shredded with the submission."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from inspect_ai import Task, eval
from inspect_ai.dataset import Sample
from inspect_ai.log import read_eval_log
from inspect_ai.scorer import match
from inspect_ai.solver import generate

import prereview.evals._registry  # noqa: F401 - the offline model APIs
from prereview.evals.runner import result_from_log
from prereview.evals.schemas import TaskResultIn
from support.factories import Platform


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
        assert got.content == content
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
