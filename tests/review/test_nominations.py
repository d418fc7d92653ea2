"""Nominations: trusted partners join through an agency's nomination and the developer's
consent, and their access hangs on the nominating agency's grant."""

from __future__ import annotations

from support.factories import Platform
from support.factories.review import FINDING, consent_partner, decide, nominate


def test_partner_has_no_access_until_the_developer_consents(platform: Platform) -> None:
    sub = platform.submit()
    platform.grant(sub["id"])
    nomination = nominate(platform, sub["id"])
    assert nomination["status"] == "pending"
    platform.call("partner", "GET", f"/submissions/{sub['id']}", 404)
    platform.call("partner", "POST", f"/submissions/{sub['id']}/findings", 404, json=FINDING)

    decide(platform, sub["id"], nomination["id"])
    platform.call("partner", "GET", f"/submissions/{sub['id']}", 200)
    assert [
        q["submission_id"] for q in platform.call("partner", "GET", "/queue", 200).json()["items"]
    ] == [sub["id"]]
    finding = platform.call(
        "partner", "POST", f"/submissions/{sub['id']}/findings", 201, json=FINDING
    ).json()

    # The developer may change its mind: the partner's access ends, its own finding stays readable.
    decide(platform, sub["id"], nomination["id"], consent=False)
    platform.call("partner", "GET", f"/submissions/{sub['id']}", 403)
    platform.call("partner", "POST", f"/submissions/{sub['id']}/findings", 403, json=FINDING)
    platform.call("partner", "GET", f"/findings/{finding['id']}", 200)


def test_declined_partner_never_gets_in(platform: Platform) -> None:
    sub = platform.submit()
    platform.grant(sub["id"])
    nomination = nominate(platform, sub["id"])
    declined = decide(
        platform, sub["id"], nomination["id"], consent=False, note="not for this model"
    )
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


def test_a_partners_access_ends_with_its_nominating_agencys_grant(platform: Platform) -> None:
    from prereview.core.db import transaction
    from prereview.gateway.snapshots import hash_key, key_snapshot, refusal

    sub = platform.submit()
    sid = sub["id"]
    grant = platform.grant(sid)
    platform.grant(sid, agency="other_agency")  # another agency's live grant changes nothing
    consent_partner(platform, sid)
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
    assert platform.call("partner", "GET", "/queue", 200).json()["items"] == []
    with transaction(platform.context.sessions) as db:
        snapshot = key_snapshot(db, hash_key(key["key"]))
    assert snapshot is not None
    assert refusal(snapshot, platform.context.clock.now()) == "revoked"

    # Granted again by the developer: the developer's consent to the partner holds again.
    platform.grant(sid)
    platform.call("partner", "GET", f"/submissions/{sid}", 200)
