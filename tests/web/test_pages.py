"""The web pages: sign in with a token, see your work, act, and be refused as the API refuses."""

from __future__ import annotations

from support.factories import Platform

# A browser sends Origin with every form post; forms without it are refused.
SITE = {"origin": "http://testserver"}


def sign_in(platform: Platform, who: str) -> None:
    platform.client.cookies.clear()
    platform.client.headers.update(SITE)
    response = platform.client.post(
        "/web/login", data={"token": platform[who].token}, follow_redirects=False
    )
    assert response.status_code == 303
    assert "httponly" in response.headers["set-cookie"].lower()
    assert "samesite=strict" in response.headers["set-cookie"].lower()


def test_pages_need_a_session(platform: Platform) -> None:
    platform.client.cookies.clear()
    response = platform.client.get("/web/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/web/login"
    bad = platform.client.post("/web/login", data={"token": "prv_nope"}, headers=SITE)
    assert bad.status_code == 401 and "not valid" in bad.text


def test_developer_sees_and_controls_its_submission(platform: Platform) -> None:
    sub = platform.submit(model_name="Helios")
    platform.grant(sub["id"])
    nomination = platform.call(
        "agency",
        "POST",
        f"/submissions/{sub['id']}/nominations",
        201,
        json={"partner_org_id": platform["partner"].org_id, "reason": "hospital EHR"},
    ).json()
    sign_in(platform, "developer")
    home = platform.client.get("/web/")
    assert "Helios" in home.text and "open" in home.text
    page = platform.client.get(f"/web/submissions/{sub['id']}")
    assert page.status_code == 200 and "Release now" in page.text and "hospital EHR" in page.text
    assert "agency org" in page.text and "partner org" in page.text  # names, not ids
    consent = platform.client.post(
        f"/web/submissions/{sub['id']}/nominations/{nomination['id']}/consent",
        follow_redirects=False,
    )
    assert consent.status_code == 303
    assert (
        platform.call("developer", "GET", f"/submissions/{sub['id']}/nominations", 200).json()[0][
            "status"
        ]
        == "consented"
    )
    released = platform.client.post(f"/web/submissions/{sub['id']}/release", follow_redirects=True)
    assert "closed released" in released.text
    assert "Release now" not in released.text


def test_agency_works_its_queue_and_files_a_finding(platform: Platform) -> None:
    sub = platform.submit(model_name="Atlas")
    platform.grant(sub["id"])
    sign_in(platform, "agency")
    queue = platform.client.get("/web/")
    assert "Review queue" in queue.text and "Atlas" in queue.text
    filed = platform.client.post(
        f"/web/submissions/{sub['id']}/findings",
        data={
            "title": "Bypasses refusal",
            "description": "two-turn framing",
            "severity": "high",
            "category": "safeguard_bypass",
        },
        follow_redirects=True,
    )
    assert filed.status_code == 200 and "Bypasses refusal" in filed.text
    assert (
        platform.call("developer", "GET", f"/submissions/{sub['id']}/findings", 200).json()["total"]
        == 1
    )
    fragment = platform.client.get(f"/web/submissions/{sub['id']}/window")
    assert 'hx-trigger="every 60s"' in fragment.text
    refused = platform.client.post(f"/web/submissions/{sub['id']}/release")
    assert refused.status_code == 403 and "only the developer" in refused.text


def test_outsiders_and_other_sites_are_refused(platform: Platform) -> None:
    sub = platform.submit()
    sign_in(platform, "other_agency")
    hidden = platform.client.get(f"/web/submissions/{sub['id']}")
    assert hidden.status_code == 404 and "submission-not-found" in hidden.text
    sign_in(platform, "developer")
    forged = platform.client.post(
        f"/web/submissions/{sub['id']}/release", headers={"origin": "https://evil.example"}
    )
    assert forged.status_code == 403
    assert (
        platform.call("developer", "GET", f"/submissions/{sub['id']}", 200).json()["released_at"]
        is None
    )


def test_static_htmx_is_served(platform: Platform) -> None:
    response = platform.client.get("/web/static/htmx-2.0.11.min.js")
    assert response.status_code == 200 and "htmx" in response.text[:2000]
    assert platform.client.get("/", follow_redirects=False).headers["location"] == "/web/"
