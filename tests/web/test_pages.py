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
        platform.call("developer", "GET", f"/submissions/{sub['id']}/nominations", 200).json()[
            "items"
        ][0]["status"]
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


def test_the_countdown_polls_its_own_submission(platform: Platform) -> None:
    """The page's countdown once polled /web/submissions//window (no id) and never updated."""
    sub = platform.submit(model_name="Helios")
    platform.grant(sub["id"])
    sign_in(platform, "developer")
    page = platform.client.get(f"/web/submissions/{sub['id']}")
    assert f'hx-get="/web/submissions/{sub["id"]}/window"' in page.text
    assert "/web/submissions//window" not in page.text


def test_the_queue_polls_its_rows(platform: Platform) -> None:
    sub = platform.submit(model_name="Atlas")
    platform.grant(sub["id"])
    sign_in(platform, "agency")
    home = platform.client.get("/web/")
    assert 'hx-get="/web/queue"' in home.text and 'hx-trigger="every 60s"' in home.text
    rows = platform.client.get("/web/queue")
    assert rows.status_code == 200 and "Atlas" in rows.text and "<html" not in rows.text
    sign_in(platform, "developer")
    assert platform.client.get("/web/queue").status_code == 403


def test_release_and_withdraw_are_confirmed_first(platform: Platform) -> None:
    """One click never ends a review: the page's forms open a confirmation that says what will
    happen (with JavaScript, htmx asks the same words first), and only its button acts."""
    sub = platform.submit(model_name="Helios")
    platform.grant(sub["id"])
    sign_in(platform, "developer")
    page = platform.client.get(f"/web/submissions/{sub['id']}")
    assert 'hx-confirm="Declare this model publicly released?' in page.text
    assert "crypto-shredded" in page.text  # the withdraw dialog's words
    assert f'method="get" action="/web/submissions/{sub["id"]}/release"' in page.text
    for action, words in (("release", "every grant ends"), ("withdraw", "crypto-shredded")):
        confirm = platform.client.get(f"/web/submissions/{sub['id']}/{action}")
        assert confirm.status_code == 200 and words in confirm.text
        assert "agency org" in confirm.text  # who loses access, by name
        assert f'method="post" action="/web/submissions/{sub["id"]}/{action}"' in confirm.text
    state = platform.call("developer", "GET", f"/submissions/{sub['id']}", 200).json()["window"]
    assert state["state"] == "open"
    # htmx's post is told to load the page (a redirect would swap the page into the form).
    withdrawn = platform.client.post(
        f"/web/submissions/{sub['id']}/withdraw",
        data={"reason": "launch cancelled"},
        headers={"hx-request": "true"},
        follow_redirects=False,
    )
    assert withdrawn.status_code == 200
    assert withdrawn.headers["hx-redirect"] == f"/web/submissions/{sub['id']}"
    found = platform.call("developer", "GET", f"/submissions/{sub['id']}", 200).json()
    assert found["window"]["state"] == "closed_withdrawn"
    trail = platform.call("developer", "GET", f"/submissions/{sub['id']}/audit", 200).json()
    assert trail["items"][0]["detail"] == {"reason": "launch cancelled"}  # newest first
    sign_in(platform, "agency")
    refused = platform.client.get(f"/web/submissions/{sub['id']}/release")
    assert refused.status_code == 403 and "only the developer" in refused.text
    sign_in(platform, "other_agency")
    assert platform.client.get(f"/web/submissions/{sub['id']}/withdraw").status_code == 404


def test_an_htmx_request_after_the_session_ended_loads_the_sign_in_page(
    platform: Platform,
) -> None:
    sub = platform.submit()
    platform.client.cookies.clear()
    polled = platform.client.get(
        f"/web/submissions/{sub['id']}/window",
        headers={"hx-request": "true"},
        follow_redirects=False,
    )
    assert polled.status_code == 200 and polled.headers["hx-redirect"] == "/web/login"


def _header(text: str) -> str:
    """The page's header, where who is signed in is shown."""
    return text.split("<header>", 1)[1].split("</header>", 1)[0]


def test_every_page_says_who_you_are_and_your_organisation(platform: Platform) -> None:
    """Each role's pages, an error page included, head with the person's name and email, the
    organisation's name (never its id) and kind, and the sign-out button."""
    sub = platform.submit(model_name="Helios")
    platform.grant(sub["id"])
    pages = {
        "developer": [
            "/web/",
            f"/web/submissions/{sub['id']}",
            f"/web/submissions/{sub['id']}/release",
            "/web/submissions/sub_nope",  # the error page a person can act on
        ],
        "agency": ["/web/", f"/web/submissions/{sub['id']}", "/web/submissions/sub_nope"],
        "partner": ["/web/"],
        "clearinghouse": ["/web/"],
    }
    # Who each member is, as the factories made them: (name, email, organisation, kind).
    people = {
        "developer": ("developer", "developer@developer.org", "developer org", "developer"),
        "agency": ("agency", "agency@agency.org", "agency org", "agency"),
        "partner": ("partner", "partner@partner.org", "partner org", "trusted partner"),
        "clearinghouse": ("Ops", "ops@clearinghouse.org", "Clearinghouse", "clearinghouse"),
    }
    for who, paths in pages.items():
        name, email, organisation, kind = people[who]
        sign_in(platform, who)
        for path in paths:
            header = _header(platform.client.get(path).text)
            assert f'<span id="me-name">{name}</span>' in header, (who, path)
            assert f'<span id="me-email">{email}</span>' in header, (who, path)
            assert f'<span id="me-org">{organisation}</span>' in header, (who, path)
            assert f'<span id="me-kind">{kind}</span>' in header, (who, path)
            assert platform[who].org_id not in header, (who, path)  # a name, never the id
            assert 'action="/web/logout"' in header and "Sign out" in header, (who, path)


def test_empty_pages_say_what_they_are_for_and_how_to_fill_them(platform: Platform) -> None:
    """A developer with no submissions, a reviewer with nothing open, a submission with no
    findings or nominations: each says what the page is for and the command that fills it."""
    sign_in(platform, "developer")
    home = platform.client.get("/web/").text
    assert "submitted for pre-release review" in home
    assert "prereview submission create --model-name" in home
    assert "prereview grant create" in home
    sign_in(platform, "agency")
    queue = platform.client.get("/web/").text
    assert "review window is open to your organisation" in queue
    assert "prereview grant create SUBMISSION_ID --agency" in queue
    sign_in(platform, "partner")
    assert "prereview nomination create" in platform.client.get("/web/").text

    sub = platform.submit(model_name="Helios")
    platform.grant(sub["id"])
    sign_in(platform, "developer")
    mine = platform.client.get(f"/web/submissions/{sub['id']}").text
    assert "each nomination waits here for your consent" in mine
    assert f"prereview nomination create {sub['id']} --partner" in mine
    assert "appear here, for you to answer" in mine
    assert f"prereview finding create {sub['id']} --title" in mine
    sign_in(platform, "agency")
    theirs = platform.client.get(f"/web/submissions/{sub['id']}").text
    assert "file one with the form below" in theirs
    assert f"prereview finding create {sub['id']} --title" in theirs


def test_the_developer_home_polls_its_rows(platform: Platform) -> None:
    """Like the queue, the developer's list refreshes its windows' states every minute."""
    sub = platform.submit(model_name="Helios")
    platform.grant(sub["id"])
    sign_in(platform, "developer")
    home = platform.client.get("/web/")
    assert 'hx-get="/web/submissions"' in home.text and 'hx-trigger="every 60s"' in home.text
    rows = platform.client.get("/web/submissions")
    assert rows.status_code == 200 and "Helios" in rows.text and "open" in rows.text
    assert "<html" not in rows.text and "<header>" not in rows.text
