"""Submissions: the developer's audit trail of who touched its submission."""

from __future__ import annotations

from support.factories import Platform


def test_developer_reads_its_audit_trail(platform: Platform) -> None:
    sub = platform.submit()
    platform.grant(sub["id"])
    platform.call("agency", "GET", f"/submissions/{sub['id']}", 200)
    trail = platform.call("developer", "GET", f"/submissions/{sub['id']}/audit", 200).json()
    actions = [e["action"] for e in trail["items"]]
    assert actions == ["review:submission:create", "review:grant:create", "review:submission:read"]
    assert trail["items"][-1]["actor_org_id"] == platform["agency"].org_id
    platform.call("agency", "GET", f"/submissions/{sub['id']}/audit", 403)
