"""Trusted partners join through an agency's nomination and the developer's consent."""

from __future__ import annotations

from support.factories import Platform


def nominate(platform: Platform, sub_id: str, partner: str = "partner") -> dict[str, str]:
    return platform.call(  # type: ignore[no-any-return]
        "agency",
        "POST",
        f"/submissions/{sub_id}/nominations",
        201,
        json={"partner_org_id": platform[partner].org_id, "reason": "operates affected systems"},
    ).json()


FINDING = {
    "title": "PACS auth bypass",
    "description": "found one",
    "severity": "low",
    "category": "third_party_vulnerability",
}


def test_partner_has_no_access_until_the_developer_consents(platform: Platform) -> None:
    sub = platform.submit()
    platform.grant(sub["id"])
    nomination = nominate(platform, sub["id"])
    assert nomination["status"] == "pending"
    platform.call("partner", "GET", f"/submissions/{sub['id']}", 404)
    platform.call("partner", "POST", f"/submissions/{sub['id']}/findings", 404, json=FINDING)

    platform.call(
        "developer", "POST", f"/submissions/{sub['id']}/nominations/{nomination['id']}/consent", 200
    )
    platform.call("partner", "GET", f"/submissions/{sub['id']}", 200)
    assert [q["submission_id"] for q in platform.call("partner", "GET", "/queue", 200).json()] == [
        sub["id"]
    ]
    finding = platform.call(
        "partner", "POST", f"/submissions/{sub['id']}/findings", 201, json=FINDING
    ).json()

    # The developer may change its mind: the partner's access ends, its own finding stays readable.
    platform.call(
        "developer", "POST", f"/submissions/{sub['id']}/nominations/{nomination['id']}/decline", 200
    )
    platform.call("partner", "GET", f"/submissions/{sub['id']}", 403)
    platform.call("partner", "POST", f"/submissions/{sub['id']}/findings", 403, json=FINDING)
    platform.call("partner", "GET", f"/findings/{finding['id']}", 200)


def test_declined_partner_never_gets_in(platform: Platform) -> None:
    sub = platform.submit()
    platform.grant(sub["id"])
    nomination = nominate(platform, sub["id"])
    declined = platform.call(
        "developer",
        "POST",
        f"/submissions/{sub['id']}/nominations/{nomination['id']}/decline",
        200,
        json={"note": "not for this model"},
    ).json()
    assert declined["status"] == "declined" and declined["decision_note"] == "not for this model"
    platform.call("partner", "GET", f"/submissions/{sub['id']}", 404)


def test_only_granted_agencies_nominate_and_only_partners_are_nominated(platform: Platform) -> None:
    sub = platform.submit()
    platform.grant(sub["id"])
    platform.call(
        "other_agency",
        "POST",
        f"/submissions/{sub['id']}/nominations",
        404,
        json={"partner_org_id": platform["partner"].org_id, "reason": "x"},
    )
    problem = platform.call(
        "agency",
        "POST",
        f"/submissions/{sub['id']}/nominations",
        422,
        json={"partner_org_id": platform["other_agency"].org_id, "reason": "x"},
    ).json()
    assert problem["type"].endswith("not-a-trusted-partner")
    nominate(platform, sub["id"])
    again = platform.call(
        "agency",
        "POST",
        f"/submissions/{sub['id']}/nominations",
        409,
        json={"partner_org_id": platform["partner"].org_id, "reason": "again"},
    ).json()
    assert again["type"].endswith("already-nominated")


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


def test_developer_reads_its_audit_trail(platform: Platform) -> None:
    sub = platform.submit()
    platform.grant(sub["id"])
    platform.call("agency", "GET", f"/submissions/{sub['id']}", 200)
    trail = platform.call("developer", "GET", f"/submissions/{sub['id']}/audit", 200).json()
    actions = [e["action"] for e in trail["items"]]
    assert actions == ["review:submission:create", "review:grant:create", "review:submission:read"]
    assert trail["items"][-1]["actor_org_id"] == platform["agency"].org_id
    platform.call("agency", "GET", f"/submissions/{sub['id']}/audit", 403)


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


def test_a_partners_access_ends_with_its_nominating_agencys_grant(platform: Platform) -> None:
    from prereview.core.db import transaction
    from prereview.gateway.service import hash_key, key_snapshot, refusal

    sub = platform.submit()
    sid = sub["id"]
    grant = platform.grant(sid)
    platform.grant(sid, agency="other_agency")  # another agency's live grant changes nothing
    nomination = nominate(platform, sid)
    platform.call(
        "developer", "POST", f"/submissions/{sid}/nominations/{nomination['id']}/consent", 200
    )
    material = platform.call(
        "developer",
        "POST",
        f"/submissions/{sid}/materials",
        201,
        params={"filename": "card.md", "kind": "system_card", "tlp": "TLP:AMBER"},
        content=b"amber system card",
    ).json()
    platform.call(
        "developer",
        "PUT",
        f"/submissions/{sid}/gateway/upstream",
        200,
        json={"base_url": "https://upstream.invalid/v1", "upstream_model": "m", "api_key": "sk-x"},
    )
    key = platform.call(
        "partner", "POST", f"/submissions/{sid}/gateway/keys", 201, json={"name": "k"}
    ).json()
    platform.call("partner", "GET", f"/submissions/{sid}", 200)
    platform.call("partner", "GET", f"/materials/{material['id']}/content", 200)

    platform.call("developer", "POST", f"/submissions/{sid}/grants/{grant['id']}/revoke", 200)
    # The nominating agency lost its grant: so does the partner, at once, everywhere.
    platform.call("partner", "GET", f"/submissions/{sid}", 403)
    platform.call("partner", "GET", f"/materials/{material['id']}", 403)
    platform.call("partner", "GET", f"/materials/{material['id']}/content", 403)
    platform.call("partner", "POST", f"/submissions/{sid}/findings", 403, json=FINDING)
    platform.call("partner", "POST", f"/submissions/{sid}/gateway/keys", 403, json={"name": "k2"})
    assert platform.call("partner", "GET", "/queue", 200).json() == []
    with transaction(platform.context.sessions) as db:
        snapshot = key_snapshot(db, hash_key(key["key"]))
    assert snapshot is not None
    assert refusal(snapshot, platform.context.clock.now()) == "revoked"

    # Granted again by the developer: the developer's consent to the partner holds again.
    platform.grant(sid)
    platform.call("partner", "GET", f"/submissions/{sid}", 200)
