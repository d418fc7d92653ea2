"""Audit lists over HTTP: newest first unless `order=oldest`, filtered by actor, action (or its
family), time and submission, paginated; a bad filter is a 422 problem, never a 500."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from prereview.core.clock import FixedClock
from support.factories import Platform

PROBLEM_JSON = "application/problem+json"


@pytest.fixture
def trail(platform: Platform, clock: FixedClock) -> dict[str, Any]:
    """Two submissions with activity an hour apart: create, grant, a reviewer's read."""
    first = platform.submit()
    clock.advance(timedelta(hours=1))
    platform.grant(first["id"])
    clock.advance(timedelta(hours=1))
    platform.call("agency", "GET", f"/submissions/{first['id']}", 200)
    clock.advance(timedelta(hours=1))
    second = platform.submit(model_name="Other")
    return {"first": first["id"], "second": second["id"], "start": clock.now() - timedelta(hours=3)}


def listed(platform: Platform, path: str, **params: Any) -> list[tuple[str, str | None]]:
    page = platform.call("developer", "GET", path, 200, params=params).json()
    return [(e["action"], e["submission_id"]) for e in page["items"]]


def test_entries_are_newest_first_and_filtered(platform: Platform, trail: dict[str, Any]) -> None:
    first, second, start = trail["first"], trail["second"], trail["start"]
    everything = [
        ("review:submission:create", second),
        ("review:submission:read", first),
        ("review:grant:create", first),
        ("review:submission:create", first),
    ]
    assert listed(platform, "/audit/entries") == everything
    assert listed(platform, "/audit/entries", order="oldest") == everything[::-1]
    assert listed(platform, "/audit/entries", submission=second) == everything[:1]
    assert listed(platform, "/audit/entries", actor=platform["agency"].org_id) == [everything[1]]
    assert listed(platform, "/audit/entries", actor=platform["agency"].user_id) == [everything[1]]
    assert listed(platform, "/audit/entries", action="review:submission") == [
        everything[0],
        everything[1],
        everything[3],
    ]
    # A family is whole segments: "review:sub" is not "review:submission".
    assert listed(platform, "/audit/entries", action="review:sub") == []
    since = (start + timedelta(minutes=30)).isoformat()
    until = (start + timedelta(minutes=150)).isoformat()
    assert listed(platform, "/audit/entries", since=since, until=until) == everything[1:3]
    assert listed(platform, "/audit/entries", limit=2, offset=1) == everything[1:3]
    page = platform.call("developer", "GET", "/audit/entries", 200, params={"limit": 1}).json()
    assert page["total"] == 4 and page["limit"] == 1
    proven = platform.call(
        "developer",
        "GET",
        "/audit/entries",
        200,
        params={"with_proofs": True, "submission": second},
    ).json()
    assert [i["submission_id"] for i in proven["items"]] == [second]
    assert proven["items"][0]["inclusion"] is not None


def test_a_submissions_trail_takes_the_same_filters(
    platform: Platform, trail: dict[str, Any]
) -> None:
    first = trail["first"]
    path = f"/submissions/{first}/audit"
    assert [a for a, _ in listed(platform, path)] == [
        "review:submission:read",
        "review:grant:create",
        "review:submission:create",
    ]
    oldest = listed(platform, path, order="oldest")
    assert oldest[0] == ("review:submission:create", first)
    assert listed(platform, path, action="review:grant:create") == [("review:grant:create", first)]
    assert listed(platform, path, actor=platform["other_agency"].org_id) == []


@pytest.mark.parametrize(
    "query",
    [
        {"since": "2026-06-10T09:00:00"},  # no time zone
        {"until": "yesterday"},
        {"order": "sideways"},
        {"actor": "someone"},
        {"action": "review:%"},
        {"submission": "sub_x' OR 1=1"},
    ],
)
def test_a_bad_filter_is_a_problem(platform: Platform, query: dict[str, str]) -> None:
    paths = ["/audit/entries", f"/submissions/{platform.submit()['id']}/audit"]
    for path in paths[:1] if "submission" in query else paths:  # that one has it in its path
        response = platform.call("developer", "GET", path, 422, params=query)
        assert response.headers["content-type"] == PROBLEM_JSON
        assert response.json()["type"] == "urn:prereview:problem:invalid-input"
