"""The review workflow over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from prereview.core.clock import FixedClock
from support.factories import Platform


def test_grant_opens_window_and_agency_files_finding(platform: Platform, clock: FixedClock) -> None:
    sub = platform.submit()
    assert sub["window"]["state"] == "not_opened"
    grant = platform.grant(sub["id"], window_days=20)
    assert grant["active"] is True

    window = platform.call("agency", "GET", f"/submissions/{sub['id']}/window", 200).json()
    assert window["state"] == "open"
    assert window["seconds_left"] == 20 * 86400

    finding = platform.call(
        "agency",
        "POST",
        f"/submissions/{sub['id']}/findings",
        201,
        json={
            "title": "Writes working exploits for n-day CVEs",
            "description": "Given a CVE id the model produced a working exploit in 3 of 5 tries.",
            "severity": "high",
            "category": "cyber_offense_capability",
            "recommended_mitigation": "Refuse exploit generation for named CVEs.",
        },
    ).json()
    assert finding["status"] == "open"

    answered = platform.call(
        "developer",
        "POST",
        f"/findings/{finding['id']}/responses",
        201,
        json={"status": "mitigated", "text": "Added a refusal classifier."},
    ).json()
    assert answered["status"] == "mitigated"

    # The agency's queue shows the window with its countdown and its own finding.
    queue = platform.call("agency", "GET", "/queue", 200).json()["items"]
    assert [item["submission_id"] for item in queue] == [sub["id"]]
    assert queue[0]["my_findings"] == 1

    # Time passes: the window closes by itself, nothing scheduled.
    clock.advance(timedelta(days=17, hours=1))
    assert (
        platform.call("agency", "GET", f"/submissions/{sub['id']}/window", 200).json()["state"]
        == "closing_soon"
    )
    clock.advance(timedelta(days=3))
    assert (
        platform.call("agency", "GET", f"/submissions/{sub['id']}/window", 200).json()["state"]
        == "closed_expired"
    )
    # After close, the agency reads its own findings only, and no longer the submission.
    platform.call("agency", "GET", f"/findings/{finding['id']}", 200)
    platform.call("agency", "GET", f"/submissions/{sub['id']}", 403)
    listed = platform.call("agency", "GET", f"/submissions/{sub['id']}/findings", 200).json()
    assert [f["id"] for f in listed["items"]] == [finding["id"]]


def test_window_longer_than_policy_is_refused_and_nothing_written(platform: Platform) -> None:
    sub = platform.submit()
    response = platform.call(
        "developer",
        "POST",
        f"/submissions/{sub['id']}/grants",
        422,
        json={"agency_org_id": platform["agency"].org_id, "window_days": 31},
    )
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert problem["type"] == "urn:prereview:problem:window-too-long"
    assert "30 days" in problem["detail"]
    again = platform.call("developer", "GET", f"/submissions/{sub['id']}", 200).json()
    assert again["window"]["state"] == "not_opened"
    assert (
        platform.call("developer", "GET", f"/submissions/{sub['id']}/grants", 200).json()["items"]
        == []
    )


def test_release_and_withdrawal_end_every_grant(platform: Platform) -> None:
    sub = platform.submit()
    platform.grant(sub["id"])
    platform.grant(sub["id"], agency="other_agency")
    released = platform.call("developer", "POST", f"/submissions/{sub['id']}/release", 200).json()
    assert released["window"]["state"] == "closed_released"
    grants = platform.call("developer", "GET", f"/submissions/{sub['id']}/grants", 200).json()[
        "items"
    ]
    assert [g["active"] for g in grants] == [False, False]
    platform.call(
        "agency",
        "POST",
        f"/submissions/{sub['id']}/findings",
        409,
        json={"title": "t", "description": "d", "severity": "low", "category": "other"},
    )
