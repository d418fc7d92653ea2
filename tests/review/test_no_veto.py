"""No veto: whatever anyone else does, through any route, the developer's release date stays
its own and releasing always works."""

from __future__ import annotations

import pytest

from prereview.core.clock import FixedClock
from support.factories import Platform
from support.scenario import EXAMPLES, Scenario, operations

OTHERS = [
    "other_developer",
    "agency",
    "other_agency",
    "partner",
    "other_partner",
    "clearinghouse",
    None,
]


def test_every_operation_has_an_example(platform: Platform) -> None:
    missing = set(operations(platform.client.app.openapi())) - set(EXAMPLES)  # type: ignore[attr-defined]
    assert not missing, f"add these operations to tests/support/scenario.py EXAMPLES: {missing}"


@pytest.mark.parametrize("who", OTHERS, ids=lambda w: w or "anonymous")
def test_no_one_else_can_change_the_release_date_or_block_release(
    platform: Platform, who: str | None
) -> None:
    scenario = Scenario.build(platform)
    spec = platform.client.app.openapi()  # type: ignore[attr-defined]
    for method, template in operations(spec):
        response = scenario.call(who, method, template)
        assert response.status_code < 500, (method, template, response.text)
    seen = platform.call("developer", "GET", f"/submissions/{scenario.submission_id}", 200).json()
    assert seen["planned_release_at"] is not None
    assert seen["planned_release_at"].replace("Z", "+00:00") == scenario.planned_release_at
    assert seen["released_at"] is None and seen["withdrawn_at"] is None
    released = platform.call(
        "developer", "POST", f"/submissions/{scenario.submission_id}/release", 200
    ).json()
    assert released["window"]["state"] == "closed_released"


@pytest.mark.parametrize(
    "state", ["not_opened", "open", "expired", "withdrawn", "released", "critical_findings"]
)
def test_release_is_allowed_in_every_state(
    platform: Platform, clock: FixedClock, state: str
) -> None:
    from datetime import timedelta

    sub = platform.submit()
    if state != "not_opened":
        platform.grant(sub["id"], window_days=14)
    if state == "expired":
        clock.advance(timedelta(days=15))
    if state == "withdrawn":
        platform.call("developer", "POST", f"/submissions/{sub['id']}/withdraw", 200)
    if state == "released":
        platform.call("developer", "POST", f"/submissions/{sub['id']}/release", 200)
    if state == "critical_findings":
        for _ in range(3):
            platform.call(
                "agency",
                "POST",
                f"/submissions/{sub['id']}/findings",
                201,
                json={
                    "title": "t",
                    "description": "d",
                    "severity": "critical",
                    "category": "other",
                },
            )
    first = platform.call("developer", "POST", f"/submissions/{sub['id']}/release", 200).json()
    assert first["released_at"] is not None
    again = platform.call("developer", "POST", f"/submissions/{sub['id']}/release", 200).json()
    assert again["released_at"] == first["released_at"]


def test_the_developer_changes_the_release_date_at_any_time(
    platform: Platform, clock: FixedClock
) -> None:
    from datetime import timedelta

    sub = platform.submit(planned_release_at="2026-07-01T00:00:00Z")
    platform.grant(sub["id"])
    for new in ["2026-06-20T12:00:00+00:00", "2026-08-01T00:00:00+00:00"]:
        changed = platform.call(
            "developer", "PATCH", f"/submissions/{sub['id']}", 200, json={"planned_release_at": new}
        ).json()
        assert changed["planned_release_at"].replace("Z", "+00:00") == new
    cleared = platform.call(
        "developer", "PATCH", f"/submissions/{sub['id']}", 200, json={"planned_release_at": None}
    ).json()
    assert cleared["planned_release_at"] is None
    clock.advance(timedelta(days=40))
    platform.call(
        "developer",
        "PATCH",
        f"/submissions/{sub['id']}",
        200,
        json={"planned_release_at": "2026-09-01T00:00:00Z"},
    )


def test_reviewers_are_told_why_and_outsiders_learn_nothing(platform: Platform) -> None:
    sub = platform.submit()
    platform.grant(sub["id"])
    told = platform.call("agency", "POST", f"/submissions/{sub['id']}/release", 403).json()
    assert "only the developer that owns this submission" in told["detail"]
    hidden = platform.call("other_agency", "POST", f"/submissions/{sub['id']}/release", 404).json()
    assert hidden["type"].endswith("submission-not-found")
