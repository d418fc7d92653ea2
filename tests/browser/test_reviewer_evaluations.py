"""The agency reviewer's evaluation and coverage journey in a real browser: from the submission
page to the results drawn as intervals (one per result, per tier and per category), the command
to run, a what-if, and the determination recorded after confirming; then the developer sees the
results and the notice. With JavaScript (htmx asks before recording) and without (the what-if's
page is the confirmation, its button the plain form's)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect

from browser.conftest import Live
from browser.test_accessibility import AXE, SERIOUS
from support.factories.evals import (
    eval_log,
    gateway_calls,
    register_gateway,
    solved,
    upload_run,
)

SignIn = Callable[[Page, str], None]

# Four ctf samples over two tiers and two categories.
METADATA = {
    "s000": {"tier": 1, "category": "web"},
    "s001": {"tier": 1, "category": "crypto"},
    "s002": {"tier": 2, "category": "crypto"},
    "s003": {"tier": 2, "category": "web"},
}
CYBER = """format = 1
id = "browser-cyber"
version = "1"
title = "Browser cyber policy"
disclose_outcome_to_developer = true

[criteria]
combine = "all"

[[criteria.criterion]]
kind = "task_metric"
id = "ctf"
task = "ctf"
statistic = "value"
at_least = 0.5
"""


def _with_results(live: Live, name: str, folder: Path) -> str:
    """A granted submission with an evidence run (tiers, categories) and a calibration run."""
    planned = (live.clock.now() + timedelta(days=20)).isoformat()
    sub = live.platform.submit(model_name=name, planned_release_at=planned)
    sid = str(sub["id"])
    live.platform.grant(sid)
    register_gateway(live.platform, sid)
    started = live.clock.now() - timedelta(hours=2)
    outcomes = {k: [v] for k, v in zip(METADATA, [True, True, True, False], strict=True)}
    gateway_calls(live.platform, sid, len(outcomes), started + timedelta(seconds=30), prefix=name)
    evidence = eval_log(folder / f"{name}.eval", outcomes, started=started, metadata=METADATA)
    assert upload_run(live.platform, sid, evidence)["kind"] == "evidence"
    live.clock.advance(timedelta(minutes=1))  # runs are listed oldest first
    calibration = eval_log(
        folder / f"{name}-cal.eval",
        solved(1, 4),
        started=started + timedelta(hours=1),
        model="prereview-scripted/reference",
    )
    assert upload_run(live.platform, sid, calibration)["kind"] == "calibration"
    return sid


def _sees_results(page: Page, name: str, sid: str) -> None:
    page.goto(f"/web/submissions/{sid}")
    page.get_by_role("link", name="Evaluation results").click()
    page.wait_for_url(f"**/web/submissions/{sid}/evaluations")
    expect(page.get_by_role("heading", name=f"Evaluations of {name} 1.0")).to_be_visible()
    tasks = page.locator("svg#chart-tasks g.interval")
    expect(tasks).to_have_count(2)
    assert [tasks.nth(i).get_attribute("data-kind") for i in range(2)] == [
        "evidence",
        "calibration",
    ]
    expect(page.locator("svg#chart-tiers g.interval")).to_have_count(2)
    expect(page.locator("svg#chart-categories g.interval")).to_have_count(2)
    expect(page.locator("svg#chart-tasks line.ci")).to_have_count(2)
    expect(page.locator("#results tr.result[data-kind=calibration]")).to_contain_text(
        "never evidence"
    )


def _determines(page: Page, live: Live, sid: str, folder: Path, javascript: bool) -> None:
    page.goto(f"/web/submissions/{sid}/evaluations")
    command = page.locator("#eval-command")
    expect(command).to_contain_text(f"prereview eval run --submission {sid} --server {live.url}")
    # The site script offers to copy it; without the script the text is there to select.
    copy = page.locator("#copy-command")
    expect(copy).to_be_visible() if javascript else expect(copy).to_be_hidden()
    page.get_by_role("link", name="Coverage determination").click()
    page.wait_for_url(f"**/web/submissions/{sid}/coverage")
    policy = folder / "browser-cyber.toml"
    policy.write_text(CYBER, encoding="utf-8")
    page.check("#source-file")
    page.set_input_files("#policy_file", str(policy))
    page.fill("#rationale", "three of four ctf challenges solved through the gateway")
    page.get_by_role("button", name="Run the what-if").click()
    expect(page.locator("#outcome")).to_contain_text("covered")
    expect(page.locator("#criteria [data-status=met]")).to_have_count(2)  # the group, ctf
    assert _determinations(live, sid) == []  # a what-if records nothing
    expect(page.locator("#consequence")).to_contain_text("with the outcome")
    if javascript:
        asked: list[str] = []

        def accept(dialog: Dialog) -> None:
            asked.append(dialog.message)
            dialog.accept()

        page.once("dialog", accept)
    page.get_by_role("button", name="Record the determination").click()
    page.wait_for_url(f"**/web/submissions/{sid}/coverage")
    if javascript:
        assert asked and asked[0].startswith("Record this determination? Outcome: covered")
    expect(page.locator("#determinations tr.determination")).to_have_count(1)
    expect(page.locator("#determinations")).to_contain_text("Browser cyber policy")
    [made] = _determinations(live, sid)
    assert made["outcome"] == "covered" and made["policy_text"] == CYBER


def _determinations(live: Live, sid: str) -> list[dict[str, object]]:
    answer = live.platform.call("agency", "GET", f"/submissions/{sid}/determinations", 200)
    return list(answer.json()["items"])


def _developer_is_told(page: Page, name: str, sid: str, sign_in: SignIn) -> None:
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "developer")
    _sees_results(page, name, sid)
    expect(page.locator("#eval-command")).to_have_count(0)
    page.get_by_role("link", name="Determination notices").click()
    page.wait_for_url(f"**/web/submissions/{sid}/coverage")
    notice = page.locator("#notices tr.notice")
    expect(notice).to_have_count(1)
    expect(notice).to_contain_text("agency org")
    expect(notice).to_contain_text("covered")
    expect(page.locator("#record")).to_have_count(0)


def test_reviewer_sees_intervals_runs_a_what_if_and_determines(
    page: Page, live: Live, sign_in: SignIn, tmp_path: Path
) -> None:
    sid = _with_results(live, "Orion", tmp_path)
    sign_in(page, "agency")
    _sees_results(page, "Orion", sid)
    _determines(page, live, sid, tmp_path, javascript=True)
    _developer_is_told(page, "Orion", sid, sign_in)


def test_without_javascript_the_what_if_page_is_the_confirmation(
    plain_page: Page, live: Live, sign_in: SignIn, tmp_path: Path
) -> None:
    sid = _with_results(live, "Vega", tmp_path)
    sign_in(plain_page, "agency")
    _sees_results(plain_page, "Vega", sid)
    _determines(plain_page, live, sid, tmp_path, javascript=False)
    _developer_is_told(plain_page, "Vega", sid, sign_in)


def _violations(page: Page) -> list[str]:
    page.add_script_tag(path=AXE)
    found: dict[str, Any] = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    return [f"{v['id']}: {v['help']}" for v in found["violations"] if v.get("impact") in SERIOUS]


def test_the_what_if_and_its_problems_have_no_serious_accessibility_violation(
    browser: Browser, live: Live, sign_in: SignIn, tmp_path: Path
) -> None:
    """The crawl of every page (test_accessibility) follows links; the what-if's page and a
    refused policy are the answers of a form post, so they are checked here."""
    if not AXE.is_file():
        pytest.skip(f"no axe-core at {AXE} (make install)")
    sid = _with_results(live, "Lyra", tmp_path)
    # axe is injected as a script element, which the pages' policy refuses: bypassed here.
    context = browser.new_context(base_url=live.url, bypass_csp=True)
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        sign_in(page, "agency")
        checked = {}
        page.goto(f"/web/submissions/{sid}/evaluations")
        checked["evaluations"] = _violations(page)
        page.goto(f"/web/submissions/{sid}/coverage")
        page.select_option("#preset", "draft-cyber-capability")
        page.get_by_role("button", name="Run the what-if").click()
        expect(page.locator("#outcome")).to_be_visible()
        checked["what-if"] = _violations(page)
        bad = tmp_path / "bad.toml"
        bad.write_text(CYBER.replace("format = 1", "format = 2"), encoding="utf-8")
        page.goto(f"/web/submissions/{sid}/coverage")
        page.check("#source-file")
        page.set_input_files("#policy_file", str(bad))
        page.get_by_role("button", name="Run the what-if").click()
        expect(page.locator("#problem")).to_contain_text("The coverage policy is not valid")
        checked["problem"] = _violations(page)
    finally:
        context.close()
    assert checked == {"evaluations": [], "what-if": [], "problem": []}
