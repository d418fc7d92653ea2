"""An auditor recomputes the published report from the log's entries and gets the same figures;
a report that says otherwise, or entries that are not the signed log's, are caught."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from prereview.audit.checkpoint import NoteSigner
from prereview.core.client import ApiClient
from prereview.core.clock import FixedClock
from prereview.transparency import commands
from prereview.transparency.recompute import RecomputeFailed, recompute
from support.factories import Platform
from transparency.conftest import one_reviewed_submission, report


def _auditor(platform: Platform) -> ApiClient:
    client = ApiClient("http://testserver", token="")
    client.http = TestClient(platform.client.app, headers=platform["clearinghouse"].headers)
    return client


def _pages(platform: Platform, found: dict[str, Any]) -> list[dict[str, Any]]:
    params = {"period": found["period"]["label"], "size": found["checkpoint"]["size"]}
    page = platform.call("clearinghouse", "GET", "/transparency/entries", 200, params=params)
    assert page.json()["next_after"] is None
    return [page.json()]


@pytest.fixture
def programme(platform: Platform, clock: FixedClock) -> dict[str, Any]:
    for _ in range(12):
        one_reviewed_submission(platform, clock, findings=2)
    return report(platform, "2026Q2")


def test_recompute_equals_the_published_report(
    platform: Platform, programme: dict[str, Any]
) -> None:
    done = commands.recompute_with(_auditor(platform), "2026Q2", None)
    assert done.differences == []
    assert done.entries > 12 * 5
    assert done.report["figures"] == programme["figures"]
    # Twelve submissions by one developer: the submissions are published, the developer not.
    assert programme["figures"]["review.submissions"]["value"] == 12
    assert programme["figures"]["review.participatingDevelopers"]["value"] is None
    assert programme["distributions"]["review.accessDaysUsed"]["status"] == "published"


def test_a_changed_figure_is_a_difference(platform: Platform, programme: dict[str, Any]) -> None:
    forged = copy.deepcopy(programme)
    forged["figures"]["review.submissions"]["value"] = 13
    done = recompute(forged, _pages(platform, programme))
    assert done.differences == [
        "figures.review.submissions: published {'value': 13, 'status': 'published', 'note': "
        "None}, recomputed {'value': 12, 'status': 'published', 'note': None}"
    ]
    hidden = copy.deepcopy(programme)
    hidden["distributions"]["review.accessDaysUsed"]["median"] = 1.0
    assert recompute(hidden, _pages(platform, programme)).differences


def test_an_entry_not_in_the_signed_log_fails(
    platform: Platform, programme: dict[str, Any]
) -> None:
    pages = _pages(platform, programme)
    item = pages[0]["items"][0]
    leaf = json.loads(item["leaf"])
    leaf["actor_org_id"] = "org_forged"
    item["leaf"] = json.dumps(leaf, sort_keys=True, separators=(",", ":"))
    with pytest.raises(RecomputeFailed, match=f"Entry {item['seq']} is not in the signed log"):
        recompute(programme, pages)


def test_a_dropped_entry_changes_the_figures(platform: Platform, programme: dict[str, Any]) -> None:
    pages = _pages(platform, programme)
    pages[0]["items"] = [
        i for i in pages[0]["items"] if '"review:submission:create"' not in i["leaf"]
    ][:]
    assert recompute(programme, pages).differences


def test_a_checkpoint_signed_by_another_key_fails(
    platform: Platform, programme: dict[str, Any]
) -> None:
    other = NoteSigner.generate(programme["checkpoint"]["origin"])
    with pytest.raises(RecomputeFailed, match="does not verify"):
        recompute(programme, _pages(platform, programme), str(other.verifier))


def test_the_command_exits_non_zero_on_a_mismatch(
    platform: Platform, programme: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    auditor = _auditor(platform)
    monkeypatch.setattr(commands, "ApiClient", lambda server: auditor)
    runner = CliRunner()
    matched = runner.invoke(commands.transparency_app, ["recompute", "--period", "2026Q2"])
    assert matched.exit_code == 0, matched.output
    assert "matches the log" in matched.output

    real_get = auditor.get

    def forged_get(path: str, **params: Any) -> Any:
        answer = real_get(path, **params)
        if path == "/transparency/report":
            answer["figures"]["review.windowsOpened"]["value"] = 99
        return answer

    monkeypatch.setattr(auditor, "get", forged_get)
    differed = runner.invoke(commands.transparency_app, ["recompute", "--period", "2026Q2"])
    assert differed.exit_code == 1
    assert "review.windowsOpened" in differed.output
