"""Findings: need-to-know between reviewers, answered by the developer, carrying handling
markings."""

from __future__ import annotations

from support.factories import Platform
from support.factories.review import FINDING


def test_findings_are_need_to_know(platform: Platform) -> None:
    sub = platform.submit()
    platform.grant(sub["id"])
    platform.grant(sub["id"], agency="other_agency")
    mine = platform.call(
        "agency", "POST", f"/submissions/{sub['id']}/findings", 201, json=FINDING
    ).json()
    theirs = platform.call(
        "other_agency", "POST", f"/submissions/{sub['id']}/findings", 201, json=FINDING
    ).json()
    seen = platform.call("agency", "GET", f"/submissions/{sub['id']}/findings", 200).json()
    assert [f["id"] for f in seen["items"]] == [mine["id"]]
    platform.call("agency", "GET", f"/findings/{theirs['id']}", 404)
    everything = platform.call("developer", "GET", f"/submissions/{sub['id']}/findings", 200).json()
    assert {f["id"] for f in everything["items"]} == {mine["id"], theirs["id"]}
    platform.call(
        "agency",
        "POST",
        f"/findings/{mine['id']}/responses",
        403,
        json={"status": "disputed", "text": "x"},
    )


def test_findings_carry_handling_markings(platform: Platform) -> None:
    sub = platform.submit()
    platform.grant(sub["id"])
    marked = FINDING | {"tlp": "TLP:RED", "markings": ["CUI", "CUI"]}
    finding = platform.call(
        "agency", "POST", f"/submissions/{sub['id']}/findings", 201, json=marked
    ).json()
    assert finding["tlp"] == "TLP:RED" and finding["markings"] == ["CUI"]
    plain = platform.call(
        "agency", "POST", f"/submissions/{sub['id']}/findings", 201, json=FINDING
    ).json()
    assert plain["tlp"] == "TLP:AMBER+STRICT" and plain["markings"] == []
    bad = platform.call(
        "agency",
        "POST",
        f"/submissions/{sub['id']}/findings",
        422,
        json=FINDING | {"tlp": "TLP:WHITE"},
    ).json()
    assert bad["errors"][0]["location"] == ["body", "tlp"]
