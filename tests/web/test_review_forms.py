"""The review forms that finish the API's journeys in a browser, without JavaScript: submit a
model, grant and revoke access, change the planned release, answer a finding, nominate a
partner. Each posts plainly and is sent back (303) to the page; a problem the person can fix
comes back on that page (4xx) with the problem's words at the form and the form refilled, and
changes nothing."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from support.factories import Platform

SITE = {"origin": "http://testserver"}


def sign_in(platform: Platform, who: str) -> None:
    platform.client.cookies.clear()
    platform.client.headers.update(SITE)
    response = platform.client.post(
        "/web/login", data={"token": platform[who].token}, follow_redirects=False
    )
    assert response.status_code == 303


def post(platform: Platform, path: str, data: dict[str, Any]) -> Any:
    return platform.client.post(path, data=data, follow_redirects=False)


def ahead(platform: Platform, days: int) -> str:
    """A ``datetime-local`` value (no offset: the form says UTC) ``days`` from now."""
    return (platform.context.clock.now() + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")


def submissions(platform: Platform) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = platform.call("developer", "GET", "/submissions", 200).json()[
        "items"
    ]
    return items


def grants(platform: Platform, submission_id: str) -> list[dict[str, Any]]:
    path = f"/submissions/{submission_id}/grants"
    items: list[dict[str, Any]] = platform.call("developer", "GET", path, 200).json()["items"]
    return items


def value_of(html: str, field: str) -> str:
    found = re.search(rf'<input id="{field}" name="{field}"[^>]*value="([^"]*)"', html, re.S)
    assert found, f"no input {field}"
    return found.group(1)


def test_the_developer_submits_a_model_from_its_home_page(platform: Platform) -> None:
    sign_in(platform, "developer")
    home = platform.client.get("/web/").text
    assert 'href="/web/submissions/new"' in home
    form = platform.client.get("/web/submissions/new")
    assert form.status_code == 200 and 'action="/web/submissions/new"' in form.text
    planned = ahead(platform, 40)
    created = post(
        platform,
        "/web/submissions/new",
        {
            "model_name": "Helios",
            "model_version": "2.1",
            "planned_release_at": planned,
            "description": "a frontier model",
            "modalities": ["text", "code"],
            "access_offered": ["hosted_api", "documents"],
            "training_compute_flop": "3e25",
            "parameter_count": "400_000_000_000",
            "contact_name": "Ada",
            "contact_email": "ada@dev.example",
            "contact_role": "release lead",
        },
    )
    assert created.status_code == 303
    [sub] = submissions(platform)
    assert created.headers["location"] == f"/web/submissions/{sub['id']}"
    assert (sub["model_name"], sub["model_version"]) == ("Helios", "2.1")
    assert sub["planned_release_at"].startswith(planned)  # read as UTC
    assert sub["modalities"] == ["text", "code"]
    assert sub["access_offered"] == ["hosted_api", "documents"]
    assert sub["training_compute_flop"] == 3e25 and sub["parameter_count"] == 400 * 10**9
    assert sub["contacts"] == [{"name": "Ada", "email": "ada@dev.example", "role": "release lead"}]
    page = platform.client.get(created.headers["location"])
    assert page.status_code == 200 and "Helios 2.1" in page.text


def test_a_past_planned_release_is_refused_on_the_form_refilled(platform: Platform) -> None:
    sign_in(platform, "developer")
    refused = post(
        platform,
        "/web/submissions/new",
        {
            "model_name": "Helios",
            "model_version": "2.1",
            "planned_release_at": ahead(platform, -300),  # a one-digit typo
            "parameter_count": "7",
        },
    )
    assert refused.status_code == 422
    assert "urn:prereview:problem:planned-release-in-past" in refused.text
    assert "release action" in refused.text  # names what to do instead
    assert value_of(refused.text, "model_name") == "Helios"
    assert value_of(refused.text, "parameter_count") == "7"
    assert submissions(platform) == []


def test_a_form_that_is_not_valid_creates_nothing(platform: Platform) -> None:
    sign_in(platform, "developer")
    for bad in (
        {"model_name": "Helios", "model_version": "1", "parameter_count": "lots"},
        {"model_name": "Helios", "model_version": "1", "planned_release_at": "next week"},
        {"model_name": "   ", "model_version": "1"},
        {"model_name": "Helios", "model_version": "1", "modalities": ["smell"]},
        {"model_name": "Helios", "model_version": "1", "contact_email": "not-an-address"},
    ):
        refused = post(platform, "/web/submissions/new", bad)
        assert refused.status_code == 422, (bad, refused.status_code)
        assert 'id="problem-create"' in refused.text
    assert submissions(platform) == []


def test_only_a_developer_may_submit(platform: Platform) -> None:
    sign_in(platform, "agency")
    assert platform.client.get("/web/submissions/new").status_code == 403
    refused = post(platform, "/web/submissions/new", {"model_name": "X", "model_version": "1"})
    assert refused.status_code == 403
    sign_in(platform, "developer")
    forged = platform.client.post(
        "/web/submissions/new",
        data={"model_name": "X", "model_version": "1"},
        headers={"origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert forged.status_code == 403 and submissions(platform) == []


def test_the_developer_grants_an_agency_by_name_and_revokes_it_after_confirming(
    platform: Platform,
) -> None:
    sub = platform.submit(model_name="Helios")
    sign_in(platform, "developer")
    page = platform.client.get(f"/web/submissions/{sub['id']}").text
    agency_id = platform["agency"].org_id
    assert f'<option value="{agency_id}">agency org</option>' in page
    assert platform["partner"].org_id not in page  # only agencies are offered
    too_long = post(
        platform,
        f"/web/submissions/{sub['id']}/grants",
        {"agency_org_id": agency_id, "window_days": "91"},
    )
    assert too_long.status_code == 422 and 'id="problem-grant"' in too_long.text
    assert value_of(too_long.text, "window_days") == "91"
    assert grants(platform, sub["id"]) == []
    granted = post(
        platform,
        f"/web/submissions/{sub['id']}/grants",
        {"agency_org_id": agency_id, "window_days": "10"},
    )
    assert granted.status_code == 303
    [grant] = grants(platform, sub["id"])
    assert grant["agency_org_id"] == agency_id and grant["active"]
    window = platform.call("developer", "GET", f"/submissions/{sub['id']}/window", 200).json()
    assert window["seconds_left"] == 10 * 86400
    again = post(platform, f"/web/submissions/{sub['id']}/grants", {"agency_org_id": agency_id})
    assert again.status_code == 409 and "urn:prereview:problem:already-granted" in again.text
    assert f'<option value="{agency_id}" selected>agency org</option>' in again.text
    assert len(grants(platform, sub["id"])) == 1

    revoke = f"/web/submissions/{sub['id']}/grants/{grant['id']}/revoke"
    shown = platform.client.get(f"/web/submissions/{sub['id']}").text
    assert f'hx-post="{revoke}" hx-confirm=' in shown and f'action="{revoke}"' in shown
    confirm = platform.client.get(revoke)
    assert confirm.status_code == 200 and "loses access at once" in confirm.text
    assert "agency org" in confirm.text and grants(platform, sub["id"])[0]["active"]
    assert post(platform, revoke, {}).status_code == 303
    assert not grants(platform, sub["id"])[0]["active"]
    sign_in(platform, "agency")
    # Its access ends at once: the page too is refused now, as the API's reads are.
    assert platform.client.get(f"/web/submissions/{sub['id']}").status_code == 403
    assert platform.client.get(revoke).status_code == 403
    again_by_agency = post(
        platform, f"/web/submissions/{sub['id']}/grants", {"agency_org_id": agency_id}
    )
    assert again_by_agency.status_code == 403 and len(grants(platform, sub["id"])) == 1


def test_an_agency_may_not_grant_and_an_outsider_learns_nothing(platform: Platform) -> None:
    sub = platform.submit()
    platform.grant(sub["id"])
    agency_id = platform["other_agency"].org_id
    sign_in(platform, "agency")  # granted itself, it may not grant others
    refused = post(platform, f"/web/submissions/{sub['id']}/grants", {"agency_org_id": agency_id})
    assert refused.status_code == 403
    sign_in(platform, "other_developer")
    hidden = post(platform, f"/web/submissions/{sub['id']}/grants", {"agency_org_id": agency_id})
    assert hidden.status_code == 404 and "Atlas" not in hidden.text
    assert len(grants(platform, sub["id"])) == 1


def test_the_developer_changes_the_planned_release_and_a_past_one_is_refused(
    platform: Platform,
) -> None:
    sub = platform.submit(planned_release_at=ahead(platform, 20) + "Z")
    platform.grant(sub["id"])
    sign_in(platform, "developer")
    path = f"/web/submissions/{sub['id']}/planned-release"

    def planned() -> str | None:
        found: str | None = platform.call(
            "developer", "GET", f"/submissions/{sub['id']}", 200
        ).json()["planned_release_at"]
        return found

    later = ahead(platform, 45)
    assert post(platform, path, {"planned_release_at": later}).status_code == 303
    assert (planned() or "").startswith(later)
    typo = ahead(platform, -3000)
    refused = post(platform, path, {"planned_release_at": typo})
    assert refused.status_code == 422 and 'id="problem-planned-release"' in refused.text
    assert "planned-release-in-past" in refused.text and "release action" in refused.text
    assert value_of(refused.text, "planned_release_at") == typo
    assert (planned() or "").startswith(later)  # unchanged
    assert post(platform, path, {"planned_release_at": ""}).status_code == 303
    assert planned() is None
    sign_in(platform, "agency")  # granted, yet only the developer sets the date
    assert post(platform, path, {"planned_release_at": later}).status_code == 403


def _finding(platform: Platform, submission_id: str) -> dict[str, Any]:
    body = {
        "title": "Bypasses refusal",
        "description": "d",
        "severity": "high",
        "category": "other",
    }
    path = f"/submissions/{submission_id}/findings"
    found: dict[str, Any] = platform.call("agency", "POST", path, 201, json=body).json()
    return found


def test_the_developer_answers_a_finding_on_its_page(platform: Platform) -> None:
    sub = platform.submit()
    platform.grant(sub["id"])
    finding = _finding(platform, sub["id"])
    path = f"/web/findings/{finding['id']}/responses"
    sign_in(platform, "developer")
    page = platform.client.get(f"/web/submissions/{sub['id']}").text
    assert f'action="{path}"' in page

    def read() -> dict[str, Any]:
        found: dict[str, Any] = platform.call(
            "developer", "GET", f"/findings/{finding['id']}", 200
        ).json()
        return found

    blank = post(platform, path, {"status": "mitigated", "text": "   "})
    assert blank.status_code == 422 and f'id="problem-respond-{finding["id"]}"' in blank.text
    assert '<option value="mitigated" selected>' in blank.text
    unknown = post(platform, path, {"status": "ignored", "text": "no"})
    assert unknown.status_code == 422
    assert read()["responses"] == []
    answered = post(platform, path, {"status": "mitigated", "text": "filter shipped in 2.1"})
    assert answered.status_code == 303
    assert answered.headers["location"] == f"/web/submissions/{sub['id']}"
    assert read()["status"] == "mitigated"
    assert "filter shipped in 2.1" in platform.client.get(answered.headers["location"]).text
    sign_in(platform, "agency")
    assert post(platform, path, {"status": "disputed", "text": "x"}).status_code == 403
    assert f'action="{path}"' not in platform.client.get(f"/web/submissions/{sub['id']}").text
    sign_in(platform, "other_developer")
    assert post(platform, path, {"status": "disputed", "text": "x"}).status_code == 404
    assert len(read()["responses"]) == 1


def test_an_agency_nominates_a_trusted_partner_by_name(platform: Platform) -> None:
    sub = platform.submit()
    platform.grant(sub["id"])
    partner_id = platform["partner"].org_id
    path = f"/web/submissions/{sub['id']}/nominations"
    sign_in(platform, "agency")
    page = platform.client.get(f"/web/submissions/{sub['id']}").text
    assert f'<option value="{partner_id}">partner org</option>' in page
    assert f'<option value="{platform["agency"].org_id}">' not in page  # partners only
    no_reason = post(platform, path, {"partner_org_id": partner_id, "reason": " "})
    assert no_reason.status_code == 422 and 'id="problem-nominate"' in no_reason.text
    forged = post(
        platform, path, {"partner_org_id": platform["other_agency"].org_id, "reason": "r"}
    )
    assert forged.status_code == 422 and "not-a-trusted-partner" in forged.text
    assert (
        post(platform, path, {"partner_org_id": partner_id, "reason": "runs an EHR"}).status_code
        == 303
    )
    again = post(platform, path, {"partner_org_id": partner_id, "reason": "twice"})
    assert again.status_code == 409 and "already-nominated" in again.text
    assert ">twice</textarea>" in again.text  # refilled
    shown = platform.client.get(f"/web/submissions/{sub['id']}").text
    assert "runs an EHR" in shown and "pending" in shown
    nominations = platform.call(
        "developer", "GET", f"/submissions/{sub['id']}/nominations", 200
    ).json()["items"]
    assert [(n["partner_org_id"], n["reason"]) for n in nominations] == [
        (partner_id, "runs an EHR")
    ]
    sign_in(platform, "developer")
    assert "runs an EHR" in platform.client.get(f"/web/submissions/{sub['id']}").text
    assert post(platform, path, {"partner_org_id": partner_id, "reason": "r"}).status_code == 403
