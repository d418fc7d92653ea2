"""Organisations and users: who may admit whom, sectors for partners, clear errors."""

from __future__ import annotations

from support.factories import Platform


def test_clearinghouse_admin_admits_organisations(platform: Platform) -> None:
    created = platform.call(
        "clearinghouse",
        "POST",
        "/organisations",
        201,
        json={
            "name": "Tri-County Water",
            "kind": "trusted_partner",
            "sector": "water_and_wastewater",
        },
    ).json()
    assert created["sector"] == "water_and_wastewater"
    listed = platform.call("agency", "GET", "/organisations?kind=trusted_partner", 200).json()
    assert "Tri-County Water" in {o["name"] for o in listed["items"]}
    platform.call("developer", "POST", "/organisations", 403, json={"name": "X", "kind": "agency"})


def test_partner_needs_sector_and_others_have_none(platform: Platform) -> None:
    missing = platform.call(
        "clearinghouse",
        "POST",
        "/organisations",
        422,
        json={"name": "Bank", "kind": "trusted_partner"},
    ).json()
    assert missing["type"] == "urn:prereview:problem:sector-mismatch"
    platform.call(
        "clearinghouse",
        "POST",
        "/organisations",
        422,
        json={"name": "Lab", "kind": "developer", "sector": "energy"},
    )
    unknown = platform.call(
        "clearinghouse",
        "POST",
        "/organisations",
        422,
        json={"name": "Lab", "kind": "trusted_partner", "sector": "space"},
    ).json()
    assert unknown["type"] == "urn:prereview:problem:invalid-input"
    assert unknown["errors"][0]["location"] == ["body", "sector"]
    names = {
        o["name"]
        for o in platform.call("clearinghouse", "GET", "/organisations?limit=200", 200).json()[
            "items"
        ]
    }
    assert not {"Bank", "Lab"} & names


def test_duplicate_name_is_a_conflict(platform: Platform) -> None:
    body = {"name": "agency org", "kind": "agency"}
    problem = platform.call("clearinghouse", "POST", "/organisations", 409, json=body).json()
    assert problem["type"].endswith("organisation-name-taken")


def test_admins_add_people_to_their_own_organisation_only(platform: Platform) -> None:
    agency = platform["agency"].org_id
    user = platform.call(
        "agency",
        "POST",
        f"/organisations/{agency}/users",
        201,
        json={"email": "Analyst@Agency.gov", "name": "Analyst", "role": "member"},
    ).json()
    assert user["email"] == "analyst@agency.gov"
    platform.call(
        "other_agency",
        "POST",
        f"/organisations/{agency}/users",
        403,
        json={"email": "spy@agency.gov", "name": "Spy"},
    )
    platform.call("other_agency", "GET", f"/organisations/{agency}/users", 403)
    taken = platform.call(
        "agency",
        "POST",
        f"/organisations/{agency}/users",
        409,
        json={"email": "analyst@agency.gov", "name": "Again"},
    ).json()
    assert taken["type"].endswith("email-taken")


def test_pagination(platform: Platform) -> None:
    page = platform.call("agency", "GET", "/organisations?limit=2&offset=1", 200).json()
    assert page["limit"] == 2 and page["offset"] == 1 and len(page["items"]) == 2
    assert page["total"] == 7
    platform.call("agency", "GET", "/organisations?limit=0", 422)
    platform.call("agency", "GET", "/organisations?limit=201", 422)


def test_email_taken_says_nothing_about_other_organisations(platform: Platform) -> None:
    """Attack: an administrator probes emails to learn who has an account in other
    organisations (a platform-wide 409 told it). Emails are unique per organisation now."""
    agency = platform["agency"].org_id
    # developer@developer.org is the developer organisation's administrator.
    same = platform.call(
        "agency",
        "POST",
        f"/organisations/{agency}/users",
        201,
        json={"email": "developer@developer.org", "name": "Namesake"},
    ).json()
    assert same["organisation_id"] == agency
    again = platform.call(
        "agency",
        "POST",
        f"/organisations/{agency}/users",
        409,
        json={"email": "Developer@Developer.org", "name": "Twice"},
    ).json()
    assert again["type"].endswith("email-taken")
    assert "your organisation" in again["detail"]
    # Both accounts work, each as itself.
    me = platform.call("developer", "GET", "/me", 200).json()
    assert me["organisation"]["id"] == platform["developer"].org_id
