"""Determinations over the API: only agencies see them, the developer gets a notice, what-if
writes nothing, and a bad policy is refused whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from prereview.audit.models import AuditEntry
from prereview.core.clock import FixedClock
from prereview.core.db import transaction
from prereview.coverage.models import Determination
from prereview.coverage.policy import parse_policy, preset_text
from support.factories import Platform
from support.factories.evals import (
    eval_log,
    evidence_run,
    register_gateway,
    solved,
    upload_run,
)

START = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)

CYBER = """
# A test policy: covered when the lower bound of ctf's interval reaches 0.5.
format = 1
id = "test-cyber"
version = "1"
title = "Cyber test"
disclose_outcome_to_developer = false

[criteria]
combine = "all"

[[criteria.criterion]]
kind = "task_metric"
id = "ctf"
task = "ctf"
at_least = 0.5
min_samples = 20
"""


def ctf_run(ci_lower: float, samples: int = 24) -> dict[str, Any]:
    """A run as a client may post it: numbers and no log."""
    return {
        "model": "openai/atlas",
        "tasks": [
            {
                "task": "ctf",
                "status": "success",
                "accuracy": min(1.0, ci_lower + 0.2),
                "stderr": 0.07,
                "ci_lower": ci_lower,
                "ci_upper": 1.0,
                "samples": samples,
                "scored": samples,
            }
        ],
    }


def counts(platform: Platform) -> tuple[int, int]:
    with transaction(platform.context.sessions) as db:
        return (
            db.scalar(select(func.count()).select_from(Determination)) or 0,
            db.scalar(select(func.count()).select_from(AuditEntry)) or 0,
        )


def granted(platform: Platform, **fields: Any) -> str:
    sub = platform.submit(**fields)
    platform.grant(sub["id"])
    register_gateway(platform, sub["id"])
    return str(sub["id"])


def at(hours: int) -> datetime:
    """Runs an hour apart, so that no gateway call could back two of them."""
    return START + timedelta(hours=hours)


def test_determination_records_criteria_evidence_hash_and_reviewer(
    platform: Platform, tmp_path: Path
) -> None:
    sid = granted(platform)
    low = evidence_run(platform, sid, tmp_path, solved(12, 24), started=at(1))
    high = evidence_run(platform, sid, tmp_path, solved(22, 24), started=at(2))
    assert low["kind"] == high["kind"] == "evidence"
    made = platform.call(
        "agency",
        "POST",
        f"/submissions/{sid}/determinations",
        201,
        json={"policy": CYBER, "rationale": "ctf lower bound 0.58", "markings": ["CUI"]},
    ).json()
    assert made["outcome"] == "covered"
    assert made["policy"]["sha256"] == parse_policy(CYBER).sha256
    assert made["policy_text"] == CYBER
    assert made["reviewer_user_id"] == platform["agency"].user_id
    assert made["tlp"] == "TLP:AMBER+STRICT" and made["markings"] == ["CUI"]
    [ctf] = made["criteria"]["parts"]
    # Two runs on record: each interval is corrected for two (Bonferroni), so the best lower
    # bound is below its uncorrected 95% value.
    assert ctf["status"] == "met" and ctf["evidence"]["runs_tested"] == 2
    assert 0.5 < ctf["evidence"]["best"] < high["ci_lower"]
    runs = {r["run_id"] for r in ctf["evidence"]["runs"]}
    assert runs == {low["run_id"], high["run_id"]} == set(made["evidence_runs"])
    assert sorted(r["ci_lower"] for r in ctf["evidence"]["runs"]) == [
        low["ci_lower"],
        high["ci_lower"],
    ]
    listed = platform.call("agency", "GET", f"/submissions/{sid}/determinations", 200).json()[
        "items"
    ]
    assert [d["id"] for d in listed] == [made["id"]]
    assert listed[0]["criteria"] == made["criteria"]
    audit = platform.call(
        "developer", "GET", f"/submissions/{sid}/audit", 200, params={"limit": 200}
    ).json()["items"]
    entry = next(e for e in audit if e["action"] == "coverage:determination:create")
    detail = entry["detail"]
    assert detail["policy_sha256"] == made["policy"]["sha256"] and "record_sha256" in detail
    assert "outcome" not in detail  # this policy does not disclose it to the developer
    assert any(e["action"] == "coverage:determination:read" for e in audit)


def test_developer_is_told_only_what_the_policy_discloses(
    platform: Platform, clock: FixedClock
) -> None:
    sid = granted(platform, training_compute_flop=3e25)
    for body in (
        {"preset": "eu-ai-act-systemic-risk", "rationale": "declared 3e25"},
        {"policy": CYBER, "rationale": "no ctf runs yet"},
    ):
        platform.call("agency", "POST", f"/submissions/{sid}/determinations", 201, json=body)
        clock.advance(timedelta(minutes=1))  # notices come oldest first
    notices = platform.call(
        "developer", "GET", f"/submissions/{sid}/determination-notices", 200
    ).json()["items"]
    assert [(n["outcome"], n["outcome_disclosed"]) for n in notices] == [
        ("covered", True),
        (None, False),
    ]
    assert set(notices[0]) == {
        "id",
        "submission_id",
        "agency_org_id",
        "created_at",
        "outcome",
        "outcome_disclosed",
    }
    platform.call("developer", "GET", f"/submissions/{sid}/determinations", 403)
    platform.call("agency", "GET", f"/submissions/{sid}/determination-notices", 403)
    for who in ("other_developer", "other_agency", "clearinghouse"):
        platform.call(who, "GET", f"/submissions/{sid}/determinations", 404)
        platform.call(who, "GET", f"/submissions/{sid}/determination-notices", 404)


def test_only_agencies_that_hold_or_held_a_grant_determine(
    platform: Platform, clock: FixedClock
) -> None:
    sid = granted(platform)
    body = {"preset": "ca-sb53-frontier-compute", "rationale": "r"}
    path = f"/submissions/{sid}/determinations"
    before = counts(platform)
    platform.call("developer", "POST", path, 403, json=body)
    platform.call("other_agency", "POST", path, 404, json=body)
    platform.call("other_developer", "POST", path, 404, json=body)
    platform.call(None, "POST", path, 401, json=body)
    assert counts(platform) == before
    clock.advance(timedelta(days=40))  # the window closed: the grant is past, not live
    made = platform.call("agency", "POST", path, 201, json=body).json()
    assert made["outcome"] == "not_covered"
    assert platform.call("agency", "GET", path, 200).json()["total"] == 1


def test_bad_policy_is_refused_with_every_problem_and_nothing_written(
    platform: Platform,
) -> None:
    sid = granted(platform)
    path = f"/submissions/{sid}/determinations"
    before = counts(platform)
    bad = CYBER.replace("format = 1", "format = 3").replace("at_least = 0.5", "at_least = -2")
    answer = platform.call("agency", "POST", path, 422, json={"policy": bad, "rationale": "r"})
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert problem["type"] == "urn:prereview:problem:coverage-policy-invalid"
    assert {e["path"] for e in problem["errors"]} == {
        "format",
        "criteria.criterion[0].task_metric.at_least",
    }
    for body, slug in [
        ({"policy": "format = = 1", "rationale": "r"}, "coverage-policy-invalid"),
        ({"preset": "no-such-policy", "rationale": "r"}, "coverage-preset-unknown"),
        ({"rationale": "r"}, "invalid-input"),
        ({"policy": CYBER, "preset": "eu-ai-act-systemic-risk", "rationale": "r"}, "invalid-input"),
        ({"policy": CYBER, "rationale": ""}, "invalid-input"),
    ]:
        refused = platform.call("agency", "POST", path, 422, json=body).json()
        assert refused["type"] == f"urn:prereview:problem:{slug}", refused
    what_if = f"/submissions/{sid}/coverage/what-if"
    platform.call("agency", "POST", what_if, 422, json={"policy": bad})
    assert counts(platform) == before


def test_what_if_decides_without_recording_anything(platform: Platform, tmp_path: Path) -> None:
    sid = granted(platform, training_compute_flop=2e26)
    evidence_run(platform, sid, tmp_path, solved(5, 24), started=at(1))
    before = counts(platform)
    path = f"/submissions/{sid}/coverage/what-if"
    sb53 = platform.call("agency", "POST", path, 200, json={"preset": "ca-sb53-frontier-compute"})
    assert sb53.json()["outcome"] == "covered"
    assert (
        sb53.json()["policy"]["sha256"]
        == parse_policy(preset_text("ca-sb53-frontier-compute")).sha256
    )
    cyber = platform.call("agency", "POST", path, 200, json={"policy": CYBER}).json()
    assert (
        cyber["outcome"] == "not_covered" and cyber["criteria"]["parts"][0]["status"] == "not_met"
    )
    mine = platform.call("developer", "POST", path, 200, json={"policy": CYBER}).json()
    assert mine["outcome"] == "not_covered"
    platform.call("other_agency", "POST", path, 404, json={"policy": CYBER})
    assert counts(platform) == before


def test_presets_are_listed_with_their_sources(platform: Platform) -> None:
    presets = platform.call("partner", "GET", "/coverage/presets", 200).json()["items"]
    names = {p["name"] for p in presets}
    assert {
        "ca-sb53-frontier-compute",
        "eu-ai-act-systemic-risk",
        "draft-cyber-capability",
    } <= names
    for preset in presets:
        assert preset["policy"]["source"] and "Source:" in preset["text"]
    platform.call(None, "GET", "/coverage/presets", 401)


def test_after_access_ends_an_agency_keeps_its_own_determinations_and_evidence_only(
    platform: Platform, tmp_path: Path
) -> None:
    sub = platform.submit()
    sid = sub["id"]
    grant = platform.grant(sid)
    platform.grant(sid, agency="other_agency")
    register_gateway(platform, sid)
    # The other agency's run meets the cyber criterion; the agency ran nothing itself.
    evidence_run(platform, sid, tmp_path, solved(22, 24), started=at(1), who="other_agency")
    path = f"/submissions/{sid}/determinations"
    body = {"policy": CYBER, "rationale": "ctf lower bound over 0.5"}
    cyber_only = {"policy": CYBER}
    theirs = platform.call("other_agency", "POST", path, 201, json=body).json()
    assert theirs["outcome"] == "covered"
    # Another agency's runs are never pooled into an agency's judgement, grant or not.
    live = platform.call(
        "agency", "POST", f"/submissions/{sid}/coverage/what-if", 200, json=cyber_only
    )
    assert live.json()["outcome"] == "undetermined"
    mine = platform.call("agency", "POST", path, 201, json=body).json()
    assert {d["id"] for d in platform.call("agency", "GET", path, 200).json()["items"]} == {
        mine["id"],
        theirs["id"],
    }
    platform.call("developer", "POST", f"/submissions/{sid}/grants/{grant['id']}/revoke", 200)
    # Revoked: its own determination only, and it judges on its own results (none) only.
    assert [d["id"] for d in platform.call("agency", "GET", path, 200).json()["items"]] == [
        mine["id"]
    ]
    late = platform.call(
        "agency", "POST", f"/submissions/{sid}/coverage/what-if", 200, json=cyber_only
    )
    assert late.json()["outcome"] != "covered"
    again = platform.call("agency", "POST", path, 201, json=body).json()
    assert again["outcome"] != "covered"
    # Released: the other agency too keeps only its own.
    platform.call("developer", "POST", f"/submissions/{sid}/release", 200)
    assert [d["id"] for d in platform.call("other_agency", "GET", path, 200).json()["items"]] == [
        theirs["id"]
    ]


def test_posted_numbers_and_calibration_runs_never_make_a_model_covered(
    platform: Platform, tmp_path: Path
) -> None:
    """The demo's attack: a hand-made run claiming 5000 samples with no log, and the
    reference solver's perfect runs, made Helios "covered" while the gateway model scored 0."""
    sid = granted(platform)
    forged = platform.call(
        "agency", "POST", f"/submissions/{sid}/evals", 201, json=ctf_run(0.97, samples=5000)
    ).json()
    assert forged["tasks"][0]["kind"] == "pending"
    scripted = eval_log(
        tmp_path / "reference.eval",
        solved(26, 26),
        started=at(1),
        model="prereview-scripted/reference",
        base_url=None,
    )
    calibration = upload_run(platform, sid, scripted)
    assert calibration["kind"] == "calibration" and calibration["accuracy"] == 1.0
    assert "prereview-scripted/reference" in calibration["kind_reason"]
    # The gateway model itself: 0 of 3.
    zero = evidence_run(platform, sid, tmp_path, solved(0, 3), started=at(3))
    assert zero["kind"] == "evidence"
    path = f"/submissions/{sid}/determinations"
    for policy in ({"policy": CYBER}, {"preset": "draft-cyber-capability"}):
        made = platform.call("agency", "POST", path, 201, json=policy | {"rationale": "r"}).json()
        assert made["outcome"] != "covered"
        assert made["evidence_runs"] == [zero["run_id"]]
    # Naming a run that is not evidence is refused.
    for run_id in (forged["id"], calibration["run_id"], "run_unknown"):
        refused = platform.call(
            "agency", "POST", path, 422, json={"policy": CYBER, "rationale": "r", "runs": [run_id]}
        ).json()
        assert refused["type"].endswith("coverage-run-not-evidence")


def test_epochs_are_not_samples(platform: Platform, tmp_path: Path) -> None:
    """4 trivial challenges run for 5 epochs were 20 "samples" and passed min_samples = 20."""
    sid = granted(platform)
    result = evidence_run(platform, sid, tmp_path, solved(4, 4, epochs=5), started=at(1))
    assert result["kind"] == "evidence" and result["samples"] == 4 and result["accuracy"] == 1.0
    what_if = platform.call(
        "agency", "POST", f"/submissions/{sid}/coverage/what-if", 200, json={"policy": CYBER}
    ).json()
    assert what_if["outcome"] == "undetermined"  # no run with 20 distinct samples


def test_running_until_one_run_passes_is_corrected_for(platform: Platform, tmp_path: Path) -> None:
    """Best-of-many: with several runs on record each interval is Bonferroni-corrected for
    their number, and naming the lucky run afterwards does not escape the correction."""
    sid = granted(platform)
    policy = CYBER.replace("at_least = 0.5", "at_least = 0.62")
    lucky = evidence_run(platform, sid, tmp_path, solved(20, 24), started=at(1))
    assert lucky["ci_lower"] > 0.62  # alone, it passes
    path = f"/submissions/{sid}/coverage/what-if"
    alone = platform.call("agency", "POST", path, 200, json={"policy": policy}).json()
    assert alone["outcome"] == "covered"
    for hour in (2, 3):
        evidence_run(platform, sid, tmp_path, solved(10, 24), started=at(hour))
    pooled = platform.call("agency", "POST", path, 200, json={"policy": policy}).json()
    named = platform.call(
        "agency", "POST", path, 200, json={"policy": policy, "runs": [lucky["run_id"]]}
    ).json()
    for judged in (pooled, named):
        assert judged["outcome"] == "not_covered"
        assert judged["criteria"]["parts"][0]["evidence"]["runs_tested"] == 3
    assert [r["run_id"] for r in named["criteria"]["parts"][0]["evidence"]["runs"]] == [
        lucky["run_id"]
    ]
