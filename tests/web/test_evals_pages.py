"""The evaluations page: each result drawn with its interval per task, tier and category, as
the server recorded it (evidence, calibration, pending); the exact command for a reviewer with
live access; the developer's view; and the refusals the API gives the same callers."""

from __future__ import annotations

import hashlib
import shlex
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer
from sqlalchemy import func, select

from prereview.audit.models import AuditEntry
from prereview.core.db import transaction
from prereview.evals.commands import evals as eval_commands
from prereview.web.pages.evals import breakdown, eval_command
from support.factories import Platform
from support.factories.evals import (
    eval_log,
    evidence_run,
    gateway_calls,
    register_gateway,
    solved,
    upload_run,
)
from web.test_pages import sign_in

START = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)
SVG = "{http://www.w3.org/2000/svg}"
HOSTILE_MODEL = "openai/<b>bold</b>"

# Six ctf samples over two tiers and two categories: tier 1 solved, tier 2 half solved.
METADATA = {
    "s000": {"tier": 1, "category": "web"},
    "s001": {"tier": 1, "category": "web"},
    "s002": {"tier": 1, "category": "crypto"},
    "s003": {"tier": 2, "category": "crypto"},
    "s004": {"tier": 2, "category": "crypto"},
    "s005": {"tier": 2, "category": "web"},
}


def granted(platform: Platform) -> str:
    sub = platform.submit(model_name="Helios")
    platform.grant(sub["id"])
    register_gateway(platform, sub["id"])
    return str(sub["id"])


def later(platform: Platform) -> None:
    """A minute on: runs are listed oldest first."""
    platform.context.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]


def with_results(platform: Platform, tmp_path: Path) -> tuple[str, dict[str, Any]]:
    """A submission with one evidence run (tiers and categories), one calibration run (another
    model, whose name a log chose) and one pending result (posted numbers, no log)."""
    sid = granted(platform)
    outcomes = {
        k: [v] for k, v in zip(METADATA, [True, True, True, True, False, False], strict=True)
    }
    gateway_calls(platform, sid, len(outcomes), START + timedelta(hours=1, seconds=30))
    log = eval_log(
        tmp_path / "evidence.eval", outcomes, started=START + timedelta(hours=1), metadata=METADATA
    )
    evidence = upload_run(platform, sid, log)
    later(platform)
    calibration_log = eval_log(
        tmp_path / "calibration.eval",
        solved(1, 4),
        started=START + timedelta(hours=2),
        model=HOSTILE_MODEL,
    )
    calibration = upload_run(platform, sid, calibration_log)
    later(platform)
    pending = platform.call(
        "agency",
        "POST",
        f"/submissions/{sid}/evals",
        201,
        json={
            "model": "openai/helios-2",
            "tasks": [
                {
                    "task": "patch",
                    "status": "success",
                    "accuracy": 0.5,
                    "ci_lower": 0.3,
                    "ci_upper": 0.7,
                    "samples": 20,
                }
            ],
        },
    ).json()
    assert evidence["kind"] == "evidence" and calibration["kind"] == "calibration"
    return sid, {"evidence": evidence, "calibration": calibration, "pending": pending}


def charts(html: str) -> dict[str, ET.Element]:
    """The page's SVG charts by id, parsed as XML (inline SVG must stay well-formed)."""
    found = {}
    rest = html
    while "<svg" in rest:
        start = rest.index("<svg")
        end = rest.index("</svg>", start) + len("</svg>")
        svg = ET.fromstring(rest[start:end])  # our own page
        found[svg.get("id", "")] = svg
        rest = rest[end:]
    return found


def kinds(svg: ET.Element) -> list[str]:
    return [g.get("data-kind", "") for g in svg.iter(f"{SVG}g") if g.get("class") == "interval"]


def audited_reads(platform: Platform, sid: str) -> int:
    with transaction(platform.context.sessions) as db:
        return (
            db.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == "evals:result:read", AuditEntry.submission_id == sid)
            )
            or 0
        )


def test_the_reviewer_sees_each_interval_as_the_server_recorded_it(
    platform: Platform, tmp_path: Path
) -> None:
    sid, made = with_results(platform, tmp_path)
    sign_in(platform, "agency")
    before = audited_reads(platform, sid)
    page = platform.client.get(f"/web/submissions/{sid}/evaluations")
    assert page.status_code == 200, page.text
    drawn = charts(page.text)
    assert set(drawn) == {"chart-tasks", "chart-tiers", "chart-categories"}
    # One interval per task result, in run order, each of its recorded kind.
    assert kinds(drawn["chart-tasks"]) == ["evidence", "calibration", "pending"]
    assert drawn["chart-tasks"].get("data-intervals") == "3"
    # The evidence run has two tiers and two categories; the calibration log none.
    assert kinds(drawn["chart-tiers"]) == ["evidence", "evidence"]
    assert kinds(drawn["chart-categories"]) == ["evidence", "evidence"]
    labels = [
        t.text for t in drawn["chart-tiers"].iter(f"{SVG}text") if t.get("text-anchor") == "end"
    ]
    assert labels == ["ctf · run 1 · tier 1", "ctf · run 1 · tier 2"]
    # Tier 1 (three of three solved) sits right of tier 2 (one of three).
    rows = [g for g in drawn["chart-tiers"].iter(f"{SVG}g") if g.get("class") == "interval"]
    dots = [float(next(c for c in g.iter(f"{SVG}circle")).get("cx", "0")) for g in rows]
    assert dots[0] > dots[1]
    # The table says why a result is not evidence, the log's chosen model name escaped.
    assert "calibration run (scripted, guesser or another model) is never evidence" in page.text
    assert "<b>bold</b>" not in page.text and "&lt;b&gt;bold&lt;/b&gt;" in page.text
    assert "no log uploaded yet" in page.text
    assert f"{made['evidence']['ci_lower']:.3f}" in page.text
    # A reviewer's read of results is audited, as through the API.
    assert audited_reads(platform, sid) == before + 1


def test_a_live_reviewer_gets_the_exact_command_with_real_flags(
    platform: Platform, tmp_path: Path
) -> None:
    sid = granted(platform)
    sign_in(platform, "agency")
    page = platform.client.get(f"/web/submissions/{sid}/evaluations")
    assert page.status_code == 200
    lines = eval_command("http://testserver", sid)
    run = lines[-1]
    assert run in page.text.replace("&#39;", "'")
    assert "PREREVIEW_GATEWAY_KEY" in page.text and "PREREVIEW_TOKEN" in page.text
    assert 'id="no-results"' in page.text  # nothing run yet: the page says what fills it
    # The flags are those the command line defines: click parses them as `prereview eval run`.
    argv = shlex.split(run)
    assert argv[:3] == ["prereview", "eval", "run"]
    command = typer.main.get_command(eval_commands)
    run_command = command.commands["run"]  # type: ignore[attr-defined]
    parsed = run_command.make_context("run", argv[3:])
    assert parsed.params["submission"] == sid
    assert parsed.params["server"] == "http://testserver"
    assert parsed.params["tasks"] == "ctf,vuln_discovery,patch"
    # A hostile id cannot break out of the shell line.
    assert shlex.split(eval_command("http://x", "a; rm -rf ~")[-1])[4] == "a; rm -rf ~"


def test_the_developer_sees_every_result_and_no_command(platform: Platform, tmp_path: Path) -> None:
    sid, _ = with_results(platform, tmp_path)
    sign_in(platform, "developer")
    before = audited_reads(platform, sid)
    page = platform.client.get(f"/web/submissions/{sid}/evaluations")
    assert page.status_code == 200
    assert kinds(charts(page.text)["chart-tasks"]) == ["evidence", "calibration", "pending"]
    assert "prereview eval run --submission" not in page.text.split('id="results"')[0]
    assert 'id="eval-command"' not in page.text
    assert "agency org" in page.text  # who ran it, by name
    assert "Determination notices" in page.text
    assert audited_reads(platform, sid) == before  # the owner's reads are its own


def test_refused_as_the_api_refuses(platform: Platform, tmp_path: Path) -> None:
    sid = granted(platform)
    for who, status in (
        ("other_agency", 404),
        ("other_developer", 404),
        ("clearinghouse", 404),
    ):
        sign_in(platform, who)
        answer = platform.client.get(f"/web/submissions/{sid}/evaluations")
        assert answer.status_code == status, (who, answer.status_code)
        assert "Helios" not in answer.text
    platform.client.cookies.clear()
    anonymous = platform.client.get(f"/web/submissions/{sid}/evaluations", follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/web/login"


def test_after_access_ends_the_agency_keeps_its_own_runs_and_loses_the_command(
    platform: Platform, tmp_path: Path
) -> None:
    sid = granted(platform)
    platform.grant(sid, agency="other_agency")
    evidence_run(platform, sid, tmp_path, solved(3, 4), started=START + timedelta(hours=1))
    later(platform)
    evidence_run(
        platform,
        sid,
        tmp_path,
        solved(1, 4),
        started=START + timedelta(hours=2),
        who="other_agency",
    )
    sign_in(platform, "agency")
    live = platform.client.get(f"/web/submissions/{sid}/evaluations")
    assert kinds(charts(live.text)["chart-tasks"]) == ["evidence", "evidence"]
    assert 'id="eval-command"' in live.text
    platform.call("developer", "POST", f"/submissions/{sid}/release", 200)
    ended = platform.client.get(f"/web/submissions/{sid}/evaluations")
    assert ended.status_code == 200
    assert kinds(charts(ended.text)["chart-tasks"]) == ["evidence"]
    assert "other_agency org" not in ended.text
    assert 'id="eval-command"' not in ended.text


def test_breakdown_reads_groups_in_natural_order() -> None:
    metrics = {
        "accuracy": 0.5,
        "tier/10/accuracy": 0.1,
        "tier/2/accuracy": 0.2,
        "tier/2/ci_lower": 0.1,
        "category/web/accuracy": 0.3,
        "tier/odd": 1.0,  # not a group member's figure
    }
    assert breakdown(metrics, "tier") == [
        ("2", {"accuracy": 0.2, "ci_lower": 0.1}),
        ("10", {"accuracy": 0.1}),
    ]
    assert breakdown(metrics, "category") == [("web", {"accuracy": 0.3})]
    assert breakdown({}, "tier") == []


def test_logs_download_whole_for_their_agency_and_redacted_for_the_developer(
    platform: Platform, tmp_path: Path
) -> None:
    sid = granted(platform)
    platform.grant(sid, agency="other_agency")
    made = evidence_run(platform, sid, tmp_path, solved(3, 4), started=START + timedelta(hours=1))
    original = next(tmp_path.glob("agency-ctf-*.eval")).read_bytes()
    path = f"/web/eval-results/{made['id']}/download"
    sign_in(platform, "agency")
    page = platform.client.get(f"/web/submissions/{sid}/evaluations")
    assert f'href="{path}"' in page.text
    whole = platform.client.get(path)
    assert whole.status_code == 200 and whole.content == original
    assert whole.headers["x-log-redacted"] == "false"
    assert whole.headers["x-content-sha256"] == hashlib.sha256(original).hexdigest()
    assert "attachment" in whole.headers["content-disposition"]
    sign_in(platform, "developer")
    page = platform.client.get(f"/web/submissions/{sid}/evaluations")
    assert f'href="{path}"' in page.text and "redacted copy" in page.text
    redacted = platform.client.get(path)
    assert redacted.status_code == 200 and redacted.headers["x-log-redacted"] == "true"
    assert redacted.content != original
    assert redacted.headers["x-content-sha256"] == hashlib.sha256(redacted.content).hexdigest()
    # Another agency sees the run while its grant is live, but not a link to the whole log.
    sign_in(platform, "other_agency")
    page = platform.client.get(f"/web/submissions/{sid}/evaluations")
    assert 'class="result"' in page.text and f'href="{path}"' not in page.text
    assert platform.client.get(path).status_code == 403
    sign_in(platform, "other_developer")
    refused = platform.client.get(path)
    assert refused.status_code == 404 and "evaluation result" in refused.text
    with transaction(platform.context.sessions) as db:
        downloads = db.scalars(
            select(AuditEntry.actor_org_id).where(AuditEntry.action == "evals:log:download")
        ).all()
    assert sorted(downloads) == sorted([platform["agency"].org_id, platform["developer"].org_id])
