"""Grants and the window they open: agencies only, one live grant each, within the policy
maximum, none once the window closed."""

from __future__ import annotations

from support.factories import Platform
from support.factories.review import FINDING


def test_grant_rules(platform: Platform) -> None:
    sub = platform.submit()
    not_agency = platform.call(
        "developer",
        "POST",
        f"/submissions/{sub['id']}/grants",
        422,
        json={"agency_org_id": platform["partner"].org_id},
    ).json()
    assert not_agency["type"].endswith("not-an-agency")
    grant = platform.grant(sub["id"], window_days=14)
    platform.call(
        "developer",
        "POST",
        f"/submissions/{sub['id']}/grants",
        409,
        json={"agency_org_id": platform["agency"].org_id},
    )
    window = platform.call(
        "developer", "PUT", f"/submissions/{sub['id']}/window", 200, json={"days": 30}
    ).json()
    assert window["seconds_left"] == 30 * 86400
    too_long = platform.call(
        "developer", "PUT", f"/submissions/{sub['id']}/window", 422, json={"days": 31}
    ).json()
    assert too_long["type"].endswith("window-too-long")
    revoked = platform.call(
        "developer", "POST", f"/submissions/{sub['id']}/grants/{grant['id']}/revoke", 200
    ).json()
    assert revoked["active"] is False
    platform.call("agency", "POST", f"/submissions/{sub['id']}/findings", 403, json=FINDING)
    platform.call("developer", "POST", f"/submissions/{sub['id']}/withdraw", 200)
    closed = platform.call(
        "developer",
        "POST",
        f"/submissions/{sub['id']}/grants",
        409,
        json={"agency_org_id": platform["agency"].org_id},
    ).json()
    assert closed["type"].endswith("window-closed")
