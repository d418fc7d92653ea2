"""The web pages' authorization matrix: every page and form, as every kind of actor, signed in
through a real web session, against the expected table.

Each row lists the status for: the owning developer, another developer, the granted agency,
another agency, the consented partner, another partner, the clearinghouse, and an anonymous
visitor, as in the API's matrix (``test_authorization_matrix.py``), whose rows for the same
objects these agree with. A page route added to ``prereview.web.pages.ROUTERS`` without a row
here fails this test. 200 is a page, 303 a form that did its work (or signing in and out), 404 an
object the caller may not learn exists, 403 one it may know of but not act on; an anonymous
visitor is sent to ``/web/login`` (303), and a token that is not one is refused on the sign-in
page (401). Beyond the status, no page may show a confidential text of the submission to an actor
whom the API would not let read it.
"""

from __future__ import annotations

import pytest

from prereview.web.session import COOKIE
from support.factories import Platform
from support.matrix import ACTORS, SHARDS, shard
from support.web_matrix import (
    FINDING,
    MODEL,
    READERS,
    REASON,
    SITE,
    WebScenario,
    observe,
    routes,
    sign_in,
)

EXPECTED: dict[str, tuple[int, ...]] = {
    # identity: signing in needs a valid API token; signing out ends whatever session there is
    "GET /web/login": (200, 200, 200, 200, 200, 200, 200, 200),
    "POST /web/login": (303, 303, 303, 303, 303, 303, 303, 401),
    "POST /web/logout": (303, 303, 303, 303, 303, 303, 303, 303),
    # transparency: the public report, signed in or not (it shows only suppressed aggregates)
    "GET /web/transparency": (200, 200, 200, 200, 200, 200, 200, 200),
    # review: the home page is everyone's (a developer's submissions, a reviewer's queue)
    "GET /web/": (200, 200, 200, 200, 200, 200, 200, 303),
    "GET /web/submissions/{submission_id}": (200, 404, 200, 404, 200, 404, 404, 303),
    "GET /web/submissions/{submission_id}/window": (200, 404, 200, 404, 200, 404, 404, 303),
    "GET /web/queue": (403, 403, 200, 200, 200, 200, 403, 303),
    # the developer home's rows answer as the API's list of submissions
    "GET /web/submissions": (200, 200, 200, 200, 200, 200, 200, 303),
    # the confirmation pages answer as the actions they confirm
    "GET /web/submissions/{submission_id}/release": (200, 404, 403, 404, 403, 404, 404, 303),
    "GET /web/submissions/{submission_id}/withdraw": (200, 404, 403, 404, 403, 404, 404, 303),
    "POST /web/submissions/{submission_id}/release": (303, 404, 403, 404, 403, 404, 404, 303),
    "POST /web/submissions/{submission_id}/withdraw": (303, 404, 403, 404, 403, 404, 404, 303),
    # attestation: the developer downloads it (a file, 200); reviewers who had access: 403
    "POST /web/submissions/{submission_id}/attestation": (
        200,
        404,
        403,
        404,
        403,
        404,
        404,
        303,
    ),
    "POST /web/submissions/{submission_id}/nominations/{nomination_id}/{decision}": (
        303,
        404,
        403,
        404,
        403,
        404,
        404,
        303,
    ),
    "POST /web/submissions/{submission_id}/findings": (403, 404, 303, 404, 303, 404, 404, 303),
    # the review forms answer as the API's actions: only a developer submits; the owner grants,
    # revokes (confirmed first) and sets its planned release; the granted agency nominates;
    # the owner answers a finding (a partner may not learn of the agency's finding)
    "GET /web/submissions/new": (200, 200, 403, 403, 403, 403, 403, 303),
    "POST /web/submissions/new": (303, 303, 403, 403, 403, 403, 403, 303),
    "POST /web/submissions/{submission_id}/grants": (303, 404, 403, 404, 403, 404, 404, 303),
    "GET /web/submissions/{submission_id}/grants/{grant_id}/revoke": (
        200,
        404,
        403,
        404,
        403,
        404,
        404,
        303,
    ),
    "POST /web/submissions/{submission_id}/grants/{grant_id}/revoke": (
        303,
        404,
        403,
        404,
        403,
        404,
        404,
        303,
    ),
    "POST /web/submissions/{submission_id}/planned-release": (
        303,
        404,
        403,
        404,
        403,
        404,
        404,
        303,
    ),
    "POST /web/submissions/{submission_id}/nominations": (403, 404, 303, 404, 403, 404, 404, 303),
    "POST /web/findings/{finding_id}/responses": (303, 404, 403, 404, 404, 404, 404, 303),
    # an invitation is redeemed by whoever holds it, signed in or not (the secret is the
    # credential): the account is created and its first token shown
    "GET /web/invitations/redeem": (200, 200, 200, 200, 200, 200, 200, 200),
    "POST /web/invitations/redeem": (200, 200, 200, 200, 200, 200, 200, 200),
    # inventory: every organisation lists its product claims; a partner claims what it runs, a
    # developer what it makes; a claim (the partner's) is withdrawn by its organisation only
    "GET /web/inventory": (200, 200, 200, 200, 200, 200, 200, 303),
    "POST /web/inventory": (303, 303, 403, 403, 303, 303, 403, 303),
    "GET /web/inventory/{claim_id}/withdraw": (404, 404, 404, 404, 200, 404, 404, 303),
    "POST /web/inventory/{claim_id}/withdraw": (404, 404, 404, 404, 303, 404, 404, 303),
    # advisories as the API's for-me list; a TLP:AMBER one (on the partner's verified claim)
    # reads as the API's report and export: the partner and the clearinghouse only
    "GET /web/advisories": (200, 200, 200, 200, 200, 200, 200, 303),
    "GET /web/advisories/{advisory_id}": (404, 404, 404, 404, 200, 404, 200, 303),
    "GET /web/advisories/{advisory_id}/export/{fmt}": (404, 404, 404, 404, 200, 404, 200, 303),
    # administration (every test member is its organisation's administrator): the people of
    # your own organisation (the owner's spare colleague is nobody else's to know of)
    "GET /web/admin/users": (200, 200, 200, 200, 200, 200, 200, 303),
    "POST /web/admin/users": (303, 303, 303, 303, 303, 303, 303, 303),
    "GET /web/admin/users/{user_id}/deactivate": (200, 404, 404, 404, 404, 404, 404, 303),
    "GET /web/admin/users/{user_id}/reactivate": (200, 404, 404, 404, 404, 404, 404, 303),
    "POST /web/admin/users/{user_id}/deactivate": (303, 404, 404, 404, 404, 404, 404, 303),
    "POST /web/admin/users/{user_id}/reactivate": (303, 404, 404, 404, 404, 404, 404, 303),
    # into the owner's organisation, which has people: its own administrators only
    "POST /web/admin/organisations/{organisation_id}/invitations": (
        200,
        403,
        403,
        403,
        403,
        403,
        403,
        303,
    ),
    # your own tokens (the owner's spare one is nobody else's)
    "GET /web/admin/tokens": (200, 200, 200, 200, 200, 200, 200, 303),
    "POST /web/admin/tokens": (200, 200, 200, 200, 200, 200, 200, 303),
    "GET /web/admin/tokens/{token_id}/revoke": (200, 404, 404, 404, 404, 404, 404, 303),
    "POST /web/admin/tokens/{token_id}/revoke": (303, 404, 404, 404, 404, 404, 404, 303),
    # organisations: anyone lists them, the clearinghouse admits them
    "GET /web/admin/organisations": (200, 200, 200, 200, 200, 200, 200, 303),
    "POST /web/admin/organisations": (403, 403, 403, 403, 403, 403, 303, 303),
    # evals: results as the API's GET .../evals (the developer and granted agencies)
    "GET /web/submissions/{submission_id}/evaluations": (200, 404, 200, 404, 403, 404, 404, 303),
    # a result's log: whole for the agency that ran it, redacted for the developer
    "GET /web/eval-results/{result_id}/download": (200, 404, 200, 404, 403, 404, 404, 303),
    # coverage: the developer reads notices, agencies determinations; a what-if as the API's
    "GET /web/submissions/{submission_id}/coverage": (200, 404, 200, 404, 403, 404, 404, 303),
    "POST /web/submissions/{submission_id}/coverage/what-if": (
        200,
        404,
        200,
        404,
        403,
        404,
        404,
        303,
    ),
    "POST /web/submissions/{submission_id}/coverage/determinations": (
        403,
        404,
        303,
        404,
        403,
        404,
        404,
        303,
    ),
    # materials as the API's: listed by every participant, uploaded by the developer, a
    # TLP:AMBER one downloaded by the granted agency and the consented partner too
    "GET /web/submissions/{submission_id}/materials": (200, 404, 200, 404, 200, 404, 404, 303),
    "POST /web/submissions/{submission_id}/materials": (303, 404, 403, 404, 403, 404, 404, 303),
    "GET /web/materials/{material_id}/download": (200, 404, 200, 404, 200, 404, 404, 303),
    # the audit trail: the developer's own, as the API's GET .../audit
    "GET /web/submissions/{submission_id}/audit": (200, 404, 403, 404, 403, 404, 404, 303),
    # gateway: everyone with access sees its part; the developer registers and limits; keys are
    # made by those with live access, revoked by their organisation or the developer
    "GET /web/submissions/{submission_id}/gateway": (200, 404, 200, 404, 200, 404, 404, 303),
    "POST /web/submissions/{submission_id}/gateway/upstream": (
        303,
        404,
        403,
        404,
        403,
        404,
        404,
        303,
    ),
    "POST /web/submissions/{submission_id}/gateway/limits": (
        303,
        404,
        403,
        404,
        403,
        404,
        404,
        303,
    ),
    "POST /web/submissions/{submission_id}/gateway/keys": (403, 404, 200, 404, 200, 404, 404, 303),
    "GET /web/submissions/{submission_id}/gateway/keys/{key_id}/revoke": (
        200,
        404,
        200,
        404,
        404,
        404,
        404,
        303,
    ),
    "POST /web/submissions/{submission_id}/gateway/keys/{key_id}/revoke": (
        303,
        404,
        303,
        404,
        404,
        404,
        404,
        303,
    ),
    # a kept transcript (the agency's call): the developer and the calling organisation
    "GET /web/submissions/{submission_id}/gateway/transcripts/{call_id}": (
        200,
        404,
        200,
        404,
        404,
        404,
        404,
        303,
    ),
    # clearinghouse console: the queue is everyone's (what TLP lets each see); a TLP:AMBER report
    # and its case are read by their vendor (the owner), their reporter (the agency) and the
    # clearinghouse; duplicates, publishing and cases are the clearinghouse's; the vendor sets
    # its own status and writes in the case's thread, which the reporter may not read
    "GET /web/clearinghouse/reports": (200, 200, 200, 200, 200, 200, 200, 303),
    "GET /web/clearinghouse/reports/{report_id}": (200, 404, 200, 404, 404, 404, 200, 303),
    "GET /web/clearinghouse/duplicates/{duplicate_id}/merge": (
        403,
        403,
        403,
        403,
        403,
        403,
        200,
        303,
    ),
    "POST /web/clearinghouse/duplicates/{duplicate_id}/merge": (
        403,
        403,
        403,
        403,
        403,
        403,
        303,
        303,
    ),
    "GET /web/clearinghouse/duplicates/{duplicate_id}/not-duplicate": (
        403,
        403,
        403,
        403,
        403,
        403,
        200,
        303,
    ),
    "POST /web/clearinghouse/duplicates/{duplicate_id}/not-duplicate": (
        403,
        403,
        403,
        403,
        403,
        403,
        303,
        303,
    ),
    "GET /web/clearinghouse/reports/{report_id}/publish": (403, 404, 403, 404, 404, 404, 200, 303),
    "POST /web/clearinghouse/reports/{report_id}/publish": (
        403,
        404,
        403,
        404,
        404,
        404,
        303,
        303,
    ),
    "GET /web/clearinghouse/cases": (200, 200, 200, 200, 200, 200, 200, 303),
    # federation: as the API's GET /clearinghouse/federation/peers, the clearinghouse's only
    "GET /web/clearinghouse/federation": (403, 403, 403, 403, 403, 403, 200, 303),
    "POST /web/clearinghouse/cases": (403, 403, 403, 403, 403, 403, 303, 303),
    "GET /web/clearinghouse/cases/{case_id}": (200, 404, 200, 404, 404, 404, 200, 303),
    "POST /web/clearinghouse/cases/{case_id}/vendors": (403, 404, 403, 404, 404, 404, 303, 303),
    "POST /web/clearinghouse/cases/{case_id}/vendors/{org_id}/statuses/{report_id}": (
        303,
        404,
        403,
        404,
        404,
        404,
        303,
        303,
    ),
    "POST /web/clearinghouse/cases/{case_id}/messages": (303, 404, 403, 404, 404, 404, 303, 303),
    # The case's vendor (the path's org) and the clearinghouse; to the reporter, the vendor's
    # private thread does not exist (404); its cells it is told it may not set (403).
    "POST /web/clearinghouse/cases/{case_id}/vendors/{org_id}/messages": (
        303,
        404,
        404,
        404,
        404,
        404,
        303,
        303,
    ),
    "POST /web/clearinghouse/cases/{case_id}/vendors/{org_id}/cells": (
        303,
        404,
        403,
        404,
        404,
        404,
        303,
        303,
    ),
    "POST /web/clearinghouse/cases/{case_id}/vendors/{org_id}/remove": (
        403,
        404,
        403,
        404,
        404,
        404,
        303,
        303,
    ),
}

# What the submission page shows its readers (nominations to the developer who decides them and
# to the agencies, which the API lets list them and which nominate on the page).
SHOWN_ON_SUBMISSION_PAGE: dict[str, frozenset[str]] = {
    "owner": frozenset({MODEL, REASON, FINDING}),
    "agency": frozenset({MODEL, REASON, FINDING}),  # the nominations made on the model
    "partner": frozenset({MODEL}),
}


def test_every_page_route_has_a_row() -> None:
    listed = {f"{method} {path}" for method, path in routes()}
    assert listed == set(EXPECTED), (
        f"page routes without a row: {listed - set(EXPECTED)}; "
        f"rows without a route: {set(EXPECTED) - listed}"
    )


@pytest.mark.parametrize("part", range(SHARDS))
def test_web_authorization_matrix(platform: Platform, part: int) -> None:
    seen = observe(platform, shard(routes(), part))
    assert seen
    wrong = {
        route: {
            actor: (want, got.status)
            for actor, want, got in zip(ACTORS, EXPECTED[route], row.values(), strict=True)
            if want != got.status
        }
        for route, row in seen.items()
    }
    wrong = {route: diff for route, diff in wrong.items() if diff}
    assert not wrong, f"(expected, got) by actor: {wrong}"
    # An anonymous visitor is always sent to sign in (but for signing out, which goes there too).
    astray = {
        route: row["anonymous"].location
        for route, row in seen.items()
        if row["anonymous"].status == 303 and row["anonymous"].location != "/web/login"
    }
    assert not astray, f"anonymous redirects elsewhere than /web/login: {astray}"
    # No page shows an actor what the API would not let it read.
    leaks = {
        (route, actor): sorted(extra)
        for route, row in seen.items()
        for actor, got in row.items()
        if (extra := {text for text in got.shows if actor not in READERS[text]})
    }
    assert not leaks, f"pages showing what the caller may not read: {leaks}"


def test_the_leak_check_is_not_vacuous(platform: Platform) -> None:
    """The readers do see what the matrix checks that the others do not."""
    seen = observe(platform, [("GET", "/web/submissions/{submission_id}"), ("GET", "/web/")])
    page = seen["GET /web/submissions/{submission_id}"]
    assert {actor: page[actor].shows for actor in SHOWN_ON_SUBMISSION_PAGE} == (
        SHOWN_ON_SUBMISSION_PAGE
    )
    home = seen["GET /web/"]
    assert all(MODEL in home[actor].shows for actor in ("owner", "agency", "partner"))


def test_an_unknown_decision_on_a_nomination_is_not_found(platform: Platform) -> None:
    """``/nominations/{id}/{decision}`` takes consent or decline; anything else once answered
    303, as though it had been done, to anyone signed in."""
    scenario = WebScenario.build(platform)
    for member in ("developer", "other_developer"):
        secret = sign_in(platform, member)
        response = platform.client.post(
            f"/web/submissions/{scenario.submission_id}/nominations/"
            f"{scenario.nomination_id}/approve",
            headers=SITE | {"cookie": f"{COOKIE}={secret}"},
            follow_redirects=False,
        )
        assert response.status_code == 404, (member, response.status_code)
