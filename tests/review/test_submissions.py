"""Submissions: the developer's audit trail of who touched its submission, and planned release
dates that must lie ahead."""

from __future__ import annotations

from datetime import timedelta

from prereview.core.clock import FixedClock
from support.factories import Platform


def test_developer_reads_its_audit_trail(platform: Platform) -> None:
    sub = platform.submit()
    platform.grant(sub["id"])
    platform.call("agency", "GET", f"/submissions/{sub['id']}", 200)
    trail = platform.call("developer", "GET", f"/submissions/{sub['id']}/audit", 200).json()
    actions = [e["action"] for e in trail["items"]]  # newest first
    assert actions == ["review:submission:read", "review:grant:create", "review:submission:create"]
    assert trail["items"][0]["actor_org_id"] == platform["agency"].org_id
    platform.call("agency", "GET", f"/submissions/{sub['id']}/audit", 403)


def test_a_planned_release_in_the_past_is_refused_and_names_the_release_action(
    platform: Platform, clock: FixedClock
) -> None:
    past = (clock.now() - timedelta(days=1)).isoformat()
    now = clock.now().isoformat()
    for when in (past, now):
        refused = platform.call(
            "developer",
            "POST",
            "/submissions",
            422,
            json={"model_name": "M", "model_version": "1", "planned_release_at": when},
        ).json()
        assert refused["type"] == "urn:prereview:problem:planned-release-in-past"
        assert "release action" in refused["detail"]
    assert platform.call("developer", "GET", "/submissions", 200).json()["total"] == 0

    ahead = (clock.now() + timedelta(days=30)).isoformat()
    sub = platform.submit(planned_release_at=ahead)
    moved = platform.call(
        "developer", "PATCH", f"/submissions/{sub['id']}", 422, json={"planned_release_at": past}
    ).json()
    assert moved["type"] == "urn:prereview:problem:planned-release-in-past"
    assert "release action" in moved["detail"]
    kept = platform.call("developer", "GET", f"/submissions/{sub['id']}", 200).json()
    assert kept["planned_release_at"].replace("Z", "+00:00") == ahead
    assert kept["window"]["state"] != "closed_released"
    # Clearing the date, or moving it further ahead, stays allowed.
    platform.call(
        "developer", "PATCH", f"/submissions/{sub['id']}", 200, json={"planned_release_at": None}
    )
